//! Throttling of failed verifications, per client address.
//!
//! Only failures count (401s: bad, unknown, expired or revoked credentials),
//! so a client that presents good tokens is never slowed, however busy. A
//! client with `threshold` failures within `window` is answered 429 until the
//! window that began with its first failure has passed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Most addresses tracked; past this the table starts over (forgetting is
/// always on the lenient side, never blocks a good client).
const MAX_ADDRESSES: usize = 100_000;

/// Failure counts per address.
#[derive(Debug)]
pub struct Throttle {
    threshold: u32,
    window: i64,
    failures: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl Throttle {
    /// `threshold` failures within `window` seconds block an address; a
    /// threshold of 0 turns throttling off.
    pub fn new(threshold: u32, window: i64) -> Self {
        Throttle {
            threshold,
            window: window.max(1),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` is blocked at `now` (unix seconds).
    pub fn blocked(&self, ip: IpAddr, now: i64) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        matches!(failures.get(&ip), Some(&(since, count)) if now < since + self.window && count >= self.threshold)
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
    }
}
