//! Public Key Client Validation (PKCV): verify the `Twilio-Client-Validation`
//! JWT that the official helper libraries (Python's
//! `twilio.http.validation_client.ValidationClient`, and the Node and Java
//! equivalents) send with every REST API request once the account has
//! registered an RSA public key.
//!
//! The token is a JWT signed with RS256 (or PS256) by the client's private
//! key. Its header names the registered key (`kid`, a `CR…` credential SID)
//! and its claims bind it to one API key (`iss`, `SK…`), one account (`sub`,
//! `AC…`), a short lifetime (`exp`, `nbf`) and one HTTP request: `hrh` lists
//! the signed header names and `rqh` is the SHA-256 of the canonical request
//! (see [`canonical_request`]), built exactly as the Python client's
//! `ClientValidationJwt._generate_payload` builds it.
//!
//! What this module does: parse registered public keys ([`PublicKey`],
//! RSA ≥ 2048 bits with exponent 65537, as Twilio requires), compute the
//! canonical request and its hash, and [`verify`] a token against a request,
//! mapping every failure to Twilio's error code
//! ([`ClientValidationError::code`]). Signatures are checked with `aws-lc-rs`;
//! hashes are compared in constant time.
//!
//! What it does not do: no I/O, no clock reads (`now` is a parameter, in Unix
//! seconds), no key storage (the caller's `key_for` looks up the `kid` among
//! the keys registered for the account), and no decision about whether an
//! account *requires* PKCV or how a failure is rendered as an HTTP response.
//! It does not remember tokens either: a token may be replayed for the same
//! request within its lifetime, as with Twilio.

use std::fmt;

use aws_lc_rs::signature::{
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, RsaPublicKeyComponents,
};
use base64::Engine;
use serde_json::Value;
use sha2::Digest;
use subtle::ConstantTimeEq;

/// The request header that carries the token.
pub const HEADER: &str = "Twilio-Client-Validation";
/// The `cty` every token must carry.
pub const CONTENT_TYPE: &str = "twilio-pkrv;v=1";
/// Headers that every token must sign (the official clients always do).
pub const REQUIRED_SIGNED_HEADERS: [&str; 2] = ["authorization", "host"];
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: i64 = 60;
/// The longest lifetime a token may claim (`exp - now`), before leeway.
pub const MAX_TTL_SECS: i64 = 300;
/// The smallest RSA modulus accepted, in bits.
pub const MIN_MODULUS_BITS: u32 = 2048;
/// The largest RSA modulus accepted, in bits (aws-lc-rs verifies up to 8192).
pub const MAX_MODULUS_BITS: u32 = 8192;
/// The only public exponent accepted.
pub const REQUIRED_EXPONENT: u64 = 65537;
/// Tokens longer than this are rejected unparsed (a real one is under 2 KiB).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Most header names `hrh` may list (the official clients sign two); bounds
/// the work a token can cause, as each name adds a header line to hash.
pub const MAX_SIGNED_HEADERS: usize = 32;

/// DER of the rsaEncryption OID, 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION_OID: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// Longest untrusted text (a PEM label, a `kid`, a header name) quoted in an error.
const MAX_QUOTED: usize = 64;

// ---------------------------------------------------------------------------
// Public keys

/// A registered RSA public key, parsed once for both RS256 and PS256.
#[derive(Clone)]
pub struct PublicKey {
    bits: u32,
    pkcs1: ParsedPublicKey,
    pss: ParsedPublicKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(RSA-{}, e=65537)", self.bits)
    }
}

