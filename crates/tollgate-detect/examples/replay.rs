//! The Fraud Guard replay without the server: NDJSON events on stdin, one
//! decision line per request on stdout (the `tollgate fraud replay`
//! protocol), classified with `tollgate-numbering`.
//!
//! ```sh
//! cargo run --release -p tollgate-detect --features numbering --example replay -- --mode standard < events.ndjson
//! ```
//!
//! `--risk-table none` classifies without Tollgate's toll-fraud prefix table
//! (risk tier from number types only): the benchmark runs that way so that no
//! list of "known bad" countries can help the detector.
//!
//! `--sweep N`, `--no-hosted-calls` and `--popular-ip` set
//! `Settings::sweep_numbers`, `refuse_hosted_calls` and `popular_ip`, to
//! measure each rule against the detector without it.

use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use tollgate_detect::replay::{self, Classified};
use tollgate_detect::{Detector, Mode, Settings};
use tollgate_numbering::{Classifier, PrefixTable};

fn main() -> ExitCode {
    let mut mode = Mode::Standard;
    let mut with_table = true;
    let mut sweep: Option<usize> = None;
    let mut score_odds: Option<f64> = None;
    let mut popular_ip = false;
    let mut hosted_calls = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--popular-ip" {
            popular_ip = true;
            continue;
        }
        if a == "--no-hosted-calls" {
            hosted_calls = false;
            continue;
        }
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
            ("--sweep", Some(n)) if n.parse::<usize>().is_ok() => {
                sweep = n.parse().ok();
            }
            ("--score-odds", Some(x)) if x.parse::<f64>().is_ok_and(|x| x > 0.0) => {
                score_odds = x.parse().ok();
            }
            _ => {
                eprintln!(
                    "usage: replay [--mode off|basic|standard|max] [--risk-table default|none] [--sweep N] [--score-odds X] [--no-hosted-calls] [--popular-ip]"
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
    let classify = |to: &str| Classified::from_numbering(to, &classifier.classify(to, None), 0);
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let progress: Option<&mut dyn Write> = if stderr.is_terminal() {
        Some(&mut stderr)
    } else {
        None
    };
    let mut settings = Settings::for_mode(mode);
    if let Some(n) = sweep {
        settings.sweep_numbers = n;
    }
    if let Some(x) = score_odds {
        settings.score_odds = x;
    }
    settings.popular_ip |= popular_ip;
    settings.refuse_hosted_calls &= hosted_calls;
    let mut detector = Detector::with_settings(mode, settings);
    match replay::run_with(
        &mut detector,
        stdin.lock(),
        BufWriter::new(stdout.lock()),
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
