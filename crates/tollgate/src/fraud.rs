//! `tollgate fraud replay`: the server's Fraud Guard detector on a stream of
//! NDJSON events, on event time (shadow mode, and the benchmark interface).
//! The loop itself is [`tollgate_detect::replay::run`]; this only wires
//! stdin/stdout, the number classifier and the progress display.

use std::io::{IsTerminal, Write};

use tollgate_detect::Mode;
use tollgate_detect::replay::{self, Classified, ReplayError};
use tollgate_numbering::Classifier;

/// Runs the replay. Exit code 0; 1 when reading or writing fails; 2 on bad input.
pub fn replay(mode: Mode) -> u8 {
    let classifier = Classifier::new();
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