/// Why a public key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Not a single `-----BEGIN …-----` / `-----END …-----` block.
    NotPem,
    /// The END line names another type than the BEGIN line.
    LabelMismatch,
    /// A private key was given where the public key belongs.
    PrivateKey,
    /// A PEM type other than `PUBLIC KEY` / `RSA PUBLIC KEY` (the label, cut short).
    UnsupportedLabel(String),
    /// The body between the armour lines is not Base64.
    Base64,
    /// The DER inside is malformed (what was wrong).
    Der(&'static str),
    /// A SubjectPublicKeyInfo for another algorithm than rsaEncryption.
    NotRsa,
    /// The modulus is shorter than [`MIN_MODULUS_BITS`].
    ModulusTooSmall { bits: u32 },
    /// The modulus is longer than [`MAX_MODULUS_BITS`].
    ModulusTooLarge { bits: u32 },
    /// The public exponent is not 65537 (its value when it fits in 64 bits).
    Exponent { value: Option<u64> },
    /// The crypto library refused the key (for example an even modulus).
    Rejected,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::NotPem => f.write_str(
                "not a PEM public key: expected one -----BEGIN PUBLIC KEY----- … \
                 -----END PUBLIC KEY----- block",
            ),
            KeyError::LabelMismatch => {
                f.write_str("the PEM END line does not match its BEGIN line")
            }
            KeyError::PrivateKey => f.write_str(
                "this is a private key: register the public key only \
                 (openssl rsa -in key.pem -pubout)",
            ),
            KeyError::UnsupportedLabel(label) => write!(
                f,
                "unsupported PEM type {label:?}: expected PUBLIC KEY or RSA PUBLIC KEY"
            ),
            KeyError::Base64 => f.write_str("the PEM body is not valid Base64"),
            KeyError::Der(what) => write!(f, "malformed public key DER: {what}"),
            KeyError::NotRsa => f.write_str("not an RSA public key (rsaEncryption)"),
            KeyError::ModulusTooSmall { bits } => write!(
                f,
                "the RSA key is {bits} bits: at least {MIN_MODULUS_BITS} bits are required"
            ),
            KeyError::ModulusTooLarge { bits } => write!(
                f,
                "the RSA key is {bits} bits: at most {MAX_MODULUS_BITS} bits are supported"
            ),
            KeyError::Exponent { value: Some(e) } => write!(
                f,
                "the RSA public exponent is {e}: it must be {REQUIRED_EXPONENT}"
            ),
            KeyError::Exponent { value: None } => write!(
                f,
                "the RSA public exponent is too large: it must be {REQUIRED_EXPONENT}"
            ),
            KeyError::Rejected => f.write_str("the RSA public key is not valid"),
        }
    }
}

impl std::error::Error for KeyError {}

impl PublicKey {
    /// Parses a PEM RSA public key: `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo,
    /// what `openssl rsa -pubout` and Twilio's docs produce) or
    /// `BEGIN RSA PUBLIC KEY` (PKCS#1). The input must be exactly one PEM
    /// block, surrounding whitespace aside. The modulus must be 2048 to 8192
    /// bits and the exponent 65537.
    pub fn from_pem(pem: &str) -> Result<PublicKey, KeyError> {
        let (label, der) = pem_decode(pem)?;
        match label {
            "PUBLIC KEY" => PublicKey::from_spki_der(&der),
            "RSA PUBLIC KEY" => PublicKey::from_pkcs1_der(&der),
            l if l.ends_with("PRIVATE KEY") => Err(KeyError::PrivateKey),
            l => Err(KeyError::UnsupportedLabel(quote(l))),
        }
    }

