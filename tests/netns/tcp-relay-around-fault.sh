#!/usr/bin/env bash
# Relayed TCP across real network namespaces: three site namespaces and a Redis server in the upstream namespace.
# Every site runs Manypaths with a write service (mode: tcp, check: redis-primary, relay: true, defaults otherwise).
# A client in s1 writes through its local listener in a loop (SET, reconnecting at once after any failure, 2 s per
# command at most); after WARM writes, s1's direct link to Redis is blackholed (nftables); the loop goes on for N more
# writes. Commands that fail at the onset are counted apart; after the first write acknowledged through a peer, none
# may fail, and every acknowledged key must be in Redis.
#   tests/netns/tcp-relay-around-fault.sh MANYPATHS_DLL [N]
# Root only; 10.250.0.0/16 inside the namespaces, a blackhole route for it in the root namespace first; everything it
# creates (namespaces, veths, processes by PID) is removed on exit.
set -euo pipefail
DLL=$1; N=${2:-1500}; WARM=300
. "$(dirname "$0")/topology.sh"
netns_test_begin

netns_start "$NS_UP" "$WORK/redis.log" redis-server --port 6379 --bind "$UPSTREAM_ADDR" --protected-mode no --save "" --appendonly no
netns_secrets "$WORK"
{ netns_cluster_yaml netns-tcp; cat <<YAML; } > "$WORK/manypaths.yaml"
services:
  cache:
    mode: tcp
    relay: true
    listen: 127.0.0.1:6380
    upstreams:
      - { name: redis, address: $UPSTREAM_ADDR:6379 }
    health: { check: redis-primary }
YAML
for i in 0 1 2; do
  netns_start "${NS_ALL[$i]}" "$WORK/s$((i+1)).log" dotnet "$DLL" run --config "$WORK/manypaths.yaml" --node "s$((i+1))"
done

netns_wait_paths

cat > "$WORK/writer.py" <<'PY'
import socket, sys, time
port, warm, n, signal = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=6)
    s.settimeout(2)
    return s
def cmd(s, *args):
    s.sendall(("*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a), a) for a in args)).encode())
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = s.recv(1)
        if not chunk:
            raise OSError("closed")
        line += chunk
    return line.decode().strip()
s, i, acked, onset_failed, after_failed, first_after = None, 0, [], 0, 0, None
fault_at = None
deadline = time.time() + 120
while i < warm + n and time.time() < deadline:
    if i == warm and fault_at is None:
        open(signal, "w").close()
        while open(signal).read() != "done":
            time.sleep(0.01)
        fault_at = time.time()
    try:
        if s is None:
            s = connect()
        key = i + 1
        if cmd(s, "SET", "k%d" % key, str(key)) != "+OK":
            raise OSError("not OK")
        acked.append(key)
        i += 1
        if fault_at is not None and first_after is None:
            first_after = time.time() - fault_at
    except OSError:
        if fault_at is not None and first_after is not None:
            after_failed += 1
        elif fault_at is not None:
            onset_failed += 1
        i += 1
        try:
            s and s.close()
        finally:
            s = None
print("acked %d onset_failed %d after_failed %d first_after_ms %.0f" % (len(acked), onset_failed, after_failed, (first_after or -1) * 1000))
open(signal + ".keys", "w").write("\n".join(map(str, acked)))
PY
rm -f "$WORK/fault"
ip netns exec "$NS_S1" python3 "$WORK/writer.py" 6380 "$WARM" "$N" "$WORK/fault" > "$WORK/writer.out" 2>&1 &
WRITER=$!
for _ in $(seq 1 600); do [ -e "$WORK/fault" ] && break; sleep 0.05; done
netns_fault blackhole
echo -n done > "$WORK/fault"
wait "$WRITER" || { cat "$WORK/writer.out"; exit 1; }
read -r _ acked _ onset _ after _ first < "$WORK/writer.out"
missing=$(ip netns exec "$NS_UP" python3 - "$WORK/fault.keys" <<'PY'
import socket, sys
keys = open(sys.argv[1]).read().split()
s = socket.create_connection(("10.250.0.10", 6379))
missing = 0
for k in keys:
    s.sendall(("*2\r\n$6\r\nEXISTS\r\n$%d\r\nk%s\r\n" % (len(k) + 1, k)).encode())
    r = b""
    while not r.endswith(b"\r\n"):
        r += s.recv(1)
    missing += r.strip() != b":1"
print(missing)
PY
)
relayed=$(ip netns exec "$NS_S1" curl -s --max-time 2 http://127.0.0.1:7500/metrics | awk '/^manypaths_relayed_requests_total/{s+=$2} END{print s+0}')
echo "netns tcp blackhole: $acked writes acknowledged; $onset failed at the onset, $after failed after the first write through a peer (${first} ms after the fault); $missing acknowledged keys missing in Redis; $relayed connections went through a peer"
[ "$after" = 0 ] && [ "$missing" = 0 ] && [ "$relayed" -gt 0 ]
