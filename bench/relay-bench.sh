#!/usr/bin/env bash
# Latency when one site's own path breaks: the relay mesh's topology (tests/netns/topology.sh: sites s1 s2 s3 and
# an upstream namespace on a bridge, with a primary upstream and a backup in another "region") with 10% loss, 30%
# loss, a blackhole, a flapping link (2 s down, 2 s up) on s1's direct link to the upstreams, or the primary killed.
# Five systems serve the same requests from a client inside s1, one after the other:
#   manypaths          3 Manypaths nodes with the product's defaults: only 'health: { path: /healthz }' and
#                      'relay: true' in the service (no hedge, timeouts, mesh or health tuning): what users run
#   manypaths-tuned    the same nodes tuned for this network (fast probes, hedging after 50 ms, short timeouts)
#   manypaths-direct   the tuned config with relay: false (no way around the broken link)
#   haproxy            a tuned HAProxy in s1 straight to the upstreams
#   haproxy+squid      HAProxy in s1 through a Squid in every site: its own Squid first, the others as backups,
#                      health-checked through each Squid (the hand-built setup Manypaths replaces)
# Each fault run: open-loop GETs at --rate for --seconds, a new connection per request (bench/PathLoad times
# every request from its scheduled start, failures included); as in the acceptance run, 35 s per run with the
# fault from 5 s to 25 s (--fault-window), so its onset, its whole length and the recovery are all measured; then
# the system gets --recover seconds before the next run. --distance adds real round trips with
# packet-level delay (NFQUEUE, ../shared/tools/nfq_delay.c; TCP stays end to end): 250 ms from every site to the
# upstreams, 60 ms between sites; its faults are blackhole, flap and kill, and it writes its own section.
# Writes the relay-bench (or relay-bench-distance) section of docs/BENCHMARKS.md. Not part of CI. Root only;
# traffic stays in the namespaces (10.250.0.0/16, blackholed in the root namespace); every process it starts is
# stopped by PID and the namespaces are deleted on exit.
#
#   bench/relay-bench.sh [--no-build] [--distance] [--rate 200] [--seconds 35] [--fault-window 5-25]
#                        [--recover 4] [--systems "a b"] [--faults "none blackhole"] [--no-write]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=1 RATE=200 SECONDS_PER_RUN=35 FAULT_START=5 FAULT_END=25 RECOVER=4 WRITE=1 DISTANCE=0 FAULTS=
SYSTEMS="manypaths manypaths-tuned manypaths-direct haproxy haproxy+squid"
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --distance) DISTANCE=1 ;;
    --faults) FAULTS=$2; shift ;;
    --rate) RATE=$2; shift ;;
    --seconds) SECONDS_PER_RUN=${2%s}; shift ;;
    --recover) RECOVER=${2%s}; shift ;;
    --fault-window) FAULT_START=${2%-*}; FAULT_END=${2#*-}; shift ;;
    --systems) SYSTEMS=$2; shift ;;
    --no-write) WRITE=0 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "root only (network namespaces)" >&2; exit 1; }
if [ -z "$FAULTS" ]; then
  if [ "$DISTANCE" -eq 1 ]; then FAULTS="none blackhole flap kill"; else FAULTS="none loss10 loss30 blackhole flap kill"; fi
fi
SECTION=relay-bench
[ "$DISTANCE" -eq 0 ] || SECTION=relay-bench-distance
NFQ_SOURCE=${NFQ_SOURCE:-$ROOT/../shared/tools/nfq_delay.c}
COUNT=$(( RATE * SECONDS_PER_RUN ))
[ "$FAULT_START" -lt "$FAULT_END" ] && [ "$FAULT_END" -le "$SECONDS_PER_RUN" ] || { echo "--fault-window must be START-END within --seconds" >&2; exit 2; }

