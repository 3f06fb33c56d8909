#!/usr/bin/env bash
# The GraphQL content gateway under load, on loopback, with wrk: requests
# per second through `tally serve --upstream` (`POST /v2/blog/master`)
# against the same requests sent to the upstream directly (the example
# GraphQL content API, graphql-yoga, logging off).
#
#   host/benches/graphql-load.sh
#
# Release build; a token limited to its own posts (so every request is
# planned, checked, rewritten and its answer held), Post registered with a
# sensitive field; the query `{ posts { id title ownerId internalNotes } }`.
# TALLY_LOAD_ROUNDS (default 5) interleaved rounds of TALLY_LOAD_SECONDS
# (default 6) each, wrk with 2 threads and 32 connections; the figure is the
# median of the per-round ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "needs wrk: apt-get install -y wrk" >&2; exit 1; }
[ -d examples/graphql-content-api/node_modules ] || (cd examples/graphql-content-api && npm ci --no-audit --no-fund >/dev/null)
cargo build --release --locked -q -p tally
dir=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
up=$((port + 1))
base=http://127.0.0.1:$port
PORT=$up QUIET=1 node examples/graphql-content-api/server.mjs >"$dir/up" 2>&1 &
upid=$!
target/release/tally serve --data "$dir/data" --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$up" >"$dir/out" 2>"$dir/err" &
pid=$!
trap 'kill $pid $upid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q listening "$dir/out" 2>/dev/null && grep -q "content API on" "$dir/up" 2>/dev/null && break; sleep 0.1; done
admin=$(sed -n 's/^admin token: //p' "$dir/out")
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]))' "$1"; }
call() { curl -sf -X "$1" "$base$2" -H "Authorization: $admin" -H 'content-type: application/json' -d "$3"; }
call POST /v1/projects '{"id":"blog","name":"Blog"}' >/dev/null
call POST /v1/projects/blog/environments '{"id":"master","name":"M"}' >/dev/null
call PUT /v1/environments/master/models/Post '{"apiIdPlural":"Posts","ownerField":"ownerId","sensitiveFields":["internalNotes"]}' >/dev/null
token=$(call POST /v1/tokens '{"kind":"PAT","name":"load","environmentId":"master","grants":[{"api":"content","action":"read","models":["Post"],"condition":{"ownerId":"user:1"}}]}' | json token)
cat >"$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer $token"
wrk.body = '{"query":"{ posts { id title ownerId internalNotes } }"}'
LUA
answer=$(curl -sf -X POST "$base/v2/blog/master" -H "Authorization: Bearer $token" -H 'content-type: application/json' -d '{"query":"{ posts { id title ownerId internalNotes } }"}')
echo "$answer" | grep -q '"internalNotes":null' || { echo "the gateway does not answer as expected: $answer" >&2; exit 1; }

rounds=${TALLY_LOAD_ROUNDS:-5}
seconds=${TALLY_LOAD_SECONDS:-6}
rps() { sed -n 's/^Requests\/sec: *//p' "$1"; }
run() {
  case $1 in
    direct) echo "== round $round: the upstream directly"
      wrk -t2 -c32 -d"${seconds}s" --latency -s "$dir/post.lua" "http://127.0.0.1:$up/v2/blog/master" | tee "$dir/direct" ;;
    gateway) echo "== round $round: through the gateway"
      wrk -t2 -c32 -d"${seconds}s" --latency -s "$dir/post.lua" "$base/v2/blog/master" | tee "$dir/gateway" ;;
  esac
}
for round in $(seq "$rounds"); do
  if [ $((round % 2)) = 1 ]; then order="direct gateway"; else order="gateway direct"; fi
  for route in $order; do run "$route"; done
  echo "$round $(rps "$dir/direct") $(rps "$dir/gateway")" >>"$dir/rounds"
done
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(l => l.split(" "));
const median = xs => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
console.log("| round | upstream directly | through the gateway | ratio |");
console.log("|---|---|---|---|");
for (const [r, d, g] of rows) console.log(`| ${r} | ${Math.round(d)}/s | ${Math.round(g)}/s | ${(g / d).toFixed(2)} |`);
console.log(`median gateway / direct = ${median(rows.map(r => r[2] / r[1])).toFixed(2)}`);
' "$dir/rounds"
