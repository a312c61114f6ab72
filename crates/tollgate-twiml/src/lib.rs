//! What a TwiML reply would start. An application's answer to a voice or
//! SMS webhook can place calls and send texts (`<Dial><Number>`,
//! `<Message to=…>`…); in proxy mode each of those destinations must pass
//! the same controls as an API send. This crate reads them out of the
//! (untrusted) XML: every verb that reaches somewhere, with its target.
//! It never panics, and refuses input over [`MAX_BYTES`] or deeper than
//! [`MAX_DEPTH`].

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// The largest reply read.
pub const MAX_BYTES: usize = 64 * 1024;
/// The deepest nesting read.
pub const MAX_DEPTH: usize = 16;

/// The safe reply when a destination is refused: the call is rejected
/// (busy), nothing runs.
pub const REJECT: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Reject/></Response>";
/// The reply that does nothing (a text needs no answer).
pub const EMPTY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

/// The verb that would start traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Dial,
    Message,
    Redirect,
    Enqueue,
}

/// What the verb reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A phone number (`<Number>`, a bare `<Dial>` text, `<Message to>`).
    Number,
    Sip,
    Client,
    Conference,
    Queue,
    /// A TwiML URL (`<Redirect>`, a verb's `action`/`url`).
    Url,
}

/// One place a reply would reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub verb: Verb,
    pub kind: Kind,
    pub target: String,
    /// `<Dial callerId>` or `<Message from>`, when given.
    pub from: Option<String>,
}

/// Why a reply could not be read (it is then refused as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TwimlError {
    TooLarge,
    TooDeep,
    Malformed(String),
    NotTwiml,
}

impl std::fmt::Display for TwimlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TwimlError::TooLarge => write!(f, "the reply is larger than {MAX_BYTES} bytes"),
            TwimlError::TooDeep => write!(f, "the reply is nested deeper than {MAX_DEPTH}"),
            TwimlError::Malformed(why) => write!(f, "the reply is not well-formed XML: {why}"),
            TwimlError::NotTwiml => write!(f, "the reply has no <Response> root"),
        }
    }
}

impl std::error::Error for TwimlError {}

fn attribute(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref().eq_ignore_ascii_case(name))
        .and_then(|a| a.unescape_value().ok().map(|v| v.trim().to_owned()))
}

