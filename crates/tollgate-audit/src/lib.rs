//! The audit log's hash chain.
//!
//! Every event carries `prev_hash` (the hash of the event before it, or of
//! the pruning anchor, or 32 zero bytes for the first) and `hash`, the
//! SHA-256 of a domain tag, the event's canonical encoding and `prev_hash`.
//! There is **one global chain** in `seq` order: one head to check point,
//! one order across accounts (a parent's view spans its subaccounts), and
//! one serialisation point in the database (the `audit_head` row).
//!
//! The chain proves that nothing was edited, deleted, inserted or reordered
//! *relative to a head you trust*. Someone who can write the database can
//! rebuild the whole chain, so keep checkpoints ([`Checkpoint`]) elsewhere
//! and verify against them.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The hash before the first event.
pub const GENESIS: [u8; 32] = [0; 32];
const DOMAIN: &[u8] = b"tollgate-audit-v1\0";

/// One audit event, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Position in the global chain, from 1, without gaps.
    pub seq: i64,
    /// `AE…`
    pub sid: String,
    pub account_sid: String,
    pub actor_sid: Option<String>,
    /// `account`, `api-key`, `user` or `tollgate`.
    pub actor_type: String,
    /// `api`, `cli`, `console` or `tollgate`.
    pub source: String,
    pub source_ip_address: Option<String>,
    /// Twilio's `resource.action` name, such as `account-keys.deleted`.
    pub event_type: String,
    pub resource_sid: Option<String>,
    pub resource_type: String,
    /// A JSON object (text, hashed as stored).
    pub event_data: String,
    /// Milliseconds since the Unix epoch.
    pub event_date: i64,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// Where the canonical encoding goes: a buffer, or straight into a hash.
trait Sink {
    fn put_bytes(&mut self, bytes: &[u8]);
}
impl Sink for Vec<u8> {
    fn put_bytes(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}
impl Sink for Sha256 {
    fn put_bytes(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

fn put(buf: &mut impl Sink, field: Option<&str>) {
    match field {
        None => buf.put_bytes(&u32::MAX.to_be_bytes()),
        Some(s) => {
            let len = u32::try_from(s.len()).unwrap_or(u32::MAX - 1);
            buf.put_bytes(&len.to_be_bytes());
            buf.put_bytes(s.as_bytes());
        }
    }
}

impl Event {
    /// The canonical encoding: fixed field order, each field length-prefixed
    /// (absent fields marked), integers big-endian. Two different events
    /// never encode alike.
    pub fn canonical(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(256 + self.event_data.len());
        self.encode(&mut buf);
        buf
    }

    fn encode(&self, buf: &mut impl Sink) {
        buf.put_bytes(&self.seq.to_be_bytes());
        put(buf, Some(&self.sid));
        put(buf, Some(&self.account_sid));
        put(buf, self.actor_sid.as_deref());
        put(buf, Some(&self.actor_type));
        put(buf, Some(&self.source));
        put(buf, self.source_ip_address.as_deref());
        put(buf, Some(&self.event_type));
        put(buf, self.resource_sid.as_deref());
        put(buf, Some(&self.resource_type));
        put(buf, Some(&self.event_data));
        buf.put_bytes(&self.event_date.to_be_bytes());
    }

    /// The hash this event must carry, given its `prev_hash`.
    pub fn compute_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(DOMAIN);
        self.encode(&mut h);
        h.update(self.prev_hash);
        h.finalize().into()
    }

    /// Links the event after `prev` (sets `prev_hash` and `hash`).
    pub fn seal(&mut self, prev: [u8; 32]) {
        self.prev_hash = prev;
        self.hash = self.compute_hash();
    }
}

/// Where a chain starts: the genesis, or the anchor left by pruning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// The `seq` of the last event before the chain (0 at genesis).
    pub seq: i64,
    pub hash: [u8; 32],
}

impl Anchor {
    pub const GENESIS: Anchor = Anchor {
        seq: 0,
        hash: GENESIS,
    };
}

/// Why the chain is broken, at the first event where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The event's content does not match its hash: it was edited.
    Edited { seq: i64, sid: String },
    /// Events are missing before this one (deleted).
    Missing {
        expected_seq: i64,
        found_seq: i64,
        found_sid: String,
    },
    /// The event does not follow the one before it (inserted, swapped or
    /// moved).
    Unlinked { seq: i64, sid: String },
    /// The chain ends before the trusted head (truncated), or the head
    /// differs.
    HeadMismatch { expected: String, found: String },
    /// The pruning anchor's signature is wrong (a forged starting point).
    BadAnchor { seq: i64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Edited { seq, sid } => {
                write!(
                    f,
                    "event {sid} (seq {seq}) was edited: its hash does not match its content"
                )
            }
            Break::Missing {
                expected_seq,
                found_seq,
                found_sid,
            } => write!(
                f,
                "event seq {expected_seq} is missing (deleted): the next present is {found_sid} (seq {found_seq})"
            ),
            Break::Unlinked { seq, sid } => write!(
                f,
                "event {sid} (seq {seq}) does not follow the event before it (inserted, swapped or reordered)"
            ),
            Break::BadAnchor { seq } => write!(
                f,
                "the pruning anchor (seq {seq}) is not signed by this server's master key"
            ),
            Break::HeadMismatch { expected, found } => write!(
                f,
                "the chain's head is {found}, expected {expected} (truncated or rewritten)"
            ),
        }
    }
}

