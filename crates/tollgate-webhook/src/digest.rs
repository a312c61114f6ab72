//! Answering a receiver's `WWW-Authenticate` challenge with the credentials
//! from the webhook URL, as Twilio does: the first request goes without
//! `Authorization`; after a 401 it is repeated with Basic or Digest.

use base64::Engine;
use md5::Md5;
use sha2::{Digest as _, Sha256};

/// A challenge Tollgate can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Digest(DigestChallenge),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: DigestAlgorithm,
    /// The server offered `qop=auth` (`auth-int` alone is not supported).
    pub qop_auth: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl DigestAlgorithm {
    fn parse(name: &str) -> Option<DigestAlgorithm> {
        match name.to_ascii_uppercase().as_str() {
            "MD5" => Some(DigestAlgorithm::Md5),
            "MD5-SESS" => Some(DigestAlgorithm::Md5Sess),
            "SHA-256" => Some(DigestAlgorithm::Sha256),
            "SHA-256-SESS" => Some(DigestAlgorithm::Sha256Sess),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Md5Sess => "MD5-sess",
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    fn hash(self, input: &str) -> String {
        match self {
            DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess => {
                hex::encode(Md5::digest(input.as_bytes()))
            }
            DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess => {
                hex::encode(Sha256::digest(input.as_bytes()))
            }
        }
    }

    fn is_session(self) -> bool {
        matches!(self, DigestAlgorithm::Md5Sess | DigestAlgorithm::Sha256Sess)
    }
}

/// The strongest challenge in a `WWW-Authenticate` value that Tollgate can
/// answer: Digest (SHA-256 before MD5), else Basic. `None` if neither.
pub fn parse_challenges(header: &str) -> Option<Challenge> {
    let mut best: Option<Challenge> = None;
    for (scheme, params) in split_challenges(header) {
        if scheme.eq_ignore_ascii_case("digest") {
            let get = |name: &str| {
                params
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            let (Some(realm), Some(nonce)) = (get("realm"), get("nonce")) else {
                continue;
            };
            let algorithm = match get("algorithm") {
                None => DigestAlgorithm::Md5,
                Some(a) => match DigestAlgorithm::parse(&a) {
                    Some(a) => a,
                    None => continue,
                },
            };
            let qop = get("qop");
            let qop_auth = qop
                .as_deref()
                .is_some_and(|q| q.split(',').any(|o| o.trim().eq_ignore_ascii_case("auth")));
            if qop.is_some() && !qop_auth {
                continue;
            }
            let candidate = DigestChallenge {
                realm,
                nonce,
                opaque: get("opaque"),
                algorithm,
                qop_auth,
            };
            let better = match &best {
                Some(Challenge::Digest(current)) => {
                    matches!(
                        candidate.algorithm,
                        DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess
                    ) && !matches!(
                        current.algorithm,
                        DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess
                    )
                }
                _ => true,
            };
            if better {
                best = Some(Challenge::Digest(candidate));
            }
        } else if scheme.eq_ignore_ascii_case("basic") && best.is_none() {
            best = Some(Challenge::Basic);
        }
    }
    best
}

/// `Authorization` for Basic.
pub fn basic_authorization(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// `Authorization` answering `challenge` for `method` on `uri` (path and
/// query), with client nonce `cnonce` (the caller draws it at random).
pub fn digest_authorization(
    challenge: &DigestChallenge,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
) -> String {
    let alg = challenge.algorithm;
    let nc = "00000001";
    let mut ha1 = alg.hash(&format!("{user}:{}:{password}", challenge.realm));
    if alg.is_session() {
        ha1 = alg.hash(&format!("{ha1}:{}:{cnonce}", challenge.nonce));
    }
    let ha2 = alg.hash(&format!("{method}:{uri}"));
    let response = if challenge.qop_auth {
        alg.hash(&format!(
            "{ha1}:{}:{nc}:{cnonce}:auth:{ha2}",
            challenge.nonce
        ))
    } else {
        alg.hash(&format!("{ha1}:{}:{ha2}", challenge.nonce))
    };
    let mut header = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", algorithm={}, response=\"{response}\"",
        quote(user),
        quote(&challenge.realm),
        quote(&challenge.nonce),
        quote(uri),
        alg.name()
    );
    if challenge.qop_auth {
        header.push_str(&format!(
            ", qop=auth, nc={nc}, cnonce=\"{}\"",
            quote(cnonce)
        ));
    }
    if let Some(opaque) = &challenge.opaque {
        header.push_str(&format!(", opaque=\"{}\"", quote(opaque)));
    }
    header
}

fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

type Params = Vec<(String, String)>;

/// Splits `Scheme a=b, c="d", Other x=y` into challenges. Tolerant: anything
/// it cannot read is skipped, never a panic.
fn split_challenges(header: &str) -> Vec<(String, Params)> {
    let mut out: Vec<(String, Params)> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        // A token followed by `=` is a parameter of the current challenge;
        // a token followed by a space or the end starts a new one.
        let token_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let (token, after) = rest.split_at(token_end);
        if token.is_empty() {
            // A stray `=` or similar: skip one character.
            let mut chars = rest.chars();
            chars.next();
            rest = chars.as_str();
            continue;
        }
        let after_trim = after.trim_start();
        if let Some(value_part) = after_trim.strip_prefix('=') {
            let value_part = value_part.trim_start();
            let (value, remaining) = read_value(value_part);
            if let Some((_, params)) = out.last_mut() {
                params.push((token.to_owned(), value));
            }
            rest = remaining;
        } else {
            out.push((token.to_owned(), Vec::new()));
            rest = after;
        }
    }
    out
}

/// A quoted string (with `\` escapes) or a token; returns it and the rest.
fn read_value(input: &str) -> (String, &str) {
    if let Some(quoted) = input.strip_prefix('"') {
        let mut value = String::new();
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            if escaped {
                value.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                return (value, quoted.get(i + 1..).unwrap_or(""));
            } else {
                value.push(c);
            }
        }
        (value, "")
    } else {
        let end = input.find([',', ' ', '\t']).unwrap_or(input.len());
        let (value, rest) = input.split_at(end);
        (value.to_owned(), rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn digest(header: &str) -> DigestChallenge {
        match parse_challenges(header) {
            Some(Challenge::Digest(d)) => d,
            other => panic!("expected digest, got {other:?}"),
        }
    }

    fn response_of(header: &str) -> String {
        header
            .split("response=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn rfc_2617_md5_vector() {
        let ch = digest(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        );
        let h = digest_authorization(
            &ch,
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "0a4f113b",
        );
        assert_eq!(response_of(&h), "6629fae49393a05397450978507c4ef1");
        assert!(h.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
        assert!(h.contains("qop=auth, nc=00000001, cnonce=\"0a4f113b\""));
    }

    #[test]
    fn rfc_7616_vectors_and_sha256_is_preferred() {
        let header = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, \
             nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\", \
             Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=MD5, \
             nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
        let ch = digest(header);
        assert_eq!(ch.algorithm, DigestAlgorithm::Sha256);
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let h = digest_authorization(
            &ch,
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            cnonce,
        );
        assert_eq!(
            response_of(&h),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        let md5 = DigestChallenge {
            algorithm: DigestAlgorithm::Md5,
            ..ch
        };
        let h = digest_authorization(
            &md5,
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            cnonce,
        );
        assert_eq!(response_of(&h), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn basic_and_unanswerable_challenges() {
        assert_eq!(
            parse_challenges("Basic realm=\"x\""),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenges("Bearer realm=\"x\""), None);
        assert_eq!(
            parse_challenges("Digest realm=\"x\", nonce=\"n\", qop=\"auth-int\""),
            None
        );
        assert_eq!(parse_challenges("Digest realm=\"x\""), None, "no nonce");
        assert_eq!(
            basic_authorization("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    proptest! {
        #[test]
        fn parsing_never_panics(header in "\\PC{0,120}") {
            if let Some(Challenge::Digest(d)) = parse_challenges(&header) {
                let h = digest_authorization(&d, "u", "p", "POST", "/x", "c");
                prop_assert!(h.starts_with("Digest "));
            }
        }
    }
}
