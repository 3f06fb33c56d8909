//! The change feed replicas and edge workers follow (`GET /v1/records`), in
//! two forms over one route:
//!
//! - **Pages, long-polled** (JSON, the default): `?after=&limit=&wait=`;
//!   with `wait` (seconds, at most 30) an empty page is held until a change
//!   arrives or the wait is over.
//! - **Server-sent events** (`Accept: text/event-stream`): each change is an
//!   event `change` whose `id` is its `seq` and whose data is the entry a
//!   page would hold; the stream starts after `?after=` or the
//!   `Last-Event-ID` header, and ends after 30 s (a comment every 15 s keeps
//!   it open through proxies), so that shutdown never waits on it; a client
//!   reconnects with `Last-Event-ID` (`EventSource` does on its own).
//!
//! `GET /v1/records/snapshot` is where a new replica starts instead: every
//! record, page by page (`authority::SnapshotPage`), then the feed from the
//! first page's cursor.
//!
//! Neither form reads the store on a timer: a waiting request sleeps until
//! the node's read cache moves past a change ([`Authority::feed_watch`]),
//! which it does after this node's own changes and, on PostgreSQL, when any
//! node notifies one (`storage::on_feed_notifications`). A thousand idle
//! followers cost a thousand parked tasks.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::extract::Replica;
use super::{AppState, blocking};
#[cfg(doc)]
use crate::authority::Authority;
use crate::storage::{Change, Changed};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct FeedQuery {
    /// changes with a larger seq
    #[serde(default)]
    #[param(default = 0)]
    after: i64,
    /// at most this many; read as 1 to 10000
    #[serde(default)]
    #[param(default = 1000, format = Int64, minimum = 0, maximum = 4294967295_u32)]
    limit: Option<u32>,
    /// seconds to hold an empty page; read as at most 30
    #[serde(default)]
    #[param(default = 0)]
    wait: Option<u64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct SnapshotQuery {
    /// records with a larger token id (the previous page's `next`); from the first without
    #[serde(default)]
    #[param(pattern = "^[0-9a-f]{16}$")]
    after: Option<String>,
    /// at most this many; read as 1 to 10000
    #[serde(default)]
    #[param(default = 10000, format = Int64, minimum = 0, maximum = 4294967295_u32)]
    limit: Option<u32>,
}

/// `GET /v1/records/snapshot`: a page of every record, for a replica to
/// start from. The page is encoded off the async workers: a full one is
/// a few megabytes.
#[utoipa::path(get, path = "/v1/records/snapshot", summary = "Every token record, page by page, for a replica to start from (admin or management replica grant)",
    params(SnapshotQuery),
    responses((status = 200, description = "A page; follow the feed from the first page's cursor once `next` is absent",
        body = crate::authority::schema::SnapshotPageSchema),
        (status = 400, description = "`after` is not a token id", body = super::ErrorBody)))]
