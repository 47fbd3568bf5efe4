#!/usr/bin/env bash
# logferry shipper: Kafka (the librdkafka mock cluster, tests/kafka_mock)
# -> the fake Elasticsearch (tests/fake_es), messages written with kcat, a
# client that is not ours. Each case asserts exact counts:
#
#   raw       raw lines (rsyslog omkafka style) parsed with the shipper's
#             grammar: every line once in its daily index, metric.value
#             mapped double by the template made from that grammar.
#   headers   messages in the agent's format (JSON value, logferry.index /
#             .id / .ts headers): the index prefix, _id and day are the
#             headers'; JSON from other producers gets an @timestamp;
#             a value that is not JSON is still indexed, as a message.
#   sigkill   the shipper SIGKILLed at random points while it indexes
#             (3 trials), then run to the end: _count equals the messages
#             written, no more, no less.
#   pair      two shippers in one group split the partitions; one stops in
#             the middle; everything is indexed exactly once.
#   es_down   Elasticsearch down at start: the shipper pauses, keeps its
#             memory bounded, and everything arrives once it is up; then
#             Elasticsearch killed mid-stream and back: nothing lost.
#   lag       a partition paused at max_pending while Elasticsearch is down
#             and more is produced: the stats line's lag is the high
#             watermark's distance from the committed offset, not what is
#             in flight; the resume's seek logs no warning; all arrives.
# Every process is started here and stopped by its PID.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
source "$LF_SOURCE_DIR/tests/integration/lib.bash"
MOCK=${LF_KAFKA_MOCK:-}
KCAT=$(command -v kcat || command -v kafkacat || true)
if [ -z "$KCAT" ] || [ -z "$MOCK" ] || [ ! -x "$MOCK" ]; then
  echo "SKIP: needs kcat and the lf_kafka_mock helper"
  exit 77
