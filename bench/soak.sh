#!/usr/bin/env bash
# Soak: a master and 4 slaves at a fixed rate for MINUTES (default 10) against goloadtest's own
# target on 127.0.0.1. Samples every process's RSS every 10 s, then checks that the requests
# stored equal the requests each slave says it sent.
#
#   bench/soak.sh [MINUTES] [RATE_PER_SLAVE]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
rate=${2:-500}
source scripts/lib.sh
bin=$(goloadtest_bin)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
cd "$work"

"$bin" target --port 0 --threads 1 2> target.log &
target_port=$(port_of target.log)
"$bin" MASTER 127.0.0.1 0 soak --expect-slaves 4 --db soak.db < /dev/null > summary.txt 2> master.log &
master_pid=$!
master_port=$(port_of master.log)
pids=()
for i in 1 2 3 4; do
  "$bin" SLAVE 127.0.0.1 "$master_port" "s$i" 1000000000 16 --duration "${minutes}m" --rate "$rate" \
    --url "http://127.0.0.1:$target_port/" 2> "s$i.log" &
  pids+=($!)
done

echo "time_s master_rss_mb slave_rss_mb(s1..s4)"
start=$(date +%s)
while kill -0 "$master_pid" 2>/dev/null; do
  line="$(( $(date +%s) - start ))"
  for pid in "$master_pid" "${pids[@]}"; do
    rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status" 2>/dev/null || echo "-")
    line="$line $rss"
  done
  echo "$line"
  sleep 10
done
wait "$master_pid" && echo "master exit 0" || echo "master exit $?"

python3 - <<'PY'
import re, sqlite3
db = sqlite3.connect("soak.db")
stored = dict(db.execute("SELECT slave, SUM(requests) FROM summary WHERE runId = 1 GROUP BY slave"))
dupes = db.execute("SELECT COUNT(*) - COUNT(DISTINCT slave || ':' || seq) FROM summary WHERE runId = 1").fetchone()[0]
ok = True
for i in range(1, 5):
    sent = int(re.search(r"sent (\d+) requests", open(f"s{i}.log").read()).group(1))
    print(f"s{i}: sent {sent}, stored {stored.get(f's{i}')}")
    ok &= sent == stored.get(f"s{i}")
print("status:", db.execute("SELECT status FROM run WHERE id = 1").fetchone()[0], "· duplicate windows:", dupes)
print("stored == sent for every slave" if ok else "MISMATCH")
PY
echo "work files in $work"
