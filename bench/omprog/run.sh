#!/usr/bin/env bash
# bench/omprog: what `logferry agent --omprog` costs behind a real rsyslogd,
# against the protocol's own ceiling, in the same run (issue 11, item 4).
#
#   rsyslogd (private instance: imfile reads the corpus, the shipped snippet
#   packaging/rsyslog/logferry-omprog.conf, transactions on) ->
#     consumer: bench/omprog/consumer.c, answers every line at once
#     agent:    logferry agent --omprog -> _bulk -> bench/sink (lf_es_sink)
#     agent-notxn: the same with useTransactions="off" (a tenth of MESSAGES)
#   and with LF_BENCH_429=1, agent-429-5 and agent-429-30: the agent with
#   transactions -> lf_es_sink refusing 5% / 30% of the items with 429
#   (--reject-429), which the agent retries: their ratio to `agent` is the
#   figure. LF_BENCH_MODES="consumer agent" runs only the modes named;
#   LF_BENCH_AGENT_PREFIX="/usr/bin/perf record -g -o /tmp/agent.data --" runs the
#   agent under a profiler (its CPU figure is then the profiler's);
#   LF_BENCH_KEEP=1 keeps the work directory (logs, configs).
#
# Per run: msg/s from rsyslogd's start until the last message is delivered
# (the consumer has answered it / the sink counted it), "taken": until the
# sink had seen every message once (then the agent had confirmed them all to
# rsyslog: the refused ones wait in its spool), CPU seconds per
# million messages of the program (agent or consumer) and of rsyslogd
# (utime + stime from /proc/PID/stat at that moment), then the median of
# ROUNDS and the agent's ratio to the consumer. Figures are printed, never
# asserted. Every agent run is also checked: the sink counted MESSAGES
# documents, no duplicate, no failed item.
#
# Usage: bench/omprog/run.sh [MESSAGES] [ROUNDS] [BUILD_DIR]
#   (BUILD_DIR: default build-omprog; it needs logferry and bench/lf_es_sink)
set -euo pipefail
cd "$(dirname "$0")/../.."
messages=${1:-200000}
rounds=${2:-3}
build=${3:-${LF_BENCH_BUILD:-build-omprog}}
bin=$PWD/$build/logferry
sink=$PWD/$build/bench/lf_es_sink
rsyslogd=${RSYSLOGD:-/usr/sbin/rsyslogd}
for f in "$bin" "$sink" "$rsyslogd"; do
  [ -x "$f" ] || {
    echo "bench/omprog: $f missing (build $build first)" >&2
    exit 2
  }
