//! Any text as a webhook URL: parsing never panics, and an accepted URL's
//! request connects (as the HTTP client's WHATWG parser reads it) exactly
//! where the SSRF guard decided, which refuses it if that is forbidden.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_webhook::address::{forbidden_reason, refused};
use tollgate_webhook::request::{Destination, Method, Payload, Target, build};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for candidate in [text.to_owned(), format!("http://{text}"), format!("https://{text}/x")] {
        let Ok(target) = Target::parse(&candidate) else {
            continue;
        };
        let request = build(&target, Method::Get, &Payload::Form(vec![("a".into(), "b".into())]), "t", "WD1");
        let client = url::Url::parse(&request.url).ok().and_then(|u| Destination::of(&u));
        assert_eq!(client.as_ref(), Some(&target.destination), "{candidate}");
        if let Destination::Ip(ip) = target.destination {
            assert_eq!(refused(&target.destination).is_some(), forbidden_reason(ip).is_some());
        }
    }
});
