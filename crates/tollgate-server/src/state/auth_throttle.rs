//! Throttling of failed authentication, pure (time passed in).
//!
//! Two leaky buckets of failures: one per source (an IPv4 address or an
//! IPv6 /64), one per name presented (an account or key SID, known or not).
//! A source over its budget is refused before any credential check, for
//! every name. A name over its budget is refused to every source that has
//! not authenticated as that name recently, so a distributed guess at one
//! account cannot lock its own users out. Memory is bounded: each map holds
//! at most [`MAX_ENTRIES`], and a full map forgets its drained entries first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;
use tollgate_secrets::RandomSource;

use crate::random::OsRandom;

/// Entries per map (sources, names, remembered good pairs).
pub const MAX_ENTRIES: usize = 100_000;

/// The throttle's settings (`auth_*` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// Failed attempts one source may make per window before it is refused.
    pub failures_per_source: u32,
    /// Failed attempts against one name (from sources it has not seen
    /// succeed) per window before those sources are refused.
    pub failures_per_name: u32,
    /// The window the budgets refill over, in ms.
    pub window_ms: i64,
    /// Wrong credentials are answered no sooner than this after the request
    /// arrived, so the time taken does not tell which part was wrong.
    pub failure_floor_ms: u64,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            failures_per_source: 20,
            failures_per_name: 50,
            window_ms: 60_000,
            failure_floor_ms: 100,
        }
    }
}

/// Where a request comes from, as the throttle counts it: IPv6 by /64
/// (one host usually holds a whole /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source(u128);

impl Source {
    pub fn of(ip: Option<IpAddr>) -> Source {
        match ip {
            Some(IpAddr::V4(v4)) => Source(u128::from(u32::from(v4))),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Source(u128::from(u32::from(v4))),
                None => Source((u128::from(v6) >> 64 << 64) | 1),
            },
            // Unknown peers (tests without a socket) share one bucket.
            None => Source(u128::MAX),
        }
    }
}

/// Which budget of failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// The source's (an IPv4 address or an IPv6 /64).
    Source,
    /// The SID's presented.
    Name,
}

/// Why an attempt is refused before its credentials are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    pub by: Budget,
    /// Milliseconds until the next attempt would be allowed.
    pub retry_after_ms: i64,
}

/// What a failure did: `Some` when it used up a budget just now (the moment
/// to raise an alert), naming which.
pub type Engaged = Option<Budget>;

/// A leaky bucket of failures: `level` drains by `limit` per window.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: i64,
}

impl Bucket {
    fn drained(self, now: i64, limit: u32, window_ms: i64) -> f64 {
        let elapsed = (now - self.at).max(0) as f64;
        let rate = f64::from(limit) / window_ms.max(1) as f64;
        (self.level - elapsed * rate).max(0.0)
    }

    /// Whether a bucket at `level` has no room for one more failure.
    fn full(level: f64, limit: u32) -> bool {
        level > f64::from(limit) - 1.0
    }

    /// Time until a bucket at `level` has room for one more failure.
    fn wait_ms(level: f64, limit: u32, window_ms: i64) -> i64 {
        let rate = f64::from(limit) / window_ms.max(1) as f64;
        let over = level - (f64::from(limit) - 1.0);
        if over <= 0.0 {
            0
        } else {
            (over / rate).ceil() as i64
        }
    }
}

/// Buckets by key, at most [`MAX_ENTRIES`]; keys that find the map full of
/// live buckets share one overflow bucket (so they are still counted).
#[derive(Debug)]
struct Buckets<K> {
    map: HashMap<K, Bucket>,
    overflow: Bucket,
    cap: usize,
}

impl<K> Buckets<K> {
    fn new(cap: usize) -> Self {
        Buckets {
            map: HashMap::new(),
            overflow: Bucket { level: 0.0, at: 0 },
            cap,
        }
    }
}

impl<K: std::hash::Hash + Eq> Buckets<K> {
    fn get(&self, key: &K) -> Option<&Bucket> {
        match self.map.get(key) {
            Some(b) => Some(b),
            None if self.map.len() >= self.cap => Some(&self.overflow),
            None => None,
        }
    }

