//! The host's integration tests, one binary (one link of wasmtime, axum and
//! rusqlite); a module per area, each test named for the behaviour it holds.
//!
//! - [`common`]: a real server on loopback (in-process or the `tally`
//!   binary), HTTP helpers and the shared fixture tables.
//! - [`storage_contract`]: what every store must do, run by [`storage`]
//!   (SQLite) and [`storage_postgres`] (a real PostgreSQL server).
//! - [`api`], [`exchange`], [`lifecycle`], [`studio`], [`verify`]: the
//!   HTTP surface; [`webhooks`]: deliveries to a receiver on loopback.
//! - [`contract`]: `npm/src/contract.js`, generated from the Rust tables.
//! - [`runtime`], [`differential`]: the verifier module under wasmtime
//!   against the native decisions.
//! - [`process`], [`replica`], [`two_nodes`]: the binary as a process,
//!   a replica following the feed, two nodes on one database.
// The whole crate is cfg(test), so clippy.toml's allow-*-in-tests covers
// the helpers as well as the tests.
#![cfg(test)]

mod common;
mod storage_contract;

mod api;
mod contract;
mod differential;
mod elements;
mod exchange;
mod held;
mod lifecycle;
mod management;
mod models;
mod operations;
mod people;
mod policy_plugin;
mod process;
mod replica;
mod runtime;
mod storage;
mod storage_postgres;
mod studio;
mod two_nodes;
mod verify;
mod webhooks;
