//! Open connections per source address, so that one client cannot hold
//! every connection the gateway allows.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

// A source is counted as the authentication throttle counts it: an IPv4
// address, or an IPv6 /64 (one host usually holds a whole /64).
use crate::state::auth_throttle::Source;

/// Counts open connections per source; `limit` 0 counts nothing.
#[derive(Debug)]
pub struct Sources {
    limit: usize,
    open: Mutex<HashMap<Source, usize>>,
}

/// A connection counted against its source until dropped.
#[derive(Debug)]
pub struct SourceSlot {
    sources: Arc<Sources>,
    source: Source,
}

/// A connection over its source's cap, from this address.
#[derive(Debug)]
pub struct Refused(pub IpAddr);

impl Sources {
    pub fn new(limit: usize) -> Sources {
        Sources {
            limit,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a new connection from `ip`, or refuses it.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Option<SourceSlot>, Refused> {
        if self.limit == 0 {
            return Ok(None);
        }
        let source = Source::of(Some(ip));
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(source).or_default();
        if *count >= self.limit {
            return Err(Refused(ip));
        }
        *count += 1;
        Ok(Some(SourceSlot {
            sources: self.clone(),
            source,
        }))
    }

    #[cfg(test)]
    fn open(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&Source::of(Some(ip))).copied().unwrap_or(0)
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut open = self
            .sources
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.source) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_at_most_its_share() {
        let sources = Arc::new(Sources::new(2));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = sources.admit(a).unwrap();
        let second = sources.admit(a).unwrap();
        assert_eq!(sources.admit(a).err().unwrap().0, a);
        assert!(sources.admit(b).unwrap().is_some());
        drop(first);
        assert_eq!(sources.open(a), 1);
        let again = sources.admit(a).unwrap();
        assert!(sources.admit(a).is_err());
        drop((second, again));
        assert_eq!(sources.open(a), 0);
        assert!(sources.open.lock().unwrap().is_empty());
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let sources = Arc::new(Sources::new(1));
        let _one = sources.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(
            sources
                .admit("2001:db8:1:2::ffff".parse().unwrap())
                .is_err()
        );
        assert!(sources.admit("2001:db8:1:3::1".parse().unwrap()).is_ok());
        let _v4 = sources.admit("198.51.100.7".parse().unwrap()).unwrap();
        assert!(
            sources
                .admit("::ffff:198.51.100.7".parse().unwrap())
                .is_err()
        );
    }

    #[test]
    fn zero_counts_nothing() {
        let sources = Arc::new(Sources::new(0));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..10 {
            assert!(sources.admit(ip).unwrap().is_none());
        }
    }
}
