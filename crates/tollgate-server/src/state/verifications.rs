//! Verify and Fraud Guard state, in memory (loaded at start, written through
//! to the store): services, rate-limit buckets, live verifications, the
//! safe list, and one Fraud Guard detector per scope (a Verify Service, or
//! an account's Programmable Messaging when `SmsPumpingProtection` is on).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use tollgate_detect::{Block, Detector, Mode, Verdict};
use tollgate_store::{
    FraudBlockRecord, SafeListRecord, Store, StoreError, VerificationRecord, VerifyBucketRecord,
    VerifyRateLimitRecord, VerifyServiceRecord,
};
use zeroize::Zeroizing;

/// Default lifetime of a code (Twilio's: 10 minutes).
pub const DEFAULT_CODE_TTL_MS: i64 = 10 * 60 * 1000;
/// Sends per verification (the 6th is 60203).
pub const MAX_SENDS: usize = 5;
/// Checks per verification (the 6th is 60202).
pub const MAX_CHECKS: i32 = 5;
/// Most (bucket, key) windows kept; beyond, the idlest are dropped.
const MAX_WINDOWS: usize = 100_000;
/// A renewed block is written again once its expiry moved this far (s).
const PERSIST_STEP: f64 = 60.0;

/// A verification that may still be checked, with its code while this
/// process lives (so a resend sends the same code, as Twilio does; the
/// store holds only its hash).
pub struct Live {
    pub record: VerificationRecord,
    pub code: Option<Zeroizing<String>>,
    /// The detector's id of the latest send (credited when approved).
    pub last_send: Option<String>,
}

/// One scope's detector and what of its blocks is on disk.
struct Guard {
    account_sid: String,
    mode: Mode,
    detector: Detector,
    /// Expiry last written per blocked prefix.
    written: HashMap<String, f64>,
}

#[derive(Default)]
struct State {
    services: HashMap<String, VerifyServiceRecord>,
    rate_limits: HashMap<String, VerifyRateLimitRecord>,
    buckets: HashMap<String, VerifyBucketRecord>,
    /// Request times per (bucket, key value).
    windows: HashMap<(String, String), VecDeque<i64>>,
    live: HashMap<String, Live>,
    /// Pending verification per (service, To).
    pending: HashMap<(String, String), String>,
    /// Safe list entries per account: `+E164` or `+digitsxxx`.
    safe: HashMap<String, HashSet<String>>,
    guards: HashMap<String, Guard>,
    /// Sends waiting for a delivery receipt: message SID → (scope, send id).
    awaiting_receipt: HashMap<String, (String, String)>,
}

pub struct Verify {
    state: Mutex<State>,
    code_key: Zeroizing<[u8; 32]>,
    number_key: Zeroizing<[u8; 32]>,
    pub code_ttl_ms: i64,
}

/// Seconds, as the detector counts time.
pub fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// A Fraud Guard block as stored.
fn block_record(scope: &str, account_sid: &str, b: &Block) -> FraudBlockRecord {
    FraudBlockRecord {
        scope: scope.to_owned(),
        prefix: b.prefix.clone(),
        account_sid: account_sid.to_owned(),
        rule: b.rule.to_owned(),
        evidence: b.evidence.clone(),
        numbers: serde_json::to_string(&b.numbers).unwrap_or_else(|_| "[]".into()),
        since: (b.since * 1000.0) as i64,
        expires: (b.expires * 1000.0) as i64,
        refused: i64::try_from(b.refused).unwrap_or(i64::MAX),
    }
}

/// The detector's rule name as stored, back to its `&'static str`.
fn static_rule(rule: &str) -> &'static str {
    use tollgate_detect as d;
    [
        d::RULE_INVALID,
        d::RULE_BURST,
        d::RULE_DENSITY,
        d::RULE_LOW_CONVERSION,
        d::RULE_NEW_COUNTRY,
        d::RULE_CONVERSION,
        d::RULE_SWEEP,
        d::RULE_HOSTED_CALL,
    ]
    .into_iter()
    .find(|r| *r == rule)
    .unwrap_or("fraudguard.restored")
}

