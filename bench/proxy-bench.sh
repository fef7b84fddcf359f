#!/usr/bin/env bash
# Proxy overhead: Manypaths vs a bare YARP forwarder vs HAProxy, all forwarding to the same upstream on 127.0.0.1.
# Runs interleaved rounds of wrk against each proxy, takes the medians, and writes the section between
# <!-- proxy-bench:start --> and <!-- proxy-bench:end --> in docs/BENCHMARKS.md (other sections are left alone).
# Not part of CI. Only loopback traffic; every process it starts is stopped by PID on exit.
#
#   bench/proxy-bench.sh                       # build Release (src/Manypaths, bench/BareYarp, bench/Upstream), run, write
#   bench/proxy-bench.sh --no-build            # use what is already built
#   MANYPATHS_DLL=/tmp/mp-release/manypaths.dll bench/proxy-bench.sh --no-build
#
# Options: --no-build, --rounds N (default 5, at least 5), --duration SECONDS (wrk -d, default 5),
#          --connections N (wrk -c, default 32), --warmup SECONDS (per proxy, default 20), --no-write (print only).
# Warm-up: interleaved 2 s wrk runs (Manypaths, YARP, HAProxy, ...) for --warmup seconds per proxy. On one core,
# .NET's tiered JIT needs ~15-25 s under load (and the idle gaps interleaving gives) before req/s settles.
# Environment: MANYPATHS_DLL, BAREYARP_DLL, UPSTREAM_DLL override the built assemblies.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BUILD=1 ROUNDS=5 DURATION=5 CONNECTIONS=32 WARMUP=20 WRITE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --rounds) ROUNDS=$2; shift ;;
    --duration) DURATION=${2%s}; shift ;;
    --connections) CONNECTIONS=$2; shift ;;
    --warmup) WARMUP=${2%s}; shift ;;
    --no-write) WRITE=0 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$ROUNDS" -lt 5 ]; then echo "--rounds must be at least 5 (medians of fewer rounds are noise)" >&2; exit 2; fi

MANYPATHS_DLL=${MANYPATHS_DLL:-$ROOT/src/Manypaths/bin/Release/net10.0/manypaths.dll}
BAREYARP_DLL=${BAREYARP_DLL:-$ROOT/bench/BareYarp/bin/Release/net10.0/BareYarp.dll}
UPSTREAM_DLL=${UPSTREAM_DLL:-$ROOT/bench/Upstream/bin/Release/net10.0/Upstream.dll}
PYTHON=/usr/bin/python3

. "$ROOT/bench/lib.sh"
bench_install haproxy:haproxy wrk:wrk curl:curl taskset:util-linux
bench_build "$BUILD" src/Manypaths bench/BareYarp bench/Upstream
bench_require "$MANYPATHS_DLL" "$BAREYARP_DLL" "$UPSTREAM_DLL"

