//! The plugin calls the host's benches time, defined once so that
//! `plugin.rs` (criterion) and `ratio.rs` (interleaved) measure the very
//! same call. Included with `#[path]`, like the fixture.

use std::hint::black_box;

use tally::runtime::{Call, Prepared};
use verifier_core::Request;

/// The verify of a check on an instance already taken, its decision read in
/// place as the gateway reads it (`Call::decide`): what
/// `plugin_verify_prepared` and `plugin_check` time.
pub fn decide_in_place(call: &mut Call<'_>, record: &Prepared, env: &Prepared, request: &Request) {
    call.decide(Some(record), Some(env), black_box(request), |view| {
        black_box(view);
    })
    .expect("the plugin decides the fixture's request");
}
