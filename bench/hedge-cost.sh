#!/usr/bin/env bash
# What hedging costs in steady state: extra requests that reach the upstreams when nothing is broken, only slow.
# Two upstreams of one tier on 127.0.0.1, both answering every GET / after the same delay (uniformly slow:
# UPSTREAM_DELAY_MS + up to UPSTREAM_JITTER_MS); open-loop GETs at --rate for --seconds through each system:
#   manypaths          one node, the product's defaults (hedging on: after the path's p95, within the hedge budget)
#   manypaths-off      the same with 'hedge: off' (every extra request above it is hedging's)
#   manypaths-eager    'hedge: { delay: 10ms }', a tuned row: a fixed delay far below the latency, so only the
#                      budget stops hedges (what the budget holds when the delay is wrong)
#   haproxy            HAProxy, round robin over the same two upstreams (it has no hedging)
# The upstreams count the requests that arrive (GET /_count); extra = upstream requests / client requests - 1.
# Writes the hedge-cost section of docs/BENCHMARKS.md. Not part of CI. Loopback only; every process it starts is
# stopped by PID on exit.
#
#   bench/hedge-cost.sh [--no-build] [--rate 200] [--seconds 30] [--systems "manypaths haproxy"] [--no-write]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=1 RATE=200 SECONDS_PER_RUN=30 WRITE=1
SYSTEMS="manypaths manypaths-off manypaths-eager haproxy"
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --rate) RATE=$2; shift ;;
    --seconds) SECONDS_PER_RUN=${2%s}; shift ;;
    --systems) SYSTEMS=$2; shift ;;
    --no-write) WRITE=0 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
COUNT=$(( RATE * SECONDS_PER_RUN ))
WARMUP=300
# Uniformly slow upstreams: "delay jitter" in ms, each answer after delay + uniform(0..jitter).
SCENARIOS=("100 20" "50 200")

. "$ROOT/bench/lib.sh"
bench_install haproxy:haproxy curl:curl
MANYPATHS_DLL=${MANYPATHS_DLL:-$ROOT/src/Manypaths/bin/Release/net10.0/manypaths.dll}
UPSTREAM_DLL=$ROOT/bench/Upstream/bin/Release/net10.0/Upstream.dll
LOAD_DLL=$ROOT/bench/PathLoad/bin/Release/net10.0/PathLoad.dll
bench_build "$BUILD" src/Manypaths bench/Upstream bench/PathLoad
bench_require "$MANYPATHS_DLL" "$UPSTREAM_DLL" "$LOAD_DLL"

WORK=$(mktemp -d /tmp/hedge-cost.XXXXXX)
PIDS=()
stop_pid() { # PID: TERM, then KILL after 5 s; only processes this script started
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() { local pid; for pid in "${PIDS[@]}"; do stop_pid "$pid"; done; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
STARTED_PID=
start() { local log=$1; shift; "$@" >"$log" 2>&1 & STARTED_PID=$!; PIDS+=("$STARTED_PID"); }

read -r P_UP1 P_UP2 P_PROXY P_ADMIN < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks: s.close()')

wait_url() { # URL PID LOG
  local deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    kill -0 "$2" 2>/dev/null || { echo "exited early; its log:" >&2; tail -20 "$3" >&2; exit 1; }
    curl -sf --max-time 2 "$1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "$1 did not answer in 60 s" >&2; tail -20 "$3" >&2; exit 1
}
upstream_count() { echo $(( $(curl -s --max-time 2 "http://127.0.0.1:$P_UP1/_count") + $(curl -s --max-time 2 "http://127.0.0.1:$P_UP2/_count") )); }
hedges() { # RESULT: manypaths_hedges counter for that result, 0 if absent
  curl -s --max-time 2 "http://127.0.0.1:$P_ADMIN/metrics" | awk -v r="result=\"$1\"" '/^manypaths_hedges/ && index($0, r) { s += $NF } END { print s + 0 }'
}

manypaths_yaml() { # HEDGE_LINE
  cat <<YAML
cluster: { name: hedge-cost, shutdown_grace: 1s }
nodes:
  bench: { admin: http://127.0.0.1:$P_ADMIN }
services:
  slow:
    listen: 127.0.0.1:$P_PROXY
    upstreams:
      - { name: a, url: http://127.0.0.1:$P_UP1 }
      - { name: b, url: http://127.0.0.1:$P_UP2 }
    health: { path: /healthz }
$1
YAML
}

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
for scenario in "${SCENARIOS[@]}"; do
  read -r delay jitter <<<"$scenario"
  echo "== upstreams answer after $delay ms + up to $jitter ms"
  start "$WORK/up1.log" env UPSTREAM_DELAY_MS=$delay UPSTREAM_JITTER_MS=$jitter dotnet "$UPSTREAM_DLL" "127.0.0.1:$P_UP1"; UP1=$STARTED_PID
  start "$WORK/up2.log" env UPSTREAM_DELAY_MS=$delay UPSTREAM_JITTER_MS=$jitter dotnet "$UPSTREAM_DLL" "127.0.0.1:$P_UP2"; UP2=$STARTED_PID
  wait_url "http://127.0.0.1:$P_UP1/healthz" "$UP1" "$WORK/up1.log"
  wait_url "http://127.0.0.1:$P_UP2/healthz" "$UP2" "$WORK/up2.log"
  for system in $SYSTEMS; do
    case "$system" in
      manypaths) manypaths_yaml "" >"$WORK/manypaths.yaml" ;;
      manypaths-off) manypaths_yaml "    hedge: off" >"$WORK/manypaths.yaml" ;;
      manypaths-eager) manypaths_yaml "    hedge: { delay: 10ms }" >"$WORK/manypaths.yaml" ;;
      haproxy)
        haproxy_http_cfg "127.0.0.1:$P_PROXY" roundrobin "a 127.0.0.1:$P_UP1" "b 127.0.0.1:$P_UP2" >"$WORK/haproxy.cfg"
        haproxy -c -q -f "$WORK/haproxy.cfg" ;;
      *) echo "unknown system: $system" >&2; exit 2 ;;
    esac
    if [ "$system" = haproxy ]; then
      start "$WORK/$system.log" haproxy -f "$WORK/haproxy.cfg" -db
    else
      start "$WORK/$system.log" dotnet "$MANYPATHS_DLL" run --config "$WORK/manypaths.yaml" --node bench
    fi
    SYS=$STARTED_PID
    wait_url "http://127.0.0.1:$P_PROXY/" "$SYS" "$WORK/$system.log"
    u0=$(upstream_count)
    h0=(0 0 0); h1=(0 0 0)
    case "$system" in manypaths*) h0=("$(hedges started)" "$(hedges won)" "$(hedges denied)") ;; esac
    dotnet "$LOAD_DLL" "http://127.0.0.1:$P_PROXY/" "$RATE" "$COUNT" 5 "$WARMUP" >"$WORK/run.json" 2>/dev/null
    u1=$(upstream_count)
    case "$system" in manypaths*) h1=("$(hedges started)" "$(hedges won)" "$(hedges denied)") ;; esac
    stop_pid "$SYS"
    python3 - "$WORK/run.json" "$system" "$delay" "$jitter" "$((COUNT + WARMUP))" "$((u1 - u0))" \
      "$((h1[0] - h0[0]))" "$((h1[1] - h0[1]))" "$((h1[2] - h0[2]))" >>"$RESULTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