/// Checks events one by one, in `seq` order.
#[derive(Debug, Clone)]
pub struct Verifier {
    last: Anchor,
    checked: u64,
}

impl Verifier {
    pub fn new(start: Anchor) -> Verifier {
        Verifier {
            last: start,
            checked: 0,
        }
    }

    /// Checks the next event. The first error is the first broken event.
    pub fn push(&mut self, event: &Event) -> Result<(), Break> {
        let expected_seq = self.last.seq.saturating_add(1);
        if event.seq > expected_seq {
            return Err(Break::Missing {
                expected_seq,
                found_seq: event.seq,
                found_sid: event.sid.clone(),
            });
        }
        if event.seq < expected_seq || event.prev_hash != self.last.hash {
            return Err(Break::Unlinked {
                seq: event.seq,
                sid: event.sid.clone(),
            });
        }
        if event.compute_hash() != event.hash {
            return Err(Break::Edited {
                seq: event.seq,
                sid: event.sid.clone(),
            });
        }
        self.last = Anchor {
            seq: event.seq,
            hash: event.hash,
        };
        self.checked += 1;
        Ok(())
    }

    /// The last event checked (or the start).
    pub fn head(&self) -> Anchor {
        self.last
    }

    pub fn checked(&self) -> u64 {
        self.checked
    }
}

/// A head to keep elsewhere: `seq:hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint(pub Anchor);

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.0.seq, hex::encode(self.0.hash))
    }
}

impl std::str::FromStr for Checkpoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (seq, hash) = s.trim().split_once(':').ok_or_else(|| {
            "a checkpoint is SEQ:HASH (from `tollgate audit checkpoint`)".to_owned()
        })?;
        let seq: i64 = seq
            .parse()
            .map_err(|_| format!("'{seq}' is not a sequence number"))?;
        let bytes = hex::decode(hash).map_err(|_| "the hash is not hex".to_owned())?;
        let hash: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "the hash is not 32 bytes".to_owned())?;
        Ok(Checkpoint(Anchor { seq, hash }))
    }
}

/// Signs the anchor that pruning leaves, so a forged anchor (which would
/// let a rewritten chain start anywhere) is detected. The key is derived
/// from the server's master key by the caller.
pub fn sign_anchor(key: &[u8], anchor: &Anchor) -> [u8; 32] {
    // HMAC takes keys of any length: this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(b"tollgate-audit-anchor-v1\0");
    mac.update(&anchor.seq.to_be_bytes());
    mac.update(&anchor.hash);
    mac.finalize().into_bytes().into()
}

/// Checks an anchor's signature in constant time.
pub fn anchor_signature_ok(key: &[u8], anchor: &Anchor, signature: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    sign_anchor(key, anchor).ct_eq(signature).into()
}