/// A new mode starts a fresh detector (its thresholds differ).
fn set_mode(g: &mut Guard, mode: Mode) {
    if g.mode != mode {
        g.mode = mode;
        g.detector = Detector::new(mode);
    }
}

/// Is `e164` on this safe list (as a number, or in a listed 1k prefix)?
fn safe_listed(list: &HashSet<String>, e164: &str) -> bool {
    if list.contains(e164) {
        return true;
    }
    e164.len() > 4 && list.contains(&format!("{}xxx", &e164[..e164.len() - 3]))
}

impl Verify {
    pub fn new(master_key: &tollgate_secrets::MasterKey, code_ttl_ms: i64) -> Verify {
        Verify {
            state: Mutex::new(State::default()),
            code_key: master_key.derive("verify-code"),
            number_key: master_key.derive("verify-number"),
            code_ttl_ms,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads everything back from the store (at start).
    pub async fn load(&self, store: &dyn Store, now_ms: i64) -> Result<(), StoreError> {
        let services = store.all_verify_services().await?;
        let rate_limits = store.all_verify_rate_limits().await?;
        let buckets = store.all_verify_buckets().await?;
        let live = store.live_verifications(now_ms).await?;
        let safe = store.all_safe_numbers().await?;
        let blocks = store.live_fraud_blocks(now_ms).await?;
        let mut s = self.state();
        for r in services {
            s.services.insert(r.sid.clone(), r);
        }
        for r in rate_limits {
            s.rate_limits.insert(r.sid.clone(), r);
        }
        for r in buckets {
            s.buckets.insert(r.sid.clone(), r);
        }
        for r in live {
            let key = if r.to_key.is_empty() {
                // Written before numbers were keyed: never redacted.
                self.number_key(&r.service_sid, &r.to_number)
            } else {
                r.to_key.clone()
            };
            s.pending
                .insert((r.service_sid.clone(), key), r.sid.clone());
            s.live.insert(
                r.sid.clone(),
                Live {
                    record: r,
                    code: None,
                    last_send: None,
                },
            );
        }
        for r in safe {
            s.safe
                .entry(r.account_sid.clone())
                .or_default()
                .insert(r.phone_number);
        }
        for b in blocks {
            let mode = s.services.get(&b.scope).map_or(Mode::Standard, |svc| {
                Mode::parse(&svc.fraud_guard).unwrap_or(Mode::Standard)
            });
            let guard = s.guards.entry(b.scope.clone()).or_insert_with(|| Guard {
                account_sid: b.account_sid.clone(),
                mode,
                detector: Detector::new(mode),
                written: HashMap::new(),
            });
            let expires = seconds(b.expires);
            guard.written.insert(b.prefix.clone(), expires);
            guard.detector.restore(Block {
                prefix: b.prefix,
                rule: static_rule(&b.rule),
                evidence: b.evidence,
                numbers: serde_json::from_str(&b.numbers).unwrap_or_default(),
                since: seconds(b.since),
                expires,
                refused: u64::try_from(b.refused).unwrap_or(0),
            });
        }
        Ok(())
    }

    // ---- services, rate limits, buckets ----

    pub fn service(&self, sid: &str) -> Option<VerifyServiceRecord> {
        self.state().services.get(sid).cloned()
    }

    pub fn services_of(&self, account: &str) -> Vec<VerifyServiceRecord> {
        let mut v: Vec<_> = self
            .state()
            .services
            .values()
            .filter(|s| s.account_sid == account)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.sid.cmp(&b.sid));
        v
    }

    /// Records a created or updated service; a new mode applies at once.
    pub fn put_service(&self, r: VerifyServiceRecord) {
        let mut s = self.state();
        if let Some(g) = s.guards.get_mut(&r.sid) {
            let mode = Mode::parse(&r.fraud_guard).unwrap_or(Mode::Standard);
            set_mode(g, mode);
        }
        s.services.insert(r.sid.clone(), r);
    }

    pub fn forget_service(&self, sid: &str) {
        let mut s = self.state();
        s.services.remove(sid);
        s.rate_limits.retain(|_, r| r.service_sid != sid);
        s.buckets.retain(|_, b| b.service_sid != sid);
        s.live.retain(|_, l| l.record.service_sid != sid);
        s.pending.retain(|(svc, _), _| svc != sid);
        s.guards.remove(sid);
    }

    pub fn rate_limit(&self, service: &str, sid: &str) -> Option<VerifyRateLimitRecord> {
        self.state()
            .rate_limits
            .get(sid)
            .filter(|r| r.service_sid == service)
            .cloned()
    }

    pub fn rate_limits_of(&self, service: &str) -> Vec<VerifyRateLimitRecord> {
        let mut v: Vec<_> = self
            .state()
            .rate_limits
            .values()
            .filter(|r| r.service_sid == service)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.sid.cmp(&b.sid));
        v
    }

