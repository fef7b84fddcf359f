#!/usr/bin/env bash
# Probe cost of the relay mesh: N nodes each probing U upstreams over HTTP and pinging N-1 peers over UDP, i.e.
# N*U probes and N*(N-1) pings (plus as many pongs) per interval: O(N^2 + N*U), never O(N^2*U) (a relayed path's
# health is derived from the link and the peer's own view). All nodes run in one process (bench/ProbeCost), the
# simulated upstreams in another (bench/Upstream on a port range), so the nodes' process CPU divided by N is the
# CPU per node; the upstreams' CPU is reported beside it. Writes the probe-cost section of docs/BENCHMARKS.md.
# The warm-up matters: at a few probes per second .NET's tiered JIT keeps recompiling for tens of seconds (perf
# showed it as most of an idle node's CPU), so a short warm-up measures start-up, not the steady state.
# Not part of CI. Loopback only; every process it starts is stopped by PID on exit.
#
#   bench/probe-cost.sh [--no-build] [--seconds 30] [--warmup 30] [--no-write] [--only "NODES UPSTREAMS INTERVAL HEARTBEAT"]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=1 SECS=30 WARMUP=30 WRITE=1 ONLY=
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --seconds) SECS=${2%s}; shift ;;
    --warmup) WARMUP=${2%s}; shift ;;
    --no-write) WRITE=0 ;;
    --only) ONLY=$2; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# Rows: nodes upstreams health_interval heartbeat [fresh]. The first is the target point; the second is one node
# alone in its own process (what a real node costs, runtime included); "fresh" opens a connection per probe
# (reuse_connection: false); the others show how the cost scales.
ROWS=(
  "10 200 1s 1s"
  "1 200 1s 1s"
  "10 200 1s 1s fresh"
  "10 200 1s 200ms"
  "5 200 1s 1s"
  "10 100 1s 1s"
  "20 200 1s 1s"
  "10 200 2s 200ms"
)
if [ -n "$ONLY" ]; then ROWS=("$ONLY"); fi

COST_DLL=$ROOT/bench/ProbeCost/bin/Release/net10.0/ProbeCost.dll
UPSTREAM_DLL=$ROOT/bench/Upstream/bin/Release/net10.0/Upstream.dll
if [ "$BUILD" -eq 1 ]; then
  echo "building Release: bench/ProbeCost (with src/Manypaths), bench/Upstream"
  for p in bench/ProbeCost bench/Upstream; do dotnet build -c Release "$p" -nologo -v quiet >/dev/null; done
fi
for dll in "$COST_DLL" "$UPSTREAM_DLL"; do [ -f "$dll" ] || { echo "not built: $dll" >&2; exit 1; }; done

