//! The OS CSPRNG, and SID / secret generation on top of it.

use tollgate_secrets::RandomSource;
use tollgate_types::{Sid, SidPrefix};

/// Random bytes from the operating system.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            // Never continue with weak randomness: tokens and nonces depend on it.
            eprintln!("tollgate: the operating system's random source failed; stopping");
            std::process::abort();
        }
    }
}

/// A new SID for a high-volume record created at `unix_ms`: it sorts by time
/// (see [`Sid::time_ordered`]).
pub fn new_ordered_sid(prefix: SidPrefix, unix_ms: i64) -> Sid {
    let mut bytes = [0u8; 10];
    OsRandom.fill(&mut bytes);
    Sid::time_ordered(prefix, unix_ms, bytes)
}

/// A new SID with `prefix`.
pub fn new_sid(prefix: SidPrefix) -> Sid {
    let mut bytes = [0u8; 16];
    OsRandom.fill(&mut bytes);
    Sid::from_random(prefix, bytes)
}
