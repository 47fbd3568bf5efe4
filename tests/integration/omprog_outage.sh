#!/usr/bin/env bash
# Issue 11, item 1: `logferry agent --omprog` driven on stdin as rsyslog
# drives it (one message at a time, each answer awaited; omprog_outage.py),
# with the fake Elasticsearch down after message 100: every message is
# answered, no silence longer than rsyslog's confirmTimeout (10 s), end of
# input seen and the agent exits 0, nothing lost, one _id per message.
# Cases: with and without the spool, with and without transactions.
#
# Short by default (an outage of 12 s, the agent's answer timeout 2 s where
# there is no spool). The long version, as the issue states it (outages of
# 60 s and 150 s, the default 30 s timeout, 5000 messages):
#   OMPROG_OUTAGE_LONG=1 LOGFERRY=build/logferry LF_SOURCE_DIR=. \
#     bash tests/integration/omprog_outage.sh
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
source "$LF_SOURCE_DIR/tests/integration/lib.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { # NAME ARGS...: one case in its own directory
  local name=$1
  shift
  echo "== $name"
  if /usr/bin/python3 "$LF_SOURCE_DIR/tests/integration/omprog_outage.py" \
    --logferry "$LOGFERRY" --fake "$LF_SOURCE_DIR/tests/fake_es/fake_es.py" \
    --dir "$tmp/$name" "$@"; then
    echo "ok   case $name"
  else
    echo "FAIL case $name"
    failures=$((failures + 1))
  fi
}
if [ -n "${OMPROG_OUTAGE_LONG:-}" ]; then
  for down in 60 150; do
    run "spool-$down" --messages 5000 --down "$down"
    run "nospool-$down" --messages 400 --down "$down" --no-spool
    run "txn-spool-$down" --messages 20000 --down "$down" --transactions --txn 128
    run "txn-nospool-$down" --messages 2000 --down "$down" --no-spool --transactions --txn 128
  done
else
  run spool --messages 5000 --down 12
  run nospool --messages 300 --down 12 --no-spool --timeout-ms 2000
  run txn-spool --messages 6000 --down 12 --transactions --txn 128
  run txn-nospool --messages 1000 --down 12 --no-spool --transactions --txn 64 --timeout-ms 2000
fi
# 30% of the items refused with 429, retries 10 s to 30 s away: refused
# items go to the spool at once, so no COMMIT waits for a retry (10
# transactions waiting would take 100 s or more).
run txn-429 --messages 1280 --down 0 --transactions --txn 128 --reject-429 0.3 \
  --backoff-min 20s --max-seconds 60
echo "$failures failed"
test "$failures" = 0
