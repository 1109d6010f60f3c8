#!/usr/bin/env bash
# TLS and HTTP/2 benchmark: goloadtest against a peer, one after the other, same nginx, same
# invocation, on 127.0.0.1.
#
#   [CASES="https h2 close"] bench/tls.sh [ROUNDS] [SECONDS]      (make bench: 3 rounds of 10 s)
#
# nginx: one worker, access log off, a 1 KiB answer, TLS 1.3 with a P-256 certificate made here.
#   https   keep-alive HTTPS, 64 connections: wrk -t1 -c64 vs goloadtest run --batch 64
#   h2      HTTP/2 over TLS, 4 connections x 16 streams: h2load -c4 -m16 vs goloadtest --http2
#   close   HTTPS with Connection: close on every response (a handshake per request), 64
#           connections: wrk vs goloadtest
# Prints requests/s and CPU per request of each client, and the ratios goloadtest/peer.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-10}

export DEBIAN_FRONTEND=noninteractive
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null || ! command -v h2load >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nginx-light wrk nghttp2-client openssl >/dev/null
fi
source scripts/lib.sh
bin=$(goloadtest_bin)

work=$(mktemp -d)
trap 'nginx -p "$work" -c nginx.conf -s stop 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tls_port=$(free_port)
h2_port=$(free_port)
close_port=$(free_port)
mkdir -p "$work/logs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=bench" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
body=$(head -c 1024 /dev/zero | tr '\0' 'x')
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  ssl_certificate $work/cert.pem;
  ssl_certificate_key $work/key.pem;
  ssl_protocols TLSv1.3;
  server { listen 127.0.0.1:$tls_port ssl; location / { return 200 "$body"; } }
  server { listen 127.0.0.1:$h2_port ssl http2; location / { return 200 "$body"; } }
  server { listen 127.0.0.1:$close_port ssl; keepalive_timeout 0; location / { return 200 "$body"; } }
}
CONF
nginx -p "$work" -c nginx.conf
sleep 0.5

# cpu_of CMD...: runs CMD, prints its user+system CPU seconds to fd 3.
cpu_of() { /usr/bin/time -f "%U %S" -o "$work/time" "$@"; awk '{print $1+$2}' "$work/time" >&3; }

# goloadtest ARGS...: one run; prints "requests/s requests cpu-seconds".
goloadtest() {
  rm -f "$work/bench.db"*
  cpu_of "$bin" run --duration ${seconds}s --threads 1 --ca-file "$work/cert.pem" --db "$work/bench.db" \
    --format json --log-level warning "$@" > "$work/gl.json" 3> "$work/gl.cpu"
  python3 -c '
import json,sys
t=json.load(open(sys.argv[1]))["total"]
print(t["requestsPerSecond"], t["requests"], open(sys.argv[2]).read().strip())' "$work/gl.json" "$work/gl.cpu"
}

# wrk_run URL: prints "requests/s requests cpu-seconds".
wrk_run() {
  cpu_of wrk -t1 -c64 -d${seconds}s "$1" > "$work/wrk.txt" 3> "$work/wrk.cpu"
  echo "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt") $(awk '/requests in/ {print $1}' "$work/wrk.txt") $(cat "$work/wrk.cpu")"
}

# h2load_run URL: prints "requests/s requests cpu-seconds".
h2load_run() {
  cpu_of h2load -t1 -c4 -m16 -D "$seconds" "$1" > "$work/h2load.txt" 3> "$work/h2load.cpu"
  echo "$(awk '/^finished in/ {gsub(",", "", $4); print $4}' "$work/h2load.txt") $(awk '/^requests:/ {print $8}' "$work/h2load.txt") $(cat "$work/h2load.cpu")"
}

printf "%-6s %-6s %-11s %10s %10s\n" round case client "req/s" "cpu µs/req"
results=()
for round in $(seq 1 "$rounds"); do
  for case in ${CASES:-https h2 close}; do
    case $case in
      https) peer=wrk; p=$(wrk_run "https://127.0.0.1:$tls_port/"); g=$(goloadtest --url "https://127.0.0.1:$tls_port/" --batch 64) ;;
      h2) peer=h2load; p=$(h2load_run "https://127.0.0.1:$h2_port/"); g=$(goloadtest --url "https://127.0.0.1:$h2_port/" --http2 --connections 4 --batch 64) ;;
      close) peer=wrk; p=$(wrk_run "https://127.0.0.1:$close_port/"); g=$(goloadtest --url "https://127.0.0.1:$close_port/" --batch 64) ;;
    esac
    read -r p_rps p_n p_cpu <<< "$p"
    read -r g_rps g_n g_cpu <<< "$g"
    p_per=$(python3 -c "print(f'{$p_cpu/max($p_n,1)*1e6:.2f}')")
    g_per=$(python3 -c "print(f'{$g_cpu/max($g_n,1)*1e6:.2f}')")
    printf "%-6s %-6s %-11s %10.0f %10s\n" "$round" "$case" "$peer" "$p_rps" "$p_per"
    printf "%-6s %-6s %-11s %10.0f %10s\n" "$round" "$case" goloadtest "$g_rps" "$g_per"
    results+=("$case $(python3 -c "print($g_rps/$p_rps, $g_per/$p_per)")")
  done
done

python3 - "${results[@]}" <<'PY'
import statistics, sys
by = {}
for r in sys.argv[1:]:
    case, rps, cpu = r.split()
    by.setdefault(case, []).append((float(rps), float(cpu)))
for case, pairs in by.items():
    peer = "h2load" if case == "h2" else "wrk"
    print(f"{case}: median over {len(pairs)} rounds: requests/s goloadtest/{peer} = "
          f"{statistics.median(p[0] for p in pairs):.3f}; CPU per request goloadtest/{peer} = "
          f"{statistics.median(p[1] for p in pairs):.3f}")
PY
