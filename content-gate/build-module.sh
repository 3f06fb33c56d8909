#!/usr/bin/env bash
# Builds the gate module (content-gate with the `module` feature, for
# wasm32) and copies it to target/tally-content-gate.wasm. Size over speed
# (opt-level "z", the SDK's profile): it runs once per GraphQL request, not
# per check, and edges download it.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --locked -p content-gate --lib --target wasm32-unknown-unknown --profile gate-release --features module
cp "$target_dir/wasm32-unknown-unknown/gate-release/content_gate.wasm" "$target_dir/tally-content-gate.wasm"
echo "$target_dir/tally-content-gate.wasm"
