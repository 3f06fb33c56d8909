#!/usr/bin/env bash
# The OpenAPI document is valid and true: openapi-spec-validator on the file
# and on what the server serves, then Schemathesis against a live `tally
# serve` (fresh data dir, its admin token) with every check on, a fixed seed
# and a bounded number of examples.
#
#   TALLY_BIN=target/debug/tally PY=.venv/bin bash tests/openapi/run.sh
#
# What is narrowed, and why, is in schemathesis.toml beside this file.
# Operations that need data Schemathesis cannot make (an installation's id,
# a token's id) answer 404 to made-up ids; Schemathesis warns about them
# ("missing test data"), and the integration tests cover them.
set -euo pipefail
cd "$(dirname "$0")/../.."
tally="${TALLY_BIN:-target/debug/tally}"
py="${PY:-.venv/bin}"
seed="${SCHEMATHESIS_SEED:-20261205}"
examples="${SCHEMATHESIS_EXAMPLES:-25}"

"$py/openapi-spec-validator" host/openapi.json

work=$(mktemp -d)
"$tally" serve --data "$work/data" --listen 127.0.0.1:0 --throttle-failures 0 >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do
  grep -q '^listening on ' "$work/out" && break
  sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$work/out")
admin=$(sed -n 's/^admin token: //p' "$work/out")
[ -n "$base" ] && [ -n "$admin" ] || { cat "$work/err"; echo "tally did not start"; exit 1; }

"$py/python" -c 'import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1]).read())' \
  "$base/v1/openapi.json" >"$work/served.json"
cmp "$work/served.json" host/openapi.json
"$py/openapi-spec-validator" "$work/served.json"

NO_COLOR=1 "$py/schemathesis" --config-file tests/openapi/schemathesis.toml run host/openapi.json --url "$base" \
  --header "Authorization: $admin" \
  --seed "$seed" --max-examples "$examples" \
  --request-timeout 10 --no-color --output-truncate false
