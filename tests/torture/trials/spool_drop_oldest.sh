#!/usr/bin/env bash
# spool_drop_oldest: a 1 MiB spool with when_full: drop_oldest, Elasticsearch
# down for 12 s (long: 90 s) while the workload writes at RATE lines/s; then
# it comes back and the workload goes on 5 s (long: 20 s).
# Checks: the lines lost are exactly the records the agent dropped, as it
# counts them (the output counters' "dropped N" at exit when it has one, else
# the sum of its drop warnings), and that counter equals the sum of the
# warnings;
# none duplicated; no drop once Elasticsearch answers again (after the
# agent's "accepts bulk requests again"): the file still holds those lines.
set -euo pipefail
TRIAL=spool_drop_oldest
SPOOL_MAX=1MiB WHEN_FULL=drop_oldest LOG_LEVEL=debug
source "${LF_SOURCE_DIR:?the source tree}/tests/torture/lib.bash"
outage=$(pick 12 90)
after=$(pick 5 20)
# The drops the agent reports, from line FROM of its log on (default 1):
# one line per dropped segment ("is full: dropped S.seg with N unacknowledged
# records", or "unread records" at debug level, hence log_level: debug here),
# and, since the agent has a drop counter, a summary per interval ("dropped
# N oldest documents since the last report, M in all").
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
counted_drops() { # the last counters line's "dropped N", empty without one
  grep -E 'output elasticsearch: .*dropped [0-9]+' "$tmp/agent.log" | tail -n 1 |
    sed -n 's/.*dropped \([0-9]*\).*/\1/p' || true
}
start_es
write_es_config
start_writer
start_agent
wait_written $((RATE * 2))
registry_moved() { [ "$(registry_sum)" -gt 0 ]; }
check "the registry moves before the outage" wait_until 60 registry_moved
say "Elasticsearch down for ${outage}s (SIGKILL)"
stop_es KILL
watch_outage "$outage"
start_es
back=$SECONDS
es_back_line=$(wc -l < "$tmp/agent.log")
say "Elasticsearch is back; the workload goes on ${after}s"
wait_written $(($(writer_seq) + RATE * after))
stop_writer
# the loss to wait for: what the agent says it dropped so far
update_expect_lost() { # the per-segment lines come at once, the summaries per interval
  local a b
  a=$(seg_drops) b=$(logged_drops)
  EXPECT_LOST=$((a > b ? a : b))
}
wait_delivered || true
stop_agent
logged=$(logged_drops)
counted=$(counted_drops)
# drops after the agent saw Elasticsearch answer again (its first "accepts bulk
# requests again" after the restart; without one, from the restart on)
back_line=$( (tail -n +$((es_back_line + 1)) "$tmp/agent.log" | grep -n 'accepts bulk requests again' || true) |
  head -n 1 | cut -d: -f1)
back_line=$((es_back_line + ${back_line:-0}))
# per segment when the agent says so (exact moments), else its summaries
if grep -q 'is full: dropped .* records' "$tmp/agent.log"; then
  after_back=$(seg_drops $((back_line + 1)))
  pattern='is full: dropped .* records'
else
  after_back=$(summary_drops $((back_line + 1)))
  pattern='oldest documents since the last report'
fi
warnings=$(grep -c "$pattern" "$tmp/agent.log" || true)
warnings_after=$(tail -n +$((back_line + 1)) "$tmp/agent.log" | grep -c "$pattern" || true)
EXPECT_LOST=${counted:-$logged}
say "drops: $logged in $warnings warnings ($after_back in $warnings_after after Elasticsearch was back), counter: ${counted:-none}"
note outage_s "$outage"
note drops_logged "$logged"
note drops_segments "$(seg_drops)"
note drops_counted "${counted:-none}"
note drop_warnings "$warnings"
note drops_after_back "$after_back"
note spool_peak_bytes "$outage_spool_peak"
note outage_cpu_s "$outage_cpu_s"
if [ -n "$counted" ]; then
  check "the counter ($counted) equals the logged drops ($logged)" test "$counted" = "$logged"
fi
check "no drop once Elasticsearch answers again ($after_back records in $warnings_after warnings)" \
  test "$after_back" = 0
finish
