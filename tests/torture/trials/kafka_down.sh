#!/usr/bin/env bash
# kafka_down: the Kafka output (lf_kafka_mock, 3 brokers, topic torture with
# 8 partitions, key: id) with every broker down for 12 s (long: 90 s) while
# the workload writes at RATE lines/s; delivery_timeout 5 s (long: 30 s), so
# the output's spool takes over during the outage. The workload goes on 3 s
# (long: 10 s) after the brokers are back. kcat (not ours) consumes the topic
# from the start for the whole trial, so the mock's small retention never
# eats a message before it is counted.
# Checks: every line once in the topic; the registry still moves in the last
# third of the outage; the spool grew; at most a quarter of a core in the
# last third of the outage.
#
# With WHEN_FULL=drop_oldest (the trial kafka_drop_oldest): a 1 MiB spool
# that drops its oldest documents when full; the checks are then those of
# spool_drop_oldest (lost = the counted drops, none after Kafka is back).
set -euo pipefail
TRIAL=${TRIAL:-kafka_down} DOWNSTREAM=kafka OUTPUT_NAME=kafka
if [ "${WHEN_FULL:-}" = drop_oldest ]; then SPOOL_MAX=1MiB LOG_LEVEL=debug; fi
KCAT=$(command -v kcat || command -v kafkacat || true)
if [ -z "$KCAT" ]; then
  echo "SKIP: needs kcat"
  exit 77
fi
if [ -z "${LF_KAFKA_MOCK:-}" ] || [ ! -x "$LF_KAFKA_MOCK" ]; then
  echo "SKIP: needs the lf_kafka_mock helper (LF_KAFKA_MOCK=${LF_KAFKA_MOCK:-unset})"
  exit 77
fi
source "${LF_SOURCE_DIR:?the source tree}/tests/torture/lib.bash"
SPOOL_DIR=$tmp/data/spool-kafka
outage=$(pick 12 90)
after=$(pick 3 10)
"$LF_KAFKA_MOCK" --brokers 3 --topic torture:8 --bootstrap-file "$tmp/bootstrap" \
  --control "$tmp/control" > "$tmp/mock.out" 2> "$tmp/mock.err" &
mock_pid=$!
wait_until 60 test -s "$tmp/bootstrap" || { echo "lf_kafka_mock did not start"; cat "$tmp/mock.err"; exit 1; }
bs=$(cat "$tmp/bootstrap")
acked() { [ "$(grep -cxF "ok $1" "$tmp/mock.out" || true)" -ge "$2" ]; }
command_mock() { # CMD: sent on the FIFO, then its ack waited for
  local n
  n=$(($(grep -cxF "ok $1" "$tmp/mock.out" || true) + 1))
  echo "$1" > "$tmp/control"
  wait_until 30 acked "$1" "$n" || { echo "lf_kafka_mock did not ack '$1'"; exit 1; }
}
"$KCAT" -C -b "$bs" -t torture -o beginning -E -u -q -f '%s\n' \
  -X reconnect.backoff.max.ms=500 > "$tmp/kafka.out" 2> "$tmp/kcat.err" &
consumer_pid=$!
brokers=$(sed "s/[^,]*/'&'/g; s/,/, /g" <<< "$bs")
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
  type: kafka
  batch_max_age: 200ms
  kafka:
    brokers: [$brokers]
    topic: torture
    key: id
    delivery_timeout: $(pick 5s 30s)
    properties:
      reconnect.backoff.ms: 100
      reconnect.backoff.max.ms: 500
    spool:
      max_size: $SPOOL_MAX
      when_full: $WHEN_FULL
YML
"$LOGFERRY" check -c "$tmp/agent.yml" > "$tmp/check.out" 2>&1 || { cat "$tmp/check.out"; exit 1; }
start_writer
start_agent
wait_written $((RATE * 2))
registry_moved() { [ "$(registry_sum)" -gt 0 ]; }
check "the registry moves before the outage" wait_until 60 registry_moved
say "every broker down for ${outage}s"
command_mock "down all"
watch_outage "$outage"
docs_at_back=$(downstream_docs)
command_mock "up all"
back=$SECONDS
back_line=$(wc -l < "$tmp/agent.log")
say "the brokers are back; the workload goes on ${after}s"
# the first document delivered after the return (a figure, not judged)
resumed() { [ "$(downstream_docs)" -gt "${docs_at_back:-0}" ]; }
if wait_until 300 resumed; then note resume_s $((SECONDS - back)); fi
wait_written $(($(writer_seq) + RATE * after))
stop_writer
if [ "$WHEN_FULL" = drop_oldest ]; then
  update_expect_lost() { EXPECT_LOST=$(current_drops); }
fi
wait_delivered || true
note outage_s "$outage"
note spool_peak_bytes "$outage_spool_peak"
note outage_cpu_s "$outage_cpu_s"
note back_to_complete_s $((SECONDS - back))
if [ "$WHEN_FULL" = drop_oldest ]; then
  stop_agent
  drop_figures "$back_line" 'Kafka takes messages again'
  drop_checks Kafka
  finish
fi
note registry_moved_late "$outage_reg_moved_late"
note registry_frozen_s "$outage_reg_frozen_s"
note outage_late_core "$outage_late_core"
check "the registry keeps moving in the last third of the outage (frozen ${outage_reg_frozen_s}s)" \
  test "$outage_reg_moved_late" = yes
check "the spool grew during the outage (peak $outage_spool_peak bytes)" test "$outage_spool_peak" -gt 0
check "the agent used at most a quarter of a core in the last third of the outage ($outage_late_core)" \
  awk -v c="$outage_late_core" 'BEGIN {exit !(c <= 0.25)}'
finish
