#!/usr/bin/env bash
# make demo: a target, a master expecting two slaves, two slaves, then the stored report.
# Everything runs on 127.0.0.1 on free ports and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib.sh
bin=$(goloadtest_bin)
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
db="${DB:-$PWD/goloadtest.db}"

"$bin" target --port 0 2> "$work/target.log" &
target_port=$(port_of "$work/target.log")
echo "target on http://127.0.0.1:$target_port/"

"$bin" MASTER 127.0.0.1 0 demo-master --expect-slaves 2 --db "$db" < /dev/null > "$work/summary.txt" 2> "$work/master.log" &
master_pid=$!
master_port=$(port_of "$work/master.log")
echo "master on 127.0.0.1:$master_port, recording in $db"

export GET_URL="http://127.0.0.1:$target_port/"
"$bin" SLAVE 127.0.0.1 "$master_port" slave1 100000 50 2> "$work/slave1.log" &
"$bin" SLAVE 127.0.0.1 "$master_port" slave2 100000 50 2> "$work/slave2.log" &

status=0
wait "$master_pid" || status=$?
run=$(grep -o '^run [0-9]*' "$work/summary.txt" | head -1 | grep -o '[0-9]*' || true)
echo
echo "\$ goloadtest report --run $run --db $db"
"$bin" report --run "$run" --db "$db"
exit $status