    /// Parses a DER SubjectPublicKeyInfo holding an RSA key.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let mut outer = Der::new(der);
        let mut spki = Der::new(outer.read(TAG_SEQUENCE)?);
        outer.finish()?;
        let mut algorithm = Der::new(spki.read(TAG_SEQUENCE)?);
        let bit_string = spki.read(TAG_BIT_STRING)?;
        spki.finish()?;
        if algorithm.read(TAG_OID)? != RSA_ENCRYPTION_OID {
            return Err(KeyError::NotRsa);
        }
        // RFC 3279 says the parameters are NULL; tolerate them absent.
        if !algorithm.is_empty() {
            if !algorithm.read(TAG_NULL)?.is_empty() {
                return Err(KeyError::Der("rsaEncryption parameters are not NULL"));
            }
            algorithm.finish()?;
        }
        match bit_string.split_first() {
            Some((0, pkcs1)) => PublicKey::from_pkcs1_der(pkcs1),
            _ => Err(KeyError::Der("the key BIT STRING has unused bits")),
        }
    }

    /// Parses a DER PKCS#1 `RSAPublicKey`.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let mut outer = Der::new(der);
        let mut key = Der::new(outer.read(TAG_SEQUENCE)?);
        outer.finish()?;
        let n = key.read_unsigned()?;
        let e = key.read_unsigned()?;
        key.finish()?;

        let bits = bit_length(n);
        if bits < MIN_MODULUS_BITS {
            return Err(KeyError::ModulusTooSmall { bits });
        }
        if bits > MAX_MODULUS_BITS {
            return Err(KeyError::ModulusTooLarge { bits });
        }
        let exponent =
            (e.len() <= 8).then(|| e.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)));
        if exponent != Some(REQUIRED_EXPONENT) {
            return Err(KeyError::Exponent { value: exponent });
        }
        if n.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyError::Rejected);
        }
        let components = RsaPublicKeyComponents { n, e };
        let pkcs1 = components
            .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            .map_err(|_| KeyError::Rejected)?;
        let pss = components
            .to_parsed_public_key(&RSA_PSS_2048_8192_SHA256)
            .map_err(|_| KeyError::Rejected)?;
        Ok(PublicKey { bits, pkcs1, pss })
    }

    /// The modulus length in bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Whether `signature` is `algorithm`'s signature of `message` under this key.
    pub fn verify_signature(&self, algorithm: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        let key = match algorithm {
            Algorithm::Rs256 => &self.pkcs1,
            Algorithm::Ps256 => &self.pss,
        };
        key.verify_sig(message, signature).is_ok()
    }
}

/// Splits one PEM block into its label and decoded body.
fn pem_decode(pem: &str) -> Result<(&str, Vec<u8>), KeyError> {
    let mut lines = pem.trim().lines().map(str::trim);
    let begin = lines.next().ok_or(KeyError::NotPem)?;
    let label = begin
        .strip_prefix("-----BEGIN ")
        .and_then(|rest| rest.strip_suffix("-----"))
        .ok_or(KeyError::NotPem)?;
    let mut body = String::new();
    let mut end = None;
    for line in lines {
        if end.is_some() {
            // Anything after the END line: a second block or stray text.
            return Err(KeyError::NotPem);
        }
        if let Some(rest) = line.strip_prefix("-----END ") {
            end = Some(rest.strip_suffix("-----").ok_or(KeyError::NotPem)?);
        } else if line.contains("-----") {
            return Err(KeyError::NotPem);
        } else {
            body.push_str(line);
        }
    }
    match end {
        None => Err(KeyError::NotPem),
        Some(end) if end != label => Err(KeyError::LabelMismatch),
        Some(_) => {
            let der = base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .map_err(|_| KeyError::Base64)?;
            Ok((label, der))
        }
    }
}

fn bit_length(magnitude: &[u8]) -> u32 {
    match magnitude.split_first() {
        None => 0,
        Some((first, rest)) => {
            let rest_bits = u32::try_from(rest.len())
                .unwrap_or(u32::MAX / 16)
                .saturating_mul(8);
            rest_bits.saturating_add(8 - first.leading_zeros())
        }
    }
}

fn quote(text: &str) -> String {
    text.chars().take(MAX_QUOTED).collect()
}

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// A strict DER reader for the handful of types a public key needs:
/// definite, minimal lengths; no trailing bytes.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(input: &'a [u8]) -> Der<'a> {
        Der { rest: input }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn finish(&self) -> Result<(), KeyError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(KeyError::Der("unexpected trailing bytes"))
        }
    }

    fn take_byte(&mut self) -> Result<u8, KeyError> {
        let (first, rest) = self.rest.split_first().ok_or(KeyError::Der("truncated"))?;
        self.rest = rest;
        Ok(*first)
    }

    /// Reads one element with tag `tag` and returns its contents.
    fn read(&mut self, tag: u8) -> Result<&'a [u8], KeyError> {
        if self.take_byte()? != tag {
            return Err(KeyError::Der("unexpected element"));
        }
        let first = self.take_byte()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = first & 0x7f;
            if count == 0 {
                return Err(KeyError::Der("indefinite length"));
            }
            if count > 4 {
                return Err(KeyError::Der("length too large"));
            }
            let mut len = 0usize;
            for i in 0..count {
                let byte = self.take_byte()?;
                if i == 0 && byte == 0 {
                    return Err(KeyError::Der("non-minimal length"));
                }
                len = len << 8 | usize::from(byte);
            }
            if len < 0x80 {
                return Err(KeyError::Der("non-minimal length"));
            }
            len
        };
        if len > self.rest.len() {
            return Err(KeyError::Der("truncated"));
        }
        let (contents, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(contents)
    }

    /// Reads a positive INTEGER; returns its magnitude without leading zeros.
    fn read_unsigned(&mut self) -> Result<&'a [u8], KeyError> {
        let bytes = self.read(TAG_INTEGER)?;
        match bytes {
            [] => Err(KeyError::Der("empty INTEGER")),
            [first, ..] if first & 0x80 != 0 => Err(KeyError::Der("negative INTEGER")),
            [0] => Err(KeyError::Der("zero INTEGER")),
            [0, second, ..] if second & 0x80 == 0 => Err(KeyError::Der("non-minimal INTEGER")),
            [0, rest @ ..] => Ok(rest),
            _ => Ok(bytes),
        }
    }
}

