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
update_expect_lost() { EXPECT_LOST=$(current_drops); }
wait_delivered || true
stop_agent
drop_figures "$es_back_line" 'accepts bulk requests again'
note outage_s "$outage"
note spool_peak_bytes "$outage_spool_peak"
note outage_cpu_s "$outage_cpu_s"
drop_checks Elasticsearch
finish