fi
PY=/usr/bin/python3
FAKE=$LF_SOURCE_DIR/tests/fake_es/fake_es.py
tmp=$(mktemp -d)
mock_pid='' es_pid='' ship_pids=''
cleanup() {
  for p in $ship_pids $es_pid $mock_pid; do
    kill -9 "$p" 2> /dev/null || true
    wait "$p" 2> /dev/null || true
  done
  if [ -z "${LF_KEEP_TMP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT

# ---- servers -----------------------------------------------------------------
"$MOCK" --brokers 3 --topic raw:4 --topic agent:3 --topic kill:6 --topic pair:6 --topic pair2:6 --topic down:4 --topic lag:1 \
  --bootstrap-file "$tmp/bs" > "$tmp/mock.out" 2> "$tmp/mock.err" &
mock_pid=$!
wait_until 30 test -s "$tmp/bs" || { echo "the mock cluster did not start"; cat "$tmp/mock.err"; exit 1; }
bs=$(cat "$tmp/bs")

port=$(free_port)
start_es() { # [faults JSON]
  rm -f "$tmp/port"
  "$PY" "$FAKE" --port "$port" --port-file "$tmp/port" --data "$tmp/es.journal" \
    --log "$tmp/fake.log" ${1:+--faults "$1"} 2>> "$tmp/fake.err" &
  es_pid=$!
  wait_until 20 test -s "$tmp/port" || { echo "the fake did not start"; cat "$tmp/fake.err"; exit 1; }
}
stop_es() {
  kill -9 "$es_pid" 2> /dev/null || true
  wait "$es_pid" 2> /dev/null || true
  es_pid=
}
es() { curl -sS "http://127.0.0.1:$port$1" "${@:2}"; }
count() { es "/$1/_count" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("count", -1))'; }
count_is() { [ "$(count "$1")" = "$2" ]; }
query_count_is() { # index, query string, n
  [ "$(es "/$1/_count?q=$2" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("count", -1))')" = "$3" ]
}

produce() { # topic [kcat options...]: the lines on stdin, one message each
  local topic=$1
  shift
  timeout 60 "$KCAT" -P -b "$bs" -t "$topic" -X enable.idempotence=true "$@"
}
produce_keyed() { # topic: the lines on stdin keyed by host (web00..web06), as the agent does
  sed -E 's/^([^ ]+ (web[0-9]+))/\2\t\1/' | produce "$1" -K "$(printf '\t')"
}

# ---- shippers ----------------------------------------------------------------
# stats=DURATION max_pending=N level=LEVEL (optional, from the environment)
# start_shipper NAME TOPIC [extra yaml at the top level]: the shipper's pid in
# $ship_pid, its log in $tmp/NAME.log.
start_shipper() {
  local name=$1 topic=$2
  mkdir -p "$tmp/$name"
  cat > "$tmp/$name/shipper.yml" << YML
shipper:
  name: $name
  data_dir: $tmp/$name
  timezone: UTC
  commit_interval: 200ms
  shutdown_timeout: 20s
  stats_interval: ${stats:-60s}
  log_level: ${level:-info}
grammars:
  app:
    expressions:
      - '%{TIMESTAMP_ISO8601:timestamp} %{HOSTNAME:host.hostname} %{WORD:process.name}: value=%{NUMBER:metric.value:float} %{GREEDYDATA:message}'
inputs:
  kafka:
    brokers: [${bs//,/, }]
    topics: [$topic]
    group: group-$topic
    grammar: app
    max_pending: ${max_pending:-65536}
    properties:
      session.timeout.ms: "6000"
      heartbeat.interval.ms: "500"
      reconnect.backoff.max.ms: "500"
output:
  batch_max_age: 100ms
  batch_max_docs: 500
  index_prefixes: [syslog, metrics]
  elasticsearch:
    hosts: [http://127.0.0.1:$port]
    backoff_min: 50ms
    backoff_max: 1s
    queue_max_size: 256KiB
${3:-}
YML
  "$LOGFERRY" shipper -c "$tmp/$name/shipper.yml" 2>> "$tmp/$name.log" &
  ship_pid=$!
  ship_pids="$ship_pids $ship_pid"
}
stop_shipper() { # pid: SIGTERM; it must exit 0 (sanitizer reports fail it too)
  local rc=0
  kill -TERM "$1" 2> /dev/null || true
  wait "$1" || rc=$?
  check "the shipper exits 0 on SIGTERM" test "$rc" = 0
}
assigned() { grep -q 'assigned' "$tmp/$1.log" 2> /dev/null; }

# Lines over three UTC days, in the grammar above.
lines() { # n, tag
  "$PY" - "$1" "$2" << 'PY'
import sys
n, tag = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    day = 20 + i * 3 // n
    print("2026-11-%02dT%02d:%02d:%02d.%03dZ web%02d app: value=%d.5 %s line %d"
          % (day, i // 3600 % 24, i // 60 % 60, i % 60, i % 1000, i % 7, i, tag, i))
PY
}
days_hold() { # prefix n [extra today]: each day holds its share of lines() n
  local prefix=$1 n=$2 extra=${3:-0} ok=0
  for day in 20 21 22; do
    want=$("$PY" -c "n=$n; print(sum(1 for i in range(n) if 20 + i*3//n == $day) + ($extra if '2026.11.$day' == '$(date -u +%Y.%m.%d)' else 0))")
    count_is "$prefix-2026.11.$day" "$want" || ok=1
  done
  return $ok
}

start_es

# ---- raw ----------------------------------------------------------------------
lines 3000 raw > "$tmp/raw.txt"
printf 'not the grammar at all\n' >> "$tmp/raw.txt"
produce_keyed raw < "$tmp/raw.txt"
start_shipper raw raw
check "raw: 3001 lines indexed" wait_until 60 count_is 'syslog-*' 3001
# (the unparsed line takes its time from Kafka: today)
check "raw: one daily index per day, exact counts" days_hold syslog 3000 1
check "raw: the unparsed line is tagged" query_count_is 'syslog-*' tags:_grokparsefailure 1
mapping=$(es "/syslog-2026.11.21/_mapping")
check "raw: metric.value mapped double (template from the grammar)" \
  "$PY" -c 'import json,sys; m=json.loads(sys.argv[1]); p=next(iter(m.values()))["mappings"]["properties"]; sys.exit(p["metric"]["properties"]["value"]["type"] != "double")' "$mapping"
check "raw: the fields are the grammar's" \
  query_count_is syslog-2026.11.20 process.name:app \
  "$("$PY" -c 'n=3000; print(sum(1 for i in range(n) if 20 + i*3//n == 20))')"
stop_shipper "$ship_pid"

# ---- headers -------------------------------------------------------------------
id1=0123456789abcdef0123456789abcdef
id2=fedcba9876543210fedcba9876543210
printf '{"@timestamp":"2026-11-19T10:00:00.000Z","message":"from the agent","host":{"name":"web01"}}\n' |
  produce agent -H logferry.index=metrics -H logferry.id=$id1 -H logferry.ts=1795082400000
# The header's time wins over the JSON's when both are there (the agent sets both alike).
printf '{"@timestamp":"2026-11-18T10:00:00.000Z","message":"header time"}\n' |
  produce agent -H logferry.index=metrics -H logferry.id=$id2 -H logferry.ts=1795082400000
printf '{"message":"no timestamp","n":1}\n{ "message" : "spaced",\t"n" : 2 }\n{}\n' |
  produce agent -p 0
printf '{"message":"bad headers"}\n' | produce agent -p 1 -H logferry.index=BAD/INDEX -H logferry.id=xyz
printf 'plain text, not JSON {"index":{}}\n' | produce agent -p 2
start_shipper headers agent
check "headers: all 7 messages indexed" wait_until 60 count_is 'metrics-*,syslog-*' $((3001 + 7))
check "headers: 2 in metrics" count_is 'metrics-*' 2
check "headers: prefix, day and _id from the headers" \
  "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(not d.get("found") or d["_source"]["message"] != "from the agent")' \
  "$(es "/metrics-2026.11.19/_doc/$id1")"
check "headers: logferry.ts picks the day" \
  "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(not d.get("found"))' \
  "$(es "/metrics-2026.11.19/_doc/$id2")"
check "headers: JSON without @timestamp gets one" query_count_is 'syslog-*' n:1 1
check "headers: multi-line-free but spaced JSON is kept" query_count_is 'syslog-*' message:spaced 1
check "headers: bad headers fall back to the defaults" query_count_is 'syslog-*' message:bad 1
check "headers: text that is not JSON is a message" query_count_is 'syslog-*' message:plain 1
stop_shipper "$ship_pid"
grep -q 'bad-headers 2' "$tmp/headers.log" && echo "ok   headers: bad headers counted" ||
  { echo "FAIL headers: bad headers counted"; failures=$((failures + 1)); }

# ---- sigkill -------------------------------------------------------------------
n=30000
lines $n kill > "$tmp/kill.txt"
produce_keyed kill < "$tmp/kill.txt"
es "/_fake/faults" -XPUT -H 'Content-Type: application/json' -d '{"slow_ms": 30}' > /dev/null
for trial in 1 2 3; do
  start_shipper "kill$trial" kill
  wait_until 30 assigned "kill$trial" || true
  sleep "$("$PY" -c 'import random; print(round(random.uniform(0.5, 2.5), 2))')"
  kill -9 "$ship_pid"
  wait "$ship_pid" 2> /dev/null || true
  echo "     trial $trial: killed with $(count 'syslog-*') indexed"
done
es "/_fake/faults" -XPUT -H 'Content-Type: application/json' -d '{}' > /dev/null
start_shipper kill4 kill
check "sigkill: _count is exactly the $n lines + the earlier cases" \
  wait_until 120 count_is 'syslog-*' $((n + 3001 + 5))
check "sigkill: each of its lines once" query_count_is "syslog-*" message:kill $n
stop_shipper "$ship_pid"

# ---- pair ----------------------------------------------------------------------
n=20000
lines $n pair > "$tmp/pair.txt"
produce_keyed pair < "$tmp/pair.txt"
es "/_fake/faults" -XPUT -H 'Content-Type: application/json' -d '{"slow_ms": 20}' > /dev/null
start_shipper pairA pair
pa=$ship_pid
start_shipper pairB pair
pb=$ship_pid
wait_until 40 assigned pairA || true
wait_until 40 assigned pairB || true
check "pair: both members got partitions" wait_until 30 sh -c "grep -q assigned '$tmp/pairA.log' && grep -q assigned '$tmp/pairB.log'"
sleep 2
stop_shipper "$pa"
es "/_fake/faults" -XPUT -H 'Content-Type: application/json' -d '{}' > /dev/null
total=$((n + 30000 + 3001 + 5))
check "pair: everything indexed exactly once" wait_until 120 count_is 'syslog-*' "$total"
stop_shipper "$pb"
consumed() { sed -n 's/.*at exit: consumed \([0-9]*\).*/\1/p' "$tmp/$1.log" | tail -1; }
check "pair: A consumed some before it stopped" test "$(consumed pairA)" -gt 0
check "pair: B took over the rest" test "$(consumed pairB)" -gt 0

# ---- pair_kill: one of two members SIGKILLed mid-stream --------------------------
# No LeaveGroup: the coordinator notices after session.timeout.ms and gives
# its partitions to the other, which reads again from the committed offsets;
# what the dead one indexed but never committed comes back as 409s.
n=10000
lines $n pairkill > "$tmp/pairkill.txt"
produce_keyed pair2 < "$tmp/pairkill.txt"
es "/_fake/faults" -XPUT -H 'Content-Type: application/json' -d '{"slow_ms": 20}' > /dev/null
start_shipper pkA pair2
pka=$ship_pid
start_shipper pkB pair2
pkb=$ship_pid
check "pair_kill: both members got partitions" \
  wait_until 40 sh -c "grep -q assigned '$tmp/pkA.log' && grep -q assigned '$tmp/pkB.log'"
sleep 1
kill -9 "$pka"
wait "$pka" 2> /dev/null || true
echo "     pair_kill: A killed with $(count 'syslog-*') indexed in all"
es "/_fake/faults" -XPUT -H 'Content-Type: application/json' -d '{}' > /dev/null
total=$((total + n))
check "pair_kill: B takes over; everything indexed exactly once" \
  wait_until 120 count_is 'syslog-*' "$total"
check "pair_kill: each of its lines once" query_count_is 'syslog-*' message:pairkill $n
stop_shipper "$pkb"

# ---- es_down -------------------------------------------------------------------
stop_es
n=8000
lines $n down > "$tmp/down.txt"
produce_keyed down < "$tmp/down.txt"
start_shipper down down
sleep 4
check "es_down: the shipper waits, alive" kill -0 "$ship_pid"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$ship_pid/status")
echo "     es_down: RSS while Elasticsearch is down: ${rss} kB"
start_es '{"slow_ms": 20}'
total=$((total + n))
check "es_down: everything arrives once Elasticsearch is up" wait_until 120 count_is 'syslog-*' "$total"
n2=6000
lines $n2 down2 > "$tmp/down2.txt"
produce_keyed down < "$tmp/down2.txt"
sleep 1
stop_es
sleep 2
start_es
total=$((total + n2))
check "es_down: killed mid-stream and back: nothing lost, nothing doubled" \
  wait_until 120 count_is 'syslog-*' "$total"
stop_shipper "$ship_pid"

# ---- lag -------------------------------------------------------------------------
lines 300 lag > "$tmp/lag1.txt"
produce lag < "$tmp/lag1.txt"
stats=1s max_pending=100 level=debug start_shipper lag lag
total=$((total + 300))
check "lag: the first lines are indexed" wait_until 60 count_is 'syslog-*' "$total"
check "lag: ... and committed" wait_until 30 grep -q 'lag/0: .* committed 300 ' "$tmp/lag.log"
stop_es
lines 1000 lag2 > "$tmp/lag2.txt"
produce lag < "$tmp/lag2.txt"
check "lag: the partition pauses at max_pending" \
  wait_until 60 grep -q 'lag/0: .* in flight 100 .*(paused)' "$tmp/lag.log"
lines 2000 lag3 > "$tmp/lag3.txt"
produce lag < "$tmp/lag3.txt"
# 3000 produced since the committed 300, of which 100 in flight.
check "lag: paused, the lag counts what was produced meanwhile" \
  wait_until 30 grep -q 'lag/0: .* in flight 100 committed 300 lag 3000 .*(paused)' "$tmp/lag.log"
start_es
total=$((total + 3000))
check "lag: everything arrives once Elasticsearch is back" wait_until 120 count_is 'syslog-*' "$total"
check "lag: ... and the lag goes to 0" wait_until 30 grep -q 'lag/0: .* committed 3300 lag 0 ' "$tmp/lag.log"
stop_shipper "$ship_pid"
check "lag: the partition was fetched again from where it paused" \
  grep -q 'lag/0: fetching again from' "$tmp/lag.log"
check "no shipper warned about a seek that worked" \
  sh -c "! grep -h 'seeking .*Operation in progress' '$tmp'/*.log"

if [ "$failures" -ne 0 ]; then
  for f in "$tmp"/*.log; do echo "--- $f"; tail -n 15 "$f"; done
  echo "$failures check(s) failed"
  exit 1
fi
echo "all kafka_shipper checks passed"