// ---------------------------------------------------------------------------
// Canonical request

/// The string whose SHA-256 is the `rqh` claim, exactly as the Python
/// client's `ClientValidationJwt._generate_payload` builds it:
///
/// ```text
/// METHOD \n PATH \n SORTED_QUERY \n [HEADER_LINES \n] \n SIGNED_NAMES \n BODY_SHA256
/// ```
///
/// - the query is split on `&` and the pieces sorted as whole `k=v` strings
///   (no decoding); an empty query gives an empty line;
/// - `signed_headers` are lower-cased and sorted; each one present in
///   `headers` (names compared case-insensitively) gives a `name:value` line.
///   A header sent several times gives its values sorted and joined with `,`.
///   When none is present there is no header line at all (not an empty one);
/// - the signed names are joined with `;`;
/// - the body hash is lower-case hex SHA-256 of the raw body, or empty for an
///   empty body.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    signed_headers: &[&str],
    body: &[u8],
) -> String {
    let mut query_parts: Vec<&str> = query.split('&').collect();
    query_parts.sort_unstable();
    let sorted_query = query_parts.join("&");

    let mut signed: Vec<String> = signed_headers
        .iter()
        .map(|name| name.to_ascii_lowercase())
        .collect();
    signed.sort_unstable();

    let mut header_lines: Vec<String> = Vec::with_capacity(signed.len());
    for name in &signed {
        let mut values: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
            .collect();
        if values.is_empty() {
            continue;
        }
        values.sort_unstable();
        header_lines.push(format!("{name}:{}", values.join(",")));
    }
    let headers_str = header_lines.join("\n");

    let body_hash = if body.is_empty() {
        String::new()
    } else {
        hex::encode(sha2::Sha256::digest(body))
    };

    let mut parts: Vec<&str> = vec![method, path, &sorted_query];
    if !headers_str.is_empty() {
        parts.push(&headers_str);
    }
    let signed_str = signed.join(";");
    parts.extend(["", signed_str.as_str(), body_hash.as_str()]);
    parts.join("\n")
}

/// Lower-case hex SHA-256 of [`canonical_request`]: the expected `rqh`.
pub fn request_hash(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    signed_headers: &[&str],
    body: &[u8],
) -> String {
    let canonical = canonical_request(method, path, query, headers, signed_headers, body);
    hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
}

// ---------------------------------------------------------------------------
// Verification

/// The request a token claims to sign, as received.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method as sent (`GET`, `POST`…).
    pub method: &'a str,
    /// The path as sent, still percent-encoded, without the query.
    pub path: &'a str,
    /// The raw query string without `?` (empty when there is none).
    pub query: &'a str,
    /// Every header of the request, names in any case, repeats allowed.
    pub headers: &'a [(&'a str, &'a str)],
    /// The raw body.
    pub body: &'a [u8],
}

/// Who the request authenticated as.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The account the request acts on (`AC…`): the `sub` claim.
    pub account_sid: &'a str,
    /// The API key of the Basic credentials (`SK…`): the `iss` claim. `None`
    /// when the request used the account's auth token, which PKCV forbids.
    pub api_key_sid: Option<&'a str>,
}