# --- processes we start, stopped by PID on any exit
WORK=$(mktemp -d /tmp/proxy-bench.XXXXXX)
cleanup() {
  bench_stop_all
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- CPU layout
NPROC=$(nproc)
if [ "$NPROC" -ge 2 ]; then
  LOAD_CPU=0 PROXY_CPU=1
  PINNING="the proxy under test runs alone on CPU 1; wrk (one thread) and the upstream share CPU 0. Why: the figure wanted is what one core of proxy forwards, so every proxy gets the same dedicated core and the same neighbours, and nothing it does competes with the load generator or the upstream (the .NET proxies see one CPU, HAProxy runs nbthread 1). The cost: a proxy faster than CPU 0 can load and serve is held back by CPU 0; the proxy CPU column shows when that happened (well below 100% means the proxy was not the bottleneck, its req/s is a lower bound, and req/s per proxy core is the fairer comparison)."
else
  LOAD_CPU=0 PROXY_CPU=0
  PINNING="one CPU only: wrk, the upstream and the proxy share CPU 0, so these figures compare whole-system cost per request, not the proxy alone."
fi
read -r P_UP P_MP P_ADMIN P_YARP P_HAP P_MP2 P_ADMIN2 P_MP3 P_ADMIN3 < <(bench_free_ports 9)
# The nodes keep their history where systemd would put it (StateDirectory=): here, in the run's own folder.
export STATE_DIRECTORY="$WORK/state"
UPSTREAM_URL="http://127.0.0.1:$P_UP"
EXPECT="Hello from the Manypaths bench upstream."

wait_for() { # LABEL PID URL LOG: until URL answers with the upstream's body (30 s at most)
  local label=$1 pid=$2 url=$3 log=$4 deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "$label exited early; its log:" >&2; tail -20 "$log" >&2; exit 1; fi
    if curl -fsS --max-time 1 "$url" 2>/dev/null | grep -qF "$EXPECT"; then return 0; fi
    sleep 0.2
  done
  echo "$label did not serve $url within 30 s; its log:" >&2; tail -20 "$log" >&2; exit 1
}

# --- upstream
bench_start "$LOAD_CPU" "$WORK/upstream.log" dotnet "$UPSTREAM_DLL" "127.0.0.1:$P_UP"
UP_PID=$STARTED_PID
wait_for upstream "$UP_PID" "$UPSTREAM_URL/" "$WORK/upstream.log"

# --- Manypaths: one node, one service, an active health check; defaults otherwise
manypaths_yaml() { # ADMIN_PORT LISTEN_PORT UPSTREAM_NAME...: every upstream is the bench upstream
  local admin=$1 listen=$2 name
  shift 2
  printf 'cluster: { name: bench-%s, shutdown_grace: 1s }\nnodes:\n  bench: { admin: http://127.0.0.1:%s }\n' "$listen" "$admin"
  printf 'services:\n  bench:\n    listen: 127.0.0.1:%s\n    upstreams:\n' "$listen"
  for name in "$@"; do printf '      - { name: %s, url: %s }\n' "$name" "$UPSTREAM_URL"; done
  printf '    health: { path: /healthz, interval: 2s, timeout: 1s }\n'
}
manypaths_yaml "$P_ADMIN" "$P_MP" up >"$WORK/manypaths.yaml"
bench_start "$PROXY_CPU" "$WORK/manypaths.log" dotnet "$MANYPATHS_DLL" run --config "$WORK/manypaths.yaml" --node bench
MP_PID=$STARTED_PID

# --- The same with its history off (status.history: false): the cost of the history, per request, is the gap.
{ manypaths_yaml "$P_ADMIN3" "$P_MP3" up; printf 'status: { history: false }\n'; } >"$WORK/manypaths3.yaml"
bench_start "$PROXY_CPU" "$WORK/manypaths3.log" dotnet "$MANYPATHS_DLL" run --config "$WORK/manypaths3.yaml" --node bench
MP3_PID=$STARTED_PID

# --- The same with two upstreams (both the same server): a request has somewhere else to go, so the attempt loop
# arms its hedge timer for every request (with one upstream it arms none). Still the defaults.
manypaths_yaml "$P_ADMIN2" "$P_MP2" a b >"$WORK/manypaths2.yaml"
bench_start "$PROXY_CPU" "$WORK/manypaths2.log" dotnet "$MANYPATHS_DLL" run --config "$WORK/manypaths2.yaml" --node bench
MP2_PID=$STARTED_PID

# --- bare YARP
bench_start "$PROXY_CPU" "$WORK/yarp.log" dotnet "$BAREYARP_DLL" "127.0.0.1:$P_YARP" "$UPSTREAM_URL/"
YARP_PID=$STARTED_PID

# --- HAProxy, single thread, foreground
haproxy_http_cfg "127.0.0.1:$P_HAP" roundrobin "up 127.0.0.1:$P_UP" >"$WORK/haproxy.cfg"
haproxy -c -q -f "$WORK/haproxy.cfg"
bench_start "$PROXY_CPU" "$WORK/haproxy.log" haproxy -f "$WORK/haproxy.cfg" -db
HAP_PID=$STARTED_PID

wait_for Manypaths "$MP_PID" "http://127.0.0.1:$P_MP/" "$WORK/manypaths.log"
wait_for "Manypaths (2 upstreams)" "$MP2_PID" "http://127.0.0.1:$P_MP2/" "$WORK/manypaths2.log"
wait_for "Manypaths (history off)" "$MP3_PID" "http://127.0.0.1:$P_MP3/" "$WORK/manypaths3.log"
wait_for "bare YARP" "$YARP_PID" "http://127.0.0.1:$P_YARP/" "$WORK/yarp.log"
wait_for HAProxy "$HAP_PID" "http://127.0.0.1:$P_HAP/" "$WORK/haproxy.log"

NAMES=(manypaths nohistory manypaths2 yarp haproxy)
declare -A PORT=([manypaths]=$P_MP [nohistory]=$P_MP3 [manypaths2]=$P_MP2 [yarp]=$P_YARP [haproxy]=$P_HAP)
declare -A PID_OF=([manypaths]=$MP_PID [nohistory]=$MP3_PID [manypaths2]=$MP2_PID [yarp]=$YARP_PID [haproxy]=$HAP_PID)

cpu_ticks() { # utime + stime of a process, in clock ticks; fails if it is not our process any more
  local comm; comm=$(cat "/proc/$1/comm")
  case "$comm" in dotnet|haproxy) ;; *) echo "PID $1 is '$comm', not a process this script started" >&2; return 1 ;; esac
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}
core_ticks() { # one CPU's ticks from /proc/stat: spent in processes (user, nice, system), stolen by the hypervisor, total
  awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4, $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

load() { # NAME SECONDS OUTFILE: one wrk run, plus the CPU the proxy and the upstream used meanwhile
  local name=$1 secs=$2 out=$3 pid=${PID_OF[$1]} c0 u0 t0 c1 u1 t1 b0 s0 n0 b1 s1 n1
  kill -0 "$pid" 2>/dev/null || { echo "$name is no longer running" >&2; exit 1; }
  c0=$(cpu_ticks "$pid"); u0=$(cpu_ticks "$UP_PID"); read -r b0 s0 n0 < <(core_ticks "$PROXY_CPU"); t0=$(date +%s%N)
  timeout $((secs + 30)) taskset -c "$LOAD_CPU" \
    wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --latency "http://127.0.0.1:${PORT[$name]}/" >"$out"
  t1=$(date +%s%N); c1=$(cpu_ticks "$pid"); u1=$(cpu_ticks "$UP_PID"); read -r b1 s1 n1 < <(core_ticks "$PROXY_CPU")
  echo "bench: proxy_ticks=$((c1 - c0)) upstream_ticks=$((u1 - u0)) core_busy=$((b1 - b0)) core_steal=$((s1 - s0)) core_total=$((n1 - n0)) wall_ns=$((t1 - t0))" >>"$out"
}

rps_of() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }

