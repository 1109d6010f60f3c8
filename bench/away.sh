#!/usr/bin/env bash
# A slave whose master is gone: a rate-driven slave keeps measuring and keeps its windows
# (encoded) for --reconnect-for; its RSS is sampled every 5 s while they pile up.
#
#   bash bench/away.sh [SECONDS_AWAY] [RATE]      (default 60 s at 2000 requests/s)
set -euo pipefail
cd "$(dirname "$0")/.."
away=${1:-60}
rate=${2:-2000}
source scripts/lib.sh
bin=$(goloadtest_bin)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin" target --port 0 2> "$work/target.log" &
target_port=$(port_of "$work/target.log")
"$bin" master --host 127.0.0.1 --port 0 --expect-slaves 1 --db "$work/away.db" 2> "$work/master.log" > /dev/null &
master=$!
master_port=$(port_of "$work/master.log")
"$bin" slave --master "127.0.0.1:$master_port" --name away --url "http://127.0.0.1:$target_port/" \
  --duration $((away + 20))s --rate "$rate" --batch 16 --reconnect-for $((away + 10))s 2> "$work/slave.log" &
slave=$!
sleep 5
kill -9 "$master"; wait "$master" 2>/dev/null || true
echo "master killed; the slave measures on at $rate requests/s and keeps its windows"
for elapsed in $(seq 5 5 "$away"); do
  sleep 5
  printf "%4s s away: slave RSS %s, peak %s\n" "$elapsed" \
    "$(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$slave/status)" "$(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$slave/status)"
done
