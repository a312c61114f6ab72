//! `X-Twilio-Signature`: compute and verify it exactly as the official
//! `twilio` helper libraries (Python 9.x, Node) do, and fast.
//!
//! The string to sign is the full URL, then each POST parameter sorted by
//! name, with each name's values de-duplicated and sorted, as `name + value`.
//! The signature is Base64 of HMAC-SHA1 keyed with the auth token, or of
//! HMAC-SHA1/SHA-256 keyed with a shared key when the request carries
//! `X-Twilio-Webhooks-Signature-Settings: key=…,algorithm=…`. JSON bodies are
//! signed through a `bodySHA256` query parameter instead of parameters.
//!
//! Verification tries the URL as received and with its port toggled (removed
//! if present, the scheme's default added if absent), as the official
//! validators do, against every accepted key (so a token rotation window drops
//! nothing), and compares in constant time. It returns which key and which URL
//! form matched, or why nothing did.
//!
//! This crate does no I/O and reads no clock. With the `axum` feature it
//! also offers [`layer::WebhookLayer`], which validates incoming webhooks
//! behind proxies ([`external::ProxyPolicy`]).

pub mod client_validation;
pub mod external;
#[cfg(feature = "axum")]
pub mod layer;
mod url;

use base64::Engine;
use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

pub use url::UrlVariant;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";
/// The header that announces a shared-key signature and its algorithm.
pub const SIGNATURE_SETTINGS_HEADER: &str = "X-Twilio-Webhooks-Signature-Settings";
/// The query parameter that carries the SHA-256 of a non-form body.
pub const BODY_SHA256_PARAM: &str = "bodySHA256";

/// The HMAC behind a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC-SHA1: auth-token signatures, and shared keys that say so.
    HmacSha1,
    /// HMAC-SHA256: shared keys only.
    HmacSha256,
}

/// The settings header names an algorithm this crate does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedAlgorithm(pub String);

impl Algorithm {
    /// Parses `HMAC_SHA1` / `HMAC_SHA256` (any case), or `sha1` / `sha256`.
    pub fn parse(name: &str) -> Result<Algorithm, UnsupportedAlgorithm> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("HMAC_SHA1") || name.eq_ignore_ascii_case("sha1") {
            Ok(Algorithm::HmacSha1)
        } else if name.eq_ignore_ascii_case("HMAC_SHA256") || name.eq_ignore_ascii_case("sha256") {
            Ok(Algorithm::HmacSha256)
        } else {
            Err(UnsupportedAlgorithm(name.to_owned()))
        }
    }

    /// The algorithm announced by `X-Twilio-Webhooks-Signature-Settings`.
    /// A missing header, or one without `algorithm=`, means HMAC-SHA1.
    pub fn from_settings_header(header: Option<&str>) -> Result<Algorithm, UnsupportedAlgorithm> {
        for part in header.unwrap_or("").split(',') {
            if let Some((name, value)) = part.split_once('=')
                && name.trim() == "algorithm"
                && !value.trim().is_empty()
            {
                return Algorithm::parse(value);
            }
        }
        Ok(Algorithm::HmacSha1)
    }

    /// The key id announced in the settings header (`key=…`), if any.
    pub fn settings_key_id(header: &str) -> Option<&str> {
        header.split(',').find_map(|part| {
            part.split_once('=')
                .filter(|(name, _)| name.trim() == "key")
                .map(|(_, value)| value.trim())
        })
    }
}

#[derive(Clone)]
enum KeyedMac {
    Sha1(hmac::Hmac<sha1::Sha1>),
    Sha256(hmac::Hmac<sha2::Sha256>),
}

/// A signing secret with its HMAC state precomputed, so each signature costs
/// only the message blocks.
#[derive(Clone)]
pub struct Key {
    mac: KeyedMac,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.mac {
            KeyedMac::Sha1(_) => "Key(HMAC-SHA1, …)",
            KeyedMac::Sha256(_) => "Key(HMAC-SHA256, …)",
        })
    }
}

