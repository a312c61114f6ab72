//! Any bytes as an application's TwiML reply: reading its destinations
//! never panics, and every destination it reports has a target.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(found) = tollgate_twiml::destinations(text) {
        for d in found {
            assert!(!d.target.is_empty());
        }
    }
});
