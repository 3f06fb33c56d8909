#!/usr/bin/env bash
# Builds the verifier module (see ABI.md) and copies it to target/tally-verifier.wasm.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked -p verifier-core --target wasm32-unknown-unknown --profile wasm-release --features module
target_dir=$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
cp "$target_dir/wasm32-unknown-unknown/wasm-release/verifier_core.wasm" "$target_dir/tally-verifier.wasm"
echo "$target_dir/tally-verifier.wasm"