need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v squid >/dev/null || need+=(squid)
command -v nft >/dev/null || need+=(nftables)
command -v curl >/dev/null || need+=(curl)
if [ "$DISTANCE" -eq 1 ]; then
  command -v iptables-legacy >/dev/null || need+=(iptables)
  [ -f /usr/include/libnetfilter_queue/libnetfilter_queue.h ] || need+=(libnetfilter-queue-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

MANYPATHS_DLL=${MANYPATHS_DLL:-$ROOT/src/Manypaths/bin/Release/net10.0/manypaths.dll}
UPSTREAM_DLL=$ROOT/bench/Upstream/bin/Release/net10.0/Upstream.dll
LOAD_DLL=$ROOT/bench/PathLoad/bin/Release/net10.0/PathLoad.dll
. "$ROOT/bench/lib.sh"
bench_build "$BUILD" src/Manypaths bench/Upstream bench/PathLoad
bench_require "$MANYPATHS_DLL" "$UPSTREAM_DLL" "$LOAD_DLL"

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

if [ "$DISTANCE" -eq 1 ]; then
  # 250 ms from every site to the upstreams and 60 ms between sites: each site delays its own egress (the whole
  # round trip to the upstreams on one side, half of it each way between sites). The fault's nft rules act first.
  [ -f "$NFQ_SOURCE" ] || { echo "no $NFQ_SOURCE: set NFQ_SOURCE to nfq_delay.c" >&2; exit 1; }
  cc -O2 -o "$WORK/nfq_delay" "$NFQ_SOURCE" -lnetfilter_queue -lnfnetlink
  for i in 0 1 2; do
    netns_start "${NS_ALL[$i]}" "$WORK/nfq-up-s$((i+1)).log" "$WORK/nfq_delay" 1 250
    netns_start "${NS_ALL[$i]}" "$WORK/nfq-peer-s$((i+1)).log" "$WORK/nfq_delay" 2 30
    ip netns exec "${NS_ALL[$i]}" iptables-legacy -A OUTPUT -d "$UPSTREAM_ADDR" -j NFQUEUE --queue-num 1 --queue-bypass
    for j in 0 1 2; do
      [ "$i" = "$j" ] || ip netns exec "${NS_ALL[$i]}" iptables-legacy -A OUTPUT -d "${NS_ADDR[$j]}" -j NFQUEUE --queue-num 2 --queue-bypass
    done
  done
fi

# The primary upstream (port 9000) and a backup in another region (port 9001), both behind the upstream namespace.
start_upstream() { netns_start "$NS_UP" "$WORK/upstream-$1.log" dotnet "$UPSTREAM_DLL" "$UPSTREAM_ADDR:$1"; }
start_upstream 9000; PRIMARY_PID=$NS_STARTED_PID
start_upstream 9001
for port in 9000 9001; do
  for _ in $(seq 150); do in_s1 curl -sf --max-time 2 "http://$UPSTREAM_ADDR:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
done

# --- the systems under test, each serving http://127.0.0.1:8080/ inside s1
netns_secrets "$WORK"
manypaths_config() { # defaults | tuned-relay | tuned-direct
  if [ "$1" = defaults ]; then
    netns_cluster_yaml bench defaults
    cat <<YAML
services:
  control:
    listen: 127.0.0.1:8080
    relay: true
    upstreams:
      - { name: use1, url: http://$UPSTREAM_ADDR:9000, region: us-east }
      - { name: euw1, url: http://$UPSTREAM_ADDR:9001, region: eu-west, tier: backup }
    health: { path: /healthz }
YAML
    return
  fi
  netns_cluster_yaml bench
  cat <<YAML
services:
  control:
    relay: $([ "$1" = tuned-relay ] && echo true || echo false)
    listen: 127.0.0.1:8080
    upstreams:
      - { name: use1, url: http://$UPSTREAM_ADDR:9000, region: us-east }
      - { name: euw1, url: http://$UPSTREAM_ADDR:9001, region: eu-west, tier: backup }
    health: { path: /healthz, interval: $TUNED_INTERVAL, fast_interval: 100ms, timeout: $TUNED_CHECK_TIMEOUT, rise: 3, fall: 1 }
    passive: { failures: 1 }
    timeouts: { connect: $TUNED_CONNECT, first_byte: $TUNED_FIRST_BYTE }
    retries: 3
    hedge: { delay: $TUNED_HEDGE, max_attempts: 2 }
YAML
}
# Tuned for the network: at 250 ms round trips the short timeouts of the loopback tuning would cut every request.
if [ "$DISTANCE" -eq 1 ]; then
  TUNED_INTERVAL=1s TUNED_CONNECT=600ms TUNED_FIRST_BYTE=1500ms TUNED_CHECK_TIMEOUT=700ms TUNED_HEDGE=350ms HA_CONNECT=600ms HA_CHECK=700ms HA_INTER=1s
else
  TUNED_INTERVAL=300ms TUNED_CONNECT=100ms TUNED_FIRST_BYTE=800ms TUNED_CHECK_TIMEOUT=250ms TUNED_HEDGE=50ms HA_CONNECT=100ms HA_CHECK=250ms HA_INTER=300ms
fi
haproxy_config() { # direct|squid
  haproxy_head 127.0.0.1:8080 "retries 3" "option redispatch 1" "timeout connect $HA_CONNECT" "timeout check $HA_CHECK" \
    "timeout client 30s" "timeout server 5s" "default-server inter $HA_INTER fastinter 100ms downinter $HA_INTER fall 2 rise 3"
  if [ "$1" = direct ]; then
    echo "  option httpchk GET /healthz"
    echo "  server use1 $UPSTREAM_ADDR:9000 check"
    echo "  server euw1 $UPSTREAM_ADDR:9001 check backup"
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
    manypaths|manypaths-tuned|manypaths-direct)
      case "$name" in manypaths) manypaths_config defaults ;; manypaths-tuned) manypaths_config tuned-relay ;; *) manypaths_config tuned-direct ;; esac >"$WORK/manypaths.yaml"
      for i in 0 1 2; do
        netns_start "${NS_ALL[$i]}" "$WORK/$name-s$((i+1)).log" dotnet "$MANYPATHS_DLL" run --config "$WORK/manypaths.yaml" --node "s$((i+1))" --log-level "${BENCH_LOG_LEVEL:-Information}"
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
  echo "$name did not become ready in 60 s" >&2; tail -n 5 "$WORK"/*.log >&2; exit 1
}
ready_paths() {
  [ "$1" = manypaths ] || [ "$1" = manypaths-tuned ] || return 0
  in_s1 curl -sf --max-time 1 http://127.0.0.1:7500/api/status 2>/dev/null | python3 -c '
import json, sys
paths = json.load(sys.stdin)["services"][0]["paths"]
sys.exit(0 if {"direct", "s2", "s3"} <= {p["via"] or "direct" for p in paths if p["state"] == "up"} else 1)' 2>/dev/null
}
stop_system() { local pid; for pid in "${SYSTEM_PIDS[@]}"; do netns_stop "$pid"; done; SYSTEM_PIDS=(); }

relayed() { # requests s1 sent through a peer so far (Manypaths only)
  case "$1" in manypaths|manypaths-*) in_s1 curl -s --max-time 2 http://127.0.0.1:7500/metrics | awk '/^manypaths_relayed_requests_total/ { s += $2 } END { print s + 0 }' ;; *) echo "" ;; esac
}

apply_fault() { # FAULT
  case "$1" in
    none) netns_fault none ;;
    loss10) netns_fault loss 10 ;;
    loss30) netns_fault loss 30 ;;
    blackhole) netns_fault blackhole ;;
    flap) # blackhole 2 s, healthy 2 s, ... for at most the run's length
      ( for _ in $(seq $(( (FAULT_END - FAULT_START + 3) / 4 ))); do netns_fault blackhole; sleep 2; netns_fault none; sleep 2; done ) &
      FLAP_PID=$! ;;
    kill) kill -KILL "$PRIMARY_PID" 2>/dev/null || true ;; # the primary region's upstream dies
  esac
}
lift_fault() {
  if [ -n "$FLAP_PID" ]; then kill "$FLAP_PID" 2>/dev/null || true; wait "$FLAP_PID" 2>/dev/null || true; FLAP_PID=; fi
  netns_fault none
  if ! kill -0 "$PRIMARY_PID" 2>/dev/null; then
    wait "$PRIMARY_PID" 2>/dev/null || true
    start_upstream 9000; PRIMARY_PID=$NS_STARTED_PID
    for _ in $(seq 150); do in_s1 curl -sf --max-time 2 "http://$UPSTREAM_ADDR:9000/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  fi
}

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
for system in $SYSTEMS; do
  echo "== $system"
  start_system "$system"
  in_s1 env PATHLOAD_NEW_CONNECTIONS=1 dotnet "$LOAD_DLL" http://127.0.0.1:8080/ "$RATE" $((RATE * 5)) 5 >"$WORK/warmup-$system.json" 2>/dev/null  # the system's JIT and connections
  for fault in $FAULTS; do
    r0=$(relayed "$system")
    rm -f "$WORK/run.err"
    in_s1 env PATHLOAD_NEW_CONNECTIONS=1 PATHLOAD_TRACE="$WORK/trace-$system-$fault.txt" dotnet "$LOAD_DLL" http://127.0.0.1:8080/ "$RATE" "$COUNT" 5 300 >"$WORK/run.json" 2>"$WORK/run.err" &
    load_pid=$!
    for _ in $(seq 300); do grep -q measuring "$WORK/run.err" 2>/dev/null && break; sleep 0.05; done
    sleep "$FAULT_START"
    apply_fault "$fault"
    sleep $(( FAULT_END - FAULT_START ))
    lift_fault
    wait "$load_pid"
    r1=$(relayed "$system")
    case "$system" in manypaths*) in_s1 curl -s --max-time 2 http://127.0.0.1:7500/metrics >"$WORK/metrics-$system-$fault.txt" || true ;; esac
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

export TUNED_INTERVAL TUNED_HEDGE TUNED_CONNECT TUNED_FIRST_BYTE RESULTS RATE SECONDS_PER_RUN FAULT_START FAULT_END COUNT RECOVER WRITE ROOT SECTION DISTANCE
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
label = {"none": "no fault", "loss10": "10% loss", "loss30": "30% loss", "blackhole": "blackhole",
         "flap": "flapping (2 s down, 2 s up)", "kill": "primary upstream killed"}
names = {"manypaths": "**manypaths (defaults)**", "manypaths-tuned": "manypaths, tuned", "manypaths-direct": "manypaths, tuned, relay off",
         "haproxy": "haproxy, tuned", "haproxy+squid": "haproxy+squid, tuned"}
distance = env["DISTANCE"] == "1"
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
title = ("## Relay mesh at distance: 250 ms to the upstreams, 60 ms between sites" if distance
         else "## Relay mesh: latency when one site's direct path breaks")
L = [title, "",
     f"Generated by `bench/relay-bench.sh{' --distance' if distance else ''}` on {now} ({env['V_GIT']}; HAProxy {env['V_HAPROXY']}, "
     f"Squid {env['V_SQUID']}, kernel {env['KERNEL']}); do not edit by hand, rerun the script. Topology `tests/netns/topology.sh`: "
     "sites s1 s2 s3 and an upstream namespace on one bridge, with the primary upstream (us-east) and a backup (eu-west, "
     "tier backup) there; the fault is on s1's direct link to the upstreams only (nftables in s1: `numgen random` drops "
     "in both directions, or a blackhole), or kills the primary. "
     + ("Every site's packets to the upstreams wait 250 ms and to the other sites 30 ms each way (NFQUEUE, "
        "`../shared/tools/nfq_delay.c`, so TCP stays end to end and a blackhole still looks like one). " if distance else "")
     + "The client runs in s1: `bench/PathLoad`, open loop, "
     f"{env['RATE']} GET/s for {env['SECONDS_PER_RUN']} s ({env['COUNT']} requests), a new connection per request, 5 s client "
     "timeout, each timed from its scheduled start (failures count with the time they took). The fault lasts "
     f"from {env['FAULT_START']} s to {env['FAULT_END']} s of each run, so its onset, its length and the recovery are all in the "
     f"figures; then the system gets {env['RECOVER']} s before the next run.", "",
     "Systems: **manypaths (defaults)** = 3 nodes whose service says only `health: { path: /healthz }` and `relay: "
     "true` (no hedge, timeouts, mesh or health tuning: the product's defaults); **manypaths, tuned** = the same nodes "
     f"with probes every {env['TUNED_INTERVAL']}, hedging after {env['TUNED_HEDGE']}, connect/first-byte timeouts "
     f"{env['TUNED_CONNECT']}/{env['TUNED_FIRST_BYTE']} for this network; **relay off** = the "
     "tuned config with `relay: false`; **haproxy** = HAProxy in s1 straight to the upstreams (tuned timeouts, 3 "
     "retries, redispatch, fast checks, fall 2 rise 3); **haproxy+squid** = the same HAProxy through a Squid in every "
     "site, its own first and the other two as backups. "
     + ("Targets for the defaults: 0 failed, p99 within the no-fault p99 + 100 ms, max within the no-fault max + 1 s."
        if distance else "Targets for the defaults: 0 failed, p99 under 100 ms, max under 1 s in every fault."), "",
     "| fault | system | ok | failed | p50 (ms) | p90 (ms) | p99 (ms) | p99.9 (ms) | max (ms) | through a peer |",
     "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
for f in faults:
    for s in systems:
        r = by.get((s, f))
        if r is None:
            continue
        peer = "" if r["relayed"] is None else f"{r['relayed']:,}"
        L.append(f"| {label.get(f, f)} | {names.get(s, s)} | {r['ok']:,} | {r['failed']:,} | {r['p50']:.1f} | {r['p90']:.1f} | "
                 f"**{r['p99']:.1f}** | {r['p999']:.1f} | {r['max']:.1f} | {peer} |")
if distance and ("manypaths", "none") in by:
    base = by[("manypaths", "none")]
    verdicts = []
    for f in faults:
        r = by.get(("manypaths", f))
        if r is None or f == "none":
            continue
        ok = r["failed"] == 0 and r["p99"] <= base["p99"] + 100 and r["max"] <= base["max"] + 1000
        verdicts.append(f"{label.get(f, f)}: {r['failed']} failed, p99 {r['p99'] - base['p99']:+.0f} ms, max {r['max'] - base['max']:+.0f} ms "
                        f"against no fault ({'within' if ok else 'NOT within'} the target)")
    L += ["", "The defaults against their own no-fault run: " + "; ".join(verdicts) + "."]
elif not distance:
    verdicts = []
    for f in faults:
        r = by.get(("manypaths", f))
        if r is None:
            continue
        ok = r["failed"] == 0 and r["p99"] < 100 and r["max"] < 1000
        verdicts.append(f"{label.get(f, f)}: {'within' if ok else 'NOT within'}")
    if verdicts:
        L += ["", "The defaults against the target (0 failed, p99 under 100 ms, max under 1 s): " + "; ".join(verdicts) + "."]
L += ["", "A failed request is a non-200 answer, a connection error or the 5 s client timeout. The percentiles "
      "include failures with the time they took, so a system that fails fast (an immediate 503) can show a low p99: read "
      "it together with `failed`. `through a peer` counts s1's relayed attempts (hedges included) during the run."]
sys.path.insert(0, os.path.join(env["ROOT"], "bench"))
from benchmd import publish
publish(env["SECTION"], L)
PY
