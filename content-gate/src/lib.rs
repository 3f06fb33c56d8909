//! # Tally's content gate
//!
//! A GraphQL content API (Hygraph-style: one endpoint per environment,
//! `post`/`posts`/`createPost`/… generated from each model) put behind
//! Tally, with the verifier's answers enforced rather than advised. One
//! request goes through three steps, the same wherever the gate runs (the
//! host's gateway, natively; an edge worker, as wasm):
//!
//! 1. [`Plan::new`] reads the request within limits ([`document`]) and maps
//!    every root field to its model, verb, stages and locales by the
//!    environment's registered models ([`naming`], [`plan`]): the
//!    [`Check`]s, each a `verifier_core::Request` for the caller to decide.
//! 2. [`Plan::authorize`] takes the decisions: all must allow; masked
//!    fields may not be written; rows limited by a grant's condition are
//!    written into the document's `where`, or checked by a preflight query
//!    before a one-row write ([`authorize`]). Out comes what to send
//!    upstream ([`Authorized`]), or a [`Denied`] in GraphQL's error shape.
//! 3. [`Authorized::finish`] holds the upstream's answer to the decisions:
//!    rows outside the caller's dropped, masked fields `null`, the masked
//!    paths listed ([`answer`]).
//!
//! Requests come again and again, so none of this is done twice for the
//! same inputs: a [`PlanCache`] keeps the documents read and their plans
//! ([`cache`]), and a plan keeps what it last authorized. [`Plan::check`]
//! decides a plan's checks natively with `verifier_core`, for a gate in
//! Rust that holds its token records ([`check`]).
//!
//! [`rest`] holds the REST gateway's answers and writes to a limiting
//! decision the same way. [`session`] runs the three steps (and the REST
//! rules) as JSON calls, and
//! `module` (feature `module`, wasm32) exports them as the gate module
//! (`content-gate/build-module.sh`), which edge workers load.
//!
//! The gate does no I/O and keeps nothing between calls but those memos:
//! the caller sends the preflight and the forwarded request, and brings
//! back the answers.
//! Values travel as JSON (`serde_json`); documents are read by
//! `apollo-parser`. What it does not see: types. Nested selections (a
//! post's `author { … }`) are the upstream schema's to authorize; the gate
//! authorizes the root fields, which are what name a model.

pub mod answer;
pub mod authorize;
pub mod cache;
pub mod check;
pub mod document;
pub mod error;
#[cfg(feature = "module")]
pub mod module;
pub mod naming;
pub mod plan;
pub mod rest;
pub mod session;
pub mod values;

pub use crate::authorize::{Authorized, Enforced};
pub use crate::cache::PlanCache;
pub use crate::document::{Document, Refused};
pub use crate::error::{Denied, FieldError, GateReason, Stop};
pub use crate::plan::{Check, GraphqlRequest, Options, Plan};
