#!/usr/bin/env bash
# /v1/verify under load, on loopback, with wrk (Debian package `wrk`).
#
#   host/benches/verify-load.sh [soak-seconds]     (default 60)
#
# TALLY_SERVE_ARGS adds flags to `tally serve` (say `--no-decision-memo`, to
# measure every check through the plugin: wrk repeats one request, so with
# the memo on, a worker calls the plugin once a second).
#
# 1. builds tally (release) and starts it on a temp data dir, with the
#    default throttle on (good clients must not pay for it);
# 2. installs an app and exchanges its code for an app token (real flow);
# 3. max rate of GET /livez (204, touches nothing; without and with the
#    request headers a check carries) and of GET /v1/verify with that token,
#    TALLY_LOAD_SECONDS (default 6) each, 64 connections, with latency
#    percentiles; TALLY_LOAD_ROUNDS (default 5) interleaved rounds,
#    summarised by the median ratio;
# 4. a soak of /v1/verify at 80 % of the measured maximum (wrk paced by a Lua
#    delay), sampling the server's RSS every 5 s; reports errors and non-2xx.
set -euo pipefail
cd "$(dirname "$0")/../.."
soak=${1:-60}
command -v wrk >/dev/null || { echo "needs wrk: apt-get install -y wrk" >&2; exit 1; }
cargo build --release --locked -q -p tally
dir=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
base=http://127.0.0.1:$port
# shellcheck disable=SC2086 # TALLY_SERVE_ARGS is a list of flags
target/release/tally serve --data "$dir/data" --listen "127.0.0.1:$port" ${TALLY_SERVE_ARGS:-} >"$dir/out" 2>"$dir/err" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.1; done
admin=$(sed -n 's/^admin token: //p' "$dir/out")
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]))' "$1"; }
post() { curl -sf -X POST "$base$1" -H "Authorization: $admin" -H 'content-type: application/json' -d "$2"; }
post /v1/projects '{"id":"p","name":"P"}' >/dev/null
post /v1/projects/p/environments '{"id":"master","name":"M"}' >/dev/null
app=$(post /v1/apps '{"name":"load","setupUrl":"http://127.0.0.1:3000/setup","origins":["http://127.0.0.1:3000"],"grants":[{"api":"content","action":"read","models":["Post"]}]}')
inst=$(post /v1/environments/master/installations "{\"appId\":\"$(echo "$app" | json id)\"}")
token=$(curl -sf -X POST "$base/v1/app-exchange-token" -H 'content-type: application/json' \
  -d "{\"clientId\":\"$(echo "$app" | json clientId)\",\"clientSecret\":\"$(echo "$app" | json clientSecret)\",\"exchangeCode\":\"$(echo "$inst" | json setupCode)\"}" | json appToken)
headers=(-H "Authorization: AppToken $token" -H "X-Tally-Environment: master" -H "X-Tally-Action: read" -H "X-Tally-Model: Post")
[ "$(curl -s -o /dev/null -w '%{http_code}' "${headers[@]}" "$base/v1/verify")" = 200 ] || { echo "verify is not 200" >&2; exit 1; }

# Rounds, interleaved, because this machine's speed drifts by tens of
# percent from minute to minute: each round measures the bare route with no
# headers, the bare route with the very request /v1/verify gets (so the
# ratio is the check's own cost), and /v1/verify, TALLY_LOAD_SECONDS each
# (default 6), in the reverse order every other round (so a drift within a
# round favours neither side); the figure is the median over the rounds of
# each round's ratio. Shorter, more rounds (say 15 of 2 s) follow the
# machine's speed more closely.
rounds=${TALLY_LOAD_ROUNDS:-5}
seconds=${TALLY_LOAD_SECONDS:-6}
rps() { sed -n 's/^Requests\/sec: *//p' "$1"; }
run() {
  case $1 in
    livez) echo "== round $round: GET /livez (204), no request headers"
      wrk -t2 -c64 -d"${seconds}s" --latency "$base/livez" | tee "$dir/livez" ;;
    livez-h) echo "== round $round: GET /livez (204), the same headers as /v1/verify"
      wrk -t2 -c64 -d"${seconds}s" --latency "${headers[@]}" "$base/livez" | tee "$dir/livez-h" ;;
    verify) echo "== round $round: GET /v1/verify (200)"
      wrk -t2 -c64 -d"${seconds}s" --latency "${headers[@]}" "$base/v1/verify" | tee "$dir/verify" ;;
  esac
}
for round in $(seq "$rounds"); do
  if [ $((round % 2)) = 1 ]; then order="livez livez-h verify"; else order="verify livez-h livez"; fi
  for route in $order; do run "$route"; done
  bare=$(rps "$dir/livez"); bare_h=$(rps "$dir/livez-h"); verify=$(rps "$dir/verify")
  p99=$(sed -n 's/^ *99% *//p' "$dir/verify")
  echo "$round $bare $bare_h $verify $p99" >>"$dir/rounds"
done
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(l => l.split(" "));
const median = xs => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
console.log("| round | /livez | /livez with the check headers | /v1/verify | verify / bare | verify / bare with headers | p99 verify |");
console.log("|---|---|---|---|---|---|---|");
for (const [r, b, bh, v, p] of rows)
  console.log(`| ${r} | ${Math.round(b)}/s | ${Math.round(bh)}/s | ${Math.round(v)}/s | ${(v / b).toFixed(2)} | ${(v / bh).toFixed(2)} | ${p} |`);
console.log(`median verify / bare = ${median(rows.map(r => r[3] / r[1])).toFixed(2)}, median verify / bare with the same headers = ${median(rows.map(r => r[3] / r[2])).toFixed(2)}`);
' "$dir/rounds"

# Paced by a per-request delay on 256 connections: each connection sends one
# request per (delay + latency), so the delay is its share of the target
# rate less the ~1 ms a request takes here.
rate=$(node -e "console.log(Math.floor($verify * 0.8))")
conns=256
delay_ms=$(node -e "console.log(Math.max(1, Math.round($conns * 1000 / $rate) - 1))")
cat >"$dir/pace.lua" <<LUA
function delay() return $delay_ms end
LUA
echo "== soak: GET /v1/verify paced at ~$rate/s (80 %) for ${soak}s; RSS every 5 s"
( for _ in $(seq $((soak / 5))); do sleep 5; awk '/VmRSS/ {print "rss_kb", $2}' /proc/$pid/status; done ) &
sampler=$!
wrk -t2 -c$conns -d"${soak}s" --latency -s "$dir/pace.lua" "${headers[@]}" "$base/v1/verify" | tee "$dir/soak"
wait $sampler || true
grep -E 'Socket errors|Non-2xx' "$dir/soak" || echo "errors: 0, non-2xx: 0"
