#!/usr/bin/env bash
# copytruncate_glob: Elasticsearch up, the agent running, paths: [app.log*]
# (the live file and its rotated copies, as many configure it), the workload
# rotating with copytruncate every 15000 lines (5 s at 3k lines/s) for 12 s
# (long: 120 s). Each copy app.log.1 holds lines already read from app.log.
# Checks: every line indexed once: a copy whose content was already read
# (same first bytes, same data) must not be shipped again (issue 10 item 5:
# "a glob that also matches the rotated copies gives no duplicates").
set -euo pipefail
TRIAL=copytruncate_glob
source "${LF_SOURCE_DIR:?the source tree}/tests/torture/lib.bash"
PATHS="'$tmp/log/app.log*'"
dur=$(pick 12 120)
start_es
write_es_config
start_writer --rotate copytruncate --rotate-every 15000
start_agent
wait_written $((RATE * dur))
stop_writer
wait_delivered || true
note rotations "$(writer_field rotations)"
finish
