//! Replay: the detector over a stream of NDJSON events, on event time
//! (shadow mode for users, and the benchmark interface).
//!
//! In, one event per line, in time order:
//!
//! ```text
//! {"type":"request","t":<unix seconds>,"id":"r1","channel":"sms"|"call","to":"+E164","ip":"a.b.c.d"?,"ip_flags":["datacenter"|"proxy"|"tor"]?,"device":"…"?}
//! {"type":"delivery","t":…,"id":"r1","delivered":true|false}
//! {"type":"verified","t":…,"id":"r1"}
//! ```
//!
//! Out: for every request, exactly one line `{"id","decision","rule"}`,
//! written and flushed before the next input line is read; nothing for the
//! other events. Blank lines are skipped; a line that is not a JSON object
//! with a known `type` stops the replay with [`ReplayError::BadLine`].

use std::borrow::Cow;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::{Channel, Detector, IpFlags, Mode, Request, Risk};

/// What the caller's number intelligence says about a `to`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Classified {
    /// E.164 digits without `+` (the input's digits when it did not parse).
    pub digits: String,
    /// The calling code's digits (empty when unknown).
    pub calling_code: String,
    pub valid: bool,
    /// Price of one send in micro-USD, 0 when unknown.
    pub price_micros: i64,
    pub risk: Risk,
}

#[cfg(feature = "numbering")]
impl From<tollgate_numbering::RiskTier> for Risk {
    fn from(tier: tollgate_numbering::RiskTier) -> Risk {
        match tier {
            tollgate_numbering::RiskTier::Standard => Risk::Standard,
            tollgate_numbering::RiskTier::HighRiskSpecial => Risk::HighRiskSpecial,
            tollgate_numbering::RiskTier::HighRiskTollfraud => Risk::HighRiskTollfraud,
        }
    }
}

#[cfg(feature = "numbering")]
impl Classified {
    /// `to` as `tollgate-numbering` classified it, at `price_micros` a send.
    pub fn from_numbering(
        to: &str,
        c: &tollgate_numbering::Classification,
        price_micros: i64,
    ) -> Classified {
        Classified {
            digits: c
                .e164
                .as_deref()
                .unwrap_or(to)
                .trim_start_matches('+')
                .to_owned(),
            calling_code: c.calling_code.map(|c| c.to_string()).unwrap_or_default(),
            valid: c.valid,
            price_micros,
            risk: c.risk.into(),
        }
    }
}

/// Counts of one replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub lines: u64,
    pub requests: u64,
    pub blocked: u64,
    pub deliveries: u64,
    pub verifications: u64,
}

/// Why a replay stopped.
#[derive(Debug)]
pub enum ReplayError {
    /// Reading the input or writing the output failed.
    Io(std::io::Error),
    /// Line `line` (1-based) is not a valid event.
    BadLine { line: u64, reason: String },
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::Io(e) => write!(f, "{e}"),
            ReplayError::BadLine { line, reason } => write!(f, "line {line}: {reason}"),
        }
    }
}

impl std::error::Error for ReplayError {}

impl From<std::io::Error> for ReplayError {
    fn from(e: std::io::Error) -> Self {
        ReplayError::Io(e)
    }
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    t: Option<f64>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    channel: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    to: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    ip: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    ip_flags: Option<Vec<Cow<'a, str>>>,
    #[serde(default, borrow)]
    device: Option<Cow<'a, str>>,
    #[serde(default)]
    delivered: Option<bool>,
}

#[derive(Serialize)]
struct Answer<'a> {
    id: &'a str,
    decision: &'static str,
    rule: &'static str,
}

/// Progress is reported every this many requests.
pub const PROGRESS_EVERY: u64 = 100_000;

/// Replays `input` through a fresh detector in `mode`, writing one decision
/// line per request to `output` (flushed each time). `classify` turns a
/// `to` into digits, calling code, validity, price and risk tier.
/// `progress`, when given, receives `\r<n> requests, <b> blocked` lines.
pub fn run(
    input: impl BufRead,
    output: impl Write,
    mode: Mode,
    classify: impl Fn(&str) -> Classified,
    progress: Option<&mut dyn Write>,
) -> Result<Summary, ReplayError> {
    let mut detector = Detector::new(mode);
    run_with(&mut detector, input, output, classify, progress)
}

