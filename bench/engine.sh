#!/usr/bin/env bash
# Engine benchmark: wrk and goloadtest, one after the other, against the same nginx on 127.0.0.1.
#
#   bench/engine.sh [ROUNDS] [SECONDS]      (make bench runs 3 rounds of 10 s)
#   MIX=1 bench/engine.sh ...                three requests weighted 1:2:1: goloadtest --targets,
#                                            wrk with a Lua script cycling through the same three
#                                            requests, built once in init()
#
# nginx: one worker, access log off, a 1 KiB file, keep-alive without a request limit.
# Prints requests/s, p50, p99 and CPU seconds of each client, and the ratios goloadtest/wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-10}
connections=64
threads=${THREADS:-1}

export DEBIAN_FRONTEND=noninteractive
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nginx-light wrk >/dev/null
fi
source scripts/lib.sh
bin=$(goloadtest_bin)

work=$(mktemp -d)
trap 'nginx -p "$work" -c nginx.conf -s stop 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/www" "$work/logs"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/index.html"
cp "$work/www/index.html" "$work/www/a.html"
cp "$work/www/index.html" "$work/www/b.html"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:$port;
    root $work/www;
  }
}
CONF
nginx -p "$work" -c nginx.conf
url="http://127.0.0.1:$port/index.html"
sleep 0.5

# The mix: index, a, a, b per cycle (weights 1:2:1), for both clients.
wrk_mix=()
gl_target=(--url "$url")
if [ "${MIX:-0}" = 1 ]; then
  cat > "$work/targets.txt" <<TARGETS
# name: index
GET http://127.0.0.1:$port/index.html

# name: a
# weight: 2
GET http://127.0.0.1:$port/a.html

# name: b
GET http://127.0.0.1:$port/b.html
TARGETS
  cat > "$work/mix.lua" <<'LUA'
local requests = {}
local n = 0
init = function(args)
  for _, path in ipairs({"/a.html", "/index.html", "/b.html", "/a.html"}) do
    table.insert(requests, wrk.format("GET", path))
  end
end
request = function()
  n = n + 1
  return requests[(n % #requests) + 1]
end
LUA
  wrk_mix=(-s "$work/mix.lua")
  gl_target=(--targets "$work/targets.txt")
fi

# cpu_of CMD...: runs CMD, prints its user+system CPU seconds to fd 3.
cpu_of() { /usr/bin/time -f "%U %S" -o "$work/time" "$@"; awk '{print $1+$2}' "$work/time" >&3; }

printf "%-6s %-11s %10s %8s %8s %8s %10s\n" round client "req/s" "p50 ms" "p99 ms" "cpu s" "cpu µs/req"
ratios=()
for round in $(seq 1 "$rounds"); do
  cpu_of wrk -t1 -c$connections -d${seconds}s --latency "${wrk_mix[@]}" "$url" > "$work/wrk.txt" 3> "$work/wrk.cpu"
  wrk_rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
  to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v/1000; else if (v ~ /ms$/) print v+0; else if (v ~ /s$/) print v*1000; else print v }'; }
  wrk_p50=$(to_ms "$(awk '$1=="50%" {print $2}' "$work/wrk.txt")")
  wrk_p99=$(to_ms "$(awk '$1=="99%" {print $2}' "$work/wrk.txt")")
  wrk_cpu=$(cat "$work/wrk.cpu")
  wrk_requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")

  rm -f "$work/bench.db"*
  cpu_of "$bin" run "${gl_target[@]}" --batch $connections --duration ${seconds}s --threads "$threads" \
    --db "$work/bench.db" --format json --log-level warning > "$work/gl.json" 3> "$work/gl.cpu"
  read -r gl_rps gl_p50 gl_p99 gl_requests < <(python3 -c '
import json,sys
t=json.load(open(sys.argv[1]))["total"]
print(t["requestsPerSecond"], t["latency"]["p50Ms"], t["latency"]["p99Ms"], t["requests"])' "$work/gl.json")
  gl_cpu=$(cat "$work/gl.cpu")

  wrk_per=$(python3 -c "print(f'{$wrk_cpu/$wrk_requests*1e6:.2f}')")
  gl_per=$(python3 -c "print(f'{$gl_cpu/$gl_requests*1e6:.2f}')")
  printf "%-6s %-11s %10.0f %8.3f %8.3f %8.2f %10s\n" "$round" wrk "$wrk_rps" "$wrk_p50" "$wrk_p99" "$wrk_cpu" "$wrk_per"
  printf "%-6s %-11s %10.0f %8.3f %8.3f %8.2f %10s\n" "$round" goloadtest "$gl_rps" "$gl_p50" "$gl_p99" "$gl_cpu" "$gl_per"
  ratios+=("$(python3 -c "print($gl_rps/$wrk_rps, $gl_per/$wrk_per)")")
done

python3 - "${ratios[@]}" <<'PY'
import statistics, sys
pairs = [tuple(map(float, r.split())) for r in sys.argv[1:]]
rps = statistics.median(p[0] for p in pairs)
cpu = statistics.median(p[1] for p in pairs)
print(f"median over {len(pairs)} rounds: requests/s goloadtest/wrk = {rps:.3f}; CPU per request goloadtest/wrk = {cpu:.3f}")
PY
