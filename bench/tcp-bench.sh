#!/usr/bin/env bash
# TCP forwarding cost: redis-benchmark (GET/SET, 50 clients, pipelining 1 and 16) and, where PostgreSQL is installed,
# pgbench -S, each straight to the server, through Manypaths (a mode: tcp service with the default role check) and
# through HAProxy in mode tcp (the usual recipe: tcp-check for role:master every 250 ms), interleaved rounds,
# medians. Writes the section between <!-- tcp-bench:start --> and <!-- tcp-bench:end --> in docs/BENCHMARKS.md.
# Not part of CI. Only loopback traffic; every process it starts is stopped by PID on exit.
#
#   bench/tcp-bench.sh                  # build Release src/Manypaths, run, write
#   bench/tcp-bench.sh --no-build       # use what is already built
#
# Options: --no-build, --rounds N (default 5, at least 3), --requests N (redis-benchmark -n, default 200000),
#          --seconds N (pgbench -T, default 5), --no-write (print only). Environment: MANYPATHS_DLL.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BUILD=1 ROUNDS=5 REQUESTS=200000 SECONDS_PG=5 WRITE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --rounds) ROUNDS=$2; shift ;;
    --requests) REQUESTS=$2; shift ;;
    --seconds) SECONDS_PG=$2; shift ;;
    --no-write) WRITE=0 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$ROUNDS" -lt 3 ]; then echo "--rounds must be at least 3" >&2; exit 2; fi

MANYPATHS_DLL=${MANYPATHS_DLL:-$ROOT/src/Manypaths/bin/Release/net10.0/manypaths.dll}
PYTHON=/usr/bin/python3
. "$ROOT/bench/lib.sh"
bench_install haproxy:haproxy redis-server:redis-server redis-benchmark:redis-tools taskset:util-linux
bench_build "$BUILD" src/Manypaths
bench_require "$MANYPATHS_DLL"

