#!/usr/bin/env bash
# bench/tail: what following files costs the agent (file output, fsync per
# batch, SYSLOGLINE grammar), with lines from our own generator
# (bench/tail/tailbench.py):
#   1. finished  a file of LINES lines written before the agent starts;
#   2. paced     ROUNDS x PER lines appended to one followed file, PAUSE s
#                apart: CPU per line, and its ratio to the finished file's
#                (target <= 1.3);
#   3. many      FILES files, PER_FILE lines appended to each per round for
#                MANY_ROUNDS rounds: peak RSS (target <= 32 MiB) and CPU.
# CPU is the agent's own on-CPU time (/proc/PID/schedstat, user + system),
# counted from when it is idle and following to when the registry shows
# every byte read. It prints figures; nothing here is a pass or a fail.
#
# bench/tail/blocked.sh measures a blocked input.
#
# Usage: bench/tail/run.sh; environment: LINES (1000000), ROUNDS (100),
# PER (10000), PAUSE (0.1), FILES (1000), PER_FILE (10), MANY_ROUNDS (30),
# MANY_PAUSE (0.3), LOGFERRY (a built binary; default: a Release build in
# build-tail-bench), LF_BENCH_STRACE=1 (also count system calls of the paced
# case with strace -c).
set -euo pipefail
cd "$(dirname "$0")/../.."
LINES=${LINES:-1000000} ROUNDS=${ROUNDS:-100} PER=${PER:-10000} PAUSE=${PAUSE:-0.1}
FILES=${FILES:-1000} PER_FILE=${PER_FILE:-10} MANY_ROUNDS=${MANY_ROUNDS:-30}
MANY_PAUSE=${MANY_PAUSE:-0.3}
if [ -z "${LOGFERRY:-}" ]; then
  cmake -S . -B build-tail-bench -DCMAKE_BUILD_TYPE=Release -DLF_TESTS=OFF >/dev/null
  cmake --build build-tail-bench -j"$(nproc)" --target logferry >/dev/null
  LOGFERRY=$PWD/build-tail-bench/logferry
fi
gen="python3 $PWD/bench/tail/tailbench.py"
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

config() { # config NAME PATHS
  mkdir -p "$work/$1/log"
  cat > "$work/$1/agent.yml" <<YML
agent:
  data_dir: $work/$1/data
grammars:
  syslog:
    expressions: ['%{SYSLOGLINE}']
inputs:
  metrics:
    enabled: false
  files:
    - paths: ['$work/$1/log/$2']
      start_at: beginning
output:
  type: file
  file:
    dir: $work/$1/out
YML
}
start() { # start NAME
  "$LOGFERRY" agent -c "$work/$1/agent.yml" 2> "$work/$1/agent.log" &
  pid=$!
}
stop() {
  kill -TERM "$pid"
  wait "$pid" || true
  pid=
}
cpu_ns() { awk '{print $1}' "/proc/$pid/schedstat"; }
status() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; } # kB
bytes_in() { cat "$@" | wc -c; }
wait_read() { # wait_read NAME BYTES
  $gen wait "$work/$1/data" "$2" 600 || { cat "$work/$1/agent.log"; exit 1; }
}
settle() { sleep 1.5; } # startup done, idle and following

# 1. finished: written whole, then moved where the agent (started, idle)
# finds it, so that its startup is not counted.
config finished corpus.log
$gen write "$work/finished/corpus.log" "$LINES"
size=$(bytes_in "$work/finished/corpus.log")
start finished
settle
c0=$(cpu_ns)
t0=$(date +%s.%N)
mv "$work/finished/corpus.log" "$work/finished/log/corpus.log"
wait_read finished "$size"
t1=$(date +%s.%N)
fin_ns=$(($(cpu_ns) - c0))
fin_hwm=$(status VmHWM)
stop
awk -v n="$LINES" -v ns="$fin_ns" -v w="$(echo "$t1 - $t0" | bc -l)" -v hwm="$fin_hwm" 'BEGIN {
  printf "finished: %d lines: CPU %.3f s = %.3f CPU-s per million lines, %.0f lines/s wall (to within the registry'"'"'s 1 s), peak RSS %.1f MiB\n",
    n, ns / 1e9, ns / 1e9 * 1e6 / n, n / w, hwm / 1024 }'

# 2. paced
config paced app.log
: > "$work/paced/log/app.log"
start paced
settle
c0=$(cpu_ns)
if [ "${LF_BENCH_STRACE:-}" = 1 ]; then
  strace -c -f -o "$work/paced.strace" -p "$pid" &
  strace_pid=$!
  sleep 0.5
fi
$gen paced "$work/paced/log/app.log" "$ROUNDS" "$PER" "$PAUSE"
wait_read paced "$(bytes_in "$work/paced/log/app.log")"
c1=$(cpu_ns)
paced_hwm=$(status VmHWM)
if [ "${LF_BENCH_STRACE:-}" = 1 ]; then
  kill -INT "$strace_pid"
  wait "$strace_pid" || true
fi
stop
n=$((ROUNDS * PER))
awk -v n="$n" -v ns="$((c1 - c0))" -v fn="$LINES" -v fns="$fin_ns" -v r="$ROUNDS" -v p="$PER" \
    -v pause="$PAUSE" -v hwm="$paced_hwm" 'BEGIN {
  per = ns / n; fper = fns / fn;
  printf "paced: %d rounds x %d lines, %s s apart: CPU %.3f s = %.3f CPU-s per million lines, peak RSS %.1f MiB\n",
    r, p, pause, ns / 1e9, per * 1e6 / 1e9, hwm / 1024;
  printf "  paced / finished CPU per line: %.2f (target <= 1.3)\n", per / fper }'
if [ "${LF_BENCH_STRACE:-}" = 1 ]; then
  echo "  system calls while paced (strace -c):"
  sed -n '1,20p' "$work/paced.strace" | sed 's/^/    /'
fi

# 3. many files
config many '*.log'
$gen many "$work/many/log" "$FILES" 1 "$PER_FILE" 0
start many
settle
wait_read many "$(cat "$work"/many/log/*.log | wc -c)"
c0=$(cpu_ns)
$gen many "$work/many/log" "$FILES" "$MANY_ROUNDS" "$PER_FILE" "$MANY_PAUSE"
wait_read many "$(cat "$work"/many/log/*.log | wc -c)"
c1=$(cpu_ns)
many_hwm=$(status VmHWM)
many_rss=$(status VmRSS)
stop
awk -v f="$FILES" -v r="$MANY_ROUNDS" -v p="$PER_FILE" -v ns="$((c1 - c0))" -v hwm="$many_hwm" \
    -v rss="$many_rss" -v pause="$MANY_PAUSE" 'BEGIN {
  n = f * r * p;
  printf "many: %d files, %d rounds of %d lines each, %s s apart (%d lines): peak RSS %.1f MiB (target <= 32), RSS at the end %.1f MiB, CPU %.3f s = %.3f CPU-s per million lines\n",
    f, r, p, pause, n, hwm / 1024, rss / 1024, ns / 1e9, ns / 1e9 * 1e6 / n }'
