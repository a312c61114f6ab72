//! `tollgate fraud replay`: the server's Fraud Guard detector on a stream of
//! NDJSON events, on event time (shadow mode, and the benchmark interface).
//!
//! In: `{"type":"request","t",“id","channel","to","ip"?,"ip_flags"?,"device"?}`,
//! `{"type":"delivery","t","id","delivered"}`, `{"type":"verified","t","id"}`.
//! Out: one `{"id","decision","rule"}` line per request, flushed before the
//! next input line is read; nothing for other events.

use std::io::{BufRead, IsTerminal, Write};

use serde_json::Value;
use tollgate_detect::{Detector, Mode, Request};
use tollgate_numbering::Classifier;

const PROGRESS_EVERY: u64 = 100_000;

/// Runs the replay. Exit code 0; 1 when output fails; 2 on bad input.
pub fn replay(mode: Mode) -> u8 {
    let classifier = Classifier::new();
    let mut detector = Detector::new(mode);
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let progress = std::io::stderr().is_terminal();
    let mut line = String::new();
    let (mut requests, mut blocked, mut number) = (0u64, 0u64, 0u64);
    loop {
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("tollgate: reading stdin: {e}");
                return 1;
            }
        }
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            eprintln!("tollgate: line {number} is not JSON");
            return 2;
        };
        let t = event.get("t").and_then(Value::as_f64).unwrap_or(0.0);
        let id = event.get("id").and_then(Value::as_str).unwrap_or("");
        match event.get("type").and_then(Value::as_str) {
            Some("request") => {
                let to = event.get("to").and_then(Value::as_str).unwrap_or("");
                let c = classifier.classify(to, None);
                let digits = c
                    .e164
                    .as_deref()
                    .unwrap_or(to)
                    .trim_start_matches('+')
                    .to_owned();
                let cc = c.calling_code.map(|c| c.to_string()).unwrap_or_default();
                let verdict = detector.decide(&Request {
                    t,
                    id,
                    digits: &digits,
                    calling_code: &cc,
                    valid: c.valid,
                });
                requests += 1;
                if !verdict.allow {
                    blocked += 1;
                }
                let answer = serde_json::json!({
                    "id": id,
                    "decision": if verdict.allow { "allow" } else { "block" },
                    "rule": verdict.rule,
                });
                if writeln!(out, "{answer}")
                    .and_then(|()| out.flush())
                    .is_err()
                {
                    return 1;
                }
                if progress && requests % PROGRESS_EVERY == 0 {
                    eprint!("\r{requests} requests, {blocked} blocked");
                }
            }
            Some("delivery") => {
                let delivered = event
                    .get("delivered")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                detector.delivered(t, id, delivered);
            }
            Some("verified") => detector.verified(t, id),
            _ => {
                eprintln!("tollgate: line {number}: unknown event type");
                return 2;
            }
        }
    }
    if progress {
        eprintln!("\r{requests} requests, {blocked} blocked");
    }
    0
}
