//! `tollgate fraud replay`: the server's Fraud Guard detector on a stream of
//! NDJSON events, on event time (shadow mode, and the benchmark interface).
//! The protocol is `tollgate_detect::replay`'s; numbers are classified and
//! priced as the server does.

use std::io::IsTerminal;

use tollgate_detect::Mode;
use tollgate_detect::replay::{Classified, ReplayError, run};
use tollgate_numbering::{Classifier, RiskTier};
use tollgate_policy::pricing::PriceTable;

/// Runs the replay. Exit code 0; 1 when reading or writing fails; 2 on bad input.
pub fn replay(mode: Mode) -> u8 {
    let classifier = Classifier::new();
    let prices = PriceTable::builtin();
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
            price_micros: c.country.map_or(0, |iso| prices.get(iso).sms_outbound),
            risk: match c.risk {
                RiskTier::Standard => tollgate_detect::Risk::Standard,
                RiskTier::HighRiskSpecial => tollgate_detect::Risk::HighRiskSpecial,
                RiskTier::HighRiskTollfraud => tollgate_detect::Risk::HighRiskTollfraud,
            },
        }
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let progress: Option<&mut dyn std::io::Write> = if stderr.is_terminal() {
        Some(&mut stderr)
    } else {
        None
    };
    match run(stdin.lock(), stdout.lock(), mode, classify, progress) {
        Ok(_) => 0,
        Err(ReplayError::Io(e)) => {
            eprintln!("tollgate: {e}");
            1
        }
        Err(e @ ReplayError::BadLine { .. }) => {
            eprintln!("tollgate: {e}");
            2
        }
    }
}