# Warm-up: interleaved 2 s runs, WARMUP seconds per proxy; the rates are kept for the report.
echo "warming up: $(( (WARMUP + 1) / 2 )) interleaved 2 s runs per proxy"
for i in $(seq 1 $(( (WARMUP + 1) / 2 ))); do
  for name in "${NAMES[@]}"; do load "$name" 2 "$WORK/warmup-$i-$name.txt"; done
done
for name in "${NAMES[@]}"; do
  printf 'warm-up %-9s req/s:' "$name"
  for i in $(seq 1 $(( (WARMUP + 1) / 2 ))); do printf ' %.0f' "$(rps_of "$WORK/warmup-$i-$name.txt")"; done
  echo
done
for round in $(seq 1 "$ROUNDS"); do
  for name in "${NAMES[@]}"; do
    load "$name" "$DURATION" "$WORK/round-$round-$name.txt"
    printf 'round %d %-9s %s\n' "$round" "$name" "$(grep -h '^Requests/sec' "$WORK/round-$round-$name.txt")"
  done
done

# --- versions and the report (every figure comes from the files above)
export WORK ROUNDS DURATION CONNECTIONS WARMUP NPROC PINNING WRITE PROXY_CPU
export BENCH_MD="$ROOT/docs/BENCHMARKS.md"
export ROOT
export V_DOTNET="$(dotnet --list-runtimes | awk '/^Microsoft.NETCore.App/ { v = $2 } END { print v }')"
export V_SDK="$(dotnet --version)"
export V_HAPROXY="$(haproxy -v | awk 'NR == 1 { print $3 }')"
export V_WRK="$(wrk -v 2>&1 | awk 'NR == 1 { print $2 }' || true)"
export V_YARP="$(grep -o 'Yarp.ReverseProxy" Version="[^"]*' Directory.Packages.props | sed 's/.*Version="//')"
export V_MANYPATHS="$(dotnet "$MANYPATHS_DLL" --version 2>/dev/null | head -1)"
if [ "$BUILD" -eq 1 ]; then  # only then is the DLL known to come from this working tree
  V_GIT="built here from HEAD $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$([ -z "$(git status --porcelain -- src 2>/dev/null)" ] || echo ' plus uncommitted changes in src')"
