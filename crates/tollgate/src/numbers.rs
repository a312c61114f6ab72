//! `tollgate numbers classify`: bulk form validation, one number per line on
//! stdin, one JSON object per line on stdout.

use std::io::{BufRead, IsTerminal, Write};

use tollgate_numbering::Classifier;

/// How often progress is shown on a terminal.
const PROGRESS_EVERY: u64 = 50_000;

/// Classifies every line of stdin. Exit code 0, or 1 when output fails.
pub fn classify(default_region: Option<&str>) -> u8 {
    let classifier = Classifier::new();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let show_progress = std::io::stderr().is_terminal();
    let mut line = Vec::new();
    let mut count: u64 = 0;
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("tollgate: reading stdin: {e}");
                return 1;
            }
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        let c = classifier.classify(text, default_region);
        let record = serde_json::json!({
            "input": text,
            "valid": c.valid,
            "e164": c.e164,
            "country": c.country,
            "calling_code": c.calling_code,
            "type": c.number_type.as_str(),
            "risk": c.risk.as_str(),
            "error": c.error.map(|e| e.as_str()),
        });
        if writeln!(out, "{record}").is_err() {
            return 1;
        }
        count += 1;
        if show_progress && count.is_multiple_of(PROGRESS_EVERY) {
            eprint!("\r{count} numbers classified");
        }
    }
    if show_progress && count >= PROGRESS_EVERY {
        eprintln!("\r{count} numbers classified");
    }
    if out.flush().is_err() {
        return 1;
    }
    0
}