done
work=$(mktemp -d)
rs_pid="" sink_pid=""
cleanup() {
  # Only what this script started, by PID.
  if [ -n "$rs_pid" ]; then
    for c in $(pgrep -P "$rs_pid" 2> /dev/null || true); do kill -9 "$c" 2> /dev/null || true; done
    kill -9 "$rs_pid" 2> /dev/null || true
  fi
  if [ -n "$sink_pid" ]; then kill -TERM "$sink_pid" 2> /dev/null || true; fi
  wait 2> /dev/null || true
  if [ -n "${LF_BENCH_KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
cc -O2 -o "$work/consumer" bench/omprog/consumer.c
python3 bench/gen_corpus.py -n "$messages" -o "$work/corpus.log"
head -n $((messages / 10)) "$work/corpus.log" > "$work/corpus-small.log"
clk_tck=$(getconf CLK_TCK)
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $($rsyslogd -v | head -n1 | cut -d, -f1), $build/logferry, $messages messages, $rounds rounds"

now_ms() { date +%s%3N; }
cpu_ticks() { # PID: utime + stime
  awk '{print $14 + $15}' "/proc/$1/stat" 2> /dev/null || echo 0
}

# run MODE ROUND: prints "msg/s prog_cpu_per_M rsyslog_cpu_per_M"
run() {
  local mode=$1 r=$2 dir=$work/$1-$2 n=$messages corpus=$work/corpus.log
  if [ "$mode" = agent-notxn ] || [ "${mode#fake}" != "$mode" ]; then
    n=$((messages / 10)) corpus=$work/corpus-small.log
  fi
  mkdir -p "$dir/rs" "$dir/data"
  local binary done=$dir/done
  if [ "$mode" = consumer ]; then
    binary="$work/consumer $n $done"
  elif [ "${mode#fake}" != "$mode" ]; then
    rm -f "$dir/port"
    local faults='{}'
    [ "$mode" = fake-429 ] && faults='{"reject_429_fraction":0.3}'
    /usr/bin/python3 tests/fake_es/fake_es.py --port 0 --port-file "$dir/port" \
      --faults "$faults" 2> "$dir/fake.err" &
    sink_pid=$!
    until [ -s "$dir/port" ]; do sleep 0.05; done
    local url=http://127.0.0.1:$(cat "$dir/port")
    cat > "$dir/agent.yml" << YML
agent:
  data_dir: $dir/data
  shutdown_timeout: 5s
inputs:
  metrics:
    enabled: false
output:
  type: elasticsearch
  elasticsearch:
    hosts: [$url]
YML
    binary="$bin agent --omprog -c $dir/agent.yml"
    # done: the fake counts n documents
    (until [ "$(curl -s "$url/syslog-*/_count" | python3 -c 'import json,sys
try: print(json.load(sys.stdin)["count"])
except Exception: print(0)')" -ge "$n" ]; do sleep 0.2; done
     touch "$done") &
  else
    rm -f "$dir/port"
    local reject=0
    [ "${mode#agent-429-}" != "$mode" ] && reject=${mode#agent-429-}
    "$sink" --port 0 --port-file "$dir/port" --check-ids --expect-docs "$n" \
      --reject-429 "$reject" --done-file "$done" > "$dir/sink.out" &
    sink_pid=$!
    until [ -s "$dir/port" ]; do
      kill -0 "$sink_pid" 2> /dev/null || {
        echo "bench/omprog: lf_es_sink did not start" >&2
        exit 1
      }
      sleep 0.05
    done
    cat > "$dir/agent.yml" << YML
agent:
  data_dir: $dir/data
  shutdown_timeout: 5s
inputs:
  metrics:
    enabled: false
output:
  type: elasticsearch
  elasticsearch:
    hosts: [http://127.0.0.1:$(cat "$dir/port")]
YML
    binary="${LF_BENCH_AGENT_PREFIX:+$LF_BENCH_AGENT_PREFIX }$bin agent --omprog -c $dir/agent.yml"
  fi
  local txn=on
  [ "$mode" = agent-notxn ] && txn=off
  sed -e "s#binary=\"[^\"]*\"#binary=\"$binary\"#" \
    -e "s#/var/log/logferry/omprog.log#$dir/program.log#" \
    -e "s#useTransactions=\"on\"#useTransactions=\"$txn\"#" \
    packaging/rsyslog/logferry-omprog.conf > "$dir/snippet.conf"
  cat > "$dir/rsyslog.conf" << CONF
global(workDirectory="$dir/rs" processInternalMessages="on")
module(load="imfile")
input(type="imfile" File="$corpus" Tag="bench:")
if \$programname startswith "rsyslogd" then {
  action(type="omfile" file="$dir/rsyslogd.log")
  stop
}
include(file="$dir/snippet.conf")
CONF
  local t0
  t0=$(now_ms)
  "$rsyslogd" -n -f "$dir/rsyslog.conf" -i "$dir/rs.pid" > "$dir/rs.out" 2>&1 &
  rs_pid=$!
  local prog=""
  until [ -e "$done" ]; do
    kill -0 "$rs_pid" 2> /dev/null || {
      echo "bench/omprog: rsyslogd exited ($dir/rs.out)" >&2
      exit 1
    }
    [ -n "$prog" ] || prog=$(pgrep -P "$rs_pid" | head -n1 || true)
    sleep 0.02
  done
  local t1 p_cpu rs_cpu
  t1=$(now_ms)
  p_cpu=$(cpu_ticks "$prog")
  rs_cpu=$(cpu_ticks "$rs_pid")
  kill -TERM "$rs_pid"
  wait "$rs_pid" 2> /dev/null || true
  rs_pid=""
  if [ -n "$sink_pid" ] && [ "${mode#fake}" != "$mode" ]; then
    kill -TERM "$sink_pid"
    wait "$sink_pid" 2> /dev/null || true
    sink_pid=""
  elif [ -n "$sink_pid" ]; then
    kill -TERM "$sink_pid"
    wait "$sink_pid" 2> /dev/null || true
    sink_pid=""
    python3 - "$dir/sink.out" "$n" << 'PY' >&2
import json, sys
text = open(sys.argv[1]).read()
s = json.loads(text[text.index("{"):])
docs = s.get("docs", 0)
bad = [k for k in ("duplicates", "item_errors", "bad_requests") if s.get(k)]
if docs < int(sys.argv[2]) or bad:
    print("bench/omprog: CHECK FAILED:", docs, "documents,", {k: s[k] for k in bad})
if s.get("rejected_429"):
    print("  (the sink refused %d items with 429)" % s["rejected_429"])
PY
  fi
  # taken: when the sink had seen every document once (refused or not),
  # i.e. when the agent could confirm the last one to rsyslog (refused
  # ones are in its spool then); the consumer's is its own rate.
  local seen_ms=$t1
  if [ "$mode" != consumer ] && [ "${mode#fake}" = "$mode" ]; then
    seen_ms=$(python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))
print(int(s["seen_at"] * 1000) if s.get("seen_at") else sys.argv[2])' "$done" "$t1")
  fi
  awk -v n="$n" -v ms=$((t1 - t0)) -v sms=$((seen_ms - t0)) -v p="$p_cpu" -v rs="$rs_cpu" \
    -v hz="$clk_tck" 'BEGIN {
    printf "%.0f %.2f %.2f %.0f\n", n / (ms / 1000), p / hz / n * 1e6, rs / hz / n * 1e6,
      n / ((sms > 0 ? sms : ms) / 1000) }'
}

declare -A all
modes="consumer agent agent-notxn"
[ -n "${LF_BENCH_429:-}" ] && modes="$modes agent-429-5 agent-429-30"
modes=${LF_BENCH_MODES:-$modes}
for ((r = 1; r <= rounds; r++)); do
  for mode in $modes; do
    res=$(run "$mode" "$r")
    all[$mode]+="$res"$'\n'
    read -r rate pc rc taken <<< "$res"
    printf '%-12s round %d: %8s msg/s  program %6s CPU-s/M  rsyslogd %6s CPU-s/M  taken %8s msg/s\n' \
      "$mode" "$r" "$rate" "$pc" "$rc" "$taken"
  done
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "== medians"
for mode in $modes; do
  rate=$(printf '%s' "${all[$mode]}" | awk 'NF{print $1}' | median)
  pc=$(printf '%s' "${all[$mode]}" | awk 'NF{print $2}' | median)
  rc=$(printf '%s' "${all[$mode]}" | awk 'NF{print $3}' | median)
  taken=$(printf '%s' "${all[$mode]}" | awk 'NF{print $4}' | median)
  printf '%-12s %8s msg/s  program %6s CPU-s/M  rsyslogd %6s CPU-s/M  taken %8s msg/s\n' \
    "$mode" "$rate" "$pc" "$rc" "$taken"
  declare "rate_${mode//-/_}=$rate" "taken_${mode//-/_}=$taken"
done
ratio() { # WHAT RATE BASE
  awk -v w="$1" -v a="${2:-0}" -v b="${3:-0}" 'BEGIN { if (a && b) printf "%s: %.0f%%\n", w, 100 * a / b }'
}
ratio "agent / consumer (target >= 75%)" "${rate_agent:-}" "${rate_consumer:-}"
ratio "agent without transactions / consumer" "${rate_agent_notxn:-}" "${rate_consumer:-}"
ratio "agent, 5% item 429s / agent, taken from rsyslog" "${taken_agent_429_5:-}" "${taken_agent:-}"
ratio "agent, 30% item 429s / agent, taken from rsyslog (target >= 50%)" "${taken_agent_429_30:-}" "${taken_agent:-}"
ratio "agent, 5% item 429s / agent, all delivered" "${rate_agent_429_5:-}" "${rate_agent:-}"
ratio "agent, 30% item 429s / agent, all delivered" "${rate_agent_429_30:-}" "${rate_agent:-}"
