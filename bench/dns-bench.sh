#!/usr/bin/env bash
# Authoritative DNS: dnsperf against Manypaths (a health-aware failover record over two health-checked upstreams,
# and a static record), PowerDNS with the bind backend (the same static zone) and PowerDNS with an `ifurlup` Lua
# record (its health-aware answer), interleaved rounds, medians. Writes the section between
# <!-- dns-bench:start --> and <!-- dns-bench:end --> in docs/BENCHMARKS.md. Not part of CI. Loopback only; every
# process it starts is stopped by PID on exit.
#
#   bench/dns-bench.sh                  # build Release (src/Manypaths, bench/Upstream), run, write
#   bench/dns-bench.sh --no-build       # use what is already built
#
# Options: --no-build, --rounds N (default 3), --seconds N (dnsperf -l, default 10), --clients N (dnsperf -c,
#          default 4), --no-write (print only). Environment: MANYPATHS_DLL, UPSTREAM_DLL.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BUILD=1 ROUNDS=3 SECS=10 CLIENTS=4 WRITE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --rounds) ROUNDS=$2; shift ;;
    --seconds) SECS=$2; shift ;;
    --clients) CLIENTS=$2; shift ;;
    --no-write) WRITE=0 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

MANYPATHS_DLL=${MANYPATHS_DLL:-$ROOT/src/Manypaths/bin/Release/net10.0/manypaths.dll}
UPSTREAM_DLL=${UPSTREAM_DLL:-$ROOT/bench/Upstream/bin/Release/net10.0/Upstream.dll}
. "$ROOT/bench/lib.sh"
bench_install dnsperf:dnsperf pdns_server:pdns-server taskset:util-linux curl:curl dig:dnsutils
[ -e /usr/lib/x86_64-linux-gnu/pdns/libbindbackend.so ] || ls /usr/lib/*/pdns/libbindbackend.so >/dev/null 2>&1 || bench_install pdns_bind_marker:pdns-backend-bind
bench_build "$BUILD" src/Manypaths bench/Upstream
bench_require "$MANYPATHS_DLL" "$UPSTREAM_DLL"

WORK=$(mktemp -d /tmp/dns-bench.XXXXXX)
cleanup() { bench_stop_all; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "$(nproc)" -ge 2 ]; then LOAD_CPU=0 SERVER_CPU=1; else LOAD_CPU=0 SERVER_CPU=0; fi

read -r P_UP1 P_UP2 P_MP_DNS P_MP_ADMIN P_MP_PROXY P_PDNS P_LUA < <(bench_free_ports 7)

# --- two health-checked upstreams (the same tiny server, two ports)
bench_start "$LOAD_CPU" "$WORK/up1.log" dotnet "$UPSTREAM_DLL" "127.0.0.1:$P_UP1"
bench_start "$LOAD_CPU" "$WORK/up2.log" dotnet "$UPSTREAM_DLL" "127.0.0.1:$P_UP2"

# --- Manypaths: defaults (health every 2 s), a failover record and a static one
cat >"$WORK/manypaths.yaml" <<YAML
cluster: { name: dns-bench, shutdown_grace: 1s }
nodes:
  bench: { admin: http://127.0.0.1:$P_MP_ADMIN }
services:
  control:
    listen: 127.0.0.1:$P_MP_PROXY
    upstreams:
      - { name: a, url: http://127.0.0.1:$P_UP1, dns_address: 192.0.2.1 }
      - { name: b, url: http://127.0.0.1:$P_UP2, dns_address: 192.0.2.2, tier: backup }
dns:
  listen: 127.0.0.1:$P_MP_DNS
  zones:
    example.test:
      ttl: 20s
      records:
        - { name: "@", type: NS, values: [ns1.example.test.] }
        - { name: ns1, type: A, values: [127.0.0.1] }
        - { name: www, type: A, policy: failover, service: control }
        - { name: fixed, type: A, values: [192.0.2.1] }
YAML
bench_start "$SERVER_CPU" "$WORK/manypaths.log" dotnet "$MANYPATHS_DLL" run --config "$WORK/manypaths.yaml" --node bench
MP_PID=$STARTED_PID

# --- PowerDNS, bind backend: the same zone, static; and a second instance with an ifurlup Lua record
pdns_zone() { # FILE WWW_LINE
  cat >"$1" <<ZONE
\$TTL 20
@    IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 20
@    IN NS  ns1.example.test.
ns1  IN A   127.0.0.1
$2
ZONE
}
pdns_zone "$WORK/static.zone" "www  IN A   192.0.2.1"
pdns_zone "$WORK/lua.zone" "www  IN LUA A \"ifurlup('http://127.0.0.1:$P_UP1/healthz', {{'192.0.2.1'}, {'192.0.2.2'}})\""
echo "zone \"example.test\" { type master; file \"$WORK/static.zone\"; };" >"$WORK/static.conf"
echo "zone \"example.test\" { type master; file \"$WORK/lua.zone\"; };" >"$WORK/lua.conf"
pdns() { # NAME PORT CONF EXTRA...
  local name=$1 port=$2 conf=$3; shift 3
  mkdir -p "$WORK/$name"
  bench_start "$SERVER_CPU" "$WORK/$name.log" pdns_server --no-config --daemon=no --guardian=no --disable-syslog --write-pid=no \
    --socket-dir="$WORK/$name" --local-address=127.0.0.1 --local-port="$port" --launch=bind --bind-config="$conf" "$@"
}
pdns pdns "$P_PDNS" "$WORK/static.conf"
PDNS_PID=$STARTED_PID
pdns lua "$P_LUA" "$WORK/lua.conf" --enable-lua-records=yes
LUA_PID=$STARTED_PID

answers() { # PORT NAME EXPECT: until dig answers EXPECT (60 s at most)
  local deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    dig @127.0.0.1 -p "$1" +short +time=1 +tries=1 "$2" A 2>/dev/null | grep -qx "$3" && return 0
    sleep 0.3
  done
  echo "port $1 does not answer $2 with $3; logs:" >&2; tail -5 "$WORK"/*.log >&2; exit 1
}
answers "$P_MP_DNS" www.example.test 192.0.2.1
answers "$P_MP_DNS" fixed.example.test 192.0.2.1
answers "$P_PDNS" www.example.test 192.0.2.1
answers "$P_LUA" www.example.test 192.0.2.1

echo "www.example.test A" >"$WORK/www.txt"
echo "fixed.example.test A" >"$WORK/fixed.txt"
NAMES=(mp_health mp_static pdns lua)
declare -A PORT=([mp_health]=$P_MP_DNS [mp_static]=$P_MP_DNS [pdns]=$P_PDNS [lua]=$P_LUA)
declare -A FILE=([mp_health]=$WORK/www.txt [mp_static]=$WORK/fixed.txt [pdns]=$WORK/www.txt [lua]=$WORK/www.txt)
declare -A PID_OF=([mp_health]=$MP_PID [mp_static]=$MP_PID [pdns]=$PDNS_PID [lua]=$LUA_PID)

run() { # NAME SECONDS OUT: dnsperf, every query's latency kept (-v), and the server's CPU meanwhile
  local name=$1 secs=$2 out=$3 pid=${PID_OF[$1]} c0 c1 t0 t1
  c0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat"); t0=$(date +%s%N)
  timeout $((secs + 30)) taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "${PORT[$name]}" -d "${FILE[$name]}" -c "$CLIENTS" -l "$secs" -v >"$out.raw" 2>&1 || true
  t1=$(date +%s%N); c1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  grep -E "^\s+(Queries per second|Queries completed|Queries lost|Average Latency)" "$out.raw" >"$out"
  awk '$1 == ">" { print $NF }' "$out.raw" | sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "p99: %.6f\n", v[int(NR * 0.99)] ; else print "p99: nan" }' >>"$out"
  echo "cpu: $(( (c1 - c0) ))/$(( (t1 - t0) / 10000000 ))" >>"$out"
  rm -f "$out.raw"
}

echo "warming up"
for n in "${NAMES[@]}"; do run "$n" 3 "$WORK/warm-$n.txt"; done
for r in $(seq 1 "$ROUNDS"); do
  for n in "${NAMES[@]}"; do run "$n" "$SECS" "$WORK/r$r-$n.txt"; echo "round $r $n: $(grep 'Queries per second' "$WORK/r$r-$n.txt" | awk '{ print $4 }') qps"; done
done

export WORK ROUNDS SECS CLIENTS WRITE ROOT
export BENCH_MD="$ROOT/docs/BENCHMARKS.md"
export V_PDNS="$(pdns_server --version 2>&1 | grep -o 'Authoritative Server [0-9.]*' | head -1 | awk '{ print $3 }')"
export V_DNSPERF="$(dpkg-query -W -f '${Version}' dnsperf 2>/dev/null || echo unknown)"
export V_GIT="$([ "$BUILD" -eq 1 ] && echo "built here from HEAD $(git rev-parse --short HEAD)" || echo prebuilt)"
export CPU_MODEL="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" NPROC="$(nproc)"
/usr/bin/python3 - <<'PY'
import datetime, os, re, statistics, sys
env = os.environ
work, rounds = env["WORK"], int(env["ROUNDS"])
names = [("mp_health", "**Manypaths (defaults), health-aware failover record**"), ("mp_static", "Manypaths (defaults), static record"),
         ("pdns", "PowerDNS, bind backend, static zone"), ("lua", "PowerDNS, `ifurlup` Lua record (health-aware)")]
def parse(path):
    t = open(path).read()
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", t).group(1))
    avg = float(re.search(r"Average Latency \(s\):\s+([\d.]+)", t).group(1)) * 1000
    p99 = float(re.search(r"p99: ([\d.na]+)", t).group(1)) * 1000
    lost = re.search(r"Queries lost:\s+(\d+)", t)
    ticks, cs = map(int, re.search(r"cpu: (\d+)/(\d+)", t).groups())
    return {"qps": qps, "avg": avg, "p99": p99, "lost": int(lost.group(1)) if lost else 0, "cpu": ticks / max(cs, 1)}
runs = {n: [parse(f"{work}/r{r}-{n}.txt") for r in range(1, rounds + 1)] for n, _ in names}
med = {n: {k: statistics.median(x[k] for x in runs[n]) for k in ("qps", "avg", "p99", "cpu")} for n, _ in names}
base = med["pdns"]["qps"]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
L = ["## Authoritative DNS: dnsperf against Manypaths and PowerDNS", ""]
L.append(f"Generated by `bench/dns-bench.sh` on {now}; do not edit by hand, rerun the script. `dnsperf -c {env['CLIENTS']} -l {env['SECS']}`, "
         f"one A query name per target, {rounds} interleaved rounds after a 3 s warm-up each; medians. Servers on CPU 1, dnsperf on CPU 0.")
L.append("")
L.append("| server | qps | vs PowerDNS static | average (ms) | p99 (ms) | server CPU | lost |")
L.append("|---|---:|---:|---:|---:|---:|---:|")
for n, label in names:
    m = med[n]
    L.append(f"| {label} | {m['qps']:,.0f} | {m['qps'] / base:.2f}x | {m['avg']:.3f} | {m['p99']:.3f} | {m['cpu'] * 100:.0f}% | {sum(x['lost'] for x in runs[n])} |")
L.append("")
L.append("- Manypaths: `manypaths run`, one node, defaults (health checks every 2 s); `www` is a `policy: failover` record over "
         f"two upstreams (answers from the health the node already holds), `fixed` a static A record. {env['V_GIT']}.")
L.append("- PowerDNS: `pdns_server --launch=bind` with the same zone; the Lua row answers `ifurlup('http://…/healthz', …)` "
         "(`--enable-lua-records=yes`).")
L.append(f"- Machine: {env['NPROC']} CPUs ({env['CPU_MODEL']}). Versions: PowerDNS {env['V_PDNS']}, dnsperf {env['V_DNSPERF']}.")
sys.path.insert(0, os.path.join(env["ROOT"], "bench"))
from benchmd import publish
publish("dns-bench", L)
PY