    /// Adds one failure to `key`'s bucket; true when that takes it to its budget.
    fn add(&mut self, key: K, limit: u32, window_ms: i64, now: i64) -> bool {
        if self.map.len() >= self.cap && !self.map.contains_key(&key) {
            self.map
                .retain(|_, b| b.drained(now, limit, window_ms) > 0.0);
        }
        let bucket = if self.map.len() < self.cap || self.map.contains_key(&key) {
            self.map.entry(key).or_insert(Bucket {
                level: 0.0,
                at: now,
            })
        } else {
            &mut self.overflow
        };
        let before = bucket.drained(now, limit, window_ms);
        bucket.level = before + 1.0;
        bucket.at = now;
        !Bucket::full(before, limit) && Bucket::full(bucket.level, limit)
    }
}

/// A name as the throttle keys it: a keyed hash, so lookups allocate
/// nothing and nobody can choose names that collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name(u64);

#[derive(Debug)]
pub struct AuthThrottle {
    hasher: std::collections::hash_map::RandomState,
    sources: Buckets<Source>,
    names: Buckets<Name>,
    /// (name, source) pairs that authenticated, with when.
    good: HashMap<(Name, Source), i64>,
    cap: usize,
}

impl Default for AuthThrottle {
    fn default() -> Self {
        AuthThrottle::with_capacity(MAX_ENTRIES)
    }
}

impl AuthThrottle {
    /// A throttle whose maps hold at most `cap` entries each.
    pub fn with_capacity(cap: usize) -> AuthThrottle {
        AuthThrottle {
            hasher: std::collections::hash_map::RandomState::new(),
            sources: Buckets::new(cap),
            names: Buckets::new(cap),
            good: HashMap::new(),
            cap,
        }
    }

    /// The key of `name` (an account or key SID as presented).
    pub fn name(&self, name: &str) -> Name {
        use std::hash::BuildHasher;
        Name(self.hasher.hash_one(name))
    }

    /// Whether an attempt from `source` as `name` may be checked now.
    pub fn check(
        &self,
        limits: &AuthLimits,
        source: Source,
        name: Name,
        now: i64,
    ) -> Result<(), Throttled> {
        let over = |bucket: Option<&Bucket>, limit: u32| {
            let level = bucket.map_or(0.0, |b| b.drained(now, limit, limits.window_ms));
            Bucket::full(level, limit).then(|| Bucket::wait_ms(level, limit, limits.window_ms))
        };
        if let Some(wait) = over(self.sources.get(&source), limits.failures_per_source) {
            return Err(Throttled {
                by: Budget::Source,
                retry_after_ms: wait,
            });
        }
        if !self.is_good(limits, name, source, now)
            && let Some(wait) = over(self.names.get(&name), limits.failures_per_name)
        {
            return Err(Throttled {
                by: Budget::Name,
                retry_after_ms: wait,
            });
        }
        Ok(())
    }

    fn is_good(&self, limits: &AuthLimits, name: Name, source: Source, now: i64) -> bool {
        self.good
            .get(&(name, source))
            .is_some_and(|at| now - at < limits.window_ms * GOOD_WINDOWS)
    }

    /// Whether [`AuthThrottle::succeeded`] would change anything (so the
    /// common case needs only a read lock).
    pub fn needs_success(&self, limits: &AuthLimits, source: Source, name: Name, now: i64) -> bool {
        self.good
            .get(&(name, source))
            .is_none_or(|at| now - at >= limits.window_ms)
    }

    /// Counts a failed attempt.
    pub fn failed(&mut self, limits: &AuthLimits, source: Source, name: Name, now: i64) -> Engaged {
        let window = limits.window_ms;
        let by_source = self
            .sources
            .add(source, limits.failures_per_source, window, now);
        let by_name = !self.is_good(limits, name, source, now)
            && self.names.add(name, limits.failures_per_name, window, now);
        if by_source {
            Some(Budget::Source)
        } else if by_name {
            Some(Budget::Name)
        } else {
            None
        }
    }

