//! The Fraud Guard replay without the server: NDJSON events on stdin, one
//! decision line per request on stdout (the `tollgate fraud replay`
//! protocol), classified with `tollgate-numbering`.
//!
//! ```sh
//! cargo run --release -p tollgate-detect --example replay -- --mode standard < events.ndjson
//! ```
//!
//! `--risk-table none` classifies without Tollgate's toll-fraud prefix table
//! (risk tier from number types only): the benchmark runs that way so that no
//! list of "known bad" countries can help the detector.

use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use tollgate_detect::replay::{self, Classified};
use tollgate_detect::{Mode, Risk};
use tollgate_numbering::{Classifier, PrefixTable, RiskTier};

fn main() -> ExitCode {
    let mut mode = Mode::Standard;
    let mut with_table = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--mode", Some(m)) => match Mode::parse(&m) {
                Some(m) => mode = m,
                None => {
                    eprintln!("replay: --mode off|basic|standard|max");
                    return ExitCode::from(2);
                }
            },
            ("--risk-table", Some(t)) if t == "none" || t == "default" => {
                with_table = t == "default";
            }
            _ => {
                eprintln!(
                    "usage: replay [--mode off|basic|standard|max] [--risk-table default|none]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let classifier = if with_table {
        Classifier::new()
    } else {
        Classifier::with_tables(PrefixTable::new(), PrefixTable::new())
    };
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
        BufWriter::new(stdout.lock()),
        mode,
        classify,
        progress,
    ) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e @ replay::ReplayError::Io(_)) => {
            eprintln!("replay: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("replay: {e}");
            ExitCode::from(2)
        }
    }
}
