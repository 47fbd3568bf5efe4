#!/usr/bin/env bash
# es_down: Elasticsearch down for 12 s (long: 90 s) while the workload writes
# at RATE lines/s (stopped by its PID with SIGKILL, started again with the
# same journal on the same port); the workload goes on 3 s (long: 10 s) after
# it is back. With ROTATE=copytruncate or ROTATE=rename (the trials
# es_down_copytruncate and es_down_rename), the workload rotates app.log at a
# third and at two thirds of the outage; only the live path is configured.
# Checks: every line indexed once; without rotation also that the spool holds
# the outage: the registry still moves in the last third of the outage (the
# inputs are acknowledged once the spool has the lines), the spool grew, and
# the agent used at most a quarter of a core in the last third of the outage
# (a blocked input that polls burns a whole one; spooling 3k lines/s costs a
# few percent). Figures: spool peak, registry frozen seconds,
# CPU-s during the outage, seconds from the return to complete delivery.
set -euo pipefail
TRIAL=${TRIAL:-es_down}
ROTATE=${ROTATE:-}
source "${LF_SOURCE_DIR:?the source tree}/tests/torture/lib.bash"
outage=$(pick 12 90)
after=$(pick 3 10)
start_es
write_es_config
start_writer ${ROTATE:+--rotate "$ROTATE"}
start_agent
wait_written $((RATE * 2))
registry_moved() { [ "$(registry_sum)" -gt 0 ]; }
check "the registry moves before the outage" wait_until 60 registry_moved
rotate_hook() { # ELAPSED: rotations at a third and two thirds of the outage
  if [ -n "$ROTATE" ] && { [ "$1" = $((outage / 3)) ] || [ "$1" = $((outage * 2 / 3)) ]; }; then
    rotate_now
    say "$ROTATE rotation during the outage"
  fi
}
say "Elasticsearch down for ${outage}s (SIGKILL)"
stop_es KILL
watch_outage "$outage" rotate_hook
docs_at_back=$(downstream_docs)
start_es
back=$SECONDS
say "Elasticsearch is back; the workload goes on ${after}s"
# the first document delivered after the return (a figure, not judged)
resumed() { [ "$(downstream_docs)" -gt "${docs_at_back:-0}" ]; }
if wait_until 300 resumed; then note resume_s $((SECONDS - back)); fi
wait_written $(($(writer_seq) + RATE * after))
stop_writer
wait_delivered || true
note outage_s "$outage"
note registry_moved_late "$outage_reg_moved_late"
note registry_frozen_s "$outage_reg_frozen_s"
note spool_peak_bytes "$outage_spool_peak"
note outage_cpu_s "$outage_cpu_s"
note outage_late_core "$outage_late_core"
note spool_growth_late_bytes "$outage_spool_late"
note back_to_complete_s $((SECONDS - back))
if [ -z "$ROTATE" ]; then
  check "the registry keeps moving in the last third of the outage (frozen ${outage_reg_frozen_s}s)" \
    test "$outage_reg_moved_late" = yes
  check "the spool grew during the outage (peak $outage_spool_peak bytes)" test "$outage_spool_peak" -gt 0
  check "the agent used at most a quarter of a core in the last third of the outage ($outage_late_core)" \
    awk -v c="$outage_late_core" 'BEGIN {exit !(c <= 0.25)}'
fi
finish
