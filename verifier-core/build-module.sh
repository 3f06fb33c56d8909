#!/usr/bin/env bash
# Builds the verifier module (see ABI.md) and copies it to target/tally-verifier.wasm.
# Same command and target dir as host/build.rs, so the host and the npm
# package ship the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
# The module's own rustflags (wasm SIMD for sha2's SHA-256, more inlining:
# see module.rustflags), set as host/build.rs sets them: they replace any
# RUSTFLAGS of the environment, so both build the same bytes.
CARGO_ENCODED_RUSTFLAGS="$(grep -v -e '^[[:space:]]*$' -e '^[[:space:]]*#' verifier-core/module.rustflags | paste -sd $'\x1f' -)" \
CARGO_TARGET_DIR="$target_dir/verifier-module" \
  cargo build --locked -p verifier-core --target wasm32-unknown-unknown --profile wasm-release --features module
cp "$target_dir/verifier-module/wasm32-unknown-unknown/wasm-release/verifier_core.wasm" "$target_dir/tally-verifier.wasm"
echo "$target_dir/tally-verifier.wasm"