WORK=$(mktemp -d /tmp/probe-cost.XXXXXX)
UP_PID=
cleanup() {
  if [ -n "$UP_PID" ]; then
    kill -TERM "$UP_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$UP_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$UP_PID" 2>/dev/null || true
    wait "$UP_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ports below the ephemeral range (so our own outgoing connections cannot take them): upstreams from 21000,
# node ports (mesh, admin, listen) from 24000.
UP_BASE=21000 NODE_BASE=24000 MAX_UP=200
dotnet "$UPSTREAM_DLL" "127.0.0.1:$UP_BASE-$((UP_BASE + MAX_UP - 1))" >"$WORK/upstream.log" 2>&1 &
UP_PID=$!
for _ in $(seq 100); do curl -sf --max-time 1 "http://127.0.0.1:$((UP_BASE + MAX_UP - 1))/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/cluster.key"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/admin.token"

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
for row in "${ROWS[@]}"; do
  read -r N U INTERVAL HEARTBEAT FRESH <<<"$row"
  python3 - "$N" "$U" "$INTERVAL" "$HEARTBEAT" "$UP_BASE" "$NODE_BASE" "${FRESH:-}" >"$WORK/manypaths.yaml" <<'PY'
import sys
n, u, interval, heartbeat, up_base, node_base, fresh = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
n = int(n)
print("cluster: { name: probe-cost, secret_file: cluster.key, admin_token_file: admin.token, shutdown_grace: 1s }")
print(f"mesh: {{ heartbeat: {heartbeat}, dead_after: 3s }}")
print("nodes:")
for i in range(n):
    print(f"  n{i:02}: {{ mesh: http://127.0.0.1:{node_base + 3 * i}, admin: http://127.0.0.1:{node_base + 3 * i + 1}, region: r{i % 3} }}")
print("services:")
print("  svc:")
print("    relay: true")
print("    listen: { " + ", ".join(f"n{i:02}: 127.0.0.1:{node_base + 3 * i + 2}" for i in range(n)) + " }")
print(f"    health: {{ path: /healthz, interval: {interval}, timeout: 1s, reuse_connection: {'false' if fresh else 'true'} }}")
print("    upstreams:")
for j in range(u):
    print(f"      - {{ name: u{j:03}, url: http://127.0.0.1:{up_base + j} }}")
PY
  echo "== $N nodes x $U upstreams, health every $INTERVAL, heartbeat every $HEARTBEAT${FRESH:+, a fresh connection per probe}"
  dotnet "$COST_DLL" "$WORK/manypaths.yaml" "$SECS" "$WARMUP" "$UP_PID" | tee -a "$RESULTS"
done

export RESULTS WRITE ROOT SECS WARMUP
export V_GIT="$([ "$BUILD" -eq 1 ] && echo "built here from HEAD $(git rev-parse --short HEAD)" || echo prebuilt)"
export CPU_MODEL="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" NPROC="$(nproc)"
python3 - <<'PY'
import datetime, json, os, sys
env = os.environ
rows = [json.loads(l) for l in open(env["RESULTS"])]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
L = ["## Relay mesh: probe cost", "",
     f"Generated by `bench/probe-cost.sh` on {now} ({env['V_GIT']}; {env['NPROC']} x {env['CPU_MODEL']}); do not edit by "
     "hand, rerun the script. All nodes of the cluster run in one process (`bench/ProbeCost`: real UDP heartbeats, real "
     "HTTP health probes), the simulated upstreams in another (`bench/Upstream` on a port "
     f"range), on loopback. Measured over {env['SECS']} s after every node saw every upstream and peer up and a "
     f"{env['WARMUP']} s warm-up. CPU per node = the nodes' process CPU / nodes (one runtime shared by all nodes; a node "
     "in its own process also pays its runtime's idle cost: the 1-node row is exactly that). Target: under 5% of one "
     "core per node at 1 s intervals.", "",
     "Cost per interval: N x U HTTP probes + N x (N-1) pings + as many pongs, i.e. O(N^2 + N*U). Each heartbeat also "
     "sends every peer the sender's view of every upstream (state datagrams of at most 1,200 bytes beside the ping), so "
     "heartbeat bytes grow as N^2 x U (about 30 bytes per view).", "",
     "| nodes | upstreams | health interval | heartbeat | probe connection | probes/s | expected N*U/interval | pings/s | heartbeat KB/s | CPU per node | nodes' process CPU (kernel part) | upstreams' CPU | gen0 GCs/s | memory (MB) |",
     "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
def secs(s):
    return f"{s:g} s" if s >= 1 else f"{s * 1000:g} ms"
for r in rows:
    expected = r["nodes"] * r["upstreams"] / r["health_interval_s"]
    up = "" if r["upstream_cpu_pct"] is None else f"{r['upstream_cpu_pct']:.1f}%"
    L.append(f"| {r['nodes']} | {r['upstreams']} | {secs(r['health_interval_s'])} | {secs(r['heartbeat_s'])} | {'kept alive' if r['reuse_connection'] else 'fresh per probe'} | {r['probes_per_s']:,.0f} | "
             f"{expected:,.0f} | {r['pings_per_s']:,.0f} | {r['heartbeat_bytes_per_s'] / 1024:,.0f} | **{r['cpu_pct_per_node']:.2f}%** | "
             f"{r['process_cpu_pct']:.1f}% ({r['process_kernel_cpu_pct']:.1f}%) | {up} | {r['gen0_gcs_per_s']:.1f} | {r['working_set_mb']} |")
sys.path.insert(0, os.path.join(env["ROOT"], "bench"))
from benchmd import publish
publish("probe-cost", L)
PY