/// The JWT signature algorithms accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (what the Python client uses).
    Rs256,
    /// RSASSA-PSS with SHA-256, salt length 32.
    Ps256,
}

impl Algorithm {
    /// The JWT `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Ps256 => "PS256",
        }
    }
}

/// Evidence of a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The credential SID (`CR…`) whose key signed the token.
    pub kid: String,
    /// The API key SID (`SK…`) the token was issued by.
    pub iss: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Not-before, Unix seconds, when the token has one.
    pub nbf: Option<i64>,
    pub algorithm: Algorithm,
}

/// What is wrong with the JWT header (or the token's framing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderProblem {
    /// Longer than [`MAX_TOKEN_LEN`].
    TooLong,
    /// Not three unpadded Base64url parts separated by dots.
    Malformed,
    /// The header is not a JSON object (or repeats a field).
    NotJson,
    /// `alg` missing or other than RS256 / PS256.
    Algorithm,
    /// `typ` present and other than `JWT`.
    Type,
    /// `cty` missing or other than `twilio-pkrv;v=1`.
    ContentType,
    /// `kid` missing, empty or not a string.
    MissingKid,
    /// `crit` present: no extension is understood.
    Critical,
}

/// What is wrong with the claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimProblem {
    /// The claims are not a JSON object (or repeat a claim).
    NotJson,
    /// A required claim is absent (or null).
    Missing(&'static str),
    /// A claim has the wrong JSON type (`exp`/`nbf` must be integers, the rest strings).
    WrongType(&'static str),
    /// `hrh` lists more than [`MAX_SIGNED_HEADERS`] names.
    TooManySignedHeaders,
}

/// Which of `iss` / `sub` is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssuerProblem {
    /// The request was authenticated with an auth token, not an API key.
    NoApiKey,
    /// `iss` is not the API key the request authenticated with.
    Issuer,
    /// `sub` is not the account the request acts on.
    Subject,
}

/// Why a token was refused; [`code`](ClientValidationError::code) is Twilio's
/// error code and [`title`](ClientValidationError::title) its name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientValidationError {
    /// 20152.
    InvalidHeader(HeaderProblem),
    /// 70153: the `kid` (cut short) is not a key registered for the account.
    UnknownPublicKey { kid: String },
    /// 20151: the signature does not verify under the registered key.
    AuthenticationFailed,
    /// 20154.
    InvalidClaimSet(ClaimProblem),
    /// 20153.
    InvalidIssuerOrSubject(IssuerProblem),
    /// 20156: `exp` is more than [`LEEWAY_SECS`] in the past.
    Expired,
    /// 20157: `exp` is more than [`MAX_TTL_SECS`] + [`LEEWAY_SECS`] ahead.
    ExpirationTooFar,
    /// 20155: `nbf` is more than [`LEEWAY_SECS`] ahead.
    NotYetValid,
    /// 70155: a header `hrh` names (cut short) is absent from the request, or
    /// `hrh` leaves out `authorization` or `host`.
    MissingHeader { header: String },
    /// 70156: `rqh` does not match the request.
    InvalidRequestHash,
}

impl ClientValidationError {
    /// Twilio's error code.
    pub fn code(&self) -> u32 {
        match self {
            ClientValidationError::AuthenticationFailed => 20151,
            ClientValidationError::InvalidHeader(_) => 20152,
            ClientValidationError::InvalidIssuerOrSubject(_) => 20153,
            ClientValidationError::InvalidClaimSet(_) => 20154,
            ClientValidationError::NotYetValid => 20155,
            ClientValidationError::Expired => 20156,
            ClientValidationError::ExpirationTooFar => 20157,
            ClientValidationError::UnknownPublicKey { .. } => 70153,
            ClientValidationError::MissingHeader { .. } => 70155,
            ClientValidationError::InvalidRequestHash => 70156,
        }
    }