/// Every destination `twiml` would reach, in document order. An empty body
/// is an empty reply (no destinations).
pub fn destinations(twiml: &str) -> Result<Vec<Destination>, TwimlError> {
    if twiml.len() > MAX_BYTES {
        return Err(TwimlError::TooLarge);
    }
    if twiml.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut reader = Reader::from_str(twiml);
    reader.config_mut().trim_text(true);
    // The open elements, and the <Dial>/<Message> they are inside.
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut dial: Option<Option<String>> = None;
    let mut message: Option<(Option<String>, Option<String>)> = None;
    let mut text = String::new();
    let mut seen_root = false;
    let mut out = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| TwimlError::Malformed(e.to_string()))?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_vec();
                if stack.is_empty() {
                    if name != b"Response" {
                        return Err(TwimlError::NotTwiml);
                    }
                    seen_root = true;
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(TwimlError::TooDeep);
                }
                open(&e, &name, &mut dial, &mut message, &mut out);
                text.clear();
                stack.push(name);
            }
            Event::Empty(e) => {
                let name = e.local_name().as_ref().to_vec();
                if stack.is_empty() {
                    if name != b"Response" {
                        return Err(TwimlError::NotTwiml);
                    }
                    seen_root = true;
                    continue;
                }
                let mut dial_inner = None;
                let mut message_inner = None;
                open(&e, &name, &mut dial_inner, &mut message_inner, &mut out);
                // A self-closed <Message to=…/> sends nothing without a body.
                let _ = message_inner;
                // <Dial/> alone dials nothing.
                let _ = dial_inner;
            }
            Event::Text(t) => {
                let s = t
                    .decode()
                    .map_err(|e| TwimlError::Malformed(e.to_string()))?;
                let s = quick_xml::escape::unescape(&s)
                    .map_err(|e| TwimlError::Malformed(e.to_string()))?;
                text.push_str(s.trim());
            }
            Event::CData(t) => {
                text.push_str(String::from_utf8_lossy(&t).trim());
            }
            Event::End(_) => {
                let Some(name) = stack.pop() else {
                    return Err(TwimlError::Malformed("an end tag without a start".into()));
                };
                let value = std::mem::take(&mut text);
                let inside_dial = stack.last().is_some_and(|p| p == b"Dial");
                let kind = match name.as_slice() {
                    b"Number" if inside_dial => Some(Kind::Number),
                    b"Sip" if inside_dial => Some(Kind::Sip),
                    b"Client" if inside_dial => Some(Kind::Client),
                    b"Conference" if inside_dial => Some(Kind::Conference),
                    b"Queue" if inside_dial => Some(Kind::Queue),
                    _ => None,
                };
                if let (Some(kind), Some(from)) = (kind, dial.as_ref()) {
                    if !value.is_empty() {
                        out.push(Destination {
                            verb: Verb::Dial,
                            kind,
                            target: value.clone(),
                            from: from.clone(),
                        });
                    }
                    continue;
                }
                match name.as_slice() {
                    b"Dial" => {
                        // <Dial>+1555…</Dial>: the text is the number.
                        if let Some(from) = dial.take()
                            && !value.is_empty()
                        {
                            out.push(Destination {
                                verb: Verb::Dial,
                                kind: Kind::Number,
                                target: value,
                                from,
                            });
                        }
                    }
                    b"Message" => {
                        if let Some((to, from)) = message.take()
                            && let Some(to) = to
                        {
                            out.push(Destination {
                                verb: Verb::Message,
                                kind: Kind::Number,
                                target: to,
                                from,
                            });
                        }
                    }
                    b"Redirect" if !value.is_empty() => out.push(Destination {
                        verb: Verb::Redirect,
                        kind: Kind::Url,
                        target: value,
                        from: None,
                    }),
                    b"Enqueue" if !value.is_empty() => out.push(Destination {
                        verb: Verb::Enqueue,
                        kind: Kind::Queue,
                        target: value,
                        from: None,
                    }),
                    _ => {}
                }
            }
            Event::Eof => break,
            Event::DocType(_) => {
                return Err(TwimlError::Malformed("a DOCTYPE is not allowed".into()));
            }
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(TwimlError::Malformed("an element is not closed".into()));
    }
    if !seen_root {
        return Err(TwimlError::NotTwiml);
    }
    Ok(out)
}

