#!/usr/bin/env bash
# The live page's cost to the master: the same 64-connection run twice against nginx on
# 127.0.0.1 (one worker, a 1 KiB file), a master with --http, one slave; the first time with
# nobody watching, the second with headless chromium on the live page (server-sent events every
# second) and a scrape of /metrics every second. Prints the master's CPU per million requests,
# each time, and the ratio.
#
#   bench/dashboard.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
source scripts/lib.sh
bin=$(goloadtest_bin)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
printf '%1024s' x > index.html
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > nginx.conf <<CONF
worker_processes 1; daemon off; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:$nginx_port; root $work; keepalive_requests 1000000000; } }
CONF
nginx -c "$work/nginx.conf" &
sleep 0.5

one_run() {  # $1: open|closed
  rm -f runs.db*
  /usr/bin/time -f "%U %S" -o master.time "$bin" master --host 127.0.0.1 --port 0 --http 127.0.0.1:0 --expect-slaves 1 \
    --db runs.db --url "http://127.0.0.1:$nginx_port/index.html" --duration "${seconds}s" --batch 64 --quiet \
    < /dev/null > /dev/null 2> master.log &
  local master=$!
  local port; port=$(port_of master.log)
  local web; web=$(grep -o 'http on 127.0.0.1:[0-9]*' master.log | grep -o '[0-9]*$')
  local watchers=()
  if [ "$1" = open ]; then
    chromium --headless --no-sandbox --disable-gpu "http://127.0.0.1:$web/" > /dev/null 2>&1 &
    watchers+=($!)
    (while true; do curl -s "http://127.0.0.1:$web/metrics" > /dev/null || true; sleep 1; done) &
    watchers+=($!)
  fi
  "$bin" slave --master "127.0.0.1:$port" --name s1 > /dev/null 2> slave.log
  wait $master || true
  for pid in "${watchers[@]}"; do kill "$pid" 2>/dev/null || true; done
  pkill -f "chromium --headless --no-sandbox --disable-gpu http://127.0.0.1:$web/" 2>/dev/null || true
  local requests; requests=$(sqlite3 runs.db "SELECT sum(requests) FROM summary")
  read -r user system < master.time
  python3 -c "import sys; u,s,r=float(sys.argv[1]),float(sys.argv[2]),int(sys.argv[3]); print(f'$1: {r} requests, master CPU {u+s:.2f} s ({(u+s)/$seconds*100:.2f} % of a core), {(u+s)/r*1e6:.3f} s per million requests')" \
    "$user" "$system" "$requests" | tee -a results.txt
}
one_run closed
one_run open
python3 - <<'PY'
lines = open("results.txt").read().splitlines()
per = [float(line.split(", ")[-1].split(" ")[0]) for line in lines]
print(f"open / closed, master CPU per request: {per[1] / per[0]:.2f}")
PY
