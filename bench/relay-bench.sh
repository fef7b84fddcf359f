#!/usr/bin/env bash
# Latency when one site's own path breaks: the relay mesh's topology (tests/netns/topology.sh: sites s1 s2 s3 and
# an upstream namespace on a bridge) with 10% loss, 30% loss, a blackhole and a flapping link on s1's direct link
# to the upstream. Four systems serve the same requests from a client inside s1, one after the other:
#   manypaths-relay   3 Manypaths nodes, relay on (direct first, through s2/s3 when that is better), hedging on
#   manypaths-direct  the same nodes and config with relay: false (no way around the broken link)
#   haproxy           a tuned HAProxy in s1 straight to the upstream
#   haproxy+squid     HAProxy in s1 through a Squid in every site: its own Squid first, the others as backups,
#                     health-checked through each Squid (the hand-built setup Manypaths replaces)
# Each fault run: open-loop GETs at --rate for --seconds (bench/PathLoad times every request from its scheduled
# start, failures included); the fault starts 1 s into the run, so its onset is measured too; then it is lifted
# and the system gets --recover seconds. Writes the relay-bench section of docs/BENCHMARKS.md. Not part of CI.
# Root only; traffic stays in the namespaces (10.250.0.0/16, blackholed in the root namespace); every process it
# starts is stopped by PID and the namespaces are deleted on exit.
#
#   bench/relay-bench.sh [--no-build] [--rate 200] [--seconds 10] [--recover 4] [--systems "a b"] [--no-write]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=1 RATE=200 SECONDS_PER_RUN=10 RECOVER=4 WRITE=1
SYSTEMS="manypaths-relay manypaths-direct haproxy haproxy+squid"
FAULTS="none loss10 loss30 blackhole flap"
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --rate) RATE=$2; shift ;;
    --seconds) SECONDS_PER_RUN=${2%s}; shift ;;
    --recover) RECOVER=${2%s}; shift ;;
    --systems) SYSTEMS=$2; shift ;;
    --no-write) WRITE=0 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "root only (network namespaces)" >&2; exit 1; }
COUNT=$(( RATE * SECONDS_PER_RUN ))

need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v squid >/dev/null || need+=(squid)
command -v nft >/dev/null || need+=(nftables)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

MANYPATHS_DLL=${MANYPATHS_DLL:-$ROOT/src/Manypaths/bin/Release/net10.0/manypaths.dll}
UPSTREAM_DLL=$ROOT/bench/Upstream/bin/Release/net10.0/Upstream.dll
LOAD_DLL=$ROOT/bench/PathLoad/bin/Release/net10.0/PathLoad.dll
if [ "$BUILD" -eq 1 ]; then
  echo "building Release: src/Manypaths, bench/Upstream, bench/PathLoad"
  for p in src/Manypaths bench/Upstream bench/PathLoad; do dotnet build -c Release "$p" -nologo -v quiet >/dev/null; done
fi
for dll in "$MANYPATHS_DLL" "$UPSTREAM_DLL" "$LOAD_DLL"; do [ -f "$dll" ] || { echo "not built: $dll" >&2; exit 1; }; done

