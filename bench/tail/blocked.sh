#!/usr/bin/env bash
# bench/tail/blocked.sh: what a blocked files input costs. The output is
# Elasticsearch on a closed port with no spool and a 64 KiB memory queue, so
# the pipeline refuses events and the input is blocked, while a writer
# appends about 3,300 lines/s (100 every 30 ms). Prints the agent's on-CPU
# time over 10 s of that (/proc/PID/schedstat) and `strace -c` over 3 s.
# Figures only; nothing here passes or fails.
# Usage: bench/tail/blocked.sh [LOGFERRY] (default: the Release build of
# bench/tail/run.sh in build-tail-bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-$PWD/build-tail-bench/logferry}
work=$(mktemp -d)
pid= gen=
cleanup() {
  if [ -n "$gen" ]; then kill "$gen" 2>/dev/null || true; fi
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/log" "$work/data"
cat > "$work/agent.yml" <<YML
agent:
  data_dir: $work/data
inputs:
  metrics:
    enabled: false
  files:
    - paths: ['$work/log/app.log']
      start_at: beginning
output:
  type: elasticsearch
  elasticsearch:
    hosts: ['http://127.0.0.1:9']
    queue_max_size: 64KiB
    spool:
      enabled: false
YML
: > "$work/log/app.log"
"$bin" agent -c "$work/agent.yml" 2> "$work/agent.log" &
pid=$!
python3 bench/tail/tailbench.py paced "$work/log/app.log" 600 100 0.03 &
gen=$!
sleep 5 # the queue is full and the input blocked by now
c0=$(awk '{print $1}' "/proc/$pid/schedstat")
sleep 10
c1=$(awk '{print $1}' "/proc/$pid/schedstat")
echo "blocked, ~3.3k lines/s written: agent CPU $(((c1 - c0) / 1000000)) ms in 10 s"
timeout 3 strace -c -p "$pid" -o "$work/strace" 2> /dev/null || true
echo "  system calls in 3 s (strace -c):"
sed -n '1,12p' "$work/strace" | sed 's/^/    /'
