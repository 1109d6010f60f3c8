#!/usr/bin/env bash
# Durable ingest: windows/s stored by the master's WindowWriter with every commit synced (group
# commit), against one synced transaction per window and the unsynced one-per-window of before.
# Usage: bash bench/ingest.sh [seconds] [concurrent posters]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product IngestBench >/dev/null
"$(swift build -c release --show-bin-path)/IngestBench" "${1:-5}" "${2:-200}"