    /// Twilio's name for [`code`](ClientValidationError::code).
    pub fn title(&self) -> &'static str {
        match self {
            ClientValidationError::AuthenticationFailed => "Authentication Failed",
            ClientValidationError::InvalidHeader(_) => "Invalid Header",
            ClientValidationError::InvalidIssuerOrSubject(_) => "Invalid Issuer Or Subject",
            ClientValidationError::InvalidClaimSet(_) => "Invalid Claim Set",
            ClientValidationError::NotYetValid => "Expiration Time In The Future",
            ClientValidationError::Expired => "Expired or Invalid Expiration",
            ClientValidationError::ExpirationTooFar => {
                "Expiration Time Exceeds Maximum Time Allowed"
            }
            ClientValidationError::UnknownPublicKey { .. } => "Public Key Specified Does Not Exist",
            ClientValidationError::MissingHeader { .. } => {
                "Request Is Missing Required HTTP Headers"
            }
            ClientValidationError::InvalidRequestHash => "Request Hash Is Invalid",
        }
    }
}

impl fmt::Display for ClientValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.title())?;
        match self {
            ClientValidationError::InvalidHeader(problem) => f.write_str(match problem {
                HeaderProblem::TooLong => "the Twilio-Client-Validation token is too long",
                HeaderProblem::Malformed => {
                    "the Twilio-Client-Validation token is not three Base64url parts"
                }
                HeaderProblem::NotJson => "the JWT header is not a JSON object",
                HeaderProblem::Algorithm => "the JWT alg must be RS256 or PS256",
                HeaderProblem::Type => "the JWT typ must be JWT",
                HeaderProblem::ContentType => "the JWT cty must be twilio-pkrv;v=1",
                HeaderProblem::MissingKid => "the JWT kid (credential SID) is missing",
                HeaderProblem::Critical => "the JWT crit extensions are not supported",
            }),
            ClientValidationError::UnknownPublicKey { kid } => {
                write!(f, "no public key {kid:?} is registered for this account")
            }
            ClientValidationError::AuthenticationFailed => {
                f.write_str("the JWT signature does not verify with the registered public key")
            }
            ClientValidationError::InvalidClaimSet(problem) => match problem {
                ClaimProblem::NotJson => f.write_str("the JWT claims are not a JSON object"),
                ClaimProblem::Missing(claim) => write!(f, "the JWT claim {claim} is missing"),
                ClaimProblem::TooManySignedHeaders => write!(
                    f,
                    "the JWT hrh lists more than {MAX_SIGNED_HEADERS} headers"
                ),
                ClaimProblem::WrongType(claim) => write!(
                    f,
                    "the JWT claim {claim} must be {}",
                    if matches!(*claim, "exp" | "nbf") {
                        "an integer"
                    } else {
                        "a string"
                    }
                ),
            },
            ClientValidationError::InvalidIssuerOrSubject(problem) => f.write_str(match problem {
                IssuerProblem::NoApiKey => {
                    "client validation requires authenticating with an API key, not the auth token"
                }
                IssuerProblem::Issuer => "the JWT iss is not the API key SID the request used",
                IssuerProblem::Subject => "the JWT sub is not the account SID",
            }),
            ClientValidationError::Expired => f.write_str("the JWT has expired"),
            ClientValidationError::ExpirationTooFar => write!(
                f,
                "the JWT exp is more than {MAX_TTL_SECS} seconds in the future"
            ),
            ClientValidationError::NotYetValid => f.write_str("the JWT nbf is in the future"),
            ClientValidationError::MissingHeader { header } => {
                write!(f, "the signed header {header:?} is missing")
            }
            ClientValidationError::InvalidRequestHash => {
                f.write_str("the JWT rqh does not match the request")
            }
        }
    }
}

impl std::error::Error for ClientValidationError {}

#[derive(serde::Deserialize)]
struct RawHeader {
    alg: Option<Value>,
    typ: Option<Value>,
    cty: Option<Value>,
    kid: Option<Value>,
    crit: Option<Value>,
}

#[derive(serde::Deserialize)]
struct RawClaims {
    iss: Option<Value>,
    sub: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    hrh: Option<Value>,
    rqh: Option<Value>,
}

/// Parses a JSON object into `T`: arrays (which serde accepts for structs)
/// and repeated known fields are refused.
fn json_object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        return None;
    }
    serde_json::from_slice(bytes).ok()
}

