#!/usr/bin/env bash
# Every node of every shipped example starts together on one machine, as the examples' headers promise.
# Root only: the nodes run in a network namespace of their own (only its loopback, nothing routed), so the
# examples' fixed ports never meet another build's. Usage: examples-start.sh MANYPATHS_DLL
set -euo pipefail
DLL=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NS=mpex$$
WORK=$(mktemp -d /tmp/manypaths-examples-XXXXXX)
PIDS=()
teardown() {
  local pid
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  if [ -n "${KEEP_LOGS:-}" ]; then cp -r "$WORK" "$KEEP_LOGS"; fi
  rm -rf "$WORK"
}
trap teardown EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up

in_ns() { ip netns exec "$NS" "$@"; }

for example in "$ROOT"/examples/*.yaml; do
  name=$(basename "$example")
  cp -r "$ROOT/examples" "$WORK/${name%.yaml}"
  config="$WORK/${name%.yaml}/$name"
  mapfile -t nodes < <(dotnet "$DLL" check --config "$config" | awk '$1 == "node" { print $2 }')
  mapfile -t admins < <(dotnet "$DLL" check --config "$config" | awk '$1 == "node" { print $4 }')
  [ ${#nodes[@]} -gt 0 ] || { echo "FAIL: $name declares no nodes"; exit 1; }
  PIDS=()
  for node in "${nodes[@]}"; do
    ip netns exec "$NS" dotnet "$DLL" run --config "$config" --node "$node" > "$WORK/$name.$node.log" 2>&1 &
    PIDS+=($!)
  done

  # Every node answers on its admin address, and none of them has exited.
  deadline=$((SECONDS + 60))
  for i in "${!nodes[@]}"; do
    until in_ns curl -fsS -m 2 "${admins[$i]}healthz" > /dev/null 2>&1; do
      if ! kill -0 "${PIDS[$i]}" 2>/dev/null || [ $SECONDS -gt $deadline ]; then
        echo "FAIL: $name node ${nodes[$i]} did not start:"; cat "$WORK/$name.${nodes[$i]}.log"; exit 1
      fi
      sleep 0.2
    done
  done

  # With more than one node, each one hears all its peers.
  if [ ${#nodes[@]} -gt 1 ]; then
    for i in "${!nodes[@]}"; do
      until [ "$(in_ns curl -fsS -m 2 "${admins[$i]}api/status" | python3 -c 'import json,sys; print(sum(p["state"] == "up" for p in json.load(sys.stdin)["peers"]))')" = "$(( ${#nodes[@]} - 1 ))" ]; do
        [ $SECONDS -le $deadline ] || { echo "FAIL: $name node ${nodes[$i]} does not hear all its peers"; exit 1; }
        sleep 0.2
      done
    done
  fi

  for pid in "${PIDS[@]}"; do kill -TERM "$pid"; done
  for i in "${!PIDS[@]}"; do
    if ! wait "${PIDS[$i]}"; then echo "FAIL: $name node ${nodes[$i]} did not stop cleanly:"; cat "$WORK/$name.${nodes[$i]}.log"; exit 1; fi
  done
  PIDS=()
  echo "$name: all ${#nodes[@]} node(s) started together on one machine (${nodes[*]}), heard each other and stopped cleanly"
done
