#!/usr/bin/env bash
# The master under a swarm: a real master (release build) on 127.0.0.1 and SwarmBench's simulated
# slaves, the client on the same 2 cores. Prints the swarm's figures, the master's CPU and peak
# RSS, and windows stored against acknowledged.
#
#   bash bench/swarm.sh SLAVES SECONDS [paced|stream|flood|backlog] [INFLIGHT|BACKLOG]
#   bash bench/swarm.sh 1000 60              1,000 slaves, a window a second each, for 60 s
#   bash bench/swarm.sh 1000 60 stream       the same, each slave's windows on one stream
#   bash bench/swarm.sh 200 20 flood 8       200 slaves, 8 windows in flight each
#   SWARM_POSTGRES=1 bash bench/swarm.sh 1000 60   the master recording into a throwaway PostgreSQL
set -euo pipefail
cd "$(dirname "$0")/.."
slaves=${1:-1000}
seconds=${2:-30}
mode=${3:-paced}
inflight=${4:-1}
source scripts/lib.sh
bin=$(goloadtest_bin)
swift build -c release --product SwarmBench >&2
swarm="$(swift build -c release --show-bin-path)/SwarmBench"

work=$(mktemp -d)
trap 'kill $master 2>/dev/null || true; stop_postgres "$work"; rm -rf "$work"' EXIT
db="$work/swarm.db"
if [ -n "${SWARM_POSTGRES:-}" ]; then db=$(start_postgres "$work"); fi
/usr/bin/time -f "%U %S %M" -o "$work/time" "$bin" master --host 127.0.0.1 --port 0 --expect-slaves "$slaves" \
  --slave-timeout 30s --db "$db" --log-level notice 2> "$work/master.log" > /dev/null &
master=$!
port=$(port_of "$work/master.log")
/usr/bin/time -f "%U %S" -o "$work/swarm.time" "$swarm" "$port" "$slaves" "$seconds" "$mode" "$inflight"
wait $master || echo "master exited $? (a slave lost or a window refused: see above)"
read -r user system rss < <(tail -1 "$work/time")
read -r swarm_user swarm_system < <(tail -1 "$work/swarm.time")
if [ -n "${SWARM_POSTGRES:-}" ]; then
  stored=$(psql "$db" -XAtc "SELECT count(*) FROM summary")
else
  stored=$(sqlite3 "$db" "SELECT count(*) FROM summary")
fi
python3 - "$user" "$system" "$rss" "$stored" "$swarm_user" "$swarm_system" <<'PY'
import sys
user, system, rss, stored = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cpu = user + system
print(f"master: CPU {cpu:.1f} s, {cpu / stored * 1e6:.0f} µs per window stored; peak RSS {rss / 1024:.0f} MB; stored {stored}")
print(f"swarm (the simulated slaves): CPU {float(sys.argv[5]) + float(sys.argv[6]):.1f} s")
PY
