#!/usr/bin/env bash
# The relay mesh across real network namespaces: three site namespaces and one upstream namespace on a bridge
# (in its own namespace). Site s1's direct link to the upstream gets 10% random loss (nftables numgen) or a
# blackhole; every one of N requests from s1 through its local Manypaths must still succeed.
#   tests/netns/relay-around-fault.sh MANYPATHS_DLL loss|blackhole [N]
# Root only. Uses 10.250.0.0/16 inside the namespaces, with a blackhole route for it in the root namespace first.
# Everything it creates (namespaces, veths, processes by PID) is removed on exit.
set -euo pipefail
DLL=$1; MODE=$2; N=${3:-1000}
case "$MODE" in loss|blackhole) ;; *) echo "mode must be loss or blackhole" >&2; exit 2 ;; esac
P=mp$$
SW=${P}sw; NS=(${P}s1 ${P}s2 ${P}s3 ${P}up); ADDR=(1 2 3 10)
WORK=$(mktemp -d)
PIDS=()
ADDED_ROUTE=0
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${NS[@]}" "$SW"; do ip netns del "$ns" 2>/dev/null || true; done
  if [ "$ADDED_ROUTE" = 1 ]; then ip route del blackhole 10.250.0.0/16 2>/dev/null || true; fi
  if [ -n "${KEEP_LOGS:-}" ]; then rm -rf "$KEEP_LOGS"; cp -r "$WORK" "$KEEP_LOGS"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
if ! ip route show | grep -q "blackhole 10.250.0.0/16"; then ip route add blackhole 10.250.0.0/16; ADDED_ROUTE=1; fi

ip netns add "$SW"
ip -n "$SW" link set lo up
ip -n "$SW" link add br0 type bridge
ip -n "$SW" link set br0 up
for i in 0 1 2 3; do
  ns=${NS[$i]}
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add "${P}v$i" type veth peer name "${P}b$i"
  ip link set "${P}v$i" netns "$ns"
  ip link set "${P}b$i" netns "$SW"
  ip -n "$SW" link set "${P}b$i" master br0
  ip -n "$SW" link set "${P}b$i" up
  ip -n "$ns" link set "${P}v$i" name eth0
  ip -n "$ns" addr add "10.250.0.${ADDR[$i]}/24" dev eth0
  ip -n "$ns" link set eth0 up
done

mkdir -p "$WORK/www" && echo ok > "$WORK/www/healthz"
ip netns exec "${NS[3]}" python3 -m http.server 9000 --bind 10.250.0.10 --directory "$WORK/www" > "$WORK/upstream.log" 2>&1 &
PIDS+=($!)

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$WORK/cluster.key"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$WORK/admin.token"
cat > "$WORK/manypaths.yaml" <<YAML
cluster: { name: netns, secret_file: cluster.key, admin_token_file: admin.token, shutdown_grace: 1s }
mesh: { heartbeat: 100ms, dead_after: 1s }
nodes:
  s1: { mesh: http://10.250.0.1:7400, admin: http://127.0.0.1:7500, region: site }
  s2: { mesh: http://10.250.0.2:7400, admin: http://127.0.0.1:7500, region: site }
  s3: { mesh: http://10.250.0.3:7400, admin: http://127.0.0.1:7500, region: site }
services:
  control:
    relay: true
    listen: 127.0.0.1:8080
    upstreams:
      - { name: aws, url: http://10.250.0.10:9000 }
    health: { path: /healthz, interval: 300ms, fast_interval: 100ms, timeout: 250ms, rise: 3, fall: 1 }
    passive: { failures: 1 }
    timeouts: { connect: 250ms, first_byte: 800ms }
    retries: 3
YAML
for i in 0 1 2; do
  ip netns exec "${NS[$i]}" dotnet "$DLL" run --config "$WORK/manypaths.yaml" --node "s$((i+1))" > "$WORK/s$((i+1)).log" 2>&1 &
  PIDS+=($!)
done

# Bounded polling: s1 must see the upstream directly and through both peers.
ready=0
for _ in $(seq 1 150); do
  if ip netns exec "${NS[0]}" curl -sf --max-time 1 http://127.0.0.1:7500/api/status 2>/dev/null | python3 2>/dev/null -c '
import json,sys
s=json.load(sys.stdin)["services"][0]["paths"]
up={(p["via"] or "direct") for p in s if p["state"]=="up"}
sys.exit(0 if {"direct","s2","s3"} <= up else 1)'; then ready=1; break; fi
  sleep 0.2
done
if [ "$ready" != 1 ]; then echo "the cluster never became ready"; tail -5 "$WORK"/s*.log; exit 1; fi

rule='ip daddr 10.250.0.10'
rule_in='ip saddr 10.250.0.10'
if [ "$MODE" = loss ]; then rule="$rule numgen random mod 100 < 10"; rule_in="$rule_in numgen random mod 100 < 10"; fi
ip netns exec "${NS[0]}" nft -f - <<NFT
table inet mpfault {
  chain out { type filter hook output priority 0; $rule drop; }
  chain in { type filter hook input priority 0; $rule_in drop; }
}
NFT

ip netns exec "${NS[0]}" bash -c "seq $N | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 http://127.0.0.1:8080/healthz" > "$WORK/codes" || true
ok=$(grep -c '^200$' "$WORK/codes" || true)
relayed=$(ip netns exec "${NS[0]}" curl -s --max-time 2 http://127.0.0.1:7500/metrics | awk '/^manypaths_relayed_requests_total/{s+=$2} END{print s+0}')
echo "netns $MODE: $ok/$N requests succeeded from s1; $relayed went through a peer"
sort "$WORK/codes" | uniq -c | sed 's/^/  status /'
[ "$ok" = "$N" ]
