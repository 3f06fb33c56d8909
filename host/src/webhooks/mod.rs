//! Webhooks to an app's backend: what changes it hears of (`events`: each
//! the projection of an audit entry, queued in the same transaction), how
//! deliveries are signed (`sign`: Standard Webhooks, a per-app secret
//! derived from the deployment's key), how they are sent (`client`:
//! timeouts, no redirects, internal addresses refused) and by whom
//! (`worker`: any node claims a due delivery, sends it, and records the
//! answer; failures are retried with exponential backoff and jitter for 24
//! hours).
//!
//! Delivery is at least once: a node that dies after sending and before
//! recording sends again once its claim lapses, with the same
//! `webhook-id`, by which receivers drop repeats.

pub mod client;
pub mod events;
pub mod sign;
pub mod worker;

pub use sign::{KeyError, WebhookKey, WebhookSecret};
pub use worker::{Worker, WorkerOptions};
