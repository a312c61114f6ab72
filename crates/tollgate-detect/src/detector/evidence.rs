//! What a rule that trips returns: the range to block and the evidence
//! (the figures as text, and the numbers that tripped it).

use super::Detector;
use crate::number::pow10;
use crate::verdict::EVIDENCE_NUMBERS;

/// A rule's finding: block `key` (a packed prefix) under `rule`.
#[derive(Debug)]
pub(super) struct Finding {
    pub(super) key: u64,
    pub(super) rule: &'static str,
    pub(super) evidence: String,
    /// Up to [`EVIDENCE_NUMBERS`] numbers (`+digits`).
    pub(super) numbers: Vec<String>,
}

impl Detector {
    /// Up to [`EVIDENCE_NUMBERS`] recent distinct numbers under `prefix`.
    pub(super) fn recent_under(&self, prefix: u64) -> Vec<String> {
        let (p, plen) = (prefix >> 4, (prefix & 15) as usize);
        let mut out: Vec<(u64, u8)> = Vec::new();
        for (value, len) in self.ring.iter().rev() {
            let len_us = usize::from(*len);
            if len_us < plen || value / pow10(len_us - plen) != p {
                continue;
            }
            if !out.contains(&(*value, *len)) {
                out.push((*value, *len));
                if out.len() >= EVIDENCE_NUMBERS {
                    break;
                }
            }
        }
        out.iter()
            .map(|(v, l)| format!("+{:0w$}", v, w = usize::from(*l)))
            .collect()
    }
}
