# The torture trials' harness. Sourced by tests/torture/trials/*.sh (its name
# does not end in .sh). Every server is started here on 127.0.0.1 and stopped
# by its PID, in the EXIT trap at the latest; every wait has a deadline and
# polls a condition, never a bare sleep as synchronisation. The durations of
# the faults themselves (an outage of 15 s) are timed, as a fault is.
#
#   TORTURE_MODE=short|long    the short versions (ctest) or the long ones
#   TORTURE_RATE=N             lines per second (default 3000)
#   LF_KEEP_TMP=1              keep the trial's directory (logs, journal)
#
# What a trial gets:
#   pick SHORT LONG                  the value for the mode
#   start_es [FAULTS_JSON] / stop_es [SIGNAL] / es_faults JSON (POST, merged)
#   write_es_config                  $tmp/agent.yml from PATHS, SPOOL_MAX,
#                                    WHEN_FULL, ES_EXTRA (more of
#                                    output.elasticsearch, indented by 4)
#   start_agent / kill_agent / stop_agent   CPU and peak RSS accounted
#   start_writer [workload.py options] / stop_writer / rotate_now /
#   wait_written N                   the workload and its progress
#   registry_sum, spool_bytes        progress of the positions, spool on disk
#   watch_outage SECONDS [HOOK]      samples once a second into
#                                    $tmp/outage.tsv, HOOK ELAPSED each time
#   wait_delivered                   until every line is downstream, or no
#                                    progress for a while
#   note KEY VALUE                   an extra figure on the RESULT line
#   finish                           the final count, the RESULT line, exit
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
# check, wait_until, free_port
source "$LF_SOURCE_DIR/tests/integration/lib.bash"
PY=/usr/bin/python3 # Debian's: another python3 may come first in PATH
TORTURE=$LF_SOURCE_DIR/tests/torture
FAKE=$LF_SOURCE_DIR/tests/fake_es/fake_es.py
MODE=${TORTURE_MODE:-short}
RATE=${TORTURE_RATE:-3000}
TRIAL=${TRIAL:?the trial sets TRIAL}
RUN="$TRIAL-$$-$RANDOM"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torture-$TRIAL.XXXXXX")
mkdir -p "$tmp/log" "$tmp/es"
CLK_TCK=$(getconf CLK_TCK)

