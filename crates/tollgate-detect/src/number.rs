//! Numbers and prefixes as integers: the parsed destination, packed
//! prefix keys, and the hasher for keys that are already mixed.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::sketch::mix;

/// A hasher for keys that are already well mixed (u64 keys are mixed here).
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = mix(self.0);
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = mix(self.0 ^ x);
    }
}

pub(crate) type Map<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// A prefix packed into a u64: its value times 16 plus its length (≤ 15).
pub(crate) fn pack(value: u64, len: usize) -> u64 {
    (value << 4) | (len as u64 & 15)
}

/// The digits of a packed prefix.
pub(crate) fn unpack(key: u64) -> String {
    let len = (key & 15) as usize;
    format!("{:0len$}", key >> 4)
}

/// A prefix (digits, with or without `+`) packed; `None` if it is not one.
pub(crate) fn parse_key(prefix: &str) -> Option<u64> {
    let digits = prefix.strip_prefix('+').unwrap_or(prefix);
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(pack(digits.parse().ok()?, digits.len()))
}

/// Powers of ten up to 10^15.
const POW10: [u64; 16] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
];

pub(crate) fn pow10(n: usize) -> u64 {
    POW10.get(n).copied().unwrap_or(u64::MAX)
}

/// A parsed destination: the number's value and length, and its calling
/// code's length.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Number {
    pub(crate) value: u64,
    pub(crate) len: usize,
    pub(crate) cc_len: usize,
}

impl Number {
    pub(crate) fn parse(digits: &str, cc: &str) -> Option<Number> {
        let len = digits.len();
        if len == 0 || len > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let cc_len = cc.len();
        if cc_len == 0 || cc_len >= len || !digits.starts_with(cc) {
            return None;
        }
        Some(Number {
            value: digits.parse().ok()?,
            len,
            cc_len,
        })
    }

    pub(crate) fn key(&self) -> u64 {
        pack(self.value, self.len)
    }

    pub(crate) fn country(&self) -> u64 {
        self.prefix(self.len - self.cc_len)
    }

    /// The prefix with `cut` digits removed, packed.
    pub(crate) fn prefix(&self, cut: usize) -> u64 {
        pack(self.value / pow10(cut), self.len.saturating_sub(cut))
    }

    /// Whether the `cut` level is a range below the country.
    pub(crate) fn has_level(&self, cut: usize) -> bool {
        self.len > cut && self.len - cut > self.cc_len
    }

    pub(crate) fn e164(&self) -> String {
        format!("+{:0w$}", self.value, w = self.len)
    }
}
