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
# Our figures are over bench/gen_corpus.py's corpus. LF_CORPUS_GEN may name
# another generator with the same flags, for a comparison; the corpus file
# is named after the generator's checksum, so one is never taken for another.
gen=${LF_CORPUS_GEN:-bench/gen_corpus.py}
mkdir -p bench/out
corpus=bench/out/corpus-$lines-$(cksum < "$gen" | cut -d" " -f1).log
[ -s "$corpus" ] || python3 "$gen" -n "$lines" -o "$corpus"
scripts/build.sh build-bench -DCMAKE_BUILD_TYPE=Release -DLF_TESTS=OFF >/dev/null
bin=$PWD/build-bench/logferry
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

# 1. Throughput, with the file output's default (fsync per batch) and with
# fsync: never. The difference is mostly page writeback: with fsync the
# agent's own fsync calls do it (and on a VM, the disk's notifications trap
# to the host, which makes sys time vary from run to run); without, kernel
# threads do it and it is not charged to the agent.
mkdir -p "$work/log"
cp "$corpus" "$work/log/corpus.log"
size=$(stat -c %s "$work/log/corpus.log")
read_start=$(date +%s.%N)
cat "$work/log/corpus.log" > /dev/null
read_s=$(echo "$(date +%s.%N) - $read_start" | bc -l)
offset() { grep -o '"offset":[0-9]*' "$work/data/registry.json" 2>/dev/null | cut -d: -f2 || echo 0; }
throughput() {
  local fsync=$1
  rm -rf "$work/data" "$work/out"
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
    fsync: $fsync
YML
  local start done_at pid user sys rss docs
  start=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$work/time" "$bin" agent -c "$work/tail.yml" 2> "$work/agent.log" &
  pid=$!
  # The registry is saved at most once a second, so "done" is the last
  # moment the agent's CPU time grew before the registry showed the end.
  local agent="" ticks last_ticks=-1
  done_at=$start
  while [ "$(offset)" != "$size" ]; do
    sleep 0.02
    kill -0 $pid 2>/dev/null || { echo "agent died:"; cat "$work/agent.log"; exit 1; }
    [ -n "$agent" ] || agent=$(pgrep -P $pid || true)
    [ -n "$agent" ] || continue
    ticks=$(awk '{print $14 + $15}' "/proc/$agent/stat" 2>/dev/null || echo 0)
    if [ "$ticks" != "$last_ticks" ]; then last_ticks=$ticks; done_at=$(date +%s.%N); fi
  done
  kill -TERM "$(pgrep -P $pid)" # the agent, not /usr/bin/time, which would die silently
  wait $pid || true
  read -r user sys rss < "$work/time"
  docs=$(cat "$work"/out/*.ndjson | grep -c '"create"')
  awk -v n="$lines" -v docs="$docs" -v t0="$start" -v t1="$done_at" -v u="$user" -v s="$sys" \
      -v rss="$rss" -v fsync="$fsync" -v read_s="$read_s" 'BEGIN {
    wall = t1 - t0; cpu = u + s;
    printf "tail -> SYSLOGLINE -> file (fsync: %s): %d lines (%d documents) in %.2f s wall: %.0f lines/s (%.0fx the time cat takes to read the file from the page cache, %.3f s)\n", fsync, n, docs, wall, n / wall, wall / read_s, read_s;
    printf "  CPU %.2f s (user %.2f + sys %.2f) = %.2f CPU-s per million lines (target <= 0.6)\n", cpu, u, s, cpu * 1e6 / n;
    printf "  peak RSS %.1f MB (target <= 16)\n", rss / 1024;
  }'
}
throughput batch
throughput never

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