WORK=$(mktemp -d /tmp/tcp-bench.XXXXXX)
chmod 755 "$WORK"
PG_DATA=
cleanup() {
  bench_stop_all
  if [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]; then runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

NPROC=$(nproc)
if [ "$NPROC" -ge 2 ]; then LOAD_CPU=0 PROXY_CPU=1; else LOAD_CPU=0 PROXY_CPU=0; fi
read -r P_REDIS P_MP_R P_HAP_R P_ADMIN P_PG P_MP_PG P_HAP_PG < <(bench_free_ports 7)

# --- PostgreSQL, when its server binaries are here (run as the postgres user: it refuses root)
PG_BIN=
for d in /usr/lib/postgresql/*/bin /usr/local/bin; do [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { PG_BIN=$d; break; }; done
HAVE_PG=0
if [ -n "$PG_BIN" ] && command -v pgbench >/dev/null && id postgres >/dev/null 2>&1; then
  PG_DATA="$WORK/pg/data"
  mkdir -p "$PG_DATA" && chown -R postgres "$WORK/pg"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres >"$WORK/initdb.log" 2>&1
  # Pinned to the load CPU with the other servers (its backends inherit it): the proxy's CPU is the proxy's alone.
  taskset -c "$LOAD_CPU" runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK/pg/pg.log" -w \
    -o "-p $P_PG -c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK/pg -c fsync=off -c max_connections=200" start >/dev/null
  pgbench -i -s 10 -h 127.0.0.1 -p "$P_PG" -U postgres postgres >"$WORK/pgbench-init.log" 2>&1
  HAVE_PG=1
fi

# --- Redis (no persistence), on the load CPU
bench_start "$LOAD_CPU" "$WORK/redis.log" redis-server --port "$P_REDIS" --bind 127.0.0.1 --save "" --appendonly no
for _ in $(seq 50); do redis-cli -p "$P_REDIS" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done

# --- Manypaths: one node, tcp services with their default role checks (every 250 ms), defaults otherwise
{
  printf 'cluster: { name: tcp-bench, shutdown_grace: 1s }\nnodes:\n  bench: { admin: http://127.0.0.1:%s }\nservices:\n' "$P_ADMIN"
  printf '  cache:\n    mode: tcp\n    listen: 127.0.0.1:%s\n    upstreams:\n      - { name: r1, address: 127.0.0.1:%s }\n    health: { check: redis-primary }\n' "$P_MP_R" "$P_REDIS"
  if [ "$HAVE_PG" -eq 1 ]; then
    printf '  db:\n    mode: tcp\n    listen: 127.0.0.1:%s\n    upstreams:\n      - { name: p1, address: 127.0.0.1:%s }\n    health: { check: postgres-primary, user: postgres }\n' "$P_MP_PG" "$P_PG"
  fi
} >"$WORK/manypaths.yaml"
bench_start "$PROXY_CPU" "$WORK/manypaths.log" dotnet "$MANYPATHS_DLL" run --config "$WORK/manypaths.yaml" --node bench
MP_PID=$STARTED_PID

# --- HAProxy, mode tcp, one thread: the usual Redis recipe (role:master every 250 ms), and pgsql-check for PostgreSQL
{
  printf 'global\n  nbthread 1\n  maxconn 4096\ndefaults\n  mode tcp\n  timeout connect 1s\n  timeout client 1h\n  timeout server 1h\n'
  printf 'listen redis\n  bind 127.0.0.1:%s\n  option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect string +PONG\n' "$P_HAP_R"
  printf '  tcp-check send info\\ replication\\r\\n\n  tcp-check expect string role:master\n  tcp-check send QUIT\\r\\n\n  tcp-check expect string +OK\n'
  printf '  server r1 127.0.0.1:%s check inter 250ms on-marked-down shutdown-sessions\n' "$P_REDIS"
  if [ "$HAVE_PG" -eq 1 ]; then
    printf 'listen pg\n  bind 127.0.0.1:%s\n  option pgsql-check user postgres\n  server p1 127.0.0.1:%s check inter 250ms\n' "$P_HAP_PG" "$P_PG"
  fi
} >"$WORK/haproxy.cfg"
haproxy -c -q -f "$WORK/haproxy.cfg"
bench_start "$PROXY_CPU" "$WORK/haproxy.log" haproxy -f "$WORK/haproxy.cfg" -db
HAP_PID=$STARTED_PID

ready() { # PORT: a SET answers +OK through it (30 s at most)
  local deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(redis-cli -p "$1" set bench:ready 1 2>/dev/null)" = "OK" ] && return 0
    sleep 0.2
  done
  echo "nothing answers on $1; logs:" >&2; tail -20 "$WORK/manypaths.log" "$WORK/haproxy.log" >&2; exit 1
}
ready "$P_REDIS"; ready "$P_MP_R"; ready "$P_HAP_R"

declare -A RPORT=([direct]=$P_REDIS [manypaths]=$P_MP_R [haproxy]=$P_HAP_R)
declare -A PGPORT=([direct]=$P_PG [manypaths]=$P_MP_PG [haproxy]=$P_HAP_PG)
NAMES=(direct manypaths haproxy)

redis_run() { # NAME PIPELINE OUT
  timeout 300 taskset -c "$LOAD_CPU" redis-benchmark -h 127.0.0.1 -p "${RPORT[$1]}" -c 50 -n "$REQUESTS" -P "$2" -t get,set --csv -q >"$3"
}
redis_lat() { # NAME OUT: one client, no pipelining: the latency a hop adds when nothing queues
  timeout 120 taskset -c "$LOAD_CPU" redis-benchmark -h 127.0.0.1 -p "${RPORT[$1]}" -c 1 -n 20000 -P 1 -t get --csv -q >"$2"
}
pg_run() { # NAME OUT
  timeout $((SECONDS_PG + 60)) taskset -c "$LOAD_CPU" pgbench -S -c 16 -j 1 -T "$SECONDS_PG" -h 127.0.0.1 -p "${PGPORT[$1]}" -U postgres -r postgres >"$2" 2>&1
}

echo "warming up (one run per target)"
for n in "${NAMES[@]}"; do redis_run "$n" 1 "$WORK/warm-$n.csv"; redis_run "$n" 16 "$WORK/warm16-$n.csv"; done
if [ "$HAVE_PG" -eq 1 ]; then for n in "${NAMES[@]}"; do pg_run "$n" "$WORK/warm-pg-$n.txt"; done; fi
for r in $(seq 1 "$ROUNDS"); do
  for n in "${NAMES[@]}"; do
    redis_run "$n" 1 "$WORK/r$r-p1-$n.csv"
    redis_run "$n" 16 "$WORK/r$r-p16-$n.csv"
    redis_lat "$n" "$WORK/r$r-lat-$n.csv"
    if [ "$HAVE_PG" -eq 1 ]; then pg_run "$n" "$WORK/r$r-pg-$n.txt"; fi
    echo "round $r $n done"
  done
done

export WORK ROUNDS REQUESTS SECONDS_PG WRITE HAVE_PG NPROC ROOT
export BENCH_MD="$ROOT/docs/BENCHMARKS.md"
export V_REDIS="$(redis-server --version | awk '{ print $3 }' | sed 's/v=//')"
export V_HAPROXY="$(haproxy -v | awk 'NR == 1 { print $3 }')"
export V_PG="$([ "$HAVE_PG" -eq 1 ] && "$PG_BIN/postgres" --version | awk '{ print $3 }' || echo none)"
export V_DOTNET="$(dotnet --list-runtimes | awk '/^Microsoft.NETCore.App/ { v = $2 } END { print v }')"
export V_GIT="$([ "$BUILD" -eq 1 ] && echo "built here from HEAD $(git rev-parse --short HEAD)" || echo prebuilt)"
export CPU_MODEL="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"

"$PYTHON" - <<'PY'
import csv, datetime, os, re, statistics, sys
env = os.environ
work, rounds = env["WORK"], int(env["ROUNDS"])
names = [("direct", "direct to the server (no proxy)"), ("manypaths", "**Manypaths (defaults)**"), ("haproxy", "HAProxy mode tcp")]

def redis(path):
    rows = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            rows[row["test"]] = (float(row["rps"]), float(row["p99_latency_ms"]))
    return rows

def pg(path):
    text = open(path).read()
    tps = float(re.search(r"tps = ([\d.]+)", text).group(1))
    lat = float(re.search(r"latency average = ([\d.]+) ms", text).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", text)
    return tps, lat, int(failed.group(1)) if failed else 0

L = ["## TCP forwarding: redis-benchmark and pgbench through Manypaths and HAProxy", ""]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
L.append(f"Generated by `bench/tcp-bench.sh` on {now}; do not edit by hand, rerun the script. "
         f"`redis-benchmark -c 50 -n {int(env['REQUESTS']):,} -t get,set -P 1|16`, {rounds} interleaved rounds after one warm-up run each; "
         "medians. Proxies on CPU 1, the server and the load generator on CPU 0.")
L.append("")
L.append("| target | pipeline | test | ops/s | p99 (ms) | ops/s vs HAProxy | p99 added vs direct (ms) |")
L.append("|---|---:|---|---:|---:|---:|---:|")
med = {}
for p in ("1", "16"):
    for n, _ in names:
        runs = [redis(f"{work}/r{r}-p{p}-{n}.csv") for r in range(1, rounds + 1)]
        for t in ("SET", "GET"):
            med[(n, p, t)] = (statistics.median(x[t][0] for x in runs), statistics.median(x[t][1] for x in runs))
    for n, label in [names[1], names[2], names[0]]:
        for t in ("SET", "GET"):
            rps, p99 = med[(n, p, t)]
            vs = rps / med[("haproxy", p, t)][0]
            added = p99 - med[("direct", p, t)][1]
            L.append(f"| {label} | {p} | {t} | {rps:,.0f} | {p99:.3f} | {vs:.2f}x | {'-' if n == 'direct' else f'{added:+.3f}'} |")
L.append("")
L.append("Latency with one client (`-c 1 -P 1 -t get`, nothing queues), medians:")
L.append("")
L.append("| target | p50 (ms) | p99 (ms) | p50 added vs direct (ms) | p99 added vs direct (ms) |")
L.append("|---|---:|---:|---:|---:|")
def lat(path):
    with open(path) as f:
        row = next(csv.DictReader(f))
    return float(row["p50_latency_ms"]), float(row["p99_latency_ms"])
latm = {}
for n, _ in names:
    runs = [lat(f"{work}/r{r}-lat-{n}.csv") for r in range(1, rounds + 1)]
    latm[n] = (statistics.median(x[0] for x in runs), statistics.median(x[1] for x in runs))
for n, label in [names[1], names[2], names[0]]:
    p50, p99 = latm[n]
    d50, d99 = latm["direct"]
    L.append(f"| {label} | {p50:.3f} | {p99:.3f} | {'-' if n == 'direct' else f'{p50 - d50:+.3f}'} | {'-' if n == 'direct' else f'{p99 - d99:+.3f}'} |")
if env["HAVE_PG"] == "1":
    L.append("")
    L.append(f"`pgbench -S -c 16 -j 1 -T {env['SECONDS_PG']}` (select-only, scale 10), medians of {rounds} rounds:")
    L.append("")
    L.append("| target | tps | latency average (ms) | tps vs HAProxy | failed |")
    L.append("|---|---:|---:|---:|---:|")
    pgm = {}
    for n, _ in names:
        runs = [pg(f"{work}/r{r}-pg-{n}.txt") for r in range(1, rounds + 1)]
        pgm[n] = (statistics.median(x[0] for x in runs), statistics.median(x[1] for x in runs), sum(x[2] for x in runs))
    for n, label in [names[1], names[2], names[0]]:
        tps, lat, failed = pgm[n]
        L.append(f"| {label} | {tps:,.0f} | {lat:.3f} | {tps / pgm['haproxy'][0]:.2f}x | {failed} |")
else:
    L.append("")
    L.append("pgbench: not run (no PostgreSQL server binaries or pgbench on this machine).")
L.append("")
L.append("- Manypaths: `manypaths run`, one node, `mode: tcp` services with `check: redis-primary` / `postgres-primary` "
         "and every other setting at its default (role checks every 250 ms, connect race, limits, idle timeout 1 h). "
         f"{env['V_GIT']}.")
L.append("- HAProxy: `nbthread 1`, `mode tcp`, Redis with `tcp-check` for `role:master` every 250 ms and "
         "`on-marked-down shutdown-sessions`; PostgreSQL with `pgsql-check` every 250 ms.")
L.append(f"- Machine: {env['NPROC']} CPUs ({env['CPU_MODEL']}). Versions: Redis {env['V_REDIS']}, PostgreSQL {env['V_PG']}, "
         f"HAProxy {env['V_HAPROXY']}, .NET runtime {env['V_DOTNET']}.")
sys.path.insert(0, os.path.join(env["ROOT"], "bench"))
from benchmd import publish
publish("tcp-bench", L)
PY
