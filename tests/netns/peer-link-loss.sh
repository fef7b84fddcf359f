#!/usr/bin/env bash
# Heartbeat loss is measured truthfully on a real network: three site namespaces and one upstream namespace on a
# bridge (MTU 1500), one relay service with 300 upstreams (its views take about 9 KB per heartbeat), and 10%
# random loss on site s1's link to peer s2 only (nftables numgen, both directions). A ping and its pong then
# each cross the lossy link once, so s1 should measure about 19% loss to s2. Were the views carried inside the
# ping, it would travel as 7 IP fragments and be lost whenever any of them is: about 57%, enough to refuse
# every relay through s2. Also checks that s2's views of all 300 upstreams still reach s1 through the loss.
#   tests/netns/peer-link-loss.sh MANYPATHS_DLL
# Root only. Uses 10.250.0.0/16 inside the namespaces, with a blackhole route for it in the root namespace first.
# Everything it creates (namespaces, veths, processes by PID) is removed on exit.
set -euo pipefail
DLL=$1
. "$(dirname "$0")/topology.sh"
netns_test_begin

netns_secrets "$WORK"
{
  netns_cluster_yaml netns
  cat <<YAML
services:
  control:
    relay: true
    listen: 127.0.0.1:8080
    health: { path: /healthz, interval: 5s, fast_interval: 1s, timeout: 2s, rise: 1, fall: 3 }
    upstreams:
YAML
  for i in $(seq -w 0 299); do echo "      - { name: upstream-$i, url: http://$UPSTREAM_ADDR:9000 }"; done
} > "$WORK/manypaths.yaml"
for i in 0 1 2; do
  netns_start "${NS_ALL[$i]}" "$WORK/s$((i+1)).log" dotnet "$DLL" run --config "$WORK/manypaths.yaml" --node "s$((i+1))"
done

status() { ip netns exec "$NS_S1" curl -sf --max-time 2 http://127.0.0.1:7500/api/status; }

# How many of s2's 300 views s1 holds (a view may say "down" when a probe of s2's failed; that still arrived).
views_from_s2='
import json,sys
d=json.load(sys.stdin)
print(sum(1 for p in d["services"][0]["paths"] if p["via"]=="s2" and not p["why"].startswith(("no view of", "link to s2"))))'
# Bounded polling: s1 hears s2 and has s2's view of every upstream.
ready=0
for _ in $(seq 1 200); do
  if [ "$(status 2>/dev/null | python3 -c "$views_from_s2" 2>/dev/null || echo 0)" = 300 ]; then ready=1; break; fi
  sleep 0.2
done
if [ "$ready" != 1 ]; then echo "s1 never saw s2's views of all 300 upstreams"; tail -5 "$WORK"/s*.log; exit 1; fi

# The loss sits on the switch, per Ethernet frame (netdev ingress of s1's and s2's bridge ports), so every IP
# fragment is lost on its own as on a real path; a rule inside s1 would see datagrams before fragmentation and
# after reassembly, and hide exactly the effect this test is about.
S1=${NS_ADDR[0]} S2=${NS_ADDR[1]}
ip netns exec "$NS_SW" nft -f - <<NFT
table netdev mppeerloss {
  chain from_s1 { type filter hook ingress device "${NS_PREFIX}b0" priority 0; ip saddr $S1 ip daddr $S2 numgen random mod 100 < 10 drop; }
  chain from_s2 { type filter hook ingress device "${NS_PREFIX}b1" priority 0; ip saddr $S2 ip daddr $S1 numgen random mod 100 < 10 drop; }
}
NFT

# Let the 50-ping window (5 s at a 100 ms heartbeat) fill with lossy pings, then average 8 readings 1 s apart.
sleep 6
sum=0 views_ok=0
for _ in $(seq 8); do
  reading=$(status | python3 -c '
import json,sys
d=json.load(sys.stdin)
loss=[p["loss"] for p in d["peers"] if p["name"]=="s2"][0]
held=sum(1 for p in d["services"][0]["paths"] if p["via"]=="s2" and not p["why"].startswith(("no view of", "link to s2")))
print(loss, held)')
  sum=$(python3 -c "print($sum + ${reading% *})")
  [ "${reading#* }" = 300 ] && views_ok=$((views_ok + 1))
  sleep 1
done
mean=$(python3 -c "print(round($sum / 8, 3))")
echo "netns peer-link-loss: s1 measures ${mean} loss to s2 under 10% packet loss each way (about 0.19 expected); s2's views of all 300 upstreams present in ${views_ok}/8 readings"
python3 -c "import sys; sys.exit(0 if 0.08 <= $mean <= 0.35 else 1)" || { echo "measured loss $mean is outside 0.08-0.35"; exit 1; }
[ "$views_ok" -ge 7 ] || { echo "s2's views went missing under loss"; exit 1; }
