//! Checking requests with the verifier plugin: `GET /v1/verify` (an nginx
//! `auth_request` / Envoy `ext_authz` style check), the gateway that
//! proxies `/v1/content/{environment}/{model}[/{id}]` to an upstream after a
//! check, and `POST /v1/management`, management GraphQL checked field by
//! field and forwarded to the platform's management endpoint.
//!
//! The path of one check, on one plugin instance: the plugin's `parse` names
//! the tokenId → the record comes from the cached store → the plugin's
//! `verify_prepared` decides with the record and the environment's policy
//! prepared in the instance (decoded once per instance, not per request,
//! see `prepared.rs`). When the rows are in memory the check runs right on
//! the async worker; otherwise (or while the plugin has run into its
//! deadline within the last minute, `Limits::timeout_window`) on the
//! blocking pool. An allowed check repeated within the same second, with
//! the same rows and plugin, is answered from the worker's memo without a
//! plugin call (`memo.rs`). Allowed: 200 (or the upstream's answer) with
//! `X-Tally-Principal`, `X-Tally-Filter` (JSON list of alternatives) and
//! `X-Tally-Masked` (comma-separated). Denied: 401 when the caller's identity
//! was not established, 403 when it was but is not granted, both with
//! `{message, reason}` and the reason again in `X-Tally-Reason` (a proxy
//! that replaces the body keeps it). A plugin failure of any kind is a
//! denial too: 503 with reason `verifier_failed` (fail closed), counted in
//! `/metrics`. An address with repeated 401s is answered 429 (`throttled`)
//! for a while — for bad credentials only: a request that the check allows
//! is never throttled.
//!
//! Choices made here: the request descriptor headers are `X-Tally-*` as in
//! DESIGN.md; `X-Tally-Api` defaults to `content`, `X-Tally-Action` is
//! required; the gateway maps GET/HEAD → read, POST → create, PUT/PATCH →
//! update, DELETE → delete. How the gateway reads a target is in
//! `target.rs` (ambiguous spellings refused), what it forwards in
//! `forward.rs` (credentials, `X-Tally-*` and hop-by-hop headers never).
//!
//! One job a file: `descriptor` (what is asked), `check` (deciding it, and
//! `/v1/verify`), `proxy` (the gateway), `target` and `forward` (reading a
//! content target, what reaches the upstream), `content` (the GraphQL
//! content endpoint `/v2/{project}/{environment}`, enforced by the
//! `content-gate` crate), `management` (the management GraphQL endpoint,
//! each root field checked) and `graphql` (reading its documents),
//! `throttle`. What a check
//! looks through, nearest first; each layer is dropped by what changes it:
//!
//! ```text
//! check(Authorization, descriptor)
//!   1. memo.rs      per worker thread: allowed decisions of this second
//!                   keyed by header digest, request, rows and plugin
//!                   (a new second, a new row or a reload misses)
//!   2. storage::RecordCache   token and environment records in memory
//!                   (forgotten by the change feed: after every change
//!                   the authority makes, and on a timer for other nodes)
//!   3. prepared.rs  each row encoded once for the plugin, used while the
//!                   store hands out that very row (Arc::ptr_eq); every
//!                   plugin instance decodes it once and keeps it
//!   4. the plugin's verify_prepared → DecisionHeaders (header values made
//!                   once a decision, shared by clones)
//! ```

mod check;
mod content;
mod descriptor;
mod forward;
mod forwarded;
mod graphql;
mod hold;
mod management;
mod memo;
mod prepared;
mod proxy;
mod target;
pub mod throttle;

pub(crate) use prepared::PreparedRows;

pub(crate) use check::{__path_verify, __path_verify_envoy, verify, verify_envoy};
pub(crate) use content::{__path_graphql, __path_graphql_get, graphql, graphql_get};
pub(crate) use descriptor::openapi_parameters;
pub(crate) use management::{__path_management, management};
pub(crate) use proxy::{__path_proxy, proxy};
pub use proxy::{Upstream, action_of};
