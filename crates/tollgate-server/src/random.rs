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
    SID_BYTES.with_borrow_mut(|pool| pool.take(&mut bytes));
    Sid::time_ordered(prefix, unix_ms, bytes)
}

/// OS random bytes fetched 4 KiB at a time, for identifiers only (not for
/// tokens or keys): one `getrandom` call per ~400 message SIDs, not one each.
struct BytePool {
    buf: Box<[u8; 4096]>,
    used: usize,
}

impl BytePool {
    fn take(&mut self, out: &mut [u8]) {
        if self.buf.len() - self.used < out.len() {
            OsRandom.fill(&mut self.buf[..]);
            self.used = 0;
        }
        let end = self.used + out.len();
        match self.buf.get_mut(self.used..end) {
            Some(fresh) => {
                out.copy_from_slice(fresh);
                // Each byte is handed out once.
                fresh.fill(0);
                self.used = end;
            }
            // Longer than the pool: straight from the OS.
            None => OsRandom.fill(out),
        }
    }
}

thread_local! {
    static SID_BYTES: std::cell::RefCell<BytePool> = std::cell::RefCell::new(BytePool {
        buf: Box::new([0u8; 4096]),
        used: 4096,
    });
}

/// A new SID with `prefix`.
pub fn new_sid(prefix: SidPrefix) -> Sid {
    let mut bytes = [0u8; 16];
    OsRandom.fill(&mut bytes);
    Sid::from_random(prefix, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_sids_stay_unique_across_pool_refills() {
        // 5,000 SIDs in one millisecond use the pool about 12 times over.
        let sids: std::collections::HashSet<String> = (0..5_000)
            .map(|_| new_ordered_sid(SidPrefix::Message, 1_700_000_000_000).to_string())
            .collect();
        assert_eq!(sids.len(), 5_000);
    }
}
