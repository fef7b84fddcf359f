# Sourced (not run) by tests/netns/*.sh and bench/relay-bench.sh: the relay mesh's test topology.
# Three site namespaces (s1 s2 s3 at 10.250.0.1-3) and one upstream namespace (up at 10.250.0.10) on a bridge that
# lives in its own namespace. A blackhole route for 10.250.0.0/16 goes into the root namespace first, so nothing
# can leak out. Root only. netns_down removes all of it: the processes started with netns_start (by PID), the
# namespaces (their veths go with them) and the route, if we added it.
#
#   netns_up                   create it all (names get a per-run prefix, NS_S1 NS_S2 NS_S3 NS_UP)
#   netns_start NS LOG CMD...  start CMD inside namespace NS (ip netns exec execs it, so $! is CMD's own PID)
#   netns_fault MODE           on s1's direct link to the upstream: none | loss PERCENT | blackhole
#   netns_secrets DIR          write DIR/cluster.key and DIR/admin.token (random)
#   netns_cluster_yaml NAME [defaults]
#                              print the cluster, mesh and nodes sections of a Manypaths config for s1 s2 s3
#                              (with "defaults": no mesh section, the product's own settings)
#   netns_wait_paths           wait (30 s at most) until s1's first service has its direct path and both peers up
#   netns_down                 tear down (put it in an EXIT trap)
#   netns_test_begin           for the tests: $WORK, netns_up, teardown on exit (logs kept in $KEEP_LOGS if set),
#                              and a static upstream (/healthz) at $UPSTREAM_ADDR:9000

NS_PREFIX=mp$$
NS_SW=${NS_PREFIX}sw NS_S1=${NS_PREFIX}s1 NS_S2=${NS_PREFIX}s2 NS_S3=${NS_PREFIX}s3 NS_UP=${NS_PREFIX}up
NS_ALL=("$NS_S1" "$NS_S2" "$NS_S3" "$NS_UP")
NS_ADDR=(10.250.0.1 10.250.0.2 10.250.0.3 10.250.0.10)
UPSTREAM_ADDR=10.250.0.10
NS_PIDS=()
NS_ADDED_ROUTE=0
NS_STARTED_PID=

netns_up() {
  if ! ip route show | grep -q "blackhole 10.250.0.0/16"; then ip route add blackhole 10.250.0.0/16; NS_ADDED_ROUTE=1; fi
  ip netns add "$NS_SW"
  ip -n "$NS_SW" link set lo up
  ip -n "$NS_SW" link add br0 type bridge
  ip -n "$NS_SW" link set br0 up
  local i ns
  for i in 0 1 2 3; do
    ns=${NS_ALL[$i]}
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "${NS_PREFIX}v$i" type veth peer name "${NS_PREFIX}b$i"
    ip link set "${NS_PREFIX}v$i" netns "$ns"
    ip link set "${NS_PREFIX}b$i" netns "$NS_SW"
    ip -n "$NS_SW" link set "${NS_PREFIX}b$i" master br0
    ip -n "$NS_SW" link set "${NS_PREFIX}b$i" up
    ip -n "$ns" link set "${NS_PREFIX}v$i" name eth0
    ip -n "$ns" addr add "${NS_ADDR[$i]}/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
  netns_fault none # the fault's table and hooks exist before any traffic: later faults only change rules
}

netns_start() {
  local ns=$1 log=$2; shift 2
  # A node's history goes beside its log in the test's directory, not into ~/.local/state.
  STATE_DIRECTORY="${WORK:+$WORK/state-$(basename "$log" .log)}" ip netns exec "$ns" "$@" >"$log" 2>&1 &
  NS_STARTED_PID=$!
  NS_PIDS+=("$NS_STARTED_PID")
}

# netns_stop PID: stop one process we started (TERM, then KILL after 5 s).
netns_stop() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

netns_fault() {
  local out="ip daddr $UPSTREAM_ADDR" in="ip saddr $UPSTREAM_ADDR"
  case "$1" in
    none|blackhole) ;;
    loss) out="$out numgen random mod 100 < $2"; in="$in numgen random mod 100 < $2" ;;
    *) echo "netns_fault: unknown mode $1" >&2; return 2 ;;
  esac
  # The table and its chains are made once (netns_up) and stay; a fault only changes their rules, in one
  # transaction. Adding or deleting the table (un)registers hooks, and the kernel then drops every packet of the
  # namespace queued to userspace (NFQUEUE: all the delayer's packets in flight, on every link of the site): each end
  # of a flap cost the relayed requests of that moment a TCP retransmission (+280 ms at distance, about 6 requests),
  # and a no-fault run's "none" at 5 s stalled the direct path long enough to be judged silent.
  {
    echo "table inet mpfault {"
    echo "  chain out { type filter hook output priority -10; }"
    echo "  chain in { type filter hook input priority -10; }"
    echo "}"
    echo "flush chain inet mpfault out"
    echo "flush chain inet mpfault in"
    if [ "$1" != none ]; then
      echo "add rule inet mpfault out $out drop"
      echo "add rule inet mpfault in $in drop"
    fi
  } | ip netns exec "$NS_S1" nft -f -
}

netns_secrets() {
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1/cluster.key"
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1/admin.token"
}

netns_cluster_yaml() {
  echo "cluster: { name: $1, secret_file: cluster.key, admin_token_file: admin.token, shutdown_grace: 1s }"
  [ "${2:-}" = defaults ] || echo "mesh: { heartbeat: 100ms, dead_after: 1s }"
  cat <<YAML
nodes:
  s1: { mesh: http://${NS_ADDR[0]}:7400, admin: http://127.0.0.1:7500, region: site }
  s2: { mesh: http://${NS_ADDR[1]}:7400, admin: http://127.0.0.1:7500, region: site }
  s3: { mesh: http://${NS_ADDR[2]}:7400, admin: http://127.0.0.1:7500, region: site }
YAML
}

netns_wait_paths() {
  local _
  for _ in $(seq 1 150); do
    if ip netns exec "$NS_S1" curl -sf --max-time 1 http://127.0.0.1:7500/api/status 2>/dev/null | python3 2>/dev/null -c '
import json,sys
s=json.load(sys.stdin)["services"][0]["paths"]
up={(p["via"] or "direct") for p in s if p["state"]=="up"}
sys.exit(0 if {"direct","s2","s3"} <= up else 1)'; then return 0; fi
    sleep 0.2
  done
  echo "the cluster never became ready"; tail -5 "$WORK"/s*.log; return 1
}

netns_down() {
  local pid ns
  for pid in "${NS_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${NS_PIDS[@]}"; do netns_stop "$pid"; done
  for ns in "${NS_ALL[@]}" "$NS_SW"; do ip netns del "$ns" 2>/dev/null || true; done
  if [ "$NS_ADDED_ROUTE" = 1 ]; then ip route del blackhole 10.250.0.0/16 2>/dev/null || true; fi
}

netns_test_begin() {
  WORK=$(mktemp -d)
  trap netns_test_end EXIT
  netns_up
  mkdir -p "$WORK/www" && echo ok > "$WORK/www/healthz"
  netns_start "$NS_UP" "$WORK/upstream.log" python3 "$(dirname "${BASH_SOURCE[0]}")/static-upstream.py" 9000 "$UPSTREAM_ADDR" "$WORK/www"
}

netns_test_end() {
  netns_down
  if [ -n "${KEEP_LOGS:-}" ]; then rm -rf "$KEEP_LOGS"; cp -r "$WORK" "$KEEP_LOGS"; fi
  rm -rf "$WORK"
}
