#!/usr/bin/env bash
# How config reading scales: `manypaths check` on files of 1,000 / 6,000 / 60,000 services (each a listen
# address, a primary and a backup upstream, health settings), beside `haproxy -c` on the equivalent haproxy.cfg
# (a frontend and a backend with two servers and a health check per service), in the same run. Reports wall time
# and peak memory (GNU time), and the ratio between the 6,000 and 60,000 rows: 10x the input should cost about
# 10x the time (linear), not 100x. Writes the config-scale section of docs/BENCHMARKS.md. Not part of CI; files only.
#
#   bench/config-scale.sh [--no-build] [--no-write] [--runs 3]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=1 WRITE=1 RUNS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --no-write) WRITE=0 ;;
    --runs) RUNS=$2; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
command -v haproxy >/dev/null || { echo "haproxy is needed (apt-get install -y haproxy)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is needed (apt-get install -y time)" >&2; exit 1; }
DLL=$ROOT/src/Manypaths/bin/Release/net10.0/manypaths.dll
if [ "$BUILD" -eq 1 ]; then
  echo "building Release: src/Manypaths"
  dotnet build -c Release src/Manypaths -nologo -v quiet >/dev/null
fi
WORK=$(mktemp -d /tmp/config-scale.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

export ROOT WORK DLL RUNS WRITE
python3 - <<'PY'
import os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["ROOT"], "bench"))
from benchmd import publish

work, dll, runs = os.environ["WORK"], os.environ["DLL"], int(os.environ["RUNS"])

def write(n):
    yaml, cfg = f"{work}/m{n}.yaml", f"{work}/h{n}.cfg"
    with open(yaml, "w") as f:
        f.write("cluster: { name: big }\nnodes:\n  n1: { admin: http://127.0.0.1:7500 }\nservices:\n")
        for i in range(n):
            f.write(f"  svc{i}:\n    listen: 127.0.{i // 60000}.{1 + i % 250}:{1024 + i % 60000}\n    upstreams:\n"
                    f"      - {{ name: a, url: http://127.0.0.1:9001, region: us-east, weight: 2 }}\n"
                    f"      - {{ name: b, url: http://127.0.0.1:9002, tier: backup }}\n"
                    f"    health: {{ path: /healthz, interval: 500ms, timeout: 300ms, rise: 2, fall: 2 }}\n    retries: 2\n")
    with open(cfg, "w") as f:
        f.write("global\n  maxconn 100000\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 60s\n  timeout server 60s\n")
        for i in range(n):
            f.write(f"frontend f{i}\n  bind 127.0.{i // 60000}.{1 + i % 250}:{1024 + i % 60000}\n  default_backend b{i}\n"
                    f"backend b{i}\n  option httpchk GET /healthz\n  retries 2\n"
                    f"  server a 127.0.0.1:9001 check inter 500ms rise 2 fall 2 weight 2\n  server b 127.0.0.1:9002 check backup\n")
    return yaml, cfg, os.path.getsize(yaml), os.path.getsize(cfg)

def measure(cmd):
    best = None
    for _ in range(runs):
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
        secs, kb = p.stderr.strip().splitlines()[-1].split()
        row = (float(secs), int(kb) / 1024)
        best = row if best is None or row[0] < best[0] else best
    return best

rows, times = [], {}
for n in (1000, 6000, 60000):
    yaml, cfg, ysize, csize = write(n)
    m = measure(["dotnet", dll, "check", "--config", yaml])
    h = measure(["haproxy", "-c", "-q", "-f", cfg])
    times[n] = (m[0], h[0])
    rows.append(f"| {n:,} | {ysize / 1e6:.1f} MB | {m[0]:.2f} s | {m[1]:.0f} MiB | {csize / 1e6:.1f} MB | {h[0]:.2f} s | {h[1]:.0f} MiB |")
    print(rows[-1], flush=True)

ratio_m = times[60000][0] / times[6000][0]
ratio_h = times[60000][1] / times[6000][1]
ver = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
publish("config-scale", [
    "## Config reading at scale (`bench/config-scale.sh`)",
    "",
    f"`manypaths check` (Release build, defaults) on files of N services, beside `haproxy -c` ({ver.split(' - ')[0]}) on the",
    "equivalent haproxy.cfg, same run; best of " + str(runs) + " runs each, wall time and peak RSS (GNU time). Every service: a listen",
    "address, a primary and a backup upstream, health settings. Includes the .NET runtime's start-up.",
    "",
    "| services | manypaths.yaml | manypaths check | peak memory | haproxy.cfg | haproxy -c | peak memory |",
    "|---:|---:|---:|---:|---:|---:|---:|",
    *rows,
    "",
    f"10x the services (6,000 -> 60,000): manypaths {ratio_m:.1f}x the time, haproxy {ratio_h:.1f}x (linear is 10x, quadratic",
    "100x). Files over 32 MiB are refused.",
])
PY
