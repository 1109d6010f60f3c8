# Shared by scripts/demo.sh and bench/*.sh. Source it from the repository root.

# Prints the release binary, building it first unless $GOLOADTEST_BIN names one.
goloadtest_bin() {
  if [ -n "${GOLOADTEST_BIN:-}" ]; then
    echo "$GOLOADTEST_BIN"
    return
  fi
  swift build -c release --product goloadtest >&2
  echo "$(swift build -c release --show-bin-path)/goloadtest"
}

# Waits for "listening on ...:PORT" in the log file $1 (10 s at most) and prints PORT.
port_of() {
  for _ in $(seq 1 100); do
    port=$(grep -o 'listening on [^ ]*:[0-9]*' "$1" 2>/dev/null | head -1 | grep -o '[0-9]*$' || true)
    if [ -n "$port" ]; then echo "$port"; return 0; fi
    sleep 0.1
  done
  echo "no listening line in $1:" >&2
  cat "$1" >&2
  return 1
}

# Starts a throwaway PostgreSQL server (Debian's postgresql; fsync on) in the folder $1, on
# 127.0.0.1, and prints its URL; `stop_postgres $1` stops it. As root, the server runs as nobody.
start_postgres() {
  local pg as=()
  pg=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$pg" ]; then echo "no PostgreSQL here (apt-get install postgresql)" >&2; return 1; fi
  if [ "$(id -u)" = 0 ]; then chown nobody "$1"; as=(runuser -u nobody --); fi
  "${as[@]}" "$pg/initdb" -D "$1/data" -U goloadtest -A trust >/dev/null
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${as[@]}" "$pg/postgres" -D "$1/data" -k "$1" -p "$port" -h 127.0.0.1 >"$1/log" 2>&1 &
  for _ in $(seq 1 300); do
    if grep -q "ready to accept connections" "$1/log" 2>/dev/null; then
      echo "postgres://goloadtest@127.0.0.1:$port/postgres"
      return 0
    fi
    sleep 0.1
  done
  cat "$1/log" >&2
  return 1
}

stop_postgres() {
  local pid
  pid=$(head -1 "$1/data/postmaster.pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; fi
  for _ in $(seq 1 100); do [ -e "$1/data/postmaster.pid" ] || break; sleep 0.1; done
}
