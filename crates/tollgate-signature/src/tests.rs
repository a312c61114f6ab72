use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use hmac::{KeyInit, Mac};
use proptest::prelude::*;

use super::*;

const TOKEN: &[u8] = b"12345";
const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

fn params() -> Vec<(String, String)> {
    [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn sha1_key() -> Key {
    Key::new(TOKEN, Algorithm::HmacSha1)
}

// Vectors from the official libraries' test suites (recomputed independently).
#[test]
fn twilio_vectors() {
    assert_eq!(
        sha1_key().sign(URL, &params()).as_str(),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
    let with_port = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
    assert_eq!(
        sha1_key().sign(with_port, &params()).as_str(),
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
    );
    let array = [
        ("MessagingBinding.Address", "+1415xxxxxxx"),
        ("MessagingBinding.Address", "+1325xxxxxxx"),
    ];
    assert_eq!(
        sha1_key().sign(URL, &array).as_str(),
        "83O6e2vORAoJHUNzJjDWN1jz+BA="
    );
    let dup = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ];
    assert_eq!(
        sha1_key().sign(URL, &dup).as_str(),
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    );
}

#[test]
fn json_body_vectors() {
    let body = br#"{"property": "value", "boolean": true}"#;
    assert_eq!(
        body_sha256_hex(body),
        "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    );
    let (signed_url, sig) = sha1_key().sign_body(URL, body);
    assert_eq!(
        signed_url,
        format!(
            "{URL}&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
        )
    );
    assert_eq!(sig.as_str(), "a9nBmqA0ju/hNViExpshrM61xv4=");
    let v = Verifier::for_auth_tokens(&[TOKEN]);
    let none: Payload<'_> = Payload::Body(body);
    assert!(
        v.verify(&signed_url, none, sig.as_str(), Algorithm::HmacSha1)
            .is_ok()
    );
    let tampered: Payload<'_> = Payload::Body(br#"{"property": "value", "boolean": false}"#);
    assert_eq!(
        v.verify(&signed_url, tampered, sig.as_str(), Algorithm::HmacSha1),
        Err(Rejection::BodyHashMismatch)
    );
    let missing: Payload<'_> = Payload::Body(body);
    assert_eq!(
        v.verify(URL, missing, sig.as_str(), Algorithm::HmacSha1),
        Err(Rejection::BodyHashMissing)
    );
}

#[test]
fn verifies_with_and_without_the_port_and_reports_which() {
    let v = Verifier::for_auth_tokens(&[TOKEN]);
    let p = params();
    let ok = v.verify(
        URL,
        Payload::Form(&p),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
        Algorithm::HmacSha1,
    );
    assert_eq!(
        ok,
        Ok(Match {
            key_index: 0,
            url_variant: UrlVariant::AsReceived
        })
    );
    // A proxy added :1234 to an https URL: the official validators strip it.
    let ported = "https://mycompany.com:1234/myapp.php?foo=1&bar=2";
    let ok = v.verify(
        ported,
        Payload::Form(&p),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
        Algorithm::HmacSha1,
    );
    assert_eq!(
        ok,
        Ok(Match {
            key_index: 0,
            url_variant: UrlVariant::PortToggled
        })
    );
    // Signed with :443, received without.
    let sig = sha1_key().sign("https://mycompany.com:443/myapp.php?foo=1&bar=2", &p);
    assert_eq!(
        v.verify(URL, Payload::Form(&p), sig.as_str(), Algorithm::HmacSha1)
            .map(|m| m.url_variant),
        Ok(UrlVariant::PortToggled)
    );
    let mut changed = p.clone();
    changed[2].1 = "9999".into();
    assert_eq!(
        v.verify(
            URL,
            Payload::Form(&changed),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
            Algorithm::HmacSha1
        ),
        Err(Rejection::SignatureMismatch)
    );
}

#[test]
fn rotation_window_accepts_either_token() {
    let p = params();
    let sig = Key::new(b"secondary", Algorithm::HmacSha1).sign(URL, &p);
    let v = Verifier::for_auth_tokens(&[TOKEN, b"secondary".as_slice()]);
    assert_eq!(
        v.verify(URL, Payload::Form(&p), sig.as_str(), Algorithm::HmacSha1)
            .map(|m| m.key_index),
        Ok(1)
    );
    let only_primary = Verifier::for_auth_tokens(&[TOKEN]);
    assert!(
        only_primary
            .verify(URL, Payload::Form(&p), sig.as_str(), Algorithm::HmacSha1)
            .is_err()
    );
}

#[test]
fn shared_key_sha256_and_settings_header() {
    assert_eq!(
        Algorithm::from_settings_header(None),
        Ok(Algorithm::HmacSha1)
    );
    assert_eq!(
        Algorithm::from_settings_header(Some("key=abc")),
        Ok(Algorithm::HmacSha1)
    );
    assert_eq!(
        Algorithm::from_settings_header(Some("key=webhooks_sharedkey_1, algorithm=HMAC_SHA256")),
        Ok(Algorithm::HmacSha256)
    );
    assert!(Algorithm::from_settings_header(Some("algorithm=HMAC_MD5")).is_err());
    assert_eq!(
        Algorithm::settings_key_id("key=k1,algorithm=HMAC_SHA256"),
        Some("k1")
    );
    let p = params();
    let key = Key::new(b"shared", Algorithm::HmacSha256);
    let sig = key.sign(URL, &p);
    assert_eq!(sig.as_str().len(), 44);
    let v = Verifier::new(vec![sha1_key(), key]);
    assert_eq!(
        v.verify(URL, Payload::Form(&p), sig.as_str(), Algorithm::HmacSha256)
            .map(|m| m.key_index),
        Ok(1)
    );
    assert_eq!(
        Verifier::for_auth_tokens(&[TOKEN]).verify(
            URL,
            Payload::Form(&p),
            sig.as_str(),
            Algorithm::HmacSha256
        ),
        Err(Rejection::NoKeyForAlgorithm)
    );
}

#[test]
fn url_normalisation_matches_python_geturl() {
    let p: Vec<(String, String)> = vec![];
    let v = Verifier::for_auth_tokens(&[TOKEN]);
    // An empty `?` and an upper-case scheme are normalised away before signing.
    let sig = sha1_key().sign("https://example.com/hook", &p);
    assert!(
        v.verify(
            "HTTPS://example.com/hook?",
            Payload::Form(&p),
            sig.as_str(),
            Algorithm::HmacSha1
        )
        .is_ok()
    );
    for bad in [
        "example.com/hook",
        "ftp://x/y",
        "https://x:port/y",
        "https://x:99999/y",
        "https://x:/y",
        "https://[::1/x",
    ] {
        assert_eq!(
            v.verify(bad, Payload::Form(&p), sig.as_str(), Algorithm::HmacSha1),
            Err(Rejection::MalformedUrl),
            "{bad}"
        );
    }
    // IPv6 literal with a port, and userinfo before the host.
    let sig = sha1_key().sign("https://[::1]/hook", &p);
    assert!(
        v.verify(
            "https://[::1]:8443/hook",
            Payload::Form(&p),
            sig.as_str(),
            Algorithm::HmacSha1
        )
        .is_ok()
    );
    let sig = sha1_key().sign("https://u:pw@example.com/hook", &p);
    assert!(
        v.verify(
            "https://u:pw@example.com:443/hook",
            Payload::Form(&p),
            sig.as_str(),
            Algorithm::HmacSha1
        )
        .is_ok()
    );
}

// === The reference implementation, written from the specification ===

fn reference_sign(secret: &[u8], url: &str, params: &[(String, String)]) -> String {
    let mut by_name: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        by_name.entry(name).or_default().insert(value);
    }
    let mut s = url.to_owned();
    for (name, values) in by_name {
        for value in values {
            s.push_str(name);
            s.push_str(value);
        }
    }
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret).unwrap();
    mac.update(s.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Python's remove_port / add_port for simple URLs (no userinfo, no IPv6).
fn reference_candidates(url: &str) -> Vec<String> {
    let (scheme, rest) = url.split_once("://").unwrap();
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (netloc, tail) = rest.split_at(end);
    let (host, port) = match netloc.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (netloc, None),
    };
    let default = if scheme == "https" { "443" } else { "80" };
    let without = format!("{scheme}://{host}{tail}");
    let with = format!("{scheme}://{host}:{}{tail}", port.unwrap_or(default));
    vec![without, with]
}

fn url_strategy() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("http"), Just("https")],
        "[a-z][a-z0-9.-]{0,20}",
        proptest::option::of(1u16..=65535),
        "(/[A-Za-z0-9._~%-]{0,12}){0,3}",
        proptest::option::of("[A-Za-z0-9=&+%._-]{1,30}"),
    )
        .prop_map(|(scheme, host, port, path, query)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let query = query.map(|q| format!("?{q}")).unwrap_or_default();
            format!("{scheme}://{host}{port}{path}{query}")
        })
}

