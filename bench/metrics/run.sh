#!/usr/bin/env bash
# bench/metrics: what sampling Metricbeat's system sets costs the agent.
# Runs the agent with `sets: all` (and, for comparison, the three sets of the
# default) writing to the file output for SECONDS, and prints its CPU time,
# the share of one core, peak RSS, and the mean event.duration of each set
# (the time spent sampling it, from the documents themselves).
# Usage: bench/metrics/run.sh [--interval 10s] [--seconds 60] [--top N]
set -euo pipefail
cd "$(dirname "$0")/../.."
interval=10s seconds=60 top=5
while [ $# -gt 0 ]; do
  case $1 in
    --interval) interval=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --top) top=$2; shift 2 ;;
    *) echo "usage: $0 [--interval 10s] [--seconds 60] [--top N]" >&2; exit 2 ;;
  esac
done
scripts/build.sh build-bench -DCMAKE_BUILD_TYPE=Release -DLF_TESTS=OFF >/dev/null
bin=$PWD/build-bench/logferry
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(ls /proc | grep -c '^[0-9]') processes, $(($(wc -l < /proc/net/dev) - 2)) interfaces," \
  "$(wc -l < /proc/diskstats) diskstats lines, $(wc -l < /proc/self/mounts) mounts"

run() {
  local name=$1 sets=$2
  rm -rf "$work/data"
  cat > "$work/m.yml" <<YML
agent:
  data_dir: $work/data
inputs:
  metrics:
    interval: $interval
    sets: $sets
    top_processes: $top
output:
  type: file
  file:
    dir: $work/data/out
YML
  /usr/bin/time -f "%U %S %M" -o "$work/time" "$bin" agent -c "$work/m.yml" 2> "$work/agent.log" &
  local tpid=$! pid=""
  # the agent is time's child: wait until it is there, then let it run
  for _ in $(seq 100); do pid=$(pgrep -P $tpid || true); [ -n "$pid" ] && break; sleep 0.05; done
  [ -n "$pid" ] || { echo "agent did not start" >&2; cat "$work/agent.log" >&2; exit 1; }
  sleep "$seconds"
  kill -TERM "$pid"
  wait $tpid || true
  local user sys rss
  read -r user sys rss < "$work/time"
  cat "$work"/data/out/*.ndjson | python3 -c '
import json, sys
name, secs, u, s, rss = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
docs, dur, cnt = 0, {}, {}
for line in sys.stdin:
    d = json.loads(line)
    ms = d.get("metricset")
    if not ms:
        continue
    docs += 1
    n = ms["name"]
    cnt[n] = cnt.get(n, 0) + 1
    dur.setdefault(n, []).append(d["event"]["duration"])
cpu = u + s
print("%-8s %d s: %d documents, CPU %.3f s = %.3f%% of one core, peak RSS %.1f MB"
      % (name, secs, docs, cpu, 100 * cpu / secs, rss / 1024))
# event.duration of a set with one event per thing grows through the walk,
# so the max is about the cost of a whole sample of it.
for n in cnt:
    print("  %-16s %4d docs, event.duration median %.3f ms, max %.3f ms"
          % (n, cnt[n], sorted(dur[n])[len(dur[n]) // 2] / 1e6, max(dur[n]) / 1e6))
' "$name" "$seconds" "$user" "$sys" "$rss"
}

echo "== interval $interval, $seconds s, top_processes $top"
run default "[load, memory, cpu]"
run all all