    /// Remembers that `source` authenticated as `name`.
    pub fn succeeded(&mut self, limits: &AuthLimits, source: Source, name: Name, now: i64) {
        let horizon = limits.window_ms * GOOD_WINDOWS;
        let key = (name, source);
        if let Some(at) = self.good.get_mut(&key) {
            *at = now;
            return;
        }
        if self.good.len() >= self.cap {
            self.good.retain(|_, at| now - *at < horizon);
        }
        if self.good.len() < self.cap {
            self.good.insert(key, now);
        }
    }
}

/// A good pair is remembered for this many windows.
const GOOD_WINDOWS: i64 = 60;

/// A fixed value to compare against when the SID is unknown, so an unknown
/// SID costs about as much as a wrong token.
pub const DECOY: &[u8; 32] = b"00000000000000000000000000000000";

/// argon2 runs that may wait for one of the two running at once; more get a
/// 429 at once instead of queueing behind an attack.
pub const ARGON2_QUEUE: usize = 32;

/// Authentication's shared state: the failure throttle and the bounded
/// argon2 queue (first uses of API keys since start-up, key creation).
pub struct AuthGuard {
    pub limits: AuthLimits,
    throttle: RwLock<AuthThrottle>,
    argon2: Semaphore,
    argon2_waiting: AtomicUsize,
    /// An argon2 hash of a random secret: what an unknown key SID is checked
    /// against, so it costs what a known one does.
    pub decoy_hash: String,
}

/// Why an argon2 run did not happen.
#[derive(Debug)]
pub struct Argon2Busy;

impl AuthGuard {
    pub fn new(limits: AuthLimits) -> AuthGuard {
        let mut secret = [0u8; 32];
        OsRandom.fill(&mut secret);
        let decoy_hash =
            tollgate_secrets::hash_secret(&hex::encode(secret), &mut OsRandom).unwrap_or_default();
        AuthGuard {
            limits,
            throttle: RwLock::new(AuthThrottle::default()),
            argon2: Semaphore::new(2),
            argon2_waiting: AtomicUsize::new(0),
            decoy_hash,
        }
    }

