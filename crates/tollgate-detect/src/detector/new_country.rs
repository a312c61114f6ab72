//! `fraudguard.new_country`: a country without verified history gets only
//! a small budget of unverified sends (smaller when a send costs more or
//! the number's risk tier is high). The country is watched, not blocked:
//! only the sends over the budget are refused.

use super::Detector;
use super::evidence::Finding;
use crate::number::{Number, unpack};
use crate::request::{Request, Risk};
use crate::tuning::{NOVEL_VERIFIED, NOVELTY_REFERENCE_MICROS};
use crate::verdict::{EVIDENCE_NUMBERS, RULE_NEW_COUNTRY};

impl Detector {
    /// Refuses a send over the budget of a country without verified
    /// history. A country with history, accepted by hand, or back within
    /// its budget loses its new-country watch.
    pub(super) fn new_country(&mut self, req: &Request<'_>, n: &Number) -> Option<Finding> {
        let cc = n.country();
        let c = self.countries.get(&cc)?;
        if c.verified_total >= NOVEL_VERIFIED || c.novelty_waived {
            if self
                .blocks
                .get(&cc)
                .is_some_and(|b| b.rule == RULE_NEW_COUNTRY)
            {
                self.blocks.remove(&cc);
            }
            return None;
        }
        let mut budget = self.settings.new_country_budget;
        if req.price_micros > 0 {
            budget *= (NOVELTY_REFERENCE_MICROS / req.price_micros as f64).clamp(0.25, 2.0);
        }
        if req.risk != Risk::Standard {
            budget *= 0.5;
        }
        let budget = budget.max(1.0).floor() + 2.0 * c.verified_total as f64;
        let unverified = c.unverified + f64::from(c.in_flight);
        if unverified < budget {
            if self
                .blocks
                .get(&cc)
                .is_some_and(|b| b.rule == RULE_NEW_COUNTRY)
            {
                self.blocks.remove(&cc);
            }
            return None;
        }
        let evidence = format!(
            "+{}: no sending history ({} verified), {} sends unverified, budget {}",
            unpack(cc),
            c.verified_total,
            unverified,
            budget
        );
        let mut numbers = vec![n.e164()];
        numbers.extend(
            self.recent_under(cc)
                .into_iter()
                .filter(|x| *x != n.e164())
                .take(EVIDENCE_NUMBERS - 1),
        );
        Some(Finding {
            key: cc,
            rule: RULE_NEW_COUNTRY,
            evidence,
            numbers,
        })
    }
}
