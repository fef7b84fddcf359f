#!/usr/bin/env bash
# The relay mesh across real network namespaces: three site namespaces and one upstream namespace on a bridge
# (in its own namespace). Site s1's direct link to the upstream gets 10% random loss (nftables numgen) or a
# blackhole; every one of N requests from s1 through its local Manypaths must still succeed. In 'pause' mode the
# link is blackholed and the upstream itself is also stopped (SIGSTOP) for 0.4 s three times during the load: every
# node's probes time out (timeout 250ms, fall 1), so every path looks down, and the requests must still be answered.
#   tests/netns/relay-around-fault.sh MANYPATHS_DLL loss|blackhole|pause [N]
# Root only. Uses 10.250.0.0/16 inside the namespaces, with a blackhole route for it in the root namespace first.
# Everything it creates (namespaces, veths, processes by PID) is removed on exit.
set -euo pipefail
DLL=$1; MODE=$2; N=${3:-1000}
case "$MODE" in loss|blackhole|pause) ;; *) echo "mode must be loss, blackhole or pause" >&2; exit 2 ;; esac
. "$(dirname "$0")/topology.sh"
netns_test_begin
UPSTREAM_PID=$NS_STARTED_PID # the upstream, started last by netns_test_begin

netns_secrets "$WORK"
{ netns_cluster_yaml netns; cat <<YAML; } > "$WORK/manypaths.yaml"
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
  netns_start "${NS_ALL[$i]}" "$WORK/s$((i+1)).log" dotnet "$DLL" run --config "$WORK/manypaths.yaml" --node "s$((i+1))"
done

# Bounded polling: s1 must see the upstream directly and through both peers.
netns_wait_paths

if [ "$MODE" = loss ]; then netns_fault loss 10; else netns_fault blackhole; fi
if [ "$MODE" = pause ]; then
  ( for _ in 1 2 3; do sleep 1; kill -STOP "$UPSTREAM_PID"; sleep 0.4; kill -CONT "$UPSTREAM_PID"; done ) &
  PAUSER=$!
fi

# Each line: the status and, on a sorry answer, its X-Manypaths-Reason (so a failure says why).
ip netns exec "$NS_S1" bash -c "seq $N | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code} %header{x-manypaths-reason}\n' --max-time 20 http://127.0.0.1:8080/healthz" > "$WORK/codes" || true
if [ -n "${PAUSER:-}" ]; then wait "$PAUSER" || true; kill -CONT "$UPSTREAM_PID" 2>/dev/null || true; fi
ok=$(grep -c '^200 *$' "$WORK/codes" || true)
relayed=$(ip netns exec "$NS_S1" curl -s --max-time 2 http://127.0.0.1:7500/metrics | awk '/^manypaths_relayed_requests_total/{s+=$2} END{print s+0}')
echo "netns $MODE: $ok/$N requests succeeded from s1; $relayed went through a peer"
sort "$WORK/codes" | uniq -c | sed 's/^/  status /'
if [ "$ok" != "$N" ]; then
  # Why: what s1 judged about its paths and peers while the requests ran.
  echo "s1's warnings:"; grep -E 'warn|fail' "$WORK/s1.log" | grep -v 'History is off' | cut -c1-300 | tail -40
  exit 1
fi
