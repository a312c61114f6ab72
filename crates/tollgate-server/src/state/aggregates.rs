//! Counts of security-relevant actions kept in memory between flushes
//! (failed authentications, blocked sends), and the audit sinks' wake-up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;

use crate::audit::Actor;

/// Most distinct keys each aggregate holds between flushes; beyond, counts
/// go to one overflow key, so memory stays bounded under a flood.
pub const MAX_KEYS: usize = 10_000;
/// How often aggregates become events.
pub const FLUSH_EVERY: Duration = Duration::from_secs(60);

/// Counts of security-relevant actions recorded in aggregate.
#[derive(Default)]
pub struct Aggregates {
    /// (account, source IP) → failed authentications.
    auth_failures: Mutex<HashMap<(String, String), u64>>,
    /// (account, rule) → blocked sends.
    blocks: Mutex<HashMap<(String, String), u64>>,
    /// Wakes the sinks when events were appended.
    pub appended: Notify,
}

fn bump(map: &Mutex<HashMap<(String, String), u64>>, key: (String, String)) {
    if let Ok(mut m) = map.lock() {
        let key = if m.len() >= MAX_KEYS && !m.contains_key(&key) {
            (key.0, "(other)".to_owned())
        } else {
            key
        };
        *m.entry(key).or_default() += 1;
    }
}

impl Aggregates {
    pub fn auth_failure(&self, account: &str, ip: Option<std::net::IpAddr>) {
        let ip = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        bump(&self.auth_failures, (account.to_owned(), ip));
    }

    pub fn blocked(&self, account: &str, rule: &str) {
        bump(&self.blocks, (account.to_owned(), rule.to_owned()));
    }

    /// The events for the counts since the last call (which are reset).
    pub fn drain(&self, now: i64) -> Vec<tollgate_store::NewAuditEvent> {
        let take = |m: &Mutex<HashMap<(String, String), u64>>| {
            m.lock()
                .map(|mut m| std::mem::take(&mut *m))
                .unwrap_or_default()
        };
        let actor = Actor::tollgate();
        let mut events = Vec::new();
        let mut failures: Vec<_> = take(&self.auth_failures).into_iter().collect();
        failures.sort();
        for ((account, ip), count) in failures {
            let mut e = actor.event(
                now,
                &account,
                "account.authentication-failed",
                ("account", Some(&account)),
                json!({"count": count, "window_seconds": FLUSH_EVERY.as_secs()}),
            );
            e.source_ip_address = Some(ip);
            events.push(e);
        }
        let mut blocks: Vec<_> = take(&self.blocks).into_iter().collect();
        blocks.sort();
        for ((account, rule), count) in blocks {
            events.push(actor.event(
                now,
                &account,
                "tollgate-policy.blocked",
                ("tollgate-policy", None),
                json!({"rule": rule, "count": count, "window_seconds": FLUSH_EVERY.as_secs()}),
            ));
        }
        events
    }
}