. "$ROOT/tests/netns/topology.sh"
WORK=$(mktemp -d /tmp/relay-bench.XXXXXX)
chmod 755 "$WORK"
FLAP_PID=
cleanup() {
  if [ -n "$FLAP_PID" ]; then kill "$FLAP_PID" 2>/dev/null || true; wait "$FLAP_PID" 2>/dev/null || true; fi
  netns_down
  if [ -n "${KEEP_LOGS:-}" ]; then rm -rf "$KEEP_LOGS"; cp -r "$WORK" "$KEEP_LOGS"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
netns_up
in_s1() { ip netns exec "$NS_S1" "$@"; }

netns_start "$NS_UP" "$WORK/upstream.log" dotnet "$UPSTREAM_DLL" "$UPSTREAM_ADDR:9000"
for _ in $(seq 100); do in_s1 curl -sf --max-time 1 "http://$UPSTREAM_ADDR:9000/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

# --- the systems under test, each serving http://127.0.0.1:8080/ inside s1
netns_secrets "$WORK"
manypaths_config() { # RELAY(true|false)
  netns_cluster_yaml bench
  cat <<YAML
services:
  control:
    relay: $1
    listen: 127.0.0.1:8080
    upstreams:
      - { name: aws, url: http://$UPSTREAM_ADDR:9000 }
    health: { path: /healthz, interval: 300ms, fast_interval: 100ms, timeout: 250ms, rise: 3, fall: 1 }
    passive: { failures: 1 }
    timeouts: { connect: 100ms, first_byte: 800ms }
    retries: 3
    hedge: { delay: 50ms, max_attempts: 2 }
YAML
}
haproxy_config() { # direct|squid
  cat <<CFG
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  retries 3
  option redispatch 1
  timeout connect 100ms
  timeout check 250ms
  timeout client 30s
  timeout server 5s
  default-server inter 300ms fastinter 100ms downinter 300ms fall 2 rise 3
frontend bench
  bind 127.0.0.1:8080
  default_backend up
backend up
CFG
  if [ "$1" = direct ]; then
    echo "  option httpchk GET /healthz"
    echo "  server aws $UPSTREAM_ADDR:9000 check"
  else
    echo "  option httpchk"
    echo "  http-check send meth GET uri http://$UPSTREAM_ADDR:9000/healthz ver HTTP/1.1 hdr Host $UPSTREAM_ADDR:9000"
    echo "  http-request set-uri http://$UPSTREAM_ADDR:9000%[pathq]"
    echo "  server squid-s1 10.250.0.1:3128 check"
    echo "  server squid-s2 10.250.0.2:3128 check backup"
    echo "  server squid-s3 10.250.0.3:3128 check backup"
  fi
}
squid_config() { # SITE_INDEX(1..3)
  cat <<CFG
http_port 10.250.0.$1:3128
acl sites src 10.250.0.0/16
http_access allow sites
http_access deny all
cache deny all
access_log none
cache_log $WORK/squid-s$1/cache.log
pid_filename $WORK/squid-s$1/squid.pid
coredump_dir $WORK/squid-s$1
shutdown_lifetime 1 seconds
connect_timeout 1 seconds
CFG
}

SYSTEM_PIDS=()
start_system() { # NAME: start it and wait until 8080 in s1 answers (and, with relaying, both peers' paths are up)
  local name=$1 i
  SYSTEM_PIDS=()
  case "$name" in
    manypaths-relay|manypaths-direct)
      manypaths_config "$([ "$name" = manypaths-relay ] && echo true || echo false)" >"$WORK/manypaths.yaml"
      for i in 0 1 2; do
        netns_start "${NS_ALL[$i]}" "$WORK/$name-s$((i+1)).log" dotnet "$MANYPATHS_DLL" run --config "$WORK/manypaths.yaml" --node "s$((i+1))"
        SYSTEM_PIDS+=("$NS_STARTED_PID")
      done ;;
    haproxy|haproxy+squid)
      if [ "$name" = haproxy+squid ]; then
        for i in 1 2 3; do
          mkdir -p "$WORK/squid-s$i" && chown proxy:proxy "$WORK/squid-s$i"
          squid_config "$i" >"$WORK/squid-s$i.conf"
          netns_start "${NS_ALL[$((i-1))]}" "$WORK/squid-s$i.log" squid -N -f "$WORK/squid-s$i.conf"
          SYSTEM_PIDS+=("$NS_STARTED_PID")
        done
        haproxy_config squid >"$WORK/haproxy.cfg"
      else
        haproxy_config direct >"$WORK/haproxy.cfg"
      fi
      haproxy -c -q -f "$WORK/haproxy.cfg"
      netns_start "$NS_S1" "$WORK/$name.log" haproxy -f "$WORK/haproxy.cfg" -db
      SYSTEM_PIDS+=("$NS_STARTED_PID") ;;
    *) echo "unknown system: $name" >&2; exit 2 ;;
  esac
  local deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    if in_s1 curl -sf --max-time 1 http://127.0.0.1:8080/ >/dev/null 2>&1 && ready_paths "$name"; then return 0; fi
    sleep 0.2
  done
  echo "$name did not become ready in 60 s" >&2; tail -5 "$WORK"/*.log >&2; exit 1
}
ready_paths() {
  [ "$1" = manypaths-relay ] || return 0
  in_s1 curl -sf --max-time 1 http://127.0.0.1:7500/api/status 2>/dev/null | python3 -c '
import json, sys
paths = json.load(sys.stdin)["services"][0]["paths"]
sys.exit(0 if {"direct", "s2", "s3"} <= {p["via"] or "direct" for p in paths if p["state"] == "up"} else 1)' 2>/dev/null
}
stop_system() { local pid; for pid in "${SYSTEM_PIDS[@]}"; do netns_stop "$pid"; done; SYSTEM_PIDS=(); }

relayed() { # requests s1 sent through a peer so far (Manypaths only)
  case "$1" in manypaths-*) in_s1 curl -s --max-time 2 http://127.0.0.1:7500/metrics | awk '/^manypaths_relayed_requests_total/ { s += $2 } END { print s + 0 }' ;; *) echo "" ;; esac
}

apply_fault() { # FAULT
  case "$1" in
    none) netns_fault none ;;
    loss10) netns_fault loss 10 ;;
    loss30) netns_fault loss 30 ;;
    blackhole) netns_fault blackhole ;;
    flap) # blackhole 2 s, healthy 2 s, ... for at most the run's length
      ( for _ in $(seq $(( (SECONDS_PER_RUN + 3) / 4 ))); do netns_fault blackhole; sleep 2; netns_fault none; sleep 2; done ) &
      FLAP_PID=$! ;;
  esac
}
lift_fault() {
  if [ -n "$FLAP_PID" ]; then kill "$FLAP_PID" 2>/dev/null || true; wait "$FLAP_PID" 2>/dev/null || true; FLAP_PID=; fi
  netns_fault none
}

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
for system in $SYSTEMS; do
  echo "== $system"
  start_system "$system"
  in_s1 dotnet "$LOAD_DLL" http://127.0.0.1:8080/ "$RATE" $((RATE * 5)) 5 >"$WORK/warmup-$system.json" 2>/dev/null  # the system's JIT and connections
  for fault in $FAULTS; do
    r0=$(relayed "$system")
    rm -f "$WORK/run.err"
    in_s1 dotnet "$LOAD_DLL" http://127.0.0.1:8080/ "$RATE" "$COUNT" 5 300 >"$WORK/run.json" 2>"$WORK/run.err" &
    load_pid=$!
    for _ in $(seq 300); do grep -q measuring "$WORK/run.err" 2>/dev/null && break; sleep 0.05; done
    sleep 1
    apply_fault "$fault"
    wait "$load_pid"
    lift_fault
    r1=$(relayed "$system")
    python3 - "$WORK/run.json" "$system" "$fault" "${r0:-}" "${r1:-}" >>"$RESULTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
system, fault, r0, r1 = sys.argv[2:6]
r.update(system=system, fault=fault, relayed=(int(float(r1)) - int(float(r0))) if r0 and r1 else None)
print(json.dumps(r))
PY
    tail -1 "$RESULTS" | python3 -c 'import json, sys; r = json.load(sys.stdin); print("  {fault:<10} ok {ok}/{count}  p50 {p50} ms  p99 {p99} ms  max {max} ms  relayed {relayed}".format(**r))'
    sleep "$RECOVER"
  done
  stop_system
done

export RESULTS RATE SECONDS_PER_RUN COUNT RECOVER WRITE ROOT
export V_HAPROXY="$(haproxy -v | awk 'NR == 1 { print $3 }')"
export V_SQUID="$(squid -v | awk 'NR == 1 { print $4 }')"
export V_GIT="$([ "$BUILD" -eq 1 ] && echo "built here from HEAD $(git rev-parse --short HEAD)" || echo prebuilt)"
export KERNEL="$(uname -r)"
python3 - <<'PY'
import datetime, json, os, sys
env = os.environ
rows = [json.loads(l) for l in open(env["RESULTS"])]
systems = list(dict.fromkeys(r["system"] for r in rows))
faults = list(dict.fromkeys(r["fault"] for r in rows))
by = {(r["system"], r["fault"]): r for r in rows}
label = {"none": "no fault", "loss10": "10% loss", "loss30": "30% loss", "blackhole": "blackhole", "flap": "flapping (2 s down, 2 s up)"}
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
L = ["## Relay mesh: latency when one site's direct path breaks", "",
     f"Generated by `bench/relay-bench.sh` on {now} ({env['V_GIT']}; HAProxy {env['V_HAPROXY']}, Squid {env['V_SQUID']}, "
     f"kernel {env['KERNEL']}); do not edit by hand, rerun the script. Topology `tests/netns/topology.sh`: sites s1 s2 s3 and "
     "an upstream namespace on one bridge; the fault is on s1's direct link to the upstream only (nftables in s1: "
     "`numgen random` drops in both directions, or a blackhole). The client runs in s1: `bench/PathLoad`, open loop, "
     f"{env['RATE']} GET/s for {env['SECONDS_PER_RUN']} s ({env['COUNT']} requests), 5 s client timeout, each timed from "
     "its scheduled start (failures count with the time they took). The fault starts 1 s into each run, so its onset "
     f"is in the figures; then it is lifted and the system gets {env['RECOVER']} s to recover.", "",
     "Systems: **manypaths-relay** = 3 nodes, relay on, hedging after 50 ms; **manypaths-direct** = the same with "
     "`relay: false`; **haproxy** = HAProxy in s1 straight to the upstream (connect 100 ms, 3 retries, redispatch, "
     "checks every 300 ms / 100 ms, fall 2 rise 3); **haproxy+squid** = the same HAProxy through a Squid in every "
     "site, its own first and the other two as backups, health-checked through each Squid. Target: p99 under 100 ms "
     "with relaying in every fault.", "",
     "| fault | system | ok | failed | p50 (ms) | p90 (ms) | p99 (ms) | p99.9 (ms) | max (ms) | through a peer |",
     "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
for f in faults:
    for s in systems:
        r = by.get((s, f))
        if r is None:
            continue
        peer = "" if r["relayed"] is None else f"{r['relayed']:,}"
        L.append(f"| {label.get(f, f)} | {s} | {r['ok']:,} | {r['failed']:,} | {r['p50']:.1f} | {r['p90']:.1f} | "
                 f"**{r['p99']:.1f}** | {r['p999']:.1f} | {r['max']:.1f} | {peer} |")
L += ["", "A failed request is a non-200 answer, a connection error or the 5 s client timeout. The percentiles "
      "include failures with the time they took, so a system that fails fast (an immediate 503) can show a low p99: read "
      "it together with `failed`. `through a peer` counts s1's relayed attempts (hedges included) during the run."]
sys.path.insert(0, os.path.join(env["ROOT"], "bench"))
from benchmd import publish
publish("relay-bench", L)
PY