fn string_claim(value: Option<Value>, name: &'static str) -> Result<String, ClientValidationError> {
    match value {
        None => Err(ClientValidationError::InvalidClaimSet(
            ClaimProblem::Missing(name),
        )),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ClientValidationError::InvalidClaimSet(
            ClaimProblem::WrongType(name),
        )),
    }
}

fn integer_claim(
    value: Option<Value>,
    name: &'static str,
) -> Result<Option<i64>, ClientValidationError> {
    match value {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or(ClientValidationError::InvalidClaimSet(
                ClaimProblem::WrongType(name),
            )),
    }
}

fn b64url(part: &str) -> Result<Vec<u8>, ClientValidationError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| ClientValidationError::InvalidHeader(HeaderProblem::Malformed))
}

/// Verifies a `Twilio-Client-Validation` token against the request it came
/// with. `key_for` returns the public key registered under a credential SID
/// for `expected.account_sid` (and `None` for any other SID); `now` is the
/// current Unix time in seconds.
///
/// Checks, in order: the header (20152), the key (70153), the signature
/// (20151), the claims' shape and `hrh`'s length (20154), `iss`/`sub` (20153), `exp` (20156,
/// 20157), `nbf` (20155), the signed headers (70155), `rqh` (70156).
pub fn verify<'k>(
    token: &str,
    request: &Request<'_>,
    expected: &Expected<'_>,
    key_for: impl Fn(&str) -> Option<&'k PublicKey>,
    now: i64,
) -> Result<Verified, ClientValidationError> {
    use ClientValidationError as E;

    if token.len() > MAX_TOKEN_LEN {
        return Err(E::InvalidHeader(HeaderProblem::TooLong));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(E::InvalidHeader(HeaderProblem::Malformed));
    };
    let header_bytes = b64url(header_b64)?;
    let claims_bytes = b64url(claims_b64)?;
    let signature = b64url(signature_b64)?;

    // Header.
    let header: RawHeader =
        json_object(&header_bytes).ok_or(E::InvalidHeader(HeaderProblem::NotJson))?;
    let algorithm = match header.alg.as_ref().and_then(Value::as_str) {
        Some("RS256") => Algorithm::Rs256,
        Some("PS256") => Algorithm::Ps256,
        _ => return Err(E::InvalidHeader(HeaderProblem::Algorithm)),
    };
    if header
        .typ
        .as_ref()
        .is_some_and(|typ| typ.as_str() != Some("JWT"))
    {
        return Err(E::InvalidHeader(HeaderProblem::Type));
    }
    if header.cty.as_ref().and_then(Value::as_str) != Some(CONTENT_TYPE) {
        return Err(E::InvalidHeader(HeaderProblem::ContentType));
    }
    if header.crit.is_some() {
        return Err(E::InvalidHeader(HeaderProblem::Critical));
    }
    let kid = match header.kid {
        Some(Value::String(kid)) if !kid.is_empty() => kid,
        _ => return Err(E::InvalidHeader(HeaderProblem::MissingKid)),
    };

    // Key and signature.
    let key = key_for(&kid).ok_or_else(|| E::UnknownPublicKey { kid: quote(&kid) })?;
    let signed_len = header_b64.len() + 1 + claims_b64.len();
    let signing_input = token.as_bytes().get(..signed_len).unwrap_or_default();
    if !key.verify_signature(algorithm, signing_input, &signature) {
        return Err(E::AuthenticationFailed);
    }

    // Claims.
    let claims: RawClaims =
        json_object(&claims_bytes).ok_or(E::InvalidClaimSet(ClaimProblem::NotJson))?;
    let iss = string_claim(claims.iss, "iss")?;
    let sub = string_claim(claims.sub, "sub")?;
    let exp = integer_claim(claims.exp, "exp")?
        .ok_or(E::InvalidClaimSet(ClaimProblem::Missing("exp")))?;
    let nbf = integer_claim(claims.nbf, "nbf")?;
    let hrh = string_claim(claims.hrh, "hrh")?;
    let rqh = string_claim(claims.rqh, "rqh")?;
    let signed: Vec<&str> = hrh.split(';').collect();
    if signed.len() > MAX_SIGNED_HEADERS {
        return Err(E::InvalidClaimSet(ClaimProblem::TooManySignedHeaders));
    }

    match expected.api_key_sid {
        None => return Err(E::InvalidIssuerOrSubject(IssuerProblem::NoApiKey)),
        Some(api_key) if api_key != iss => {
            return Err(E::InvalidIssuerOrSubject(IssuerProblem::Issuer));
        }
        Some(_) => {}
    }
    if sub != expected.account_sid {
        return Err(E::InvalidIssuerOrSubject(IssuerProblem::Subject));
    }

    if exp <= now.saturating_sub(LEEWAY_SECS) {
        return Err(E::Expired);
    }
    if exp > now.saturating_add(MAX_TTL_SECS + LEEWAY_SECS) {
        return Err(E::ExpirationTooFar);
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(LEEWAY_SECS)) {
        return Err(E::NotYetValid);
    }

    // Signed headers and request hash.
    for name in &signed {
        if !request
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            return Err(E::MissingHeader {
                header: quote(name),
            });
        }
    }
    for required in REQUIRED_SIGNED_HEADERS {
        if !signed
            .iter()
            .any(|name| name.eq_ignore_ascii_case(required))
        {
            return Err(E::MissingHeader {
                header: required.to_owned(),
            });
        }
    }
    let computed = request_hash(
        request.method,
        request.path,
        request.query,
        request.headers,
        &signed,
        request.body,
    );
    if !bool::from(computed.as_bytes().ct_eq(rqh.as_bytes())) {
        return Err(E::InvalidRequestHash);
    }

    Ok(Verified {
        kid,
        iss,
        exp,
        nbf,
        algorithm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_test_vector() {
        let body = b"me=letop&you=leworst";
        let canonical = canonical_request(
            "GET",
            "https://api.twilio.com/",
            "q1=v1",
            &[("headera", "vala"), ("headerb", "valb")],
            &["headerb", "headera"],
            body,
        );
        let expected = format!(
            "GET\nhttps://api.twilio.com/\nq1=v1\nheadera:vala\nheaderb:valb\n\nheadera;headerb\n{}",
            crate::body_sha256_hex(body)
        );
        assert_eq!(canonical, expected);
    }

    #[test]
    fn no_signed_header_present_skips_the_line() {
        let canonical = canonical_request("GET", "/x", "", &[("a", "1")], &["host"], b"");
        assert_eq!(canonical, "GET\n/x\n\n\nhost\n");
    }

    #[test]
    fn query_sorted_as_whole_pieces_and_repeated_headers_joined() {
        let canonical = canonical_request(
            "POST",
            "/p",
            "b=2&a=2&a=1",
            &[("X-A", "z"), ("x-a", "y"), ("Host", "h")],
            &["x-a", "HOST"],
            b"",
        );
        assert_eq!(
            canonical,
            "POST\n/p\na=1&a=2&b=2\nhost:h\nx-a:y,z\n\nhost;x-a\n"
        );
    }

    #[test]
    fn der_reader_is_strict() {
        // Non-minimal long-form length.
        let mut der = Der::new(&[0x30, 0x81, 0x01, 0x00]);
        assert!(der.read(TAG_SEQUENCE).is_err());
        // Indefinite length.
        let mut der = Der::new(&[0x30, 0x80, 0x00, 0x00]);
        assert!(der.read(TAG_SEQUENCE).is_err());
        // Truncated.
        let mut der = Der::new(&[0x02, 0x03, 0x01]);
        assert!(der.read(TAG_INTEGER).is_err());
        // Integers: negative, padded, zero.
        for bytes in [
            &[0x02u8, 0x01, 0x80][..],
            &[0x02, 0x02, 0x00, 0x01],
            &[0x02, 0x01, 0x00],
        ] {
            assert!(Der::new(bytes).read_unsigned().is_err(), "{bytes:?}");
        }
        assert_eq!(
            Der::new(&[0x02, 0x02, 0x00, 0x80]).read_unsigned().unwrap(),
            &[0x80]
        );
    }

    #[test]
    fn bit_length_counts_the_top_byte() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
    }
}