system, delay, jitter, sent, arrived, started, won, denied = sys.argv[2], *map(int, sys.argv[3:])
r.update(system=system, delay=delay, jitter=jitter, sent=sent, arrived=arrived, hedges=started, won=won, denied=denied)
print(json.dumps(r))
PY
    tail -1 "$RESULTS" | python3 -c 'import json, sys; r = json.load(sys.stdin); print("  {system:<16} sent {sent}  upstream got {arrived} ({x:+.2f}%)  hedges {hedges} won {won} denied {denied}  p99 {p99} ms".format(x=100 * (r["arrived"] / r["sent"] - 1), **r))'
  done
  stop_pid "$UP1"; stop_pid "$UP2"
done

export RESULTS RATE SECONDS_PER_RUN COUNT WARMUP WRITE ROOT
export V_HAPROXY="$(haproxy -v | awk 'NR == 1 { print $3 }')"
export V_GIT="$([ "$BUILD" -eq 1 ] && echo "built here from HEAD $(git rev-parse --short HEAD)" || echo prebuilt)"
python3 - <<'PY'
import datetime, json, os, sys
env = os.environ
rows = [json.loads(l) for l in open(env["RESULTS"])]
names = {"manypaths": "**manypaths (defaults)**", "manypaths-off": "manypaths, hedge: off",
         "manypaths-eager": "manypaths, tuned: hedge delay 10 ms", "haproxy": "haproxy (no hedging)"}
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
L = ["## Hedging cost: extra upstream requests in steady state", "",
     f"Generated by `bench/hedge-cost.sh` on {now} ({env['V_GIT']}; HAProxy {env['V_HAPROXY']}); do not edit by hand, "
     "rerun the script. Two upstreams of one tier on 127.0.0.1 (`bench/Upstream`), both uniformly slow: every GET / "
     "answered after the delay plus a uniform jitter; nothing fails. `bench/PathLoad` sends GETs open loop at "
     f"{env['RATE']}/s for {env['SECONDS_PER_RUN']} s ({env['COUNT']} requests, after {env['WARMUP']} warm-up requests "
     "that are counted too) through one Manypaths node or HAProxy; the upstreams count what arrives. `extra` = upstream "
     "requests / client requests - 1. Target for the defaults: under 5%. The defaults hedge after the path's own p95 "
     "(about 5% of requests wait that long) within a budget of 0.05 hedge per request (burst 10; a hedge that loses "
     "costs one more), so the budget, not the delay, is the bound.", "",
     "| upstreams answer after | system | client requests | upstream requests | extra | hedges | won | denied by the budget | p50 (ms) | p99 (ms) | max (ms) |",
     "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    extra = 100 * (r["arrived"] / r["sent"] - 1)
    hedged = r["system"].startswith("manypaths") and r["system"] != "manypaths-off"
    h = lambda k: f"{r[k]:,}" if hedged else ""
    L.append(f"| {r['delay']}-{r['delay'] + r['jitter']} ms | {names.get(r['system'], r['system'])} | {r['sent']:,} | {r['arrived']:,} | "
             f"**{extra:+.2f}%** | {h('hedges')} | {h('won')} | {h('denied')} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} |")
sys.path.insert(0, os.path.join(env["ROOT"], "bench"))
from benchmd import publish
publish("hedge-cost", L)
PY
