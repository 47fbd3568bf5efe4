#!/usr/bin/env bash
# killed_rotate: the agent SIGKILLed, app.log rotated twice while it is down
# (rename + create: app.log -> app.log.1 -> app.log.2, with about a second of
# writing at RATE after each), then the agent restarted with only the live
# path configured (paths: [app.log]). Short: once; long: 10 times.
# Checks: every line indexed once. The lines the agent had not read when it
# was killed are in app.log.2 and app.log.1, which the paths do not name:
# they must be found again (by content), not skipped silently.
set -euo pipefail
TRIAL=killed_rotate
source "${LF_SOURCE_DIR:?the source tree}/tests/torture/lib.bash"
cycles=$(pick 1 10)
start_es
write_es_config
start_writer --rotate rename
start_agent
for ((c = 1; c <= cycles; c++)); do
  wait_written $(($(writer_seq) + RATE * 2))
  kill_agent
  rotate_now
  wait_written $(($(writer_seq) + RATE))
  rotate_now
  wait_written $(($(writer_seq) + RATE))
  start_agent
done
say "$cycles kill + 2 rotations + restart cycles; the workload goes on 2 s"
wait_written $(($(writer_seq) + RATE * 2))
stop_writer
wait_delivered || true
note cycles "$cycles"
finish
