#!/usr/bin/env bash
# Builds the verifier module (see ABI.md) and copies it to target/tally-verifier.wasm.
# Same command and target dir as host/build.rs, so the host and the npm
# package ship the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
CARGO_TARGET_DIR="$target_dir/verifier-module" \
  cargo build --locked -p verifier-core --target wasm32-unknown-unknown --profile wasm-release --features module
cp "$target_dir/verifier-module/wasm32-unknown-unknown/wasm-release/verifier_core.wasm" "$target_dir/tally-verifier.wasm"
echo "$target_dir/tally-verifier.wasm"
