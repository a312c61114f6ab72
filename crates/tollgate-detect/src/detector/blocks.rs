//! The block table: a standing block refuses the sends under it (the
//! second thing `decide` checks, after the number's validity), a rule's
//! finding opens or refreshes one, and the operator lists, lifts and
//! restores them.

use super::Detector;
use super::evidence::Finding;
use crate::number::{Number, parse_key, unpack};
use crate::tuning::LEVELS;
use crate::verdict::{
    Block, EVIDENCE_NUMBERS, RULE_CONVERSION, RULE_NEW_COUNTRY, Verdict, blocks_range,
};

impl Detector {
    /// Active blocks and country watches (for listing and lifting).
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.blocks.values().filter(|b| b.expires > self.now)
    }

    /// Lifts a block (prefix digits, with or without `+`) by hand. True if
    /// there was one. Lifting a country watch switches it off for one
    /// `block_ttl` and takes its last day's conversion as the baseline;
    /// lifting a new-country block accepts the country.
    pub fn lift(&mut self, prefix: &str) -> bool {
        let Some(key) = parse_key(prefix) else {
            return false;
        };
        let Some(block) = self.blocks.remove(&key) else {
            return false;
        };
        if let Some(c) = self.countries.get_mut(&key) {
            if block.rule == RULE_NEW_COUNTRY {
                c.novelty_waived = true;
            }
            if block.rule == RULE_CONVERSION {
                c.lift_pending = true;
                c.all.rebase(self.now);
                c.fresh.rebase(self.now);
            }
        }
        true
    }

    /// Reinstates a persisted block (at startup). Unparsable prefixes are
    /// ignored.
    pub fn restore(&mut self, block: Block) {
        if let Some(key) = parse_key(&block.prefix) {
            self.blocks.insert(key, block);
        }
    }

    /// A standing block on a range enclosing the number refuses the send
    /// and renews the block. Country watches are not standing blocks: their
    /// own rules refuse what they refuse.
    pub(super) fn standing_block(&mut self, n: &Number, t: f64) -> Option<Verdict> {
        let ttl = self.settings.block_ttl;
        for cut in LEVELS {
            if !n.has_level(cut) {
                continue;
            }
            let key = n.prefix(cut);
            let Some(b) = self.blocks.get_mut(&key) else {
                continue;
            };
            if !blocks_range(b.rule) {
                continue;
            }
            if b.expires <= t {
                self.blocks.remove(&key);
                continue;
            }
            b.expires = t + ttl;
            b.refused += 1;
            let mut numbers = b.numbers.clone();
            let this = n.e164();
            if !numbers.contains(&this) {
                numbers.insert(0, this);
                numbers.truncate(EVIDENCE_NUMBERS);
            }
            return Some(Verdict {
                allow: false,
                rule: b.rule,
                range: Some(format!("+{}", b.prefix)),
                evidence: b.evidence.clone(),
                numbers,
            });
        }
        None
    }

    /// Opens (or refreshes) the block a rule found and returns its verdict.
    pub(super) fn block(&mut self, finding: Finding, t: f64) -> Verdict {
        let Finding {
            key,
            rule,
            evidence,
            numbers,
        } = finding;
        let prefix = unpack(key);
        if blocks_range(rule) {
            // A wider block makes the narrower ones under it redundant.
            self.blocks
                .retain(|_, b| b.prefix == prefix || !b.prefix.starts_with(&prefix));
        }
        let ttl = self.settings.block_ttl;
        let b = self.blocks.entry(key).or_insert_with(|| Block {
            prefix: prefix.clone(),
            rule,
            evidence: String::new(),
            numbers: Vec::new(),
            since: t,
            expires: t,
            refused: 0,
        });
        if b.expires <= t && b.refused > 0 {
            b.since = t;
            b.refused = 0;
        }
        b.rule = rule;
        b.evidence.clone_from(&evidence);
        b.expires = t + ttl;
        b.refused += 1;
        if blocks_range(rule) {
            b.numbers.clone_from(&numbers);
        } else {
            for x in numbers.iter().rev() {
                if !b.numbers.contains(x) {
                    b.numbers.insert(0, x.clone());
                }
            }
            b.numbers.truncate(EVIDENCE_NUMBERS);
        }
        Verdict {
            allow: false,
            rule,
            range: Some(format!("+{prefix}")),
            evidence,
            numbers,
        }
    }
}
