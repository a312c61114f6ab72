//! Message content: segment counting (GSM-7 or UCS-2), link and phone-number
//! detection, and stripping them from relayed inbound bodies.

/// Twilio's longest message body, in characters.
pub const MAX_BODY_CHARS: usize = 1600;

/// GSM 03.38 basic character set (one septet each).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension table (an escape plus one septet: two each).
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{000C}";

/// How a body is encoded and how many segments it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    pub ucs2: bool,
    pub count: u32,
}

/// GSM-7 when every character is in the GSM 03.38 tables (160 septets in one
/// segment, 153 per segment when concatenated), else UCS-2 (70 UTF-16 units,
/// 67 when concatenated). An empty body is one segment.
pub fn segments(body: &str) -> Segments {
    let mut septets = 0usize;
    let mut gsm = true;
    for c in body.chars() {
        if GSM7_BASIC.contains(c) {
            septets += 1;
        } else if GSM7_EXTENDED.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    let (units, single, multi) = if gsm {
        (septets, 160, 153)
    } else {
        (body.encode_utf16().count(), 70, 67)
    };
    let count = if units <= single {
        1
    } else {
        units.div_ceil(multi)
    };
    Segments {
        ucs2: !gsm,
        count: u32::try_from(count).unwrap_or(u32::MAX),
    }
}

/// A link found in a body: where it is and its host (lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub start: usize,
    pub end: usize,
    pub host: String,
}

/// Links in `body`: `http(s)://…`, `www.…`, and bare `host.tld/…` where the
/// top-level domain is 2 to 24 letters.
pub fn find_links(body: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let mut offset = 0usize;
    for token in body.split(|c: char| c.is_whitespace()) {
        let start = offset;
        offset += token.len() + 1;
        let trimmed = token.trim_matches(|c: char| {
            matches!(
                c,
                '(' | ')' | '<' | '>' | '"' | '\'' | ',' | '!' | '?' | ';'
            )
        });
        let trimmed = trimmed.trim_end_matches(['.', ':']);
        if trimmed.is_empty() {
            continue;
        }
        let lead = token.find(trimmed).unwrap_or(0);
        let lower = trimmed.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))
            .map(|r| (r, true))
            .unwrap_or((lower.as_str(), false));
        let (after_scheme, explicit) = rest;
        let host_part = after_scheme
            .split(['/', '?', '#'])
            .next()
            .unwrap_or("")
            .rsplit('@')
            .next()
            .unwrap_or("");
        let host = host_part
            .split(':')
            .next()
            .unwrap_or("")
            .trim_end_matches('.');
        if host.is_empty() {
            continue;
        }
        let labels: Vec<&str> = host.split('.').collect();
        let valid_labels = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        let tld_ok = labels.last().is_some_and(|t| {
            (2..=24).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphabetic())
        });
        if valid_labels && (explicit || tld_ok) {
            links.push(Link {
                start: start + lead,
                end: start + lead + trimmed.len(),
                host: host.trim_start_matches("www.").to_owned(),
            });
        }
    }
    links
}

/// Public URL shorteners: links through them hide the destination, so they
/// are blocked unless allowed explicitly.
pub const SHORTENERS: [&str; 16] = [
    "bit.ly",
    "tinyurl.com",
    "t.co",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "buff.ly",
    "cutt.ly",
    "rb.gy",
    "shorturl.at",
    "tiny.cc",
    "rebrand.ly",
    "t.ly",
    "s.id",
    "v.gd",
    "bl.ink",
];

/// True when `host` is `domain` or a subdomain of it.
pub fn host_in(host: &str, domain: &str) -> bool {
    let domain = domain.trim().trim_start_matches("*.").to_ascii_lowercase();
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// Replaces links with `[link removed]`.
pub fn strip_links(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut at = 0;
    for link in find_links(body) {
        out.push_str(body.get(at..link.start).unwrap_or(""));
        out.push_str("[link removed]");
        at = link.end;
    }
    out.push_str(body.get(at..).unwrap_or(""));
    out
}

/// Replaces phone numbers (7 or more digits, with optional `+`, spaces,
/// dots, dashes and parentheses between them) with `[number removed]`.
pub fn strip_phone_numbers(body: &str) -> String {
    let chars: Vec<(usize, char)> = body.char_indices().collect();
    let mut out = String::with_capacity(body.len());
    let mut i = 0usize;
    let mut copied = 0usize;
    while let Some(&(pos, c)) = chars.get(i) {
        if c.is_ascii_digit()
            || (c == '+' && chars.get(i + 1).is_some_and(|(_, n)| n.is_ascii_digit()))
        {
            let mut j = i;
            let mut digits = 0;
            let mut last_digit = i;
            while let Some(&(_, d)) = chars.get(j) {
                if d.is_ascii_digit() {
                    digits += 1;
                    last_digit = j;
                } else if !matches!(d, ' ' | '-' | '.' | '(' | ')' | '+') {
                    break;
                }
                j += 1;
            }
            if digits >= 7 {
                out.push_str(body.get(copied..pos).unwrap_or(""));
                out.push_str("[number removed]");
                let end = chars.get(last_digit + 1).map_or(body.len(), |(p, _)| *p);
                copied = end;
                i = last_digit + 1;
                continue;
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    out.push_str(body.get(copied..).unwrap_or(""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gsm7_and_ucs2_segments() {
        assert_eq!(
            segments(""),
            Segments {
                ucs2: false,
                count: 1
            }
        );
        assert_eq!(segments(&"a".repeat(160)).count, 1);
        assert_eq!(segments(&"a".repeat(161)).count, 2);
        assert_eq!(segments(&"a".repeat(306)).count, 2);
        assert_eq!(segments(&"a".repeat(307)).count, 3);
        // Extension characters count twice.
        assert_eq!(segments(&"€".repeat(80)).count, 1);
        assert_eq!(segments(&"€".repeat(81)).count, 2);
        assert_eq!(
            segments("héllo"),
            Segments {
                ucs2: false,
                count: 1
            }
        );
        assert_eq!(
            segments("hi 😀"),
            Segments {
                ucs2: true,
                count: 1
            }
        );
        assert_eq!(segments(&"ж".repeat(70)).count, 1);
        assert_eq!(segments(&"ж".repeat(71)).count, 2);
    }

    #[test]
    fn links_are_found_and_stripped() {
        let body =
            "Your code: 123456. See https://Example.com/x?y=1, or www.evil.test and bit.ly/abc!";
        let hosts: Vec<String> = find_links(body).into_iter().map(|l| l.host).collect();
        assert_eq!(hosts, ["example.com", "evil.test", "bit.ly"]);
        assert_eq!(
            strip_links(body),
            "Your code: 123456. See [link removed], or [link removed] and [link removed]!"
        );
        assert!(find_links("meet at 10.30 or v1.2 ok").is_empty());
        assert!(host_in("a.bit.ly", "bit.ly") && !host_in("notbit.ly", "bit.ly"));
    }

    #[test]
    fn phone_numbers_are_stripped_but_short_codes_stay() {
        assert_eq!(
            strip_phone_numbers("Call +1 (415) 555-0100 now, code 123456"),
            "Call [number removed] now, code 123456"
        );
        assert_eq!(strip_phone_numbers("00447400123456!"), "[number removed]!");
    }

    proptest! {
        #[test]
        fn never_panics_and_strips_to_no_links(body in "\\PC{0,200}") {
            let _ = segments(&body);
            let stripped = strip_links(&body);
            prop_assert!(find_links(&stripped).is_empty(), "{}", stripped);
            let _ = strip_phone_numbers(&body);
        }
    }
}
