#!/usr/bin/env bash
# Report benchmark: a database with one run of 1,000 slaves × 600 one-second windows (600,000
# windows with histograms), then `report --run N`, `--timeline`, CSV, JSON and HTML, timed.
#
#   bench/report.sh [SLAVES] [WINDOWS]
set -euo pipefail
cd "$(dirname "$0")/.."
slaves=${1:-1000}
windows=${2:-600}
source scripts/lib.sh
bin=$(goloadtest_bin)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# goloadtest makes the schema: a short real run against its own target.
"$bin" target --port 0 2> "$work/target.log" &
port=$(port_of "$work/target.log")
"$bin" run --url "http://127.0.0.1:$port/" --tasks 100 --batch 2 --db "$work/history.db" --log-level error > /dev/null
echo "building $slaves slaves × $windows windows ..."
run=$(python3 bench/make_history.py "$work/history.db" --slaves "$slaves" --windows "$windows")
ls -la "$work/history.db" | awk '{printf "database: %.0f MB\n", $5/1e6}'

measure() {
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out" 2>/dev/null
  read -r seconds kilobytes < "$work/time"
  printf "%-40s %6.2f s  %6.0f MB peak RSS  (%s lines)\n" "$*" "$seconds" "$(echo "$kilobytes/1024" | bc -l)" \
    "$(wc -l < "$work/out")"
}
cd "$work"
for _ in 1 2 3; do
  measure "$bin" report --run "$run" --db history.db
done
for _ in 1 2 3; do
  measure "$bin" report --run "$run" --db history.db --timeline
done
measure "$bin" report --run "$run" --db history.db --format csv
measure "$bin" report --run "$run" --db history.db --format json
for _ in 1 2 3; do
  measure "$bin" report --run "$run" --db history.db --format html --output report.html
  ls -la report.html | awk '{printf "  the HTML page: %.1f MB\n", $5/1e6}'
done