agent_pid='' agent_wrapper='' es_pid='' writer_pid='' mock_pid='' consumer_pid='' helper_pid=''
agent_starts=0 agent_ticks=0 agent_hwm_kb=0 written=0
extras=()
cleanup() {
  local p
  for p in $helper_pid $agent_pid $agent_wrapper $writer_pid $consumer_pid $es_pid $mock_pid; do
    kill -9 "$p" 2> /dev/null || true
    wait "$p" 2> /dev/null || true
  done
  if [ -z "${LF_KEEP_TMP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT

long() { [ "$MODE" = long ]; }
pick() { if long; then echo "$2"; else echo "$1"; fi; }
note() { extras+=("$1=$2"); }
say() { echo "[$TRIAL +${SECONDS}s] $*"; }

# ---- the fake Elasticsearch: one port for the whole trial, one journal ----
es_port=$(free_port)
es_url=http://127.0.0.1:$es_port
start_es() { # [FAULTS_JSON]
  rm -f "$tmp/es/port"
  "$PY" "$FAKE" --port "$es_port" --port-file "$tmp/es/port" --data "$tmp/es/journal" \
    ${1:+--faults "$1"} 2>> "$tmp/es/stderr" &
  es_pid=$!
  if ! wait_until 60 test -s "$tmp/es/port"; then
    echo "the fake Elasticsearch did not start on port $es_port"
    tail -n 20 "$tmp/es/stderr"
    exit 1
  fi
}
stop_es() { # [SIGNAL]: KILL by default (a crash: connections cut mid-request)
  kill "-${1:-KILL}" "$es_pid" 2> /dev/null || true
  wait "$es_pid" 2> /dev/null || true
  es_pid=
}
es_faults() { # JSON: merged into the fake's current faults
  curl -sS -m 10 -X POST -H 'Content-Type: application/json' "$es_url/_fake/faults" -d "$1" > /dev/null
}

# ---- the agent ----------------------------------------------------------------
PATHS=${PATHS:-$tmp/log/app.log}
SPOOL_MAX=${SPOOL_MAX:-1GiB}
WHEN_FULL=${WHEN_FULL:-block}
ES_EXTRA=${ES_EXTRA:-}
LOG_LEVEL=${LOG_LEVEL:-info}
write_es_config() {
  cat > "$tmp/agent.yml" << YML
agent:
  name: torture
  data_dir: $tmp/data
  timezone: UTC
  shutdown_timeout: 5s
  log_level: $LOG_LEVEL
inputs:
  metrics:
    enabled: false
  files:
    - paths: [$PATHS]
      start_at: beginning
      rescan: 1s
      index: torture
output:
  type: elasticsearch
  batch_max_age: 200ms
  elasticsearch:
    hosts: [$es_url]
    backoff_min: 100ms
    backoff_max: 2s
    connect_timeout: 2s
    spool:
      max_size: $SPOOL_MAX
      when_full: $WHEN_FULL
$ES_EXTRA
YML
  "$LOGFERRY" check -c "$tmp/agent.yml" > "$tmp/check.out" 2>&1 || {
    cat "$tmp/check.out"
    exit 1
  }
}
start_agent() {
  rm -f "$tmp/agent.pid" "$tmp/agent.rusage"
  "$PY" "$TORTURE/measure.py" --pid-file "$tmp/agent.pid" --out "$tmp/agent.rusage" -- \
    "$LOGFERRY" agent -c "$tmp/agent.yml" 2>> "$tmp/agent.log" &
  agent_wrapper=$!
  wait_until 30 test -s "$tmp/agent.pid" || { echo "the agent did not start"; exit 1; }
  agent_pid=$(cat "$tmp/agent.pid")
  agent_starts=$((agent_starts + 1))
}
# utime + stime in clock ticks of a live or zombie process (fields 14 and 15;
# the command name in field 2 may hold spaces, so count after the last ')').
proc_ticks() {
  local s
  s=$(cat "/proc/$1/stat" 2> /dev/null) || { echo 0; return; }
  s=${s##*) }
  # shellcheck disable=SC2086 # split into fields on purpose
  set -- $s
  echo $((${12} + ${13}))
}
proc_hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2> /dev/null || true; }
agent_cpu_now() { # CPU ticks of every agent so far, the live one included
  local t=$agent_ticks
  if [ -n "$agent_pid" ]; then t=$((t + $(proc_ticks "$agent_pid"))); fi
  echo "$t"
}
ticks_to_s() { awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", t / hz}'; }
# end_agent SIGNAL: sends it to the agent, waits for it; measure.py gives its
# exact CPU time and peak RSS (wait4). Sets agent_rc.
end_agent() {
  kill "-$1" "$agent_pid" 2> /dev/null || true
  agent_rc=0
  wait "$agent_wrapper" || agent_rc=$?
  local cpu rss
  cpu=$(sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p' "$tmp/agent.rusage" 2> /dev/null)
  rss=$(sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p' "$tmp/agent.rusage" 2> /dev/null)
  agent_ticks=$((agent_ticks + $(awk -v c="${cpu:-0}" -v hz="$CLK_TCK" 'BEGIN {printf "%d", c * hz + 0.5}')))
  if [ "${rss:-0}" -gt "$agent_hwm_kb" ]; then agent_hwm_kb=$rss; fi
  agent_pid='' agent_wrapper=''
}
kill_agent() { end_agent KILL; }
stop_agent() {
  end_agent TERM
  check "the agent exits 0 on SIGTERM (rc $agent_rc)" test "$agent_rc" = 0
}

# ---- the workload -------------------------------------------------------------
start_writer() { # [workload.py options]
  "$PY" "$TORTURE/workload.py" --file "$tmp/log/app.log" --run "$RUN" --rate "$RATE" \
    --state "$tmp/writer.state" "$@" 2>> "$tmp/writer.err" &
  writer_pid=$!
  wait_until 30 test -s "$tmp/writer.state" || { echo "the workload did not start"; exit 1; }
}
writer_field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" "$tmp/writer.state" 2> /dev/null; }
writer_seq() { local s; s=$(writer_field seq); echo "${s:-0}"; }
written_at_least() { [ "$(writer_seq)" -ge "$1" ]; }
wait_written() { # N: until the workload wrote N lines
  wait_until "$(($1 / (RATE > 0 ? RATE : 1) * 5 + 60))" written_at_least "$1"
}
rotations_at_least() { [ "$(writer_field rotations)" -ge "$1" ]; }
rotate_now() { # the workload rotates (its --rotate mode) between two lines
  local n
  n=$(writer_field rotations)
  kill -USR1 "$writer_pid"
  wait_until 60 rotations_at_least $((n + 1)) || { echo "the workload did not rotate"; exit 1; }
}
stop_writer() {
  if [ -n "$writer_pid" ]; then
    kill -TERM "$writer_pid" 2> /dev/null || true
    wait "$writer_pid" 2> /dev/null || true
    writer_pid=
  fi
  written=$(writer_seq)
  say "the workload wrote $written lines ($(writer_field rotations) rotations)"
}
wait_writer() { # the workload ends by itself (--count, --duration)
  wait "$writer_pid" 2> /dev/null || true
  writer_pid=
  written=$(writer_seq)
  say "the workload wrote $written lines ($(writer_field rotations) rotations)"
}

# ---- what the agent shows -------------------------------------------------------
registry_sum() { # sum of the saved offsets, -1 without a registry
  "$PY" -c '
import json, sys
try:
    r = json.load(open(sys.argv[1]))
    print(sum(e["offset"] for e in r["entries"]))
except Exception:
    print(-1)' "$tmp/data/registry.json"
}
SPOOL_DIR=${SPOOL_DIR:-$tmp/data/spool}
spool_bytes() {
  local b
  b=$(du -sb "$SPOOL_DIR" 2> /dev/null | cut -f1)
  echo "${b:-0}"
}

# watch_outage SECONDS [HOOK]: samples once a second (elapsed, registry sum,
# spool bytes, lines written, agent CPU ticks) into $tmp/outage.tsv, calling
# HOOK ELAPSED after each sample; then sets outage_* figures:
#   outage_reg_moved_late   the registry moved in the last third
#   outage_reg_frozen_s     seconds from its last move to the end
#   outage_spool_peak       the most bytes the spool held
#   outage_cpu_s            the agent's CPU-s over the outage
#   outage_late_core        the share of a core it used in the last third
#   outage_spool_late       bytes the spool grew by in the last third
watch_outage() {
  local secs=$1 hook=${2:-} start=$SECONDS el=0 last=-1
  : > "$tmp/outage.tsv"
  while :; do
    el=$((SECONDS - start))
    if [ "$el" != "$last" ]; then
      printf '%s\t%s\t%s\t%s\t%s\n' "$el" "$(registry_sum)" "$(spool_bytes)" "$(writer_seq)" \
        "$(agent_cpu_now)" >> "$tmp/outage.tsv"
      last=$el
      if [ -n "$hook" ]; then "$hook" "$el"; fi
    fi
    [ "$el" -lt "$secs" ] || break
    sleep 0.2
  done
  read -r outage_reg_moved_late outage_reg_frozen_s outage_spool_peak outage_cpu_ticks \
    outage_late_ticks outage_late_s outage_spool_late < <(
    awk -F'\t' -v secs="$secs" '
      NR == 1 { first_cpu = $5 }
      { if (NR > 1 && $2 != prev) lastmove = $1
        if ($1 <= secs * 2 / 3) { at23 = $2; cpu23 = $5; t23 = $1; sp23 = $3 }
        prev = $2; cpu = $5; t = $1; sp = $3; if ($3 > peak) peak = $3 }
      END { print (prev > at23 ? "yes" : "no"), t - lastmove, peak + 0, cpu - first_cpu,
                  cpu - cpu23, t - t23, sp - sp23 }' "$tmp/outage.tsv")
  outage_cpu_s=$(ticks_to_s "$outage_cpu_ticks")
  # the share of a core the agent used over the last third of the outage
  outage_late_core=$(awk -v t="$outage_late_ticks" -v s="$outage_late_s" -v hz="$CLK_TCK" \
    'BEGIN {printf "%.2f", (s > 0 ? t / hz / s : 0)}')
  say "outage of ${secs}s: registry moved in its last third: $outage_reg_moved_late" \
    "(frozen for the last ${outage_reg_frozen_s}s), spool peak $outage_spool_peak bytes" \
    "(+$outage_spool_late in the last third), agent CPU ${outage_cpu_s}s" \
    "($outage_late_core of a core in the last third)"
}

# ---- drops under when_full: drop_oldest ------------------------------------
# The drops the agent reports, from line FROM of its log on (default 1): one
# line per dropped segment ("is full: dropped S.seg with N unacknowledged
# records", or "unread records" at debug level: run such trials with
# LOG_LEVEL=debug), and, since the agent has a drop counter, one summary per
# interval ("dropped N [of the] oldest documents since the last report").
seg_drops() {
  tail -n +"${1:-1}" "$tmp/agent.log" |
    sed -n 's/.* is full: dropped .* with \([0-9]*\) un[a-z]* records.*/\1/p' |
    awk '{s += $1} END {print s + 0}'
}
summary_drops() {
  tail -n +"${1:-1}" "$tmp/agent.log" |
    sed -n 's/.*: dropped \([0-9]*\) \(of the \)\{0,1\}oldest documents since the last report.*/\1/p' |
    awk '{s += $1} END {print s + 0}'
}
has_summaries() { grep -q 'oldest documents since the last report' "$tmp/agent.log"; }
logged_drops() { if has_summaries; then summary_drops "$@"; else seg_drops "$@"; fi; }
counted_drops() { # the last counters line's "dropped N" (output OUTPUT_NAME), empty without one
  grep -E "output ${OUTPUT_NAME:-elasticsearch}: .*dropped [0-9]+" "$tmp/agent.log" | tail -n 1 |
    sed -n 's/.*dropped \([0-9]*\).*/\1/p' || true
}
current_drops() { # while running: per-segment lines come at once, summaries per interval
  local a b
  a=$(seg_drops) b=$(logged_drops)
  echo $((a > b ? a : b))
}
# drop_figures LINE BACK_TEXT: after the agent stopped, sets drops_logged,
# drops_counted, drops_after_back (drops logged after the first BACK_TEXT
# line past log line LINE, the server's return; without one, after LINE),
# drop_warnings, drop_warnings_after and EXPECT_LOST (the counter, else the
# logged sum), and notes them.
drop_figures() {
  local from=$1 text=$2 back pattern
  drops_logged=$(logged_drops)
  drops_counted=$(counted_drops)
  back=$( (tail -n +$((from + 1)) "$tmp/agent.log" | grep -n -- "$text" || true) | head -n 1 | cut -d: -f1)
  back=$((from + ${back:-0}))
  if grep -q 'is full: dropped .* records' "$tmp/agent.log"; then # exact moments
    drops_after_back=$(seg_drops $((back + 1)))
    pattern='is full: dropped .* records'
  else
    drops_after_back=$(summary_drops $((back + 1)))
    pattern='oldest documents since the last report'
  fi
  drop_warnings=$(grep -c -- "$pattern" "$tmp/agent.log" || true)
  drop_warnings_after=$( (tail -n +$((back + 1)) "$tmp/agent.log" | grep -c -- "$pattern") || true)
  EXPECT_LOST=${drops_counted:-$drops_logged}
  say "drops: $drops_logged logged in $drop_warnings lines ($drops_after_back in" \
    "$drop_warnings_after after the server was back), counter: ${drops_counted:-none}"
  note drops_logged "$drops_logged"
  note drops_segments "$(seg_drops)"
  note drops_counted "${drops_counted:-none}"
  note drop_warnings "$drop_warnings"
  note drops_after_back "$drops_after_back"
}
drop_checks() { # SERVER: the counter equals the logs, no drop once it is back
  if [ -n "$drops_counted" ]; then
    check "the counter ($drops_counted) equals the logged drops ($drops_logged)" \
      test "$drops_counted" = "$drops_logged"
  fi
  check "no drop once $1 answers again ($drops_after_back records in $drop_warnings_after lines)" \
    test "$drops_after_back" = 0
}

# ---- downstream -----------------------------------------------------------------
# DOWNSTREAM=es (the fake's journal) or kafka (the consumer's file).
DOWNSTREAM=${DOWNSTREAM:-es}
downstream_args() {
  if [ "$DOWNSTREAM" = kafka ]; then
    echo --kafka "$tmp/kafka.out"
  else
    echo --es-journal "$tmp/es/journal" --index-prefix torture-
  fi
}
downstream_docs() {
  if [ "$DOWNSTREAM" = kafka ]; then
    grep -c "run=$RUN" "$tmp/kafka.out" 2> /dev/null || true
  else
    grep -c '"t":"doc"' "$tmp/es/journal" 2> /dev/null || true
  fi
}
# wait_delivered [STALL_S] [CAP_S]: until every written line is downstream,
# (less EXPECT_LOST, which a trial's update_expect_lost may keep current),
# or nothing new arrived for STALL_S seconds (default 30; long: 60), or CAP_S
# passed (default 600).
wait_delivered() {
  local stall=${1:-$(pick 30 60)} cap=${2:-600} start=$SECONDS changed=$SECONDS n prev=-1
  # shellcheck disable=SC2046 # the arguments are words on purpose
  while :; do
    n=$(downstream_docs)
    n=${n:-0}
    if declare -F update_expect_lost > /dev/null; then update_expect_lost; fi
    if [ "$n" != "$prev" ]; then
      changed=$SECONDS
      prev=$n
      if [ "$n" -ge $((written - ${EXPECT_LOST:-0})) ] &&
        "$PY" "$TORTURE/check.py" --run "$RUN" --written "$written" $(downstream_args) \
          --expect-lost "${EXPECT_LOST:-0}" --quiet > /dev/null; then
        say "all $written lines downstream $((SECONDS - start))s after the workload stopped"
        return 0
      fi
    fi
    if [ $((SECONDS - changed)) -ge "$stall" ]; then
      say "nothing new downstream for ${stall}s ($n documents for $written lines): counting"
      return 1
    fi
    if [ $((SECONDS - start)) -ge "$cap" ]; then
      say "still not complete after ${cap}s: counting"
      return 1
    fi
    sleep 1
  done
}

# finish: counts, prints the figures and the RESULT line, exits 1 on any
# failed check (loss, duplicate, or a trial's own check). EXPECT_LOST: the
# loss the trial accepts (drop_oldest: the agent's counted drops).
finish() {
  local rc=0
  if [ -n "$agent_pid" ]; then stop_agent; fi
  # shellcheck disable=SC2046 # the arguments are words on purpose
  "$PY" "$TORTURE/check.py" --run "$RUN" --written "$written" $(downstream_args) \
    --expect-lost "${EXPECT_LOST:-0}" --json "$tmp/result.json" > "$tmp/check.txt" || rc=$?
  cat "$tmp/check.txt"
  local lost dup
  lost=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["lost"])' "$tmp/result.json")
  dup=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["duplicated"])' "$tmp/result.json")
  if [ -n "${EXPECT_LOST:-}" ]; then
    check "lost ($lost) = the agent's counted drops ($EXPECT_LOST), no duplicate ($dup)" test "$rc" = 0
  else
    check "no line lost ($lost), none duplicated ($dup)" test "$rc" = 0
  fi
  local cpu
  cpu=$(ticks_to_s "$agent_ticks")
  echo "RESULT torture.$TRIAL mode=$MODE written=$written lost=$lost duplicated=$dup" \
    "peak_rss_mib=$((agent_hwm_kb / 1024)) cpu_s=$cpu agent_starts=$agent_starts ${extras[*]}"
  if [ "$failures" != 0 ]; then
    echo "--- agent log (warnings and errors, last 25)"
    grep -E '^[^ ]+ (warn|error) ' "$tmp/agent.log" | tail -n 25 || true
    echo "FAILED: $failures check(s)"
    exit 1
  fi
  echo "PASSED"
  exit 0
}