fn params_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    // A small name alphabet makes repeated names (and repeated values) common.
    proptest::collection::vec(("[A-Ca-c][a-z]{0,2}", "\\PC{0,6}"), 0..14)
}

proptest! {
    #[test]
    fn sign_equals_the_reference(secret in proptest::collection::vec(any::<u8>(), 0..80),
                                 url in url_strategy(), params in params_strategy()) {
        let ours = Key::new(&secret, Algorithm::HmacSha1).sign(&url, &params);
        prop_assert_eq!(ours.as_str(), reference_sign(&secret, &url, &params));
    }

    #[test]
    fn verify_accepts_exactly_the_reference_candidates(url in url_strategy(), params in params_strategy(),
                                                      other in "\\PC{0,6}") {
        let v = Verifier::for_auth_tokens(&[TOKEN]);
        for candidate in reference_candidates(&url) {
            let sig = reference_sign(TOKEN, &candidate, &params);
            prop_assert!(v.verify(&url, Payload::Form(&params), &sig, Algorithm::HmacSha1).is_ok(), "{}", candidate);
        }
        // Any change to the parameters is caught unless it leaves the canonical form unchanged.
        let mut changed = params.clone();
        changed.push(("Zz".into(), other));
        let sig = reference_sign(TOKEN, &url, &params);
        prop_assert_eq!(v.verify(&url, Payload::Form(&changed), &sig, Algorithm::HmacSha1), Err(Rejection::SignatureMismatch));
    }

    /// Past the stack limits (32 pairs, 2 KiB) the heap path must agree too.
    #[test]
    fn sign_equals_the_reference_for_large_webhooks(
        params in proptest::collection::vec(("[A-Ca-c][a-z]{0,2}", "\\PC{0,120}"), 20..60)) {
        let url = "https://example.com/hook";
        let ours = Key::new(TOKEN, Algorithm::HmacSha1).sign(url, &params);
        prop_assert_eq!(ours.as_str(), reference_sign(TOKEN, url, &params));
    }

    #[test]
    fn verify_never_panics(url in "\\PC{0,60}", sig in "\\PC{0,50}", body in proptest::collection::vec(any::<u8>(), 0..40)) {
        let v = Verifier::for_auth_tokens(&[TOKEN]);
        let p: Vec<(String, String)> = vec![("a".into(), url.clone())];
        let _ = v.verify(&url, Payload::Form(&p), &sig, Algorithm::HmacSha1);
        let body_payload: Payload<'_> = Payload::Body(&body);
        let _ = v.verify(&url, body_payload, &sig, Algorithm::HmacSha256);
    }
}