else
  V_GIT="prebuilt"
fi
export V_GIT
export MANYPATHS_DLL_SHOWN="${MANYPATHS_DLL#"$ROOT"/}"
export CPU_MODEL="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
export KERNEL="$(uname -r)"
export CLK_TCK="$(getconf CLK_TCK)"
export BODY_BYTES="$(curl -s "$UPSTREAM_URL/" | wc -c)"

"$PYTHON" - <<'PY'
import datetime, os, re, statistics, sys

env = os.environ
work, rounds = env["WORK"], int(env["ROUNDS"])
clk = int(env["CLK_TCK"])
names = [("manypaths", "**Manypaths (defaults)**"), ("nohistory", "Manypaths, history off (`status.history: false`)"), ("manypaths2", "Manypaths (defaults), 2 upstreams: hedge timers armed"), ("yarp", "bare YARP"), ("haproxy", "HAProxy")]
UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}

def parse(path):
    text = open(path).read()
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M).group(1))
    v, u = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\b", text, re.M).groups()
    b = dict(kv.split("=") for kv in re.search(r"^bench: (.*)$", text, re.M).group(1).split())
    wall = int(b["wall_ns"]) / 1e9
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    cpu = int(b["proxy_ticks"]) / clk / wall
    # Process time on the proxy's CPU not charged to the proxy: other processes (the idle proxies count too).
    other = max(0, int(b["core_busy"]) - int(b["proxy_ticks"])) / max(1, int(b["core_total"]))
    return {"rps": rps, "p99": float(v) * UNIT[u], "errors": errors, "cpu": cpu,
            "up_cpu": int(b["upstream_ticks"]) / clk / wall, "other": other,
            "steal": int(b["core_steal"]) / max(1, int(b["core_total"]))}

runs = {n: [parse(f"{work}/round-{r}-{n}.txt") for r in range(1, rounds + 1)] for n, _ in names}
med = {n: {k: statistics.median(x[k] for x in runs[n]) for k in ("rps", "p99", "cpu", "up_cpu", "other")} for n, _ in names}
for n, _ in names:
    med[n]["per_core"] = statistics.median(x["rps"] / max(x["cpu"], 1e-9) for x in runs[n])
other = max(x["other"] for n, _ in names for x in runs[n])
steal = max(x["steal"] for n, _ in names for x in runs[n])
base = med["yarp"]

def f_rps(x): return f"{x:,.0f}"
chunks = (int(env["WARMUP"]) + 1) // 2
warm = {n: [parse(f"{work}/warmup-{i}-{n}.txt")["rps"] for i in range(1, chunks + 1)] for n, _ in names}
# Still warming up when the rounds began: the first round is clearly below the median of the rounds.
cold = [label for n, label in names if runs[n][0]["rps"] < 0.9 * med[n]["rps"]]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
dur, conns = env["DURATION"], env["CONNECTIONS"]
L = []
L.append("## Proxy overhead: Manypaths vs bare YARP vs HAProxy")
L.append("")
L.append(f"Generated by `bench/proxy-bench.sh` on {now}; do not edit by hand, rerun the script. "
         f"`wrk -t1 -c{conns} -d{dur}s --latency` on `GET /` ({env['BODY_BYTES']}-byte body), {rounds} interleaved rounds "
         f"(each proxy in turn, repeated) after a warm-up of {chunks} interleaved 2 s runs per proxy; "
         "medians over the rounds.")
