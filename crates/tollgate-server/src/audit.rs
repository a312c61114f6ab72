//! Audit events: who changed what, from where. Each change's events are
//! written in the transaction of the change (see `Store`); this module
//! builds them, with secrets removed.

use std::net::IpAddr;

use serde_json::Value;
use tollgate_audit::{Anchor, Break, Checkpoint, Verifier};
use tollgate_store::{NewAuditEvent, Store, StoreError};
use tollgate_types::SidPrefix;

use crate::random::new_ordered_sid;

/// Who acts, and through what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub sid: Option<String>,
    /// `account`, `api-key`, `user` or `tollgate`.
    pub kind: &'static str,
    /// `api`, `cli`, `console` or `tollgate`.
    pub source: &'static str,
    pub ip: Option<IpAddr>,
}

impl Actor {
    /// Tollgate itself (a trigger, an alarm, the aggregator).
    pub fn tollgate() -> Actor {
        Actor {
            sid: None,
            kind: "tollgate",
            source: "tollgate",
            ip: None,
        }
    }

    /// The operator at the command line.
    pub fn cli() -> Actor {
        Actor {
            sid: None,
            kind: "user",
            source: "cli",
            ip: None,
        }
    }

    /// An event of `account_sid` about `resource`, at `now` (ms).
    pub fn event(
        &self,
        now: i64,
        account_sid: &str,
        event_type: &str,
        resource: (&str, Option<&str>),
        data: Value,
    ) -> NewAuditEvent {
        NewAuditEvent {
            sid: new_ordered_sid(SidPrefix::AuditEvent, now).to_string(),
            account_sid: account_sid.to_owned(),
            actor_sid: self.sid.clone(),
            actor_type: self.kind.to_owned(),
            source: self.source.to_owned(),
            source_ip_address: self.ip.map(|ip| ip.to_string()),
            event_type: event_type.to_owned(),
            resource_type: resource.0.to_owned(),
            resource_sid: resource.1.map(str::to_owned),
            event_data: scrub(data).to_string(),
            event_date: now,
        }
    }
}

/// The one event of an API change made by `actor` (an API caller).
pub fn by(
    actor: impl Into<Actor>,
    now: i64,
    account_sid: &str,
    event_type: &str,
    resource: (&str, Option<&str>),
    data: Value,
) -> [NewAuditEvent; 1] {
    [actor
        .into()
        .event(now, account_sid, event_type, resource, data)]
}

/// Replaces the value of every secret-named field (at any depth) with
/// `"[redacted]"`: a last line of defence behind each event's field list.
pub fn scrub(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if tollgate_audit::is_secret_field(&k) {
                        (k, Value::String("[redacted]".into()))
                    } else {
                        (k, scrub(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(scrub).collect()),
        other => other,
    }
}

/// `{"before": …, "after": …}` with only the fields that differ.
pub fn changes(before: &Value, after: &Value) -> Value {
    let (Value::Object(b), Value::Object(a)) = (before, after) else {
        return serde_json::json!({"before": before, "after": after});
    };
    let mut old = serde_json::Map::new();
    let mut new = serde_json::Map::new();
    for (k, v) in a {
        if b.get(k) != Some(v) {
            old.insert(k.clone(), b.get(k).cloned().unwrap_or(Value::Null));
            new.insert(k.clone(), v.clone());
        }
    }
    serde_json::json!({"before": old, "after": new})
}

/// What a walk of the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Events checked.
    pub checked: u64,
    /// Where the walk started (genesis, or the pruning anchor).
    pub start: Anchor,
    /// The last event (the head to keep as a checkpoint).
    pub head: Anchor,
}

/// The purpose under which the master key signs pruning anchors.
pub const ANCHOR_KEY: &str = "tollgate-audit-anchor-v1";

/// Where the chain starts: genesis, or the pruning anchor if its signature
/// (under `anchor_key`) holds.
pub async fn trusted_start(
    store: &dyn Store,
    anchor_key: &[u8],
) -> Result<Result<Anchor, Break>, StoreError> {
    let Some(a) = store.audit_anchor().await? else {
        return Ok(Ok(Anchor::GENESIS));
    };
    let anchor = Anchor {
        seq: a.seq,
        hash: <[u8; 32]>::try_from(a.hash.as_slice()).unwrap_or([0; 32]),
    };
    if tollgate_audit::anchor_signature_ok(anchor_key, &anchor, &a.signature) {
        Ok(Ok(anchor))
    } else {
        Ok(Err(Break::BadAnchor { seq: a.seq }))
    }
}

/// Walks the whole chain from its anchor: every event's link and hash, the
/// head row, and `expect` (a checkpoint kept elsewhere) when given.
/// `Ok(Err(_))` names the first broken event.
pub async fn verify_chain(
    store: &dyn Store,
    anchor_key: &[u8],
    expect: Option<Checkpoint>,
) -> Result<Result<ChainReport, Break>, StoreError> {
    const PAGE: u32 = 10_000;
    let start = match trusted_start(store, anchor_key).await? {
        Ok(start) => start,
        Err(broken) => return Ok(Err(broken)),
    };
    let mut verifier = Verifier::new(start);
    let mut after = start.seq;
    loop {
        let rows = store.audit_after(after, PAGE).await?;
        let full = rows.len() == PAGE as usize;
        let mut last_seq = None;
        for row in rows {
            let event = row.into_event();
            last_seq = Some(event.seq);
            if let Err(broken) = verifier.push(&event) {
                return Ok(Err(broken));
            }
            if let Some(cp) = expect
                && cp.0.seq == event.seq
                && cp.0.hash != event.hash
            {
                return Ok(Err(Break::HeadMismatch {
                    expected: cp.to_string(),
                    found: Checkpoint(verifier.head()).to_string(),
                }));
            }
        }
        match last_seq {
            Some(seq) if full => after = seq,
            _ => break,
        }
    }
    let head = verifier.head();
    let (head_seq, head_hash) = store.audit_head().await?;
    if head_seq != head.seq || head_hash.as_slice() != head.hash {
        return Ok(Err(Break::HeadMismatch {
            expected: format!("{head_seq}:{} (the head row)", hex::encode(&head_hash)),
            found: Checkpoint(head).to_string(),
        }));
    }
    if let Some(cp) = expect
        && cp.0.seq > head.seq
    {
        return Ok(Err(Break::HeadMismatch {
            expected: cp.to_string(),
            found: Checkpoint(head).to_string(),
        }));
    }
    Ok(Ok(ChainReport {
        checked: verifier.checked(),
        start,
        head,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrub_removes_secret_fields_at_any_depth() {
        let v = scrub(json!({"friendly_name": "n", "auth_token": "abc", "x": [{"secret": "s"}]}));
        assert_eq!(v["friendly_name"], "n");
        assert_eq!(v["auth_token"], "[redacted]");
        assert_eq!(v["x"][0]["secret"], "[redacted]");
    }

    #[test]
    fn changes_keep_only_what_differs() {
        let c = changes(&json!({"a": 1, "b": 2}), &json!({"a": 1, "b": 3}));
        assert_eq!(c, json!({"before": {"b": 2}, "after": {"b": 3}}));
    }
}
