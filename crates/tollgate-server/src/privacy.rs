//! What may touch the disk when an account redacts: one place masks
//! numbers (a number, or the numbers quoted in a text) and builds the
//! stored form of a message.

use tollgate_store::MessageRecord;

/// What a message's stored form leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Privacy {
    /// Non-account numbers keep all but their last 4 digits (`XXXX`).
    pub numbers: bool,
    /// The body is not stored.
    pub bodies: bool,
}

/// `+12015550166` → `+1201555XXXX`.
pub fn mask_number(number: &str) -> String {
    let keep = number.len().saturating_sub(4);
    let head: String = number.chars().take(keep).collect();
    format!("{head}XXXX")
}

/// The form of `message` that may touch the disk.
pub fn stored_form(message: &MessageRecord, privacy: Privacy) -> MessageRecord {
    into_stored(message.clone(), privacy)
}

/// [`stored_form`], taking the record.
pub fn into_stored(mut m: MessageRecord, privacy: Privacy) -> MessageRecord {
    if privacy.bodies {
        m.body = None;
    }
    if privacy.numbers {
        if m.direction == "inbound" {
            m.from_number = mask_number(&m.from_number);
        } else {
            m.to_number = mask_number(&m.to_number);
        }
        // An error may quote the number (21408, 21211).
        m.error_message = m.error_message.map(|text| mask_numbers(&text));
    }
    m
}

/// Masks every run of 7 or more digits in `text` as [`mask_number`] masks a
/// number: its last 4 digits become `XXXX`.
pub fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c.is_ascii_digit() {
            let start = i;
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            let run = chars.get(start..i).unwrap_or(&[]);
            if run.len() >= 7 {
                let keep = run.len() - 4;
                out.extend(run.iter().take(keep));
                out.push_str("XXXX");
            } else {
                out.extend(run.iter());
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_digit_runs_are_masked_as_numbers_are() {
        assert_eq!(
            mask_numbers("To +447400123456 failed, code 21408"),
            "To +44740012XXXX failed, code 21408"
        );
        assert_eq!(mask_numbers("no digits"), "no digits");
        assert_eq!(mask_number("+447400123456"), "+44740012XXXX");
    }
}
