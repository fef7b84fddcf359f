# Shared by the bench scripts (sourced, not run): installing missing tools, Release builds, and HAProxy's HTTP
# yardstick config, so every bench sets HAProxy up the same way.

bench_install() { # TOOL:PACKAGE...: install the packages of the tools missing here (root), else name them and exit 1
  local need=() pair
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}"); done
  [ ${#need[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing tools: ${need[*]} (apt-get install ${need[*]})" >&2; exit 1
  fi
}

bench_build() { # BUILD(0|1) PROJECT...: Release builds of the projects when BUILD is 1
  local build=$1 p; shift
  [ "$build" -eq 1 ] || return 0
  echo "building Release: $*"
  for p in "$@"; do dotnet build -c Release "$p" -nologo -v quiet >/dev/null; done
}

bench_require() { # DLL...: exit unless every one was built
  local dll
  for dll in "$@"; do [ -f "$dll" ] || { echo "not built: $dll (run without --no-build)" >&2; exit 1; }; done
}

haproxy_head() { # LISTEN DEFAULTS_LINE...: one thread, HTTP keep-alive plus the given defaults, a frontend on LISTEN, "backend up"
  local listen=$1 line; shift
  printf 'global\n  nbthread 1\n  maxconn 4096\ndefaults\n  mode http\n  option http-keep-alive\n'
  for line in "$@"; do echo "  $line"; done
  printf 'frontend bench\n  bind %s\n  default_backend up\nbackend up\n' "$listen"
}

haproxy_http_cfg() { # LISTEN BALANCE "NAME HOST:PORT"...: the yardstick on loopback, health-checked every 2 s
  local listen=$1 balance=$2 server; shift 2
  haproxy_head "$listen" "timeout connect 1s" "timeout client 60s" "timeout server 60s"
  echo "  balance $balance"
  echo "  option httpchk GET /healthz"
  for server in "$@"; do echo "  server ${server% *} ${server#* } check inter 2s"; done
}

# Processes a bench starts, stopped by PID (TERM, then KILL after 5 s) by bench_stop_all in its EXIT trap.
PIDS=()
STARTED_PID=
bench_start() { # CPU LOG COMMAND...: start COMMAND pinned to CPU (taskset execs it, so the PID is the command's own)
  local cpu=$1 log=$2; shift 2
  taskset -c "$cpu" "$@" >"$log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
}

bench_stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

bench_free_ports() { # N: N loopback ports free right now, on one line
  /usr/bin/python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks: s.close()' "$1"
}
