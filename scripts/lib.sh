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
