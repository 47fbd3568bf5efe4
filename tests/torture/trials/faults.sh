#!/usr/bin/env bash
# faults: the fake answers 30% of the items 429, 10% of the bulk requests 503
# and cuts 3% of the connections without an answer, while the workload writes
# at RATE lines/s for 12 s (long: 120 s). The cuts happen before indexing
# for the first half and after indexing and journaling for the second
# (reset_after_index: the retry meets 409s). The faults stay on until every
# line is in. Checks: every line indexed once. Figures: the faults served.
set -euo pipefail
TRIAL=faults
source "${LF_SOURCE_DIR:?the source tree}/tests/torture/lib.bash"
dur=$(pick 12 120)
start_es '{"reject_429_fraction":0.3,"status_503_fraction":0.1,"reset_fraction":0.03}'
write_es_config
start_writer
start_agent
wait_written $((RATE * dur / 2))
es_faults '{"reset_after_index":true}'
say "connection cuts now after indexing"
wait_written $((RATE * dur))
stop_writer
wait_delivered || true
stats=$(curl -sS -m 10 "$es_url/_fake/stats" | "$PY" -c '
import json, sys
f = json.load(sys.stdin)["faults"]
print("item_429=%d status_503=%d reset=%d reset_after_index=%d" % (
    f.get("item_429", 0), f.get("status_503", 0), f.get("reset", 0), f.get("reset_after_index", 0)))')
say "faults served since the start: $stats"
for kv in $stats; do note "${kv%%=*}" "${kv#*=}"; done
finish
