//! Signature verifications per second for a typical 12-parameter webhook.
//! The same request is timed in the official Python validator by
//! `scripts/bench-signature-python` (see BENCHMARKS.md).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tollgate_signature::{Algorithm, Key, Payload, Verifier};

pub const URL: &str = "https://example.com/twilio/sms?tenant=42";
pub const TOKEN: &[u8] = b"0123456789abcdef0123456789abcdef";

pub fn webhook() -> Vec<(String, String)> {
    [
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("ApiVersion", "2010-04-01"),
        ("Body", "Your code is 123456"),
        ("From", "+14155550100"),
        ("FromCountry", "US"),
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("SmsStatus", "received"),
        ("To", "+14155550199"),
        ("ToCountry", "US"),
        ("MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn bench(c: &mut Criterion) {
    let params = webhook();
    let key = Key::new(TOKEN, Algorithm::HmacSha1);
    let sig = key.sign(URL, &params);
    let verifier = Verifier::for_auth_tokens(&[TOKEN]);
    assert!(
        verifier
            .verify(
                URL,
                Payload::Form(&params),
                sig.as_str(),
                Algorithm::HmacSha1
            )
            .is_ok()
    );
    c.bench_function("verify_12_params_sha1", |b| {
        b.iter(|| {
            verifier.verify(
                black_box(URL),
                Payload::Form(black_box(&params)),
                black_box(sig.as_str()),
                Algorithm::HmacSha1,
            )
        })
    });
    // The worst valid case: the port form matches, so both URL forms are computed.
    let ported = "https://example.com:443/twilio/sms?tenant=42";
    c.bench_function("verify_12_params_sha1_port_toggled", |b| {
        b.iter(|| {
            verifier.verify(
                black_box(ported),
                Payload::Form(black_box(&params)),
                black_box(sig.as_str()),
                Algorithm::HmacSha1,
            )
        })
    });
    c.bench_function("sign_12_params_sha1", |b| {
        b.iter(|| key.sign(black_box(URL), black_box(&params)))
    });
}

/// Components, to see where a verification's time goes.
fn components(c: &mut Criterion) {
    let params = webhook();
    let key = Key::new(TOKEN, Algorithm::HmacSha1);
    c.bench_function("component_canonical_bytes_12", |b| {
        b.iter(|| tollgate_signature::canonical_bytes(black_box(&params)))
    });
    let message =
        String::from_utf8(tollgate_signature::canonical_bytes(&params)).unwrap_or_default();
    let one = [("", message.as_str())];
    c.bench_function("component_hmac_only", |b| {
        b.iter(|| key.sign(black_box(URL), black_box(&one)))
    });
}

criterion_group!(benches, bench, components);
criterion_main!(benches);