/// A Base64 signature on the stack (28 or 44 characters).
#[derive(Clone, Copy)]
pub struct Signature {
    buf: [u8; 44],
    len: usize,
}

impl Signature {
    pub fn as_str(&self) -> &str {
        self.buf
            .get(..self.len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({})", self.as_str())
    }
}

impl Key {
    /// A key for `algorithm` (an auth token is HMAC-SHA1).
    pub fn new(secret: &[u8], algorithm: Algorithm) -> Key {
        // HMAC takes keys of any length, so these constructors cannot fail;
        // the fallback keeps the code panic-free all the same.
        let mac = match algorithm {
            Algorithm::HmacSha1 => {
                KeyedMac::Sha1(hmac::Hmac::new_from_slice(secret).unwrap_or_else(|_| {
                    <hmac::Hmac<sha1::Sha1> as KeyInit>::new(&Default::default())
                }))
            }
            Algorithm::HmacSha256 => {
                KeyedMac::Sha256(hmac::Hmac::new_from_slice(secret).unwrap_or_else(|_| {
                    <hmac::Hmac<sha2::Sha256> as KeyInit>::new(&Default::default())
                }))
            }
        };
        Key { mac }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.mac {
            KeyedMac::Sha1(_) => Algorithm::HmacSha1,
            KeyedMac::Sha256(_) => Algorithm::HmacSha256,
        }
    }

    /// Signs `pieces` (concatenated: the URL) then `tail` (the canonical pairs).
    fn sign_pieces(&self, pieces: &[&str], tail: &[u8]) -> Signature {
        fn feed<M: Mac>(mut mac: M, pieces: &[&str], tail: &[u8]) -> hmac::digest::Output<M> {
            for piece in pieces {
                mac.update(piece.as_bytes());
            }
            mac.update(tail);
            mac.finalize().into_bytes()
        }
        let mut sig = Signature {
            buf: [0u8; 44],
            len: 0,
        };
        let encoded = match &self.mac {
            KeyedMac::Sha1(m) => base64::engine::general_purpose::STANDARD
                .encode_slice(feed(m.clone(), pieces, tail), &mut sig.buf),
            KeyedMac::Sha256(m) => base64::engine::general_purpose::STANDARD
                .encode_slice(feed(m.clone(), pieces, tail), &mut sig.buf),
        };
        sig.len = encoded.unwrap_or(0);
        sig
    }

    /// Signs `url` exactly as given, with form `params` (any order; repeats allowed).
    pub fn sign<N: AsRef<str>, V: AsRef<str>>(&self, url: &str, params: &[(N, V)]) -> Signature {
        self.sign_pieces(&[url], &canonical_bytes(params))
    }