/// [`run`] with a detector of the caller's (custom settings, or state kept
/// across streams).
pub fn run_with(
    detector: &mut Detector,
    mut input: impl BufRead,
    mut output: impl Write,
    classify: impl Fn(&str) -> Classified,
    mut progress: Option<&mut dyn Write>,
) -> Result<Summary, ReplayError> {
    let mut summary = Summary::default();
    let mut line = Vec::new();
    let mut out = Vec::with_capacity(128);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        summary.lines += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let event: Event<'_> = serde_json::from_slice(&line).map_err(|e| ReplayError::BadLine {
            line: summary.lines,
            reason: format!("not an event: {e}"),
        })?;
        let t = event.t.filter(|t| t.is_finite()).unwrap_or(0.0);
        let id = event.id.as_deref().unwrap_or("");
        match &*event.kind {
            "request" => {
                let c = classify(event.to.as_deref().unwrap_or(""));
                let flags = event
                    .ip_flags
                    .as_ref()
                    .map(|v| IpFlags::from_names(v.iter().map(|s| &**s)))
                    .unwrap_or_default();
                let verdict = detector.decide(&Request {
                    t,
                    id,
                    digits: &c.digits,
                    calling_code: &c.calling_code,
                    valid: c.valid,
                    channel: match event.channel.as_deref() {
                        Some("call") => Channel::Call,
                        _ => Channel::Sms,
                    },
                    ip: event.ip.as_deref(),
                    ip_flags: flags,
                    device: event.device.as_deref(),
                    price_micros: c.price_micros,
                    risk: c.risk,
                });
                summary.requests += 1;
                if !verdict.allow {
                    summary.blocked += 1;
                }
                out.clear();
                serde_json::to_writer(
                    &mut out,
                    &Answer {
                        id,
                        decision: if verdict.allow { "allow" } else { "block" },
                        rule: verdict.rule,
                    },
                )
                .map_err(std::io::Error::other)?;
                out.push(b'\n');
                output.write_all(&out)?;
                output.flush()?;
                if let Some(p) = progress.as_deref_mut()
                    && summary.requests % PROGRESS_EVERY == 0
                {
                    // Progress is best effort.
                    let _ = write!(
                        p,
                        "\r{} requests, {} blocked",
                        summary.requests, summary.blocked
                    );
                    let _ = p.flush();
                }
            }
            "delivery" => {
                summary.deliveries += 1;
                detector.delivered(t, id, event.delivered.unwrap_or(true));
            }
            "verified" => {
                summary.verifications += 1;
                detector.verified(t, id);
            }
            other => {
                return Err(ReplayError::BadLine {
                    line: summary.lines,
                    reason: format!("unknown event type {other:?}"),
                });
            }
        }
    }
    if let Some(p) = progress {
        let _ = writeln!(
            p,
            "\r{} requests, {} blocked",
            summary.requests, summary.blocked
        );
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A toy classifier: `+` and digits, a 2-digit calling code, valid when
    /// 8 to 15 digits.
    fn classify(to: &str) -> Classified {
        let digits = to.trim_start_matches('+').to_owned();
        let ok = digits.bytes().all(|b| b.is_ascii_digit()) && (8..=15).contains(&digits.len());
        Classified {
            calling_code: if ok {
                digits.get(..2).unwrap_or("").to_owned()
            } else {
                String::new()
            },
            digits,
            valid: ok,
            ..Classified::default()
        }
    }

    fn replay(input: &[u8]) -> (Result<Summary, ReplayError>, Vec<u8>) {
        let mut out = Vec::new();
        let r = run(input, &mut out, Mode::Standard, classify, None);
        (r, out)
    }

    #[test]
    fn one_answer_per_request_and_none_for_feedback() {
        let input = br#"{"type":"request","t":1.0,"id":"r1","channel":"sms","to":"+4477001234567","ip":"1.2.3.4","ip_flags":["proxy"],"device":"d1"}

{"type":"delivery","t":2.0,"id":"r1","delivered":true}
{"type":"verified","t":20.0,"id":"r1"}
{"type":"request","t":30.0,"id":"r2","channel":"call","to":"+12"}
"#;
        let (r, out) = replay(input);
        let s = r.unwrap_or_default();
        assert_eq!(
            (
                s.lines,
                s.requests,
                s.blocked,
                s.deliveries,
                s.verifications
            ),
            (5, 2, 1, 1, 1)
        );
        let text = String::from_utf8(out).unwrap_or_default();
        assert_eq!(
            text,
            "{\"id\":\"r1\",\"decision\":\"allow\",\"rule\":\"allow\"}\n\
             {\"id\":\"r2\",\"decision\":\"block\",\"rule\":\"fraudguard.invalid_number\"}\n"
        );
    }

    #[test]
    fn bad_lines_stop_with_their_number() {
        let (r, out) =
            replay(b"{\"type\":\"request\",\"id\":\"a\",\"to\":\"+4477001234567\"}\nnot json\n");
        assert!(matches!(r, Err(ReplayError::BadLine { line: 2, .. })));
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
        let (r, _) = replay(b"{\"type\":\"tick\",\"t\":1}\n");
        assert!(
            matches!(r, Err(ReplayError::BadLine { line: 1, reason }) if reason.contains("tick"))
        );
    }

    /// A writer that records how many lines had been flushed at each flush.
    struct Recorder {
        buf: Vec<u8>,
        flushed_lines: Vec<usize>,
    }

    impl Write for Recorder {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.buf.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.flushed_lines
                .push(self.buf.iter().filter(|b| **b == b'\n').count());
            Ok(())
        }
    }

    #[test]
    fn every_answer_is_flushed_on_its_own() {
        let mut input = Vec::new();
        for i in 0..20 {
            input.extend_from_slice(
                format!(
                    "{{\"type\":\"request\",\"t\":{i},\"id\":\"r{i}\",\"to\":\"+3712000{i:04}\"}}\n"
                )
                .as_bytes(),
            );
        }
        let mut rec = Recorder {
            buf: Vec::new(),
            flushed_lines: Vec::new(),
        };
        let s = run(&input[..], &mut rec, Mode::Standard, classify, None);
        assert_eq!(s.map(|s| s.requests).unwrap_or(0), 20);
        assert_eq!(rec.flushed_lines, (1..=20).collect::<Vec<_>>());
    }

    fn request_line() -> impl Strategy<Value = String> {
        (
            0.0f64..1e6,
            "[a-z0-9]{0,6}",
            prop_oneof![
                "\\+[0-9]{0,16}",
                "[ -~]{0,12}",
                Just("+37120001234".to_owned())
            ],
            proptest::option::of("[0-9.]{0,15}"),
            proptest::collection::vec(
                prop_oneof![
                    Just("proxy".to_owned()),
                    Just("tor".to_owned()),
                    Just("datacenter".to_owned()),
                    "[a-z]{0,5}"
                ],
                0..3,
            ),
        )
            .prop_map(|(t, id, to, ip, flags)| {
                serde_json::json!({"type":"request","t":t,"id":id,"channel":"sms","to":to,"ip":ip,"ip_flags":flags})
                    .to_string()
            })
    }

    fn feedback_line() -> impl Strategy<Value = String> {
        (0.0f64..1e6, "[a-z0-9]{0,6}", any::<bool>()).prop_map(|(t, id, ok)| {
            if ok {
                serde_json::json!({"type":"verified","t":t,"id":id}).to_string()
            } else {
                serde_json::json!({"type":"delivery","t":t,"id":id,"delivered":false}).to_string()
            }
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let (r, out) = replay(&bytes);
            // Whatever happens, no more answers than lines.
            let answers = out.iter().filter(|b| **b == b'\n').count() as u64;
            let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64 + 1;
            prop_assert!(answers <= lines);
            if let Ok(s) = r {
                prop_assert_eq!(s.requests, answers);
            }
        }

        #[test]
        fn arbitrary_lines_never_panic(lines in proptest::collection::vec("[ -~]{0,80}", 0..20)) {
            let input = lines.join("\n");
            let (r, out) = replay(input.as_bytes());
            if let Ok(s) = r {
                prop_assert_eq!(s.requests, out.iter().filter(|b| **b == b'\n').count() as u64);
            }
        }

        #[test]
        fn every_request_line_yields_exactly_one_answer(
            events in proptest::collection::vec(prop_oneof![3 => request_line(), 1 => feedback_line()], 0..60)
        ) {
            let input = events.join("\n");
            let (r, out) = replay(input.as_bytes());
            let s = r.map_err(|e| TestCaseError::fail(e.to_string()))?;
            let text = String::from_utf8(out).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let answers: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or(serde_json::Value::Null))
                .collect();
            let requests: Vec<&String> = events.iter().filter(|e| e.contains("\"request\"")).collect();
            prop_assert_eq!(s.requests as usize, requests.len());
            prop_assert_eq!(answers.len(), requests.len());
            for (a, e) in answers.iter().zip(requests) {
                let ev: serde_json::Value = serde_json::from_str(e).unwrap_or(serde_json::Value::Null);
                prop_assert_eq!(&a["id"], &ev["id"]);
                prop_assert!(a["decision"] == "allow" || a["decision"] == "block");
                prop_assert!(a["rule"].is_string());
            }
        }
    }
}