/// Names of `event_data` fields that must never carry a value: a last line
/// of defence behind the events' own field lists.
pub fn is_secret_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "secret",
        "token",
        "password",
        "private",
        "credential",
        "signature",
        "sealed",
    ]
    .iter()
    .any(|s| n.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(seq: i64, data: &str) -> Event {
        Event {
            seq,
            sid: format!("AE{seq:032x}"),
            account_sid: "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
            actor_sid: Some("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into()),
            actor_type: "account".into(),
            source: "api".into(),
            source_ip_address: Some("127.0.0.1".into()),
            event_type: "account.updated".into(),
            resource_sid: None,
            resource_type: "account".into(),
            event_data: data.into(),
            event_date: 1_700_000_000_000 + seq,
            prev_hash: GENESIS,
            hash: GENESIS,
        }
    }

    fn chain(n: i64) -> Vec<Event> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let mut e = event(seq, &format!("{{\"n\":{seq}}}"));
                e.seal(prev);
                prev = e.hash;
                e
            })
            .collect()
    }

    fn verify(events: &[Event]) -> Result<Anchor, Break> {
        let mut v = Verifier::new(Anchor::GENESIS);
        for e in events {
            v.push(e)?;
        }
        Ok(v.head())
    }

    #[test]
    fn an_intact_chain_verifies_to_its_head() {
        let c = chain(50);
        let head = verify(&c).unwrap();
        assert_eq!(head.seq, 50);
        assert_eq!(head.hash, c[49].hash);
    }

    #[test]
    fn every_kind_of_tampering_names_the_first_broken_event() {
        let c = chain(10);
        let mut edited = c.clone();
        edited[4].event_data = "{\"n\":999}".into();
        assert!(matches!(verify(&edited), Err(Break::Edited { seq: 5, .. })));

        let mut deleted = c.clone();
        deleted.remove(3);
        assert!(matches!(
            verify(&deleted),
            Err(Break::Missing {
                expected_seq: 4,
                found_seq: 5,
                ..
            })
        ));

        let mut swapped = c.clone();
        swapped.swap(2, 6);
        assert!(matches!(
            verify(&swapped),
            Err(Break::Missing {
                expected_seq: 3,
                ..
            })
        ));
        // Swapped contents with their sequence numbers kept.
        let mut swapped = c.clone();
        let (a, b) = (swapped[2].clone(), swapped[6].clone());
        swapped[2] = Event { seq: 3, ..b };
        swapped[6] = Event { seq: 7, ..a };
        assert!(matches!(
            verify(&swapped),
            Err(Break::Unlinked { seq: 3, .. })
        ));

        let mut inserted = c.clone();
        let mut forged = event(4, "{}");
        forged.seal(c[2].hash);
        inserted.insert(3, forged);
        assert!(matches!(
            verify(&inserted),
            Err(Break::Unlinked { seq: 4, .. })
        ));
    }

    #[test]
    fn checkpoints_round_trip_and_anchor_signatures_bind_seq_and_hash() {
        let c = chain(3);
        let cp = Checkpoint(Anchor {
            seq: 3,
            hash: c[2].hash,
        });
        assert_eq!(cp.to_string().parse::<Checkpoint>().unwrap(), cp);
        assert!("3".parse::<Checkpoint>().is_err());
        let key = [7u8; 32];
        let sig = sign_anchor(&key, &cp.0);
        assert!(anchor_signature_ok(&key, &cp.0, &sig));
        assert!(!anchor_signature_ok(&key, &Anchor { seq: 2, ..cp.0 }, &sig));
        assert!(!anchor_signature_ok(&[8u8; 32], &cp.0, &sig));
    }

    #[test]
    fn secret_field_names_are_recognised() {
        assert!(is_secret_field("auth_token"));
        assert!(is_secret_field("Secret"));
        assert!(!is_secret_field("friendly_name"));
    }

    proptest! {
        /// Changing any one field of any one event breaks the chain at or
        /// before that event.
        #[test]
        fn any_single_field_change_is_detected(at in 0usize..8, field in 0usize..11, text in "[a-z0-9]{1,8}") {
            let mut c = chain(8);
            let e = &mut c[at];
            match field {
                0 => e.sid.push_str(&text),
                1 => e.account_sid.push_str(&text),
                2 => e.actor_sid = Some(text.clone()),
                3 => e.actor_type.push_str(&text),
                4 => e.source.push_str(&text),
                5 => e.source_ip_address = None,
                6 => e.event_type.push_str(&text),
                7 => e.resource_sid = Some(text.clone()),
                8 => e.resource_type.push_str(&text),
                9 => e.event_data.push_str(&text),
                _ => e.event_date += 1,
            }
            let broken = verify(&c);
            prop_assert!(broken.is_err());
        }
    }
}