    /// Signs a non-form body: `url` gains `bodySHA256=<hex>` and no parameters
    /// are signed. Returns the URL to request and its signature.
    pub fn sign_body(&self, url: &str, body: &[u8]) -> (String, Signature) {
        let sep = if url.contains('?') { '&' } else { '?' };
        let signed_url = format!("{url}{sep}{BODY_SHA256_PARAM}={}", body_sha256_hex(body));
        let sig = self.sign_pieces(&[&signed_url], b"");
        (signed_url, sig)
    }
}

/// Parameters sorted by name, then value, with repeated pairs removed: the
/// order and de-duplication of the official validators.
pub fn canonical_pairs<N: AsRef<str>, V: AsRef<str>>(params: &[(N, V)]) -> Vec<(&str, &str)> {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(n, v)| (n.as_ref(), v.as_ref()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// The canonical pairs concatenated as `name + value`: what follows the URL
/// in the string to sign.
pub fn canonical_bytes<N: AsRef<str>, V: AsRef<str>>(params: &[(N, V)]) -> Vec<u8> {
    let pairs = canonical_pairs(params);
    let len = pairs.iter().map(|(n, v)| n.len() + v.len()).sum();
    let mut out = Vec::with_capacity(len);
    for (name, value) in pairs {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// Lower-case hex SHA-256 of a body, as `bodySHA256` carries it.
pub fn body_sha256_hex(body: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(body))
}

/// What was signed besides the URL.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a, N: AsRef<str> = String, V: AsRef<str> = String> {
    /// `application/x-www-form-urlencoded` parameters (GET: none).
    Form(&'a [(N, V)]),
    /// Any other body, bound by the URL's `bodySHA256` parameter.
    Body(&'a [u8]),
}

/// Why a request did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The URL is not `scheme://host[:port]…` with a numeric port.
    MalformedUrl,
    /// A body was signed but the URL has no `bodySHA256`.
    BodyHashMissing,
    /// `bodySHA256` does not match the body.
    BodyHashMismatch,
    /// No accepted key of the request's algorithm signs any URL form to this signature.
    SignatureMismatch,
    /// No accepted key uses the algorithm the request announced.
    NoKeyForAlgorithm,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rejection::MalformedUrl => "the URL is malformed",
            Rejection::BodyHashMissing => "a body was sent but the URL has no bodySHA256",
            Rejection::BodyHashMismatch => "bodySHA256 does not match the body",
            Rejection::SignatureMismatch => "the signature does not match",
            Rejection::NoKeyForAlgorithm => "no accepted key uses the announced algorithm",
        })
    }
}

/// Evidence of a valid signature: which key and which URL form matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Index into the verifier's keys (0 = primary during a rotation).
    pub key_index: usize,
    pub url_variant: UrlVariant,
}

/// Verifies signatures against one or more accepted keys.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    keys: Vec<Key>,
}

impl Verifier {
    /// Accepts any of `keys`, tried in order.
    pub fn new(keys: Vec<Key>) -> Verifier {
        Verifier { keys }
    }

    /// Accepts auth tokens (HMAC-SHA1), for example primary then secondary.
    pub fn for_auth_tokens<T: AsRef<[u8]>>(tokens: &[T]) -> Verifier {
        Verifier::new(
            tokens
                .iter()
                .map(|t| Key::new(t.as_ref(), Algorithm::HmacSha1))
                .collect(),
        )
    }

    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Verifies a request Twilio (or Tollgate) made to `url`.
    pub fn verify<N: AsRef<str>, V: AsRef<str>>(
        &self,
        url: &str,
        payload: Payload<'_, N, V>,
        signature: &str,
        algorithm: Algorithm,
    ) -> Result<Match, Rejection> {
        let parts = url::UrlParts::split(url).ok_or(Rejection::MalformedUrl)?;
        let tail = match payload {
            Payload::Form(params) => canonical_bytes(params),
            Payload::Body(body) => {
                let claimed =
                    url::query_param(url, BODY_SHA256_PARAM).ok_or(Rejection::BodyHashMissing)?;
                let actual = body_sha256_hex(body);
                if !bool::from(actual.as_bytes().ct_eq(claimed.as_bytes())) {
                    return Err(Rejection::BodyHashMismatch);
                }
                Vec::new()
            }
        };
        let mut any_key = false;
        for (key_index, key) in self.keys.iter().enumerate() {
            if key.algorithm() != algorithm {
                continue;
            }
            any_key = true;
            for variant in [UrlVariant::AsReceived, UrlVariant::PortToggled] {
                let mut pieces = [""; url::MAX_PIECES];
                let n = parts.pieces(variant, &mut pieces);
                let computed = key.sign_pieces(pieces.get(..n).unwrap_or(&[]), &tail);
                if bool::from(computed.as_str().as_bytes().ct_eq(signature.as_bytes())) {
                    return Ok(Match {
                        key_index,
                        url_variant: variant,
                    });
                }
            }
        }
        Err(if any_key {
            Rejection::SignatureMismatch
        } else {
            Rejection::NoKeyForAlgorithm
        })
    }
}

#[cfg(test)]
mod tests;
