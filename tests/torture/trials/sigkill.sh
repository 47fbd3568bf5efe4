#!/usr/bin/env bash
# sigkill: the agent SIGKILLed while the workload writes at RATE lines/s,
# restarted at once each time (short: 3 kills, long: 30), at random moments
# 0.5-2.5 s apart (long: 1-5 s). Elasticsearch is up throughout.
# Checks: every line indexed once by content (a line read again after a kill
# must come back under the same _id, which `create` turns into a 409).
set -euo pipefail
TRIAL=sigkill
source "${LF_SOURCE_DIR:?the source tree}/tests/torture/lib.bash"
kills=$(pick 3 30)
RANDOM=${TORTURE_SEED:-42}
start_es
write_es_config
start_writer
start_agent
for ((k = 1; k <= kills; k++)); do
  # a random moment: 0.5-2.5 s (long: 1-5 s) of writing at RATE
  ms=$(long && echo $((1000 + RANDOM % 4000)) || echo $((500 + RANDOM % 2000)))
  wait_written $(($(writer_seq) + RATE * ms / 1000)) || { echo "the workload stalled"; exit 1; }
  kill_agent
  start_agent
done
say "$kills kills done; the workload writes 2 s more"
wait_written $(($(writer_seq) + RATE * 2))
stop_writer
wait_delivered || true
note kills "$kills"
finish