    /// Runs `work` (an argon2 hash or check) on a blocking thread, at most
    /// two at once and [`ARGON2_QUEUE`] waiting.
    pub async fn argon2<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Argon2Busy> {
        if self.argon2_waiting.fetch_add(1, Ordering::AcqRel) >= ARGON2_QUEUE {
            self.argon2_waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Argon2Busy);
        }
        let permit = self.argon2.acquire().await;
        self.argon2_waiting.fetch_sub(1, Ordering::AcqRel);
        let _permit = permit.map_err(|_| Argon2Busy)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| Argon2Busy)
    }

    pub fn check(&self, source: Source, name: &str, now: i64) -> Result<Name, Throttled> {
        let throttle = self.throttle.read().map_err(|_| Throttled {
            by: Budget::Source,
            retry_after_ms: 1000,
        })?;
        let name = throttle.name(name);
        throttle.check(&self.limits, source, name, now)?;
        Ok(name)
    }

    pub fn failed(&self, source: Source, name: Name, now: i64) -> Engaged {
        self.throttle
            .write()
            .ok()
            .and_then(|mut t| t.failed(&self.limits, source, name, now))
    }

    pub fn succeeded(&self, source: Source, name: Name, now: i64) {
        let needed = self
            .throttle
            .read()
            .is_ok_and(|t| t.needs_success(&self.limits, source, name, now));
        if needed && let Ok(mut t) = self.throttle.write() {
            t.succeeded(&self.limits, source, name, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    impl AuthThrottle {
        fn overflow_or_tracked(&self, s: Source) -> bool {
            self.sources.get(&s).is_some()
        }
    }

    fn ip(text: &str) -> Source {
        Source::of(Some(text.parse().unwrap()))
    }

    fn limits() -> AuthLimits {
        AuthLimits {
            failures_per_source: 5,
            failures_per_name: 8,
            window_ms: 60_000,
            failure_floor_ms: 0,
        }
    }

    #[test]
    fn a_source_is_refused_after_its_budget_and_comes_back_as_it_drains() {
        let (l, mut t) = (limits(), AuthThrottle::default());
        let (ac1, ac2) = (t.name("AC1"), t.name("AC2"));
        let a = ip("203.0.113.5");
        for i in 0..4 {
            assert!(t.check(&l, a, ac1, i).is_ok());
            assert_eq!(t.failed(&l, a, ac1, i), None);
        }
        assert_eq!(
            t.failed(&l, a, ac1, 4),
            Some(Budget::Source),
            "fifth engages"
        );
        let refused = t.check(&l, a, ac2, 5).unwrap_err();
        assert_eq!(refused.by, Budget::Source);
        assert!(refused.retry_after_ms > 0 && refused.retry_after_ms <= 12_000);
        // Another source is not affected.
        assert!(t.check(&l, ip("198.51.100.7"), ac1, 5).is_ok());
        // One failure drains every 12 s.
        assert!(t.check(&l, a, ac1, 5 + refused.retry_after_ms).is_ok());
        assert!(t.check(&l, a, ac1, 5 + refused.retry_after_ms - 2).is_err());
    }

    #[test]
    fn a_distributed_guess_does_not_lock_out_known_sources() {
        let (l, mut t) = (limits(), AuthThrottle::default());
        let (ac1, ac2) = (t.name("AC1"), t.name("AC2"));
        let user = ip("192.0.2.10");
        t.succeeded(&l, user, ac1, 0);
        for i in 0..8 {
            let attacker = Source::of(Some(IpAddr::from([10, 0, 0, i as u8])));
            t.failed(&l, attacker, ac1, 100 + i);
        }
        let fresh = ip("198.51.100.9");
        assert_eq!(t.check(&l, fresh, ac1, 200).unwrap_err().by, Budget::Name);
        assert!(t.check(&l, user, ac1, 200).is_ok(), "a known source passes");
        assert!(t.check(&l, fresh, ac2, 200).is_ok(), "other names pass");
        // A known source's own mistakes do not count against the name.
        let mut t2 = AuthThrottle::default();
        let ac1 = t2.name("AC1");
        t2.succeeded(&l, user, ac1, 0);
        for i in 0..4 {
            t2.failed(&l, user, ac1, i);
        }
        assert!(t2.names.map.is_empty());
    }

    #[test]
    fn ipv6_counts_by_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(ip("2001:db8:1:2::1"), ip("2001:db8:1:2:ffff::9"));
        assert_ne!(ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1"));
        assert_eq!(ip("::ffff:203.0.113.5"), ip("203.0.113.5"));
    }

    proptest! {
        /// However failures arrive, a source never gets more than its budget
        /// plus what drained in the meantime.
        #[test]
        fn failures_checked_never_exceed_budget_plus_refill(
            gaps in proptest::collection::vec(0i64..5_000, 1..300)
        ) {
            let (l, mut t) = (limits(), AuthThrottle::default());
            let s = ip("203.0.113.1");
            let key = t.name("SKx");
            let mut now = 0;
            let mut checked = 0u32;
            for gap in &gaps {
                now += gap;
                if t.check(&l, s, key, now).is_ok() {
                    checked += 1;
                    t.failed(&l, s, key, now);
                }
            }
            let refill = (now as f64 * f64::from(l.failures_per_source) / l.window_ms as f64).ceil() as u32;
            prop_assert!(checked <= l.failures_per_source + refill);
        }

        /// Memory stays bounded whatever the names and sources, and a full
        /// map still counts newcomers (in the overflow bucket).
        #[test]
        fn maps_stay_bounded_and_newcomers_still_count(
            attempts in proptest::collection::vec(("[A-Z]{2}[0-9a-f]{4}", any::<u32>()), 20..200)
        ) {
            let l = limits();
            let mut t = AuthThrottle::with_capacity(8);
            for (i, (n, ip)) in attempts.iter().enumerate() {
                let n = t.name(n);
                let s = Source::of(Some(IpAddr::from(ip.to_be_bytes())));
                t.failed(&l, s, n, i as i64);
                t.succeeded(&l, s, n, i as i64);
            }
            prop_assert!(t.names.map.len() <= 8 && t.sources.map.len() <= 8 && t.good.len() <= 8);
            let fresh = Source::of(Some(IpAddr::from([198, 51, 100, 1])));
            if t.sources.map.len() == 8 {
                prop_assert!(t.overflow_or_tracked(fresh));
            }
        }
    }
}