/// What opening `name` starts: a <Dial> (with its callerId), a <Message>
/// (its to and from), and the URLs verbs fetch TwiML from next.
fn open(
    e: &BytesStart<'_>,
    name: &[u8],
    dial: &mut Option<Option<String>>,
    message: &mut Option<(Option<String>, Option<String>)>,
    out: &mut Vec<Destination>,
) {
    match name {
        b"Dial" => *dial = Some(attribute(e, b"callerId")),
        b"Message" => *message = Some((attribute(e, b"to"), attribute(e, b"from"))),
        _ => {}
    }
    for url_attribute in [&b"action"[..], b"url"] {
        if let Some(url) = attribute(e, url_attribute).filter(|u| !u.is_empty()) {
            out.push(Destination {
                verb: match name {
                    b"Message" => Verb::Message,
                    b"Enqueue" => Verb::Enqueue,
                    b"Redirect" => Verb::Redirect,
                    _ => Verb::Dial,
                },
                kind: Kind::Url,
                target: url,
                from: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn numbers(twiml: &str) -> Vec<(Verb, String)> {
        destinations(twiml)
            .unwrap()
            .into_iter()
            .filter(|d| d.kind == Kind::Number)
            .map(|d| (d.verb, d.target))
            .collect()
    }

    #[test]
    fn every_way_to_dial_or_text_a_number_is_found() {
        let twiml = r#"<?xml version="1.0"?>
            <Response>
              <Say>Connecting</Say>
              <Dial callerId="+15005550006"><Number>+44 20 7946 0000</Number><Number> +33142685300 </Number></Dial>
              <Dial>+882345678</Dial>
              <Message to="+2348012345678" from="+15005550006">hi &amp; bye</Message>
              <Message>reply to sender</Message>
            </Response>"#;
        assert_eq!(
            numbers(twiml),
            vec![
                (Verb::Dial, "+44 20 7946 0000".to_owned()),
                (Verb::Dial, "+33142685300".to_owned()),
                (Verb::Dial, "+882345678".to_owned()),
                (Verb::Message, "+2348012345678".to_owned()),
            ]
        );
        let all = destinations(twiml).unwrap();
        assert_eq!(all[0].from.as_deref(), Some("+15005550006"));
    }

    #[test]
    fn sip_clients_queues_and_urls_are_found() {
        let twiml = r#"<Response><Dial action="https://a.example/next"><Sip>sip:alice@evil.example</Sip><Client>bob</Client></Dial><Enqueue>support</Enqueue><Redirect method="POST">https://b.example/x</Redirect></Response>"#;
        let d = destinations(twiml).unwrap();
        let kinds: Vec<(Verb, Kind, &str)> = d
            .iter()
            .map(|d| (d.verb, d.kind, d.target.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (Verb::Dial, Kind::Url, "https://a.example/next"),
                (Verb::Dial, Kind::Sip, "sip:alice@evil.example"),
                (Verb::Dial, Kind::Client, "bob"),
                (Verb::Enqueue, Kind::Queue, "support"),
                (Verb::Redirect, Kind::Url, "https://b.example/x"),
            ]
        );
    }

    #[test]
    fn malformed_deep_large_or_foreign_replies_are_refused() {
        assert!(matches!(
            destinations("<Response><Dial>"),
            Err(TwimlError::Malformed(_))
        ));
        assert_eq!(destinations("<html/>"), Err(TwimlError::NotTwiml));
        let deep = format!(
            "<Response>{}{}</Response>",
            "<Gather>".repeat(20),
            "</Gather>".repeat(20)
        );
        assert_eq!(destinations(&deep), Err(TwimlError::TooDeep));
        let big = format!("<Response><Say>{}</Say></Response>", "a".repeat(MAX_BYTES));
        assert_eq!(destinations(&big), Err(TwimlError::TooLarge));
        assert!(
            destinations("<!DOCTYPE x [<!ENTITY e \"+1\">]><Response><Dial>&e;</Dial></Response>")
                .is_err()
        );
        assert_eq!(destinations("").unwrap(), vec![]);
        assert_eq!(destinations("<Response/>").unwrap(), vec![]);
    }

    proptest! {
        /// Any bytes: an answer or an error, never a panic.
        #[test]
        fn never_panics(input in ".{0,400}") {
            let _ = destinations(&input);
        }

        /// A generated reply gives back exactly the numbers it dials and texts.
        #[test]
        fn generated_replies_give_back_their_numbers(
            dials in proptest::collection::vec("\\+[1-9][0-9]{6,14}", 0..5),
            texts in proptest::collection::vec("\\+[1-9][0-9]{6,14}", 0..5),
        ) {
            let mut twiml = String::from("<Response><Say>x &lt; y</Say>");
            if !dials.is_empty() {
                twiml.push_str("<Dial>");
                for n in &dials {
                    twiml.push_str(&format!("<Number>{n}</Number>"));
                }
                twiml.push_str("</Dial>");
            }
            for n in &texts {
                twiml.push_str(&format!("<Message to=\"{n}\">hi</Message>"));
            }
            twiml.push_str("</Response>");
            let expected: Vec<(Verb, String)> = dials.iter().map(|n| (Verb::Dial, n.clone()))
                .chain(texts.iter().map(|n| (Verb::Message, n.clone()))).collect();
            prop_assert_eq!(numbers(&twiml), expected);
        }
    }
}
