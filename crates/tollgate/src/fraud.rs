//! `tollgate fraud replay`: the server's Fraud Guard detector on a stream of
//! NDJSON events, on event time (shadow mode, and the benchmark interface).
//! The loop itself is [`tollgate_detect::replay::run`]; this only wires
//! stdin/stdout, the number classifier and the progress display.

use std::io::{IsTerminal, Write};

use tollgate_detect::replay::{self, Classified, ReplayError};
use tollgate_detect::{Mode, Risk};
use tollgate_numbering::{Classifier, RiskTier};

/// Runs the replay. Exit code 0; 1 when reading or writing fails; 2 on bad input.
pub fn replay(mode: Mode) -> u8 {
    let classifier = Classifier::new();
    classifier.warm();
    let classify = |to: &str| {
        let c = classifier.classify(to, None);
        Classified {
            digits: c
                .e164
                .as_deref()
                .unwrap_or(to)
                .trim_start_matches('+')
                .to_owned(),
            calling_code: c.calling_code.map(|c| c.to_string()).unwrap_or_default(),
            valid: c.valid,
            price_micros: 0,
            risk: match c.risk {
                RiskTier::Standard => Risk::Standard,
                RiskTier::HighRiskSpecial => Risk::HighRiskSpecial,
                RiskTier::HighRiskTollfraud => Risk::HighRiskTollfraud,
            },
        }
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let progress: Option<&mut dyn Write> = if stderr.is_terminal() {
        Some(&mut stderr)
    } else {
        None
    };
    match replay::run(
        stdin.lock(),
        std::io::BufWriter::new(stdout.lock()),
        mode,
        classify,
        progress,
    ) {
        Ok(_) => 0,
        Err(ReplayError::Io(e)) => {
            eprintln!("tollgate: replay: {e}");
            1
        }
        Err(e) => {
            eprintln!("tollgate: replay: {e}");
            2
        }
    }
}
