#!/usr/bin/env bash
# What idle feed followers cost: N long polls held on `GET /v1/records`
# (wait=30, each re-issued when it returns), and the server's CPU over a
# window with no change; then one change, which must release every one.
#
#   host/benches/idle-followers.sh [followers] [seconds]   (default 1000, 20)
#
# Prints the server's CPU share (user + system, of one core) with no
# followers and with them, and how many followers the change reached.
set -euo pipefail
cd "$(dirname "$0")/../.."
followers=${1:-1000}
seconds=${2:-20}
ulimit -n 8192
cargo build --release --locked -q -p tally
dir=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
base=http://127.0.0.1:$port
target/release/tally serve --data "$dir/data" --listen "127.0.0.1:$port" >"$dir/out" 2>"$dir/err" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.1; done
admin=$(sed -n 's/^admin token: //p' "$dir/out")
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
cpu() { # share of one core over $1 seconds
  local a b; a=$(ticks); sleep "$1"; b=$(ticks)
  awk -v d=$((b - a)) -v hz="$hz" -v s="$1" 'BEGIN { printf "%.2f %%", 100 * d / hz / s }'
}
echo "no followers: $(cpu "$seconds") CPU over ${seconds}s"
cursor=$(curl -sf "$base/v1/records?after=0&limit=10000" -H "Authorization: $admin" \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).cursor))')
BASE=$base ADMIN=$admin CURSOR=$cursor N=$followers node -e '
  const http = require("http");
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  let open = 0, released = 0, reported = false;
  function poll(after) {
    http.get(`${process.env.BASE}/v1/records?after=${after}&wait=30`,
      { agent, headers: { authorization: process.env.ADMIN } }, (res) => {
        let s = ""; res.on("data", (d) => (s += d)).on("end", () => {
          const page = JSON.parse(s);
          if (page.changes.length) released++;
          poll(page.cursor);
        });
      }).on("error", (e) => { console.error(e.message); process.exit(1); });
  }
  for (let i = 0; i < +process.env.N; i++) { open++; poll(+process.env.CURSOR); }
  console.log(`followers: ${open} waiting`);
  process.on("SIGTERM", () => { console.log(`released by the change: ${released} of ${open}`); process.exit(0); });
' >"$dir/followers" 2>&1 &
node_pid=$!
sleep 3
echo "$followers followers: $(cpu "$seconds") CPU over ${seconds}s"
curl -sf -X POST "$base/v1/projects" -H "Authorization: $admin" -H 'content-type: application/json' \
  -d '{"id":"p","name":"P"}' >/dev/null
curl -sf -X POST "$base/v1/projects/p/environments" -H "Authorization: $admin" \
  -H 'content-type: application/json' -d '{"id":"e","name":"E"}' >/dev/null
sleep 2
kill -TERM $node_pid; wait $node_pid || true
cat "$dir/followers"