L.append("")
L.append("| proxy | median req/s | median p99 (ms) | req/s vs bare YARP | p99 vs bare YARP | proxy CPU | req/s per proxy core |")
L.append("|---|---:|---:|---:|---:|---:|---:|")
for n, label in names:
    m = med[n]
    L.append(f"| {label} | {f_rps(m['rps'])} | {m['p99']:.2f} | {m['rps'] / base['rps']:.2f}x | {m['p99'] / base['p99']:.2f}x "
             f"| {m['cpu'] * 100:.0f}% | {f_rps(m['per_core'])} |")
L.append("")
L.append(f"History costs {(1 - med['manypaths']['rps'] / med['nohistory']['rps']) * 100:+.1f}% of req/s (defaults, history on, vs history off; "
         f"the target is within 5%) and {(med['manypaths']['p99'] / med['nohistory']['p99'] - 1) * 100:+.1f}% of p99.")
L.append("")
L.append("Every round (req/s, p99 ms; proxy CPU):")
L.append("")
L.append("| proxy | " + " | ".join(f"round {r}" for r in range(1, rounds + 1)) + " |")
L.append("|---|" + "---:|" * rounds)
for n, label in names:
    cells = []
    for x in runs[n]:
        c = f"{f_rps(x['rps'])}, {x['p99']:.2f}; {x['cpu'] * 100:.0f}%"
        cells.append(c + (f" ({x['errors']} errors)" if x["errors"] else ""))
    L.append(f"| {label} | " + " | ".join(cells) + " |")
L.append("")
errs = sum(x["errors"] for n, _ in names for x in runs[n])
L.append("- Warm-up req/s, in order: " + "; ".join(f"{label} " + " ".join(f"{r / 1000:.1f}k" for r in warm[n]) for n, label in names)
         + (". " + ", ".join(cold) + " still got faster after the warm-up (round 1 is >10% below the median): the median is conservative."
            if cold else ". Round 1 was within 10% of the median for every proxy."))
L.append("- Errors (non-2xx responses, socket errors): " + ("none." if errs == 0 else f"{errs} in total; rounds with errors are marked above and their figures are suspect."))
L.append(f"- CPU pinning ({env['NPROC']} CPUs): {env['PINNING']} Upstream CPU during the runs (median): "
         + ", ".join(f"{label} {med[n]['up_cpu'] * 100:.0f}%" for n, label in names) + ". "
         + f"Time of CPU {env['PROXY_CPU']} taken by other processes during a run: at most {other * 100:.0f}%; stolen by the hypervisor: at most {steal * 100:.0f}%"
         + (" (something else shared the proxy's CPU: treat these figures with care)." if max(other, steal) > 0.10 else "."))
L.append(f"- Manypaths: `manypaths run` (`{env['MANYPATHS_DLL_SHOWN']}`, version {env['V_MANYPATHS'] or 'unknown'}, {env['V_GIT']}), "
         "one node, one service, one upstream, active health check `/healthz` every 2s, defaults otherwise "
         "(X-Forwarded-* and Via added, retries 2, hedging on, log level Information). With one upstream a request has "
         "nowhere else to go, so no hedge timer is armed; the 2-upstream row (both entries the same server) arms one "
         "for every GET, as a service with a backup or peers does.")
L.append("- bare YARP: `bench/BareYarp`, `IHttpForwarder.SendAsync` with `HttpTransformer.Default` and the same Kestrel "
         "(HTTP/1.1) and `SocketsHttpHandler` settings as Manypaths; no health checks, no added headers.")
L.append("- HAProxy: `nbthread 1`, `mode http`, keep-alive, `option httpchk GET /healthz` every 2s, no added headers.")
L.append(f"- Machine: {env['NPROC']} CPUs ({env['CPU_MODEL']}), Linux {env['KERNEL']}. Versions: .NET runtime {env['V_DOTNET']} "
         f"(SDK {env['V_SDK']}), YARP {env['V_YARP']}, HAProxy {env['V_HAPROXY']}, wrk {env['V_WRK']}.")
sys.path.insert(0, os.path.join(env["ROOT"], "bench"))
from benchmd import publish
publish("proxy-bench", L)
PY
