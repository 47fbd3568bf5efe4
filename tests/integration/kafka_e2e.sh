#!/usr/bin/env bash
# The whole Kafka path: logferry agent (tailing the 100k-line corpus, Kafka
# output) -> the librdkafka mock cluster -> logferry shipper -> the fake
# Elasticsearch. Asserts, as the issue asks:
#   - the exact _count per daily index (the corpus's days, timezone UTC);
#   - field types right from the first document: @timestamp date, log.offset
#     long, message text, metric.value double (the shipper's template, made
#     from the same grammar the agent parsed with);
#   - the ids are the agent's (the same as the file output gives), so the
#     direct and the Kafka paths index a line under one _id;
#   - the agent and the shipper exit 0 on SIGTERM.
# Every process is started here and stopped by its PID.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
source "$LF_SOURCE_DIR/tests/integration/lib.bash"
MOCK=${LF_KAFKA_MOCK:-}
if [ -z "$MOCK" ] || [ ! -x "$MOCK" ]; then
  echo "SKIP: needs the lf_kafka_mock helper"
  exit 77
fi
PY=/usr/bin/python3
FAKE=$LF_SOURCE_DIR/tests/fake_es/fake_es.py
tmp=$(mktemp -d)
mock_pid='' es_pid='' agent_pid='' ship_pid=''
cleanup() {
  for p in $agent_pid $ship_pid $es_pid $mock_pid; do
    kill -9 "$p" 2> /dev/null || true
    wait "$p" 2> /dev/null || true
  done
  if [ -z "${LF_KEEP_TMP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT
stop() { # name pid: SIGTERM, exit 0 expected
  local rc=0
  kill -TERM "$2" 2> /dev/null || true
  wait "$2" || rc=$?
  check "$1 exits 0 on SIGTERM" test "$rc" = 0
}

"$MOCK" --brokers 3 --topic logferry:8 --bootstrap-file "$tmp/bs" > "$tmp/mock.out" 2> "$tmp/mock.err" &
mock_pid=$!
"$PY" "$FAKE" --port 0 --port-file "$tmp/port" --log "$tmp/fake.log" 2> "$tmp/fake.err" &
es_pid=$!
wait_until 30 test -s "$tmp/bs" || { echo "the mock cluster did not start"; cat "$tmp/mock.err"; exit 1; }
wait_until 20 test -s "$tmp/port" || { echo "the fake did not start"; cat "$tmp/fake.err"; exit 1; }
bs=$(cat "$tmp/bs")
port=$(cat "$tmp/port")
es() { curl -sS "http://127.0.0.1:$port$1" "${@:2}"; }
count() { es "/$1/_count" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("count", -1))'; }
count_is() { [ "$(count "$1")" = "$2" ]; }

corpus=$tmp/corpus.log
# From 21:00 UTC, so that the 100k lines (about 7 hours) span two days.
"$PY" "$LF_SOURCE_DIR/bench/gen_corpus.py" -n 100000 --start 1795208400 -o "$corpus"
total=$(wc -l < "$corpus")

mkdir -p "$tmp/agent/log" "$tmp/shipper"
cat > "$tmp/agent/agent.yml" << YML
agent:
  name: web01
  data_dir: $tmp/agent/data
  timezone: UTC
inputs:
  metrics:
    enabled: false
  files:
    - paths: [$tmp/agent/log/*.log]
      start_at: beginning
output:
  type: kafka
  batch_max_age: 100ms
  kafka:
    brokers: [${bs//,/, }]
    topic: logferry
    # Spread over the partitions: the mock keeps only about 5 MiB per
    # partition (tests/kafka_mock/README.md), less than the corpus.
    key: id
    properties:
      reconnect.backoff.max.ms: 500
YML
cat > "$tmp/shipper/shipper.yml" << YML
shipper:
  data_dir: $tmp/shipper
  timezone: UTC
  commit_interval: 200ms
inputs:
  kafka:
    brokers: [${bs//,/, }]
    topics: [logferry]
    properties:
      session.timeout.ms: "6000"
      heartbeat.interval.ms: "500"
      reconnect.backoff.max.ms: "500"
output:
  batch_max_age: 100ms
  elasticsearch:
    hosts: [http://127.0.0.1:$port]
    backoff_min: 50ms
    backoff_max: 1s
YML
"$LOGFERRY" shipper ${LF_SHIPPER_DEBUG:+--log-level debug} -c "$tmp/shipper/shipper.yml" 2>> "$tmp/shipper.log" &
ship_pid=$!
"$LOGFERRY" agent -c "$tmp/agent/agent.yml" 2>> "$tmp/agent.log" &
agent_pid=$!
cp "$corpus" "$tmp/agent/log/app.log"

check "corpus: $total lines indexed through Kafka" wait_until 240 count_is 'syslog-*' "$total"
# Each day's count, from the corpus's own dates ("Nov 21 ..." or ISO).
"$PY" - "$corpus" > "$tmp/days" << 'PY'
import collections, re, sys
days = collections.Counter()
months = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)T", line)
    if m:
        days["%s.%s.%s" % m.groups()] += 1
        continue
    m = re.match(r"([A-Z][a-z]{2}) +(\d+) ", line)
    days["2026.%02d.%02d" % (months[m.group(1)], int(m.group(2)))] += 1
for d, n in sorted(days.items()):
    print(d, n)
PY
check "corpus: spans two days" test "$(wc -l < "$tmp/days")" -ge 2
while read -r day want; do
  check "corpus: syslog-$day holds $want" count_is "syslog-$day" "$want"
done < "$tmp/days"

mapping=$(es "/syslog-*/_mapping")
types() { echo "$mapping" | "$PY" -c '
import json, sys
props = next(iter(json.load(sys.stdin).values()))["mappings"]["properties"]
node = None
for i, k in enumerate(sys.argv[1].split(".")):
    node = props[k]
    props = node.get("properties", {})
print(node["type"])' "$1"; }
check "types: @timestamp is a date" test "$(types @timestamp)" = date
check "types: log.offset is a long" test "$(types log.offset)" = long
check "types: message is text" test "$(types message)" = text
check "types: metric.value is a double" test "$(types metric.value)" = double

# The ids are the agent's: documents carry the logferry.id header of their
# message (not an id the shipper made from topic/partition/offset).
KCAT=$(command -v kcat || command -v kafkacat || true)
if [ -n "$KCAT" ]; then
  timeout 60 "$KCAT" -C -b "$bs" -t logferry -o beginning -e -q -f '%h\n' |
    sed -n 's/.*logferry\.id=\([0-9a-f]*\).*/\1/p' | sort > "$tmp/header_ids"
  es "/syslog-*/_search" -H 'Content-Type: application/json' -d '{"size":50}' |
    "$PY" -c 'import json,sys; [print(h["_id"]) for h in json.load(sys.stdin)["hits"]["hits"]]' |
    sort > "$tmp/doc_ids"
  check "ids: one header id per message" test "$(sort -u "$tmp/header_ids" | wc -l)" = "$total"
  check "ids: 50 documents sampled, each under its message's logferry.id" \
    test "$(comm -12 "$tmp/doc_ids" "$tmp/header_ids" | wc -l)" = 50
fi
# The shipper's status endpoint: its counters are what Elasticsearch holds.
ssock=$tmp/shipper/status.sock
smetric() {
  curl -sS --max-time 10 --unix-socket "$ssock" http://localhost/metrics |
    awk -v k="$1" 'index($1, k) == 1 { s += $2; n++ } END { if (n) print s }'
}
smetric_is() { [ "$(smetric "$1")" = "$2" ]; }
check "shipper /metrics: output acked = $total" \
  wait_until 30 smetric_is 'logferry_output_acked_total{output="elasticsearch"}' "$total"
check "shipper /metrics: the partitions' indexed add up to $total" \
  wait_until 30 smetric_is 'logferry_partition_indexed_total{' "$total"
lags_zero() { # every partition's lag is 0, and there are partitions
  curl -sS --max-time 10 --unix-socket "$ssock" http://localhost/metrics |
    awk '$1 ~ /^logferry_partition_lag\{/ { n++; if ($2 != 0) bad++ } END { exit !(n > 0 && !bad) }'
}
check "shipper /metrics: lag 0 on every partition" wait_until 30 lags_zero
check "shipper /health: 200" \
  sh -c "[ \"\$(curl -s --max-time 10 --unix-socket '$ssock' http://localhost/health)\" = ok ]"
check "logferry status --shipper: every partition, caught up" \
  sh -c "'$LOGFERRY' status --shipper -c '$tmp/shipper/shipper.yml' > '$tmp/sstatus.txt' &&
    grep -q '^consumed $total, lag 0 over [0-9]* partitions' '$tmp/sstatus.txt' &&
    grep -q '^  logferry/0: consumed' '$tmp/sstatus.txt' && grep -q '^caught up' '$tmp/sstatus.txt'"
stop "the agent" "$agent_pid"
agent_pid=
stop "the shipper" "$ship_pid"
ship_pid=
check "the shipper consumed every message once" \
  grep -q "at exit: consumed $total indexed $total dead-lettered 0" "$tmp/shipper.log"
check "no offsets went missing" sh -c "! grep -q 'were not delivered' '$tmp/shipper.log'"

if [ "$failures" -ne 0 ]; then
  for f in "$tmp"/*.log; do echo "--- $f"; tail -n 20 "$f"; done
  echo "$failures check(s) failed"
  exit 1
fi
echo "all kafka_e2e checks passed"
