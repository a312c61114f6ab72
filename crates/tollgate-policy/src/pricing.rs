//! Prices per country: SMS per segment (out and in) and voice per minute,
//! in micro-dollars. The default table is `data/prices.tsv`; operators
//! override it with their own file of the same format.

use std::collections::HashMap;

use crate::spend::parse_usd_micros;

pub const DEFAULT_TABLE: &str = include_str!("../data/prices.tsv");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Price {
    pub sms_outbound: i64,
    pub sms_inbound: i64,
    pub voice_per_minute: i64,
}

/// Prices by ISO code, with a `*` fallback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceTable {
    by_country: HashMap<String, Price>,
    fallback: Price,
}

impl PriceTable {
    /// The built-in table.
    pub fn builtin() -> PriceTable {
        let mut t = PriceTable::default();
        // Checked by a unit test; the built-in table always parses.
        let _ = t.extend_from_text(DEFAULT_TABLE);
        t
    }

    /// Adds or replaces rows from `iso<TAB>sms_out<TAB>sms_in<TAB>voice_min` lines.
    pub fn extend_from_text(&mut self, text: &str) -> Result<(), String> {
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [iso, out, inbound, voice] = fields.as_slice() else {
                return Err(format!("line {}: expected 4 columns", index + 1));
            };
            let money = |v: &str| {
                parse_usd_micros(v)
                    .ok_or_else(|| format!("line {}: '{v}' is not a price", index + 1))
            };
            let price = Price {
                sms_outbound: money(out)?,
                sms_inbound: money(inbound)?,
                voice_per_minute: money(voice)?,
            };
            if *iso == "*" {
                self.fallback = price;
            } else if iso.len() == 2 && iso.bytes().all(|b| b.is_ascii_alphabetic()) {
                self.by_country.insert(iso.to_ascii_uppercase(), price);
            } else {
                return Err(format!(
                    "line {}: '{iso}' is not an ISO code or *",
                    index + 1
                ));
            }
        }
        Ok(())
    }

    pub fn get(&self, iso: &str) -> Price {
        self.by_country.get(iso).copied().unwrap_or(self.fallback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_parses_with_a_fallback() {
        let mut t = PriceTable::default();
        t.extend_from_text(DEFAULT_TABLE).unwrap();
        assert_eq!(t.get("US").sms_outbound, 8_300);
        assert_eq!(t.get("ZW").voice_per_minute, 200_000);
        t.extend_from_text("US 0.01 0 0.02\n").unwrap();
        assert_eq!(t.get("US").sms_outbound, 10_000);
        assert!(t.extend_from_text("USA 1 1 1").is_err());
        assert!(t.extend_from_text("US 1 1").is_err());
    }
}
