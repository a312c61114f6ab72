//! Arbitrary URLs, signatures, settings headers, form pairs and bodies must
//! never panic the verifier. Run: `cargo fuzz run verify` in this crate's dir.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_signature::{Algorithm, Key, Payload, Verifier};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{1}');
    let url = parts.next().unwrap_or_default();
    let signature = parts.next().unwrap_or_default();
    let settings = parts.next();
    let pairs: Vec<(String, String)> = parts
        .clone()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect();
    let algorithm = Algorithm::from_settings_header(settings).unwrap_or(Algorithm::HmacSha1);
    let verifier = Verifier::new(vec![
        Key::new(b"token", Algorithm::HmacSha1),
        Key::new(b"shared", Algorithm::HmacSha256),
    ]);
    let _ = verifier.verify(url, Payload::Form(&pairs), signature, algorithm);
    let body: Payload<'_> = Payload::Body(data);
    let _ = verifier.verify(url, body, signature, algorithm);
    let _ = Key::new(data, algorithm).sign(url, &pairs);
});
