//! Following an authority's record feed into a [`ReplicaStore`]
//! (`tally serve --replica-of URL --replica-token TOKEN`).
//!
//! [`catch_up`] starts an empty replica from the authority's snapshot
//! (`GET /v1/records/snapshot`: every record page by page, each grant list
//! once a page), then reads the feed from the snapshot's cursor until it is
//! current (the node starts serving only after that, so it never denies a
//! valid token for want of its record); [`follow`] then long-polls
//! `GET /v1/records?after=<cursor>&wait=25`, so a change reaches the replica
//! about as soon as the authority commits it (measured in BENCHMARKS.md). On
//! an error it retries every second and keeps serving what it has.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use verifier_core::{Environment, TokenId, TokenRecord};

use crate::authority::SnapshotPage;
use crate::storage::{Change, Changed, EnvironmentRow, ReplicaStore};

/// Changes asked for per page.
const PAGE: u32 = 5000;
/// Seconds a long poll waits on the authority.
const WAIT_SECONDS: u32 = 25;
/// Pause after a failed read.
const RETRY: Duration = Duration::from_secs(1);

/// Why reading the feed failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicaError {
    /// The URL or token cannot make a request.
    #[error("bad feed request: {0}")]
    Request(String),
    /// The authority could not be reached.
    #[error("cannot reach the authority: {0}")]
    Unreachable(String),
    /// The authority answered with an error status.
    #[error("the authority answered {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Its body (an error `{ message, reason }`).
        body: String,
    },
    /// The answer is not a feed page.
    #[error("the feed page does not decode: {0}")]
    Decode(String),
}

/// Where the feed comes from.
#[derive(Clone)]
pub struct Source {
    base: String,
    authorization: String,
    snapshot_page: u32,
    client: Client<HttpConnector, Body>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Source {
    /// The authority at `base` (`http://host:port`), read with `token`
    /// (`AppToken …` or bare; it needs management `admin` or `replica`).
    pub fn new(base: &str, token: &str) -> Self {
        let token = token.trim();
        let authorization = if token.contains(' ') {
            token.to_owned()
        } else {
            format!("AppToken {token}")
        };
        Source {
            base: base.trim_end_matches('/').to_owned(),
            authorization,
            snapshot_page: crate::authority::SNAPSHOT_PAGE_MAX,
            client: Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(HttpConnector::new()),
        }
    }

    /// Reads the snapshot `records` at a time (the authority's largest
    /// page without this).
    #[must_use]
    pub fn with_snapshot_page(mut self, records: u32) -> Self {
        self.snapshot_page = records;
        self
    }

    /// One page after `after`, waiting up to `wait` seconds for one.
    async fn page(&self, after: i64, wait: u32) -> Result<Vec<Change>, ReplicaError> {
        let uri = format!(
            "{}/v1/records?after={after}&limit={PAGE}&wait={wait}",
            self.base
        );
        let bytes = self.get(uri).await?;
        let page: Page =
            serde_json::from_slice(&bytes).map_err(|e| ReplicaError::Decode(e.to_string()))?;
        page.changes.into_iter().map(Entry::into_change).collect()
    }

    /// One snapshot page after the token id `after` (from the first without).
    async fn snapshot(&self, after: Option<TokenId>) -> Result<SnapshotPage, ReplicaError> {
        let (base, limit) = (&self.base, self.snapshot_page);
        let uri = match after {
            Some(id) => format!("{base}/v1/records/snapshot?after={id}&limit={limit}"),
            None => format!("{base}/v1/records/snapshot?limit={limit}"),
        };
        let bytes = self.get(uri).await?;
        serde_json::from_slice(&bytes).map_err(|e| ReplicaError::Decode(e.to_string()))
    }

    /// The body of a successful `GET uri`.
    async fn get(&self, uri: String) -> Result<axum::body::Bytes, ReplicaError> {
        let request = axum::http::Request::get(uri)
            .header(axum::http::header::AUTHORIZATION, &self.authorization)
            .body(Body::empty())
            .map_err(|e| ReplicaError::Request(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| ReplicaError::Unreachable(e.to_string()))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| ReplicaError::Unreachable(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            return Err(ReplicaError::Status {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        Ok(bytes)
    }
}

#[derive(Deserialize)]
struct Page {
    changes: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    seq: i64,
    #[serde(default)]
    record: Option<TokenRecord>,
    #[serde(default)]
    environment: Option<Environment>,
}

impl Entry {
    fn into_change(self) -> Result<Change, ReplicaError> {
        let changed = match (self.record, self.environment) {
            (Some(record), None) => Changed::Token(record),
            (None, Some(env)) => Changed::Environment(EnvironmentRow::replicated(env)),
            _ => {
                return Err(ReplicaError::Decode(format!(
                    "change {} is neither a record nor an environment",
                    self.seq
                )));
            }
        };
        Ok(Change {
            seq: self.seq,
            changed,
        })
    }
}

/// What [`catch_up`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaughtUp {
    /// Records read from the snapshot (none when the replica had a cursor).
    pub snapshot_records: usize,
    /// Feed changes applied after it.
    pub changes: usize,
}

/// Starts an empty replica (cursor 0) from the snapshot, then reads the
/// feed until it is current. A replica that has a cursor reads the feed
/// alone.
pub async fn catch_up(store: &ReplicaStore, source: &Source) -> Result<CaughtUp, ReplicaError> {
    let snapshot_records = if store.cursor() == 0 {
        load_snapshot(store, source).await?
    } else {
        0
    };
    let mut changes = 0;
    loop {
        let page = source.page(store.cursor(), 0).await?;
        if page.is_empty() {
            return Ok(CaughtUp {
                snapshot_records,
                changes,
            });
        }
        changes += page.len();
        for change in page {
            store.apply(change);
        }
    }
}

/// Reads every snapshot page into `store`, then moves its cursor to the
/// first page's (see `authority::records` for why that misses nothing).
/// The next page is requested while one is stored.
async fn load_snapshot(store: &ReplicaStore, source: &Source) -> Result<usize, ReplicaError> {
    let mut page = source.snapshot(None).await?;
    let cursor = page.cursor;
    for env in std::mem::take(&mut page.environments) {
        store.load_environment(EnvironmentRow::replicated(env));
    }
    let mut loaded = 0;
    loop {
        let next = page.next;
        let fetching = next.map(|after| {
            let source = source.clone();
            tokio::spawn(async move { source.snapshot(Some(after)).await })
        });
        let records = page
            .token_records()
            .map_err(|e| ReplicaError::Decode(e.to_string()))?;
        loaded += records.len();
        store.load(records);
        let Some(fetching) = fetching else {
            store.advance(cursor);
            return Ok(loaded);
        };
        page = fetching
            .await
            .map_err(|e| ReplicaError::Unreachable(format!("snapshot task: {e}")))??;
    }
}

/// Long-polls the feed into `store` until the task is dropped.
pub async fn follow(store: Arc<ReplicaStore>, source: Source) {
    loop {
        match source.page(store.cursor(), WAIT_SECONDS).await {
            Ok(changes) => {
                for change in changes {
                    store.apply(change);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the record feed; retrying");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}
