#!/usr/bin/env bash
# Report benchmark: a database with one run of 1,000 slaves × 600 one-second windows (600,000
# windows with histograms), as a goloadtest from before rollups left it: `report --run N` and
# `--timeline` from the windows; the writer that rolls it up; then report, timeline, CSV, JSON and
# HTML from the rollups; a master's start-up on it and on a small file; `runs` over 1,000 runs.
#
#   bench/report.sh [SLAVES] [WINDOWS]
#   REPORT_POSTGRES=1 bench/report.sh    also copies the history (still without rollups) into a
#                                        throwaway PostgreSQL and reads it from the windows there
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
slaves=${1:-1000}
windows=${2:-600}
source scripts/lib.sh
bin=$(goloadtest_bin)
work=$(mktemp -d)
pg=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; stop_postgres "$pg"; rm -rf "$work" "$pg"' EXIT

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

# Seconds from a master's start to its "listening" line.
startup() {
  local begin; begin=$(date +%s.%N)
  "$bin" master --host 127.0.0.1 --port 0 --db "$1" < /dev/null > /dev/null 2> "$work/master.log" &
  local master=$!
  port_of "$work/master.log" > /dev/null
  local end; end=$(date +%s.%N)
  kill -INT "$master"; wait "$master" 2>/dev/null || true
  printf "master start-up on %-22s %6.2f s\n" "$(basename "$1")" "$(echo "$end - $begin" | bc -l)"
}

cd "$work"
echo "-- from the windows (a file from before rollups, read by report, which never writes)"
for _ in 1 2 3; do
  measure "$bin" report --run "$run" --db history.db
done
for _ in 1 2 3; do
  measure "$bin" report --run "$run" --db history.db --timeline
done
if [ -n "${REPORT_POSTGRES:-}" ]; then
  url=$(start_postgres "$pg")
  echo "-- the same history copied into PostgreSQL (no rollups), read from its windows"
  measure "$bin" migrate --from history.db --to "$url"
  for _ in 1 2 3; do
    measure "$bin" report --run "$run" --db "$url"
  done
  for _ in 1 2 3; do
    measure "$bin" report --run "$run" --db "$url" --timeline
  done
  stop_postgres "$pg"
fi
echo "-- a writer opens the file and rolls the closed run up (once)"
measure "$bin" run --url "http://127.0.0.1:$port/" --tasks 10 --db history.db --log-level error
echo "-- from the rollups"
for _ in 1 2 3; do
  measure "$bin" report --run "$run" --db history.db
done
for _ in 1 2 3; do
  measure "$bin" report --run "$run" --db history.db --timeline
done
measure "$bin" report --run "$run" --db history.db --format csv
measure "$bin" report --run "$run" --db history.db --format json
measure "$bin" report --run "$run" --db history.db --timeline --every 10s
measure "$bin" report --run "$run" --db history.db --timeline --slave slave0500
for _ in 1 2 3; do
  measure "$bin" report --run "$run" --db history.db --format html --output report.html
  ls -la report.html | awk '{printf "  the HTML page: %.1f MB\n", $5/1e6}'
done

echo "-- master start-up: an empty file and the 600,000-window history"
"$bin" run --url "http://127.0.0.1:$port/" --tasks 10 --db small.db --log-level error > /dev/null
for _ in 1 2 3; do startup small.db; startup history.db; done

echo "-- runs over 1,000 runs (4 slaves × 60 windows each)"
"$bin" run --url "http://127.0.0.1:$port/" --tasks 10 --db many.db --log-level error > /dev/null
python3 "$repo/bench/make_history.py" many.db --runs 1000 --slaves 4 --windows 60 > /dev/null
ls -la many.db | awk '{printf "database: %.0f MB\n", $5/1e6}'
measure "$bin" runs --db many.db
measure "$bin" run --url "http://127.0.0.1:$port/" --tasks 10 --db many.db --log-level error
for _ in 1 2 3; do
  measure "$bin" runs --db many.db
done
