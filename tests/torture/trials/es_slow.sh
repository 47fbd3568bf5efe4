#!/usr/bin/env bash
# es_slow: every bulk request waits 2-5 s before the fake handles it (slow_ms,
# set to a new random value every 3 s) while the workload writes at RATE
# lines/s for 4 s (long: 30 s): the agent falls behind, its memory queue
# fills, the spool takes the rest. Checks: every line indexed once.
set -euo pipefail
TRIAL=es_slow
source "${LF_SOURCE_DIR:?the source tree}/tests/torture/lib.bash"
dur=$(pick 4 30)
start_es '{"slow_ms":3000}'
# the fault itself, not a synchronisation: slow_ms changes every 3 s
(
  RANDOM=${TORTURE_SEED:-7}
  while :; do
    sleep 3
    es_faults "{\"slow_ms\":$((2000 + RANDOM % 3001))}" 2> /dev/null || true
  done
) &
helper_pid=$!
write_es_config
start_writer
start_agent
wait_written $((RATE * dur))
stop_writer
back=$SECONDS
wait_delivered "$(pick 60 120)" || true
kill "$helper_pid" 2> /dev/null || true
wait "$helper_pid" 2> /dev/null || true
helper_pid=
slowed=$(curl -sS -m 10 "$es_url/_fake/stats" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["faults"].get("slowed", 0))')
note slowed_requests "$slowed"
note catch_up_s $((SECONDS - back))
finish