    pub fn put_rate_limit(&self, r: VerifyRateLimitRecord) {
        self.state().rate_limits.insert(r.sid.clone(), r);
    }

    pub fn forget_rate_limit(&self, sid: &str) {
        let mut s = self.state();
        s.rate_limits.remove(sid);
        s.buckets.retain(|_, b| b.rate_limit_sid != sid);
    }

    pub fn bucket(&self, rate_limit: &str, sid: &str) -> Option<VerifyBucketRecord> {
        self.state()
            .buckets
            .get(sid)
            .filter(|b| b.rate_limit_sid == rate_limit)
            .cloned()
    }

    pub fn buckets_of(&self, rate_limit: &str) -> Vec<VerifyBucketRecord> {
        let mut v: Vec<_> = self
            .state()
            .buckets
            .values()
            .filter(|b| b.rate_limit_sid == rate_limit)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.sid.cmp(&b.sid));
        v
    }

    pub fn put_bucket(&self, r: VerifyBucketRecord) {
        let mut s = self.state();
        s.windows.retain(|(b, _), _| *b != r.sid);
        s.buckets.insert(r.sid.clone(), r);
    }

    pub fn forget_bucket(&self, sid: &str) {
        let mut s = self.state();
        s.buckets.remove(sid);
        s.windows.retain(|(b, _), _| b != sid);
    }

    /// Counts one request against the buckets of each `(rate limit
    /// unique name, value)`; nothing is counted if one is full. `Err`
    /// names the first unknown key or the full bucket.
    pub fn take_buckets(
        &self,
        service: &str,
        keys: &[(String, String)],
        now_ms: i64,
    ) -> Result<(), BucketRefusal> {
        let mut s = self.state();
        let mut take = Vec::new();
        for (name, value) in keys {
            let Some(rl) = s
                .rate_limits
                .values()
                .find(|r| r.service_sid == service && r.unique_name == *name)
            else {
                return Err(BucketRefusal::UnknownKey(name.clone()));
            };
            for b in s.buckets.values().filter(|b| b.rate_limit_sid == rl.sid) {
                let key = (b.sid.clone(), value.clone());
                let start = now_ms - b.interval_seconds.saturating_mul(1000);
                let used = s
                    .windows
                    .get(&key)
                    .map_or(0, |w| w.iter().filter(|t| **t > start).count());
                if i64::try_from(used).unwrap_or(i64::MAX) >= b.max_requests {
                    let oldest = s
                        .windows
                        .get(&key)
                        .and_then(|w| w.iter().find(|t| **t > start).copied())
                        .unwrap_or(now_ms);
                    return Err(BucketRefusal::Full {
                        rate_limit: name.clone(),
                        bucket: b.sid.clone(),
                        max: b.max_requests,
                        interval: b.interval_seconds,
                        retry_after_ms: (oldest + b.interval_seconds * 1000 - now_ms).max(1),
                    });
                }
                take.push((key, start));
            }
        }
        if s.windows.len() + take.len() > MAX_WINDOWS {
            s.windows
                .retain(|_, w| w.back().is_some_and(|t| now_ms - *t < 86_400_000));
        }
        for (key, start) in take {
            let w = s.windows.entry(key).or_default();
            while w.front().is_some_and(|t| *t <= start) {
                w.pop_front();
            }
            w.push_back(now_ms);
        }
        Ok(())
    }

    // ---- codes and verifications ----

    /// The stored form of a code: HMAC-SHA256 under a key derived from the
    /// master key, bound to the verification.
    pub fn hash_code(&self, verification_sid: &str, code: &str) -> Vec<u8> {
        tollgate_secrets::fingerprint(
            &self.code_key,
            format!("{verification_sid}:{code}").as_bytes(),
        )
        .to_vec()
    }

    /// A keyed hash of `to` in `service`: how a pending verification is
    /// found by its number, also when the number is stored redacted.
    pub fn number_key(&self, service: &str, to: &str) -> String {
        hex::encode(tollgate_secrets::fingerprint(
            &self.number_key,
            format!("{service}\0{to}").as_bytes(),
        ))
    }

    /// `record` as it may be stored for an account that redacts numbers
    /// (or as it is).
    pub fn stored_form(record: &VerificationRecord, redact_numbers: bool) -> VerificationRecord {
        let mut stored = record.clone();
        if redact_numbers {
            stored.to_number = crate::privacy::mask_number(&record.to_number);
        }
        stored
    }

    /// Compares in constant time.
    pub fn code_matches(&self, record: &VerificationRecord, code: &str) -> bool {
        tollgate_secrets::ct_eq(&self.hash_code(&record.sid, code), &record.code_hash)
    }

    /// The pending verification of `to` in `service`, unless expired.
    pub fn pending_for(&self, service: &str, to: &str, now_ms: i64) -> Option<String> {
        let key = self.number_key(service, to);
        let s = self.state();
        let sid = s.pending.get(&(service.to_owned(), key))?;
        let live = s.live.get(sid)?;
        (live.record.status == "pending" && live.record.expires_at > now_ms).then(|| sid.clone())
    }

    /// Runs `f` on a live verification.
    pub fn with_live<T>(&self, sid: &str, f: impl FnOnce(&mut Live) -> T) -> Option<T> {
        self.state().live.get_mut(sid).map(f)
    }

    /// Keeps `live` (pending ones are found by their number too).
    pub fn keep(&self, live: Live, now_ms: i64) {
        let mut s = self.state();
        if s.live.len() > 100_000 {
            s.live
                .retain(|_, l| l.record.status == "pending" && l.record.expires_at > now_ms);
            let State { live, pending, .. } = &mut *s;
            pending.retain(|_, sid| live.contains_key(sid));
        }
        let key = (live.record.service_sid.clone(), live.record.to_key.clone());
        if live.record.status == "pending" {
            s.pending.insert(key, live.record.sid.clone());
        } else if s.pending.get(&key) == Some(&live.record.sid) {
            s.pending.remove(&key);
        }
        s.live.insert(live.record.sid.clone(), live);
    }

    /// A verification known in memory (live or recently finished).
    pub fn record(&self, sid: &str) -> Option<VerificationRecord> {
        self.state().live.get(sid).map(|l| l.record.clone())
    }

    // ---- safe list ----

    pub fn is_safe(&self, account: &str, e164: &str) -> bool {
        self.state()
            .safe
            .get(account)
            .is_some_and(|l| safe_listed(l, e164))
    }

    pub fn safe_list_add(&self, r: &SafeListRecord) {
        self.state()
            .safe
            .entry(r.account_sid.clone())
            .or_default()
            .insert(r.phone_number.clone());
    }

    pub fn safe_list_remove(&self, account: &str, entry: &str) {
        if let Some(l) = self.state().safe.get_mut(account) {
            l.remove(entry);
        }
    }

    // ---- Fraud Guard ----

    /// Decides on one send in `scope`. Blocks that are new or renewed
    /// enough to be worth writing come back with the verdict.
    pub fn guard(
        &self,
        scope: &str,
        account_sid: &str,
        mode: Mode,
        request: &tollgate_detect::Request<'_>,
    ) -> (Verdict, Option<FraudBlockRecord>) {
        let mut s = self.state();
        let guard = s.guards.entry(scope.to_owned()).or_insert_with(|| Guard {
            account_sid: account_sid.to_owned(),
            mode,
            detector: Detector::new(mode),
            written: HashMap::new(),
        });
        set_mode(guard, mode);
        let verdict = guard.detector.decide(request);
        let mut write = None;
        if !verdict.allow
            && let Some(range) = &verdict.range
        {
            let prefix = range.trim_start_matches('+');
            if let Some(b) = guard.detector.blocks().find(|b| b.prefix == prefix) {
                let last = guard.written.get(prefix).copied();
                if last.is_none_or(|e| b.expires - e >= PERSIST_STEP) {
                    guard.written.insert(prefix.to_owned(), b.expires);
                    write = Some(block_record(scope, &guard.account_sid, b));
                }
            }
        }
        (verdict, write)
    }

    /// A send the detector allowed did not go out after all (another rule
    /// refused it): it is neither a conversion nor a failure.
    pub fn not_sent(&self, scope: &str, id: &str, now_ms: i64) {
        if let Some(g) = self.state().guards.get_mut(scope) {
            g.detector.delivered(seconds(now_ms), id, false);
        }
    }

    /// Waits for `message_sid`'s delivery receipt to teach `scope`.
    pub fn await_receipt(&self, message_sid: &str, scope: &str, id: &str) {
        self.state()
            .awaiting_receipt
            .insert(message_sid.to_owned(), (scope.to_owned(), id.to_owned()));
    }

    /// A final message status: its receipt, if a detector waits for it.
    /// Messaging scopes take a delivery as their conversion signal.
    pub fn receipt(&self, message_sid: &str, delivered: bool, now_ms: i64) {
        let mut s = self.state();
        if s.awaiting_receipt.is_empty() {
            return;
        }
        let Some((scope, id)) = s.awaiting_receipt.remove(message_sid) else {
            return;
        };
        let messaging = !s.services.contains_key(&scope);
        if let Some(g) = s.guards.get_mut(&scope) {
            g.detector.delivered(seconds(now_ms), &id, delivered);
            if messaging && delivered {
                g.detector.verified(seconds(now_ms), &id);
            }
        }
    }

    /// A delivery outcome for a send that has no message (a voice call).
    pub fn receipt_for(&self, scope: &str, id: &str, delivered: bool, now_ms: i64) {
        if let Some(g) = self.state().guards.get_mut(scope) {
            g.detector.delivered(seconds(now_ms), id, delivered);
        }
    }

    /// A verification was approved: its service's detector learns it.
    pub fn converted(&self, scope: &str, id: &str, now_ms: i64) {
        if let Some(g) = self.state().guards.get_mut(scope) {
            g.detector.verified(seconds(now_ms), id);
        }
    }

    /// Every standing block of these accounts, soonest to expire last.
    pub fn blocks(&self, accounts: &[String], now_ms: i64) -> Vec<FraudBlockRecord> {
        let s = self.state();
        let now = seconds(now_ms);
        let mut out: Vec<FraudBlockRecord> = s
            .guards
            .iter()
            .filter(|(_, g)| accounts.contains(&g.account_sid))
            .flat_map(|(scope, g)| {
                g.detector
                    .blocks()
                    .filter(move |b| b.expires > now)
                    .map(move |b| block_record(scope, &g.account_sid, b))
            })
            .collect();
        out.sort_by(|a, b| (a.since, &a.scope, &a.prefix).cmp(&(b.since, &b.scope, &b.prefix)));
        out
    }

    /// Lifts a block by hand. The account it belongs to, if there was one.
    pub fn lift(&self, scope: &str, prefix: &str) -> Option<String> {
        let mut s = self.state();
        let g = s.guards.get_mut(scope)?;
        g.written.remove(prefix);
        g.detector.lift(prefix).then(|| g.account_sid.clone())
    }

    /// The account a scope belongs to, if it has a detector.
    pub fn scope_account(&self, scope: &str) -> Option<String> {
        self.state()
            .guards
            .get(scope)
            .map(|g| g.account_sid.clone())
    }
}

