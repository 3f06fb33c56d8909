//! The delivery worker: every node of an authority runs one. It reads the
//! due deliveries, claims each (one claim wins, on any node, for
//! [`LEASE_MS`]), signs and sends it, and records how it went: delivered
//! on a 2xx; otherwise tried again after an exponential backoff with
//! jitter (`backoff · 2^(attempt−1)`, at most an hour, each wait between
//! half and all of that), until 24 hours after its first attempt, then
//! failed. A node that dies mid-delivery leaves its claim to lapse; the
//! delivery is then sent again (at least once).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::client::{Outbound, Sent, TIMEOUT};
use super::sign::WebhookKey;
use crate::authority::Authority;
use crate::storage::{Attempt, DueDelivery};

/// How long a claim lasts: longer than any one attempt can take.
pub const LEASE_MS: i64 = 2 * TIMEOUT.as_millis() as i64;
/// How long after its first attempt a delivery is given up.
pub const GIVE_UP_AFTER_MS: i64 = 24 * 3600 * 1000;
/// The longest wait between two attempts.
pub const MAX_BACKOFF_MS: i64 = 3600 * 1000;

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The first retry's wait, milliseconds (`--webhook-backoff-ms`).
    pub backoff_ms: i64,
    /// How often it looks for due deliveries.
    pub poll: Duration,
    /// Whether deliveries may reach private and loopback addresses.
    pub allow_private: bool,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            backoff_ms: 5000,
            poll: Duration::from_millis(250),
            allow_private: false,
        }
    }
}

/// A node's delivery worker.
pub struct Worker {
    authority: Arc<Authority>,
    key: Arc<WebhookKey>,
    outbound: Outbound,
    options: WorkerOptions,
}

impl Worker {
    /// A worker sending `authority`'s deliveries, signed with `key`.
    pub fn new(
        authority: Arc<Authority>,
        key: Arc<WebhookKey>,
        options: WorkerOptions,
    ) -> Result<Self, String> {
        Ok(Worker {
            authority,
            key,
            outbound: Outbound::new(options.allow_private)?,
            options,
        })
    }

    /// Runs until the task is dropped.
    pub async fn run(self) {
        let this = Arc::new(self);
        loop {
            if let Err(e) = Arc::clone(&this).round().await {
                tracing::warn!(target: "tally::webhooks", error = %e, "cannot read the outbox; retrying");
            }
            tokio::time::sleep(this.options.poll).await;
        }
    }

    /// One look at the outbox: every due delivery this node claims, sent
    /// concurrently.
    async fn round(self: Arc<Self>) -> Result<(), String> {
        let now = now_ms();
        let authority = Arc::clone(&self.authority);
        let due = blocking(move || {
            let store = authority.store().map_err(|e| e.to_string())?;
            let due = store.due_deliveries(now, 32).map_err(|e| e.to_string())?;
            let mut claimed = Vec::new();
            for d in due {
                if store
                    .claim_delivery(&d.delivery.id, now, now + LEASE_MS)
                    .map_err(|e| e.to_string())?
                {
                    claimed.push(d);
                }
            }
            Ok(claimed)
        })
        .await?;
        let sends = due.into_iter().map(|d| {
            let this = Arc::clone(&self);
            tokio::spawn(async move { this.deliver(d).await })
        });
        for send in sends.collect::<Vec<_>>() {
            if let Ok(Err(e)) = send.await {
                tracing::warn!(target: "tally::webhooks", error = %e, "cannot record a delivery");
            }
        }
        Ok(())
    }

