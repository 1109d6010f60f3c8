#!/usr/bin/env bash
# Durable ingest: windows/s stored by the master's WindowWriter with every commit synced (group
# commit), against one synced transaction per window and the unsynced one-per-window of before;
# then the master's way into a throwaway PostgreSQL server (Debian's postgresql, fsync on, on
# 127.0.0.1) when it is installed.
# Usage: bash bench/ingest.sh [seconds] [concurrent posters]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
swift build -c release --product IngestBench >/dev/null
bench="$(swift build -c release --show-bin-path)/IngestBench"
folder=$(mktemp -d /tmp/ingest-pg.XXXXXX)
trap 'stop_postgres "$folder"; rm -rf "$folder"' EXIT
if url=$(start_postgres "$folder"); then
  "$bench" "${1:-5}" "${2:-200}" "$url"
else
  "$bench" "${1:-5}" "${2:-200}"
fi
