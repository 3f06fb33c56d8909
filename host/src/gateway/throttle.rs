//! Throttling of failed verifications, per client address.
//!
//! Only failures count (401s: bad, unknown, expired or revoked credentials),
//! so a client that presents good tokens is never slowed, however busy.
//! On a replica (`--replica-of`) an unknown token does not count: a token
//! made on the authority is unknown there until the feed brings it
//! (milliseconds, more while the replica reconnects), and a client that
//! retries meanwhile is not guessing. Nothing is given away by that: a
//! token's id is its secret's hash prefix, so an unknown token teaches an
//! attacker nothing, and a replica looks records up in its own memory, so
//! unknown ids cost it no storage reads. A
//! client with `threshold` failures within `window` is answered 429 until the
//! window that began with its first failure has passed.
//!
//! Good clients do not even wait for the table's lock: the throttle keeps
//! the latest time until which any address can be blocked
//! (`blocked_until`, the end of the window of every address that reached
//! the threshold), and while that time has passed — always, when nobody
//! hit the threshold — `blocked` answers from that one atomic. The table
//! is locked only to count a failure, or while some address may be blocked.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

/// Most addresses tracked; past this the table starts over (forgetting is
/// always on the lenient side, never blocks a good client).
const MAX_ADDRESSES: usize = 100_000;

/// Failure counts per address.
#[derive(Debug)]
pub struct Throttle {
    threshold: u32,
    window: i64,
    failures: Mutex<HashMap<IpAddr, (i64, u32)>>,
    /// No address is blocked at or after this time (unix seconds): the
    /// largest window end of an address that reached the threshold.
    blocked_until: AtomicI64,
}

impl Throttle {
    /// `threshold` failures within `window` seconds block an address; a
    /// threshold of 0 turns throttling off.
    pub fn new(threshold: u32, window: i64) -> Self {
        Throttle {
            threshold,
            window: window.max(1),
            failures: Mutex::new(HashMap::new()),
            blocked_until: AtomicI64::new(i64::MIN),
        }
    }

    /// Whether `ip` is blocked at `now` (unix seconds).
    pub fn blocked(&self, ip: IpAddr, now: i64) -> bool {
        if self.threshold == 0 || now >= self.blocked_until.load(Ordering::Acquire) {
            return false;
        }
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        matches!(failures.get(&ip), Some(&(since, count)) if now < since + self.window && count >= self.threshold)
    }

    /// A failed credential check of `ip` at `now`: `true` when the address
    /// is already blocked (answer 429 instead of the failure), else the
    /// failure is counted and `false`. Only failures come here, so a good
    /// credential is never refused for its address.
    pub fn refuse_failure(&self, ip: IpAddr, now: i64) -> bool {
        if self.blocked(ip, now) {
            return true;
        }
        self.failed(ip, now);
        false
    }

    /// Counts a failure of `ip` at `now`.
    pub fn failed(&self, ip: IpAddr, now: i64) {
        if self.threshold == 0 {
            return;
        }
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_ADDRESSES && !failures.contains_key(&ip) {
            failures.retain(|_, (since, _)| now < *since + self.window);
            if failures.len() >= MAX_ADDRESSES {
                failures.clear();
            }
        }
        let entry = failures.entry(ip).or_insert((now, 0));
        if now >= entry.0 + self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if entry.1 >= self.threshold {
            // Under the lock, so the store happens before `blocked` can see
            // the count it publishes.
            self.blocked_until
                .fetch_max(entry.0.saturating_add(self.window), Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Throttle;
    use std::net::{IpAddr, Ipv4Addr};

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn an_address_is_blocked_at_the_threshold_until_its_window_ends() {
        let throttle = Throttle::new(3, 60);
        for _ in 0..2 {
            throttle.failed(ip(1), 1000);
        }
        assert!(!throttle.blocked(ip(1), 1000), "below the threshold");
        throttle.failed(ip(1), 1010);
        assert!(throttle.blocked(ip(1), 1010));
        assert!(throttle.blocked(ip(1), 1059), "the window began at 1000");
        assert!(!throttle.blocked(ip(2), 1010), "another address");
        assert!(!throttle.blocked(ip(1), 1060), "the window is over");
    }

    #[test]
    fn every_blocked_address_stays_blocked_whatever_the_order_of_windows() {
        // The fast path keeps the latest window end: a later address with a
        // later window, then an earlier one reaching the threshold later,
        // must both be answered from the table.
        let throttle = Throttle::new(2, 60);
        throttle.failed(ip(1), 1000);
        throttle.failed(ip(2), 1030);
        throttle.failed(ip(2), 1030);
        throttle.failed(ip(1), 1040);
        assert!(throttle.blocked(ip(1), 1045));
        assert!(throttle.blocked(ip(2), 1045));
        assert!(!throttle.blocked(ip(1), 1060));
        assert!(throttle.blocked(ip(2), 1089));
        assert!(!throttle.blocked(ip(2), 1090));
        // A new window for ip(1) after its old one ended.
        throttle.failed(ip(1), 1100);
        assert!(!throttle.blocked(ip(1), 1100));
        throttle.failed(ip(1), 1101);
        assert!(throttle.blocked(ip(1), 1101));
        assert!(!throttle.blocked(ip(1), 1160));
    }

    #[test]
    fn a_threshold_of_zero_never_blocks() {
        let throttle = Throttle::new(0, 60);
        for _ in 0..100 {
            throttle.failed(ip(1), 1000);
        }
        assert!(!throttle.blocked(ip(1), 1000));
    }
}