    async fn deliver(&self, due: DueDelivery) -> Result<(), String> {
        let d = &due.delivery;
        let sent = match &due.url {
            None => Sent::Failed("the app has no webhook URL any more".into()),
            Some(url) => {
                let timestamp = now_ms() / 1000;
                let secret = self.key.secret(&d.app_id, due.secret_version);
                let headers = [
                    ("webhook-id", d.id.clone()),
                    ("webhook-timestamp", timestamp.to_string()),
                    (
                        "webhook-signature",
                        secret.sign(&d.id, timestamp, &d.payload),
                    ),
                ];
                self.outbound.post(url, &headers, d.payload.clone()).await
            }
        };
        let now = now_ms();
        let give_up = d.give_up_ms.unwrap_or(now + GIVE_UP_AFTER_MS);
        let attempt = outcome(sent, d.attempts + 1, now, give_up, self.options.backoff_ms);
        tracing::info!(
            target: "tally::webhooks",
            delivery = %d.id,
            event = %d.event_type,
            app = %d.app_id,
            outcome = ?attempt,
            "webhook attempt"
        );
        let (authority, id) = (Arc::clone(&self.authority), d.id.clone());
        blocking(move || {
            authority
                .store()
                .map_err(|e| e.to_string())?
                .record_attempt(&id, &attempt, now, give_up)
                .map_err(|e| e.to_string())
        })
        .await
    }
}

/// What attempt number `attempt` (from 1) ending in `sent` at `now` records.
fn outcome(sent: Sent, attempt: i64, now: i64, give_up: i64, backoff_ms: i64) -> Attempt {
    let (status, error) = match sent {
        Sent::Answered(s) if (200..300).contains(&s) => return Attempt::Delivered { status: s },
        Sent::Answered(s) => (Some(s), format!("answered {s}")),
        Sent::Failed(e) => (None, e),
    };
    let retry_at = now + jittered(backoff(attempt, backoff_ms));
    Attempt::Failed {
        status,
        error,
        retry_at_ms: (retry_at < give_up).then_some(retry_at),
    }
}

/// The full wait after attempt `attempt` (from 1): doubling from `base`,
/// at most [`MAX_BACKOFF_MS`].
fn backoff(attempt: i64, base: i64) -> i64 {
    let doublings = u32::try_from(attempt.clamp(1, 32) - 1).unwrap_or(31);
    base.max(1)
        .saturating_mul(1_i64 << doublings.min(40))
        .min(MAX_BACKOFF_MS)
}

/// Between half of `wait` and all of it, at random (so receivers that
/// failed together are not retried together).
fn jittered(wait: i64) -> i64 {
    let random = crate::random::seed().unwrap_or(0);
    let half = wait / 2;
    half + i64::try_from(random % u64::try_from(half.max(1)).unwrap_or(1)).unwrap_or(0)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests {
    use super::{MAX_BACKOFF_MS, backoff, jittered, outcome};
    use crate::storage::Attempt;
    use crate::webhooks::client::Sent;

    #[test]
    fn backoff_doubles_to_an_hour_with_jitter_below_it() {
        assert_eq!(
            (1..=5).map(|n| backoff(n, 1000)).collect::<Vec<_>>(),
            [1000, 2000, 4000, 8000, 16000]
        );
        assert_eq!(backoff(40, 1000), MAX_BACKOFF_MS);
        for _ in 0..100 {
            let w = jittered(1000);
            assert!((500..=1000).contains(&w), "{w}");
        }
    }

    #[test]
    fn a_2xx_delivers_anything_else_retries_until_the_give_up_time() {
        assert_eq!(
            outcome(Sent::Answered(204), 1, 0, 10_000, 100),
            Attempt::Delivered { status: 204 }
        );
        let Attempt::Failed {
            status,
            retry_at_ms: Some(at),
            ..
        } = outcome(Sent::Answered(503), 1, 0, 10_000, 100)
        else {
            panic!("not retried");
        };
        assert_eq!(status, Some(503));
        assert!((50..=100).contains(&at));
        // Past the give-up time: failed for good.
        assert!(matches!(
            outcome(Sent::Failed("refused".into()), 9, 9_999, 10_000, 100),
            Attempt::Failed {
                retry_at_ms: None,
                status: None,
                ..
            }
        ));
        // A redirect is not a delivery.
        assert!(matches!(
            outcome(Sent::Answered(302), 1, 0, 10_000, 100),
            Attempt::Failed { .. }
        ));
    }
}