pub(super) async fn snapshot(
    State(s): State<Arc<AppState>>,
    _: Replica,
    Query(q): Query<SnapshotQuery>,
) -> Result<Response, super::ApiError> {
    let limit = q.limit.unwrap_or(crate::authority::SNAPSHOT_PAGE_MAX);
    let body = blocking(&s, move |a| {
        let page = a.snapshot(q.after.as_deref(), limit)?;
        serde_json::to_vec(&page)
            .map_err(|e| crate::authority::AuthorityError::Internal(format!("snapshot page: {e}")))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Longest a request is held: a page's `wait`, an event stream's life.
const FEED_MAX_WAIT: Duration = Duration::from_secs(30);
/// How often an event stream with nothing to say sends a comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The reconnection delay an event stream asks of its client.
const RETRY: Duration = Duration::from_millis(250);

/// `GET /v1/records`: a page of the change feed, or a stream of its events.
#[utoipa::path(get, path = "/v1/records", summary = "The record feed (admin or management replica grant): pages long-polled with wait, or server-sent events",
    params(FeedQuery),
    responses((status = 200, description = "A page (JSON), or with `Accept: text/event-stream` a stream of `change` events whose id is the change's seq",
        content((crate::authority::schema::FeedPageSchema = "application/json"), (String = "text/event-stream")))))]
pub(super) async fn feed(
    State(s): State<Arc<AppState>>,
    _: Replica,
    headers: HeaderMap,
    Query(q): Query<FeedQuery>,
) -> Response {
    let limit = q.limit.unwrap_or(1000);
    // Subscribed before the first read: a change committed between that
    // read and the wait still wakes it.
    let moved = s.authority.feed_watch();
    if wants_events(&headers) {
        let after = last_event_id(&headers).unwrap_or(q.after).max(0);
        return events(s, moved, after, limit).into_response();
    }
    let wait = Duration::from_secs(q.wait.unwrap_or(0)).min(FEED_MAX_WAIT);
    page(s, moved, q.after.max(0), limit, Instant::now() + wait)
        .await
        .into_response()
}

/// One page: changes after `after`, or once `deadline` passes none.
async fn page(
    s: Arc<AppState>,
    mut moved: Option<watch::Receiver<i64>>,
    after: i64,
    limit: u32,
    deadline: Instant,
) -> Result<Json<serde_json::Value>, super::ApiError> {
    loop {
        let changes = blocking(&s, move |a| a.feed(after, limit)).await?;
        if !changes.is_empty() || Instant::now() >= deadline || !wait(&mut moved, deadline).await {
            let cursor = changes.last().map_or(after, |c| c.seq);
            let changes: Vec<serde_json::Value> = changes.into_iter().map(entry).collect();
            return Ok(Json(
                serde_json::json!({ "changes": changes, "cursor": cursor }),
            ));
        }
    }
}

/// Waits until the node's feed moves (`true`) or `deadline` passes
/// (`false`). Without a watch (a node that serves no feed) or once its
/// sender is gone, only the deadline.
async fn wait(moved: &mut Option<watch::Receiver<i64>>, deadline: Instant) -> bool {
    let Some(rx) = moved else {
        tokio::time::sleep_until(deadline).await;
        return false;
    };
    tokio::select! {
        changed = rx.changed() => {
            if changed.is_err() {
                *moved = None;
            }
            changed.is_ok()
        }
        () = tokio::time::sleep_until(deadline) => false,
    }
}

/// A change as a page holds it and an event carries it.
fn entry(c: Change) -> serde_json::Value {
    match c.changed {
        Changed::Token(record) => serde_json::json!({ "seq": c.seq, "record": record }),
        Changed::Environment(e) => serde_json::json!({ "seq": c.seq, "environment": e.policy() }),
    }
}

/// Whether the client asks for server-sent events.
fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

/// Where a reconnecting event stream stood (`Last-Event-ID`).
fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("last-event-id")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Where an event stream stands.
struct Following {
    s: Arc<AppState>,
    moved: Option<watch::Receiver<i64>>,
    cursor: i64,
    limit: u32,
    /// Read, not yet sent.
    ready: std::collections::VecDeque<Event>,
    ends: Instant,
}

/// The event stream: a `retry` hint, then every change after `after` as it
/// comes, for [`FEED_MAX_WAIT`]. A feed read that fails ends the stream
/// (the client reconnects where it stood).
fn events(
    s: Arc<AppState>,
    moved: Option<watch::Receiver<i64>>,
    after: i64,
    limit: u32,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut ready = std::collections::VecDeque::new();
    ready.push_back(Event::default().retry(RETRY).comment("tally feed"));
    let start = Following {
        s,
        moved,
        cursor: after,
        limit,
        ready,
        ends: Instant::now() + FEED_MAX_WAIT,
    };
    let stream = futures_util::stream::unfold(start, |mut f| async move {
        loop {
            if let Some(event) = f.ready.pop_front() {
                return Some((Ok(event), f));
            }
            if Instant::now() >= f.ends {
                return None;
            }
            let (cursor, limit) = (f.cursor, f.limit);
            let changes = blocking(&f.s, move |a| a.feed(cursor, limit)).await.ok()?;
            if changes.is_empty() {
                if !wait(&mut f.moved, f.ends).await && Instant::now() >= f.ends {
                    return None;
                }
                continue;
            }
            for change in changes {
                f.cursor = change.seq;
                let id = change.seq.to_string();
                let event = Event::default().event("change").id(id);
                // `json_data` fails only for a value that is not JSON.
                if let Ok(event) = event.json_data(entry(change)) {
                    f.ready.push_back(event);
                }
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
