#!/usr/bin/env bash
# bench/agent: what the agent costs.
#   1. tail -> SYSLOGLINE grammar -> file output over the 1M-line corpus:
#      lines/s, CPU seconds per million lines, peak RSS.
#   2. the idle agent sampling metrics every second for 60 s: RSS, CPU s.
# Usage: bench/agent/run.sh [LINES] [IDLE_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
lines=${1:-1000000}
idle=${2:-60}
gen=${LF_CORPUS_GEN:-../shared/bench/gen_corpus.py}
mkdir -p bench/out
corpus=bench/out/corpus-$lines.log
[ -s "$corpus" ] || python3 "$gen" -n "$lines" -o "$corpus"
scripts/build.sh build-bench -DCMAKE_BUILD_TYPE=Release -DLF_TESTS=OFF >/dev/null
bin=$PWD/build-bench/logferry
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

# 1. Throughput.
mkdir -p "$work/log"
cp "$corpus" "$work/log/corpus.log"
size=$(stat -c %s "$work/log/corpus.log")
cat > "$work/tail.yml" <<YML
agent:
  data_dir: $work/data
grammars:
  syslog:
    expressions: ['%{SYSLOGLINE}']
inputs:
  metrics:
    enabled: false
  files:
    - paths: [$work/log/corpus.log]
      start_at: beginning
output:
  type: file
  file:
    dir: $work/out
YML
offset() { grep -o '"offset":[0-9]*' "$work/data/registry.json" 2>/dev/null | cut -d: -f2 || echo 0; }
start=$(date +%s.%N)
/usr/bin/time -f "%U %S %M" -o "$work/time" "$bin" agent -c "$work/tail.yml" 2> "$work/agent.log" &
pid=$!
while [ "$(offset)" != "$size" ]; do
  sleep 0.05
  kill -0 $pid 2>/dev/null || { echo "agent died:"; cat "$work/agent.log"; exit 1; }
done
done_at=$(date +%s.%N)
kill -TERM "$(pgrep -P $pid)" # the agent, not /usr/bin/time, which would die silently
wait $pid || true
read -r user sys rss < "$work/time"
docs=$(cat "$work"/out/*.ndjson | grep -c '"create"')
awk -v n="$lines" -v docs="$docs" -v t0="$start" -v t1="$done_at" -v u="$user" -v s="$sys" -v rss="$rss" 'BEGIN {
  wall = t1 - t0; cpu = u + s;
  printf "tail -> SYSLOGLINE -> file: %d lines (%d documents) in %.2f s wall: %.0f lines/s\n", n, docs, wall, n / wall;
  printf "  CPU %.2f s (user %.2f + sys %.2f) = %.2f CPU-s per million lines (target <= 0.6)\n", cpu, u, s, cpu * 1e6 / n;
  printf "  peak RSS %.1f MB (target <= 16)\n", rss / 1024;
}'

# 2. Idle.
cat > "$work/idle.yml" <<YML
agent:
  data_dir: $work/idle-data
inputs:
  metrics:
    interval: 1s
output:
  type: file
YML
/usr/bin/time -f "%U %S %M" -o "$work/time" "$bin" agent -c "$work/idle.yml" 2> "$work/idle.log" &
tpid=$!
sleep "$idle"
kill -TERM "$(pgrep -P $tpid)"
wait $tpid || true
read -r user sys rss < "$work/time"
samples=$(cat "$work"/idle-data/out/*.ndjson | grep -c '"create"')
awk -v secs="$idle" -v u="$user" -v s="$sys" -v rss="$rss" -v n="$samples" 'BEGIN {
  printf "idle, metrics every 1 s for %d s (%d documents): CPU %.3f s = %.3f CPU-s a minute (target <= 0.02), peak RSS %.1f MB (target <= 4)\n", secs, n, u + s, (u + s) * 60 / secs, rss / 1024;
}'