/// Why a rate-limit bucket refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketRefusal {
    UnknownKey(String),
    Full {
        rate_limit: String,
        bucket: String,
        max: i64,
        interval: i64,
        retry_after_ms: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify() -> Verify {
        Verify::new(
            &tollgate_secrets::MasterKey::from_hex(&"11".repeat(32)).unwrap(),
            DEFAULT_CODE_TTL_MS,
        )
    }

    #[test]
    fn safe_list_matches_numbers_and_1k_prefixes() {
        let list: HashSet<String> = ["+14155550100".to_owned(), "+18001234xxx".to_owned()].into();
        assert!(safe_listed(&list, "+14155550100"));
        assert!(safe_listed(&list, "+18001234999"));
        assert!(!safe_listed(&list, "+18001235000"));
        assert!(!safe_listed(&list, "+14155550101"));
    }

    #[test]
    fn code_hash_is_keyed_bound_and_compared() {
        let v = verify();
        let record = VerificationRecord {
            sid: "VE1".into(),
            service_sid: "VA1".into(),
            account_sid: "AC1".into(),
            to_number: "+14155550100".into(),
            to_key: String::new(),
            channel: "sms".into(),
            status: "pending".into(),
            code_hash: v.hash_code("VE1", "123456"),
            send_attempts: "[]".into(),
            checks: 0,
            expires_at: 1,
            date_created: 0,
            date_updated: 0,
        };
        assert!(v.code_matches(&record, "123456"));
        assert!(!v.code_matches(&record, "123457"));
        assert_ne!(
            v.hash_code("VE2", "123456"),
            record.code_hash,
            "bound to the SID"
        );
        assert!(!record.code_hash.windows(6).any(|w| w == b"123456"));
    }

    #[test]
    fn buckets_count_per_key_and_refuse_when_full() {
        let v = verify();
        v.put_rate_limit(VerifyRateLimitRecord {
            sid: "RK1".into(),
            service_sid: "VA1".into(),
            account_sid: "AC1".into(),
            unique_name: "end_user_ip".into(),
            description: None,
            date_created: 0,
            date_updated: 0,
        });
        v.put_bucket(VerifyBucketRecord {
            sid: "BL1".into(),
            rate_limit_sid: "RK1".into(),
            service_sid: "VA1".into(),
            account_sid: "AC1".into(),
            max_requests: 2,
            interval_seconds: 60,
            date_created: 0,
            date_updated: 0,
        });
        let key = |v: &str| vec![("end_user_ip".to_owned(), v.to_owned())];
        assert!(v.take_buckets("VA1", &key("1.2.3.4"), 1_000).is_ok());
        assert!(v.take_buckets("VA1", &key("1.2.3.4"), 2_000).is_ok());
        match v.take_buckets("VA1", &key("1.2.3.4"), 3_000) {
            Err(BucketRefusal::Full {
                retry_after_ms,
                max,
                ..
            }) => {
                assert_eq!(max, 2);
                assert_eq!(retry_after_ms, 58_000);
            }
            other => panic!("expected a full bucket, got {other:?}"),
        }
        assert!(
            v.take_buckets("VA1", &key("5.6.7.8"), 3_000).is_ok(),
            "another key"
        );
        assert!(
            v.take_buckets("VA1", &key("1.2.3.4"), 61_001).is_ok(),
            "window moved"
        );
        assert_eq!(
            v.take_buckets("VA1", &[("nope".into(), "x".into())], 0),
            Err(BucketRefusal::UnknownKey("nope".into()))
        );
        assert!(
            v.take_buckets("VA2", &key("1.2.3.4"), 0).is_err(),
            "other service"
        );
    }
}
