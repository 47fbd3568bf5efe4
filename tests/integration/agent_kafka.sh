#!/usr/bin/env bash
# logferry agent -> Kafka (the lf_kafka_mock cluster, tests/kafka_mock), read
# back with kcat, a client that is not ours:
#
#   basic    a tailed file, 3000 lines: exactly 3000 messages; key = the
#            agent's name; headers logferry.index, .id (32 hex, unique) and
#            .ts (= the message timestamp) on every message; the value is
#            the event's JSON; one partition (one key).
#   outage   all brokers down for ~5 s while the agent writes, then up:
#            every line exactly once (idempotent producer, nothing spooled).
#            The ids equal the _ids the file output gives the same lines.
#   spool    brokers down longer than delivery_timeout: the events go to the
#            spool and are acknowledged (the registry reaches the end of the
#            file while Kafka is down); back up, every line exactly once.
#   codecs   zstd, gzip, snappy and none: accepted, and kcat reads them.
#
# Every agent must exit 0 on SIGTERM after draining. Every process is started
# here and stopped by its PID.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
MOCK=${LF_KAFKA_MOCK:-}
KCAT=$(command -v kcat || command -v kafkacat || true)
PY=/usr/bin/python3
if [ -z "$KCAT" ]; then
  echo "SKIP: needs kcat"
  exit 77
fi
if [ -z "$MOCK" ] || [ ! -x "$MOCK" ]; then
  echo "SKIP: needs the lf_kafka_mock helper (LF_KAFKA_MOCK=${MOCK:-unset})"
  exit 77
fi

tmp=$(mktemp -d)
mock_pid='' agent_pid=''
cleanup() {
  for p in $agent_pid $mock_pid; do
    kill -9 "$p" 2> /dev/null || true
    wait "$p" 2> /dev/null || true
  done
  if [ -z "${LF_KEEP_TMP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT
failures=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
wait_until() { # wait_until SECONDS COMMAND...: polls COMMAND until true or the deadline
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}
fatal() {
  echo "FAIL $*"
  echo "--- lf_kafka_mock"; tail -n 20 "$tmp/mock.out" "$tmp/mock.err" 2> /dev/null || true
  for f in "$tmp"/*/agent.log; do echo "--- $f"; tail -n 30 "$f"; done
  exit 1
}

# The cluster: 3 brokers, a topic per case.
started=$SECONDS
codecs=(zstd gzip snappy none)
topics=(--topic basic:3 --topic spool:3)
for c in "${codecs[@]}"; do topics+=(--topic "codec_$c:2"); done
"$MOCK" --brokers 3 "${topics[@]}" --bootstrap-file "$tmp/bootstrap" --control "$tmp/control" \
  > "$tmp/mock.out" 2> "$tmp/mock.err" &
mock_pid=$!
wait_until 20 test -s "$tmp/bootstrap" || fatal "no bootstrap file from lf_kafka_mock within 20 s"
bs=$(cat "$tmp/bootstrap")
ack_count() { grep -cxF "$1" "$tmp/mock.out" || true; }
acked() { [ "$(ack_count "$1")" -ge "$2" ]; }
command_mock() { # command_mock CMD: send CMD on the FIFO and wait for its ack
  local n; n=$(($(ack_count "ok $1") + 1))
  echo "$1" > "$tmp/control"
  wait_until 10 acked "ok $1" "$n"
}

# Messages as "partition<TAB>key<TAB>timestamp<TAB>headers<TAB>value" lines:
# the JSON has no raw tab or newline (they are escaped).
consume() { timeout 30 "$KCAT" -C -b "$bs" -t "$1" -o beginning -e -q -f '%p\t%k\t%T\t%h\t%s\n'; }
count_is() { [ "$(consume "$1" | wc -l)" -eq "$2" ]; }
distinct_lines() { consume "$1" | grep -o '"message":"line [0-9]*"' | sort -u | wc -l; }
distinct_lines_are() { [ "$(distinct_lines "$1")" -eq "$2" ]; }

lines() { # lines FROM COUNT: syslog lines numbered FROM..FROM+COUNT-1
  "$PY" - "$1" "$2" << 'PY'
import sys
a, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(a, a + n):
    print(f"Nov 21 10:{i // 60 % 60:02d}:{i % 60:02d} web01 app[{i + 1}]: line {i}")
PY
}

# config CASE TOPIC [extra lines for output.kafka]: the agent tails
# $tmp/CASE/log/*.log into TOPIC.
config() {
  local dir=$tmp/$1 brokers
  brokers=$(sed "s/[^,]*/'&'/g; s/,/, /g" <<< "$bs")
  mkdir -p "$dir/log"
  cat > "$dir/agent.yml" << YML
agent:
  name: kafkatest
  data_dir: $dir/data
  timezone: UTC
  shutdown_timeout: 20s
inputs:
  metrics:
    enabled: false
  files:
    - paths: [$dir/log/*.log]
      start_at: beginning
      rescan: 200ms
output:
  type: kafka
  batch_max_age: 100ms
  kafka:
    brokers: [$brokers]
    topic: $2
    properties:
      reconnect.backoff.ms: 100
      reconnect.backoff.max.ms: 500
${3:-}
YML
  "$LOGFERRY" check -c "$dir/agent.yml" > /dev/null || fatal "logferry check refuses $dir/agent.yml"
}
start_agent() { # start_agent CASE
  "$LOGFERRY" agent -c "$tmp/$1/agent.yml" 2>> "$tmp/$1/agent.log" &
  agent_pid=$!
}
stop_agent() { # SIGTERM: the agent must drain and exit 0 (sanitizer reports fail it too)
  local rc=0
  kill -TERM "$agent_pid" 2> /dev/null || true
  wait "$agent_pid" || rc=$?
  agent_pid=
  check "$1: the agent exits 0 on SIGTERM" test "$rc" = 0
}
registry_offset_is() { # registry_offset_is CASE OFFSET: the file's saved position
  "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if [e["offset"] for e in r["entries"]] == [int(sys.argv[2])] else 1)' \
    "$tmp/$1/data/registry.json" "$2" 2> /dev/null
}
counter() { # counter CASE NAME: the output's counter in the agent's last counters line
  grep "output kafka:" "$tmp/$1/agent.log" | tail -n 1 | grep -o "$2 [0-9]*" | awk '{print $2}'
}

# ---- basic and outage -----------------------------------------------------
config basic basic
lines 0 3000 > "$tmp/basic/log/app.log"
start_agent basic
check "basic: 3000 messages" wait_until 60 count_is basic 3000

size_before=$(stat -c %s "$tmp/basic/log/app.log")
t0=$SECONDS
command_mock "down all" || fatal "no ack for 'down all'"
lines 3000 1000 >> "$tmp/basic/log/app.log"
sleep 2 # the outage itself: the agent reads and produces while no broker answers
lines 4000 1000 >> "$tmp/basic/log/app.log"
sleep 3
check "outage: the registry stays where Kafka's acknowledgements are" \
  registry_offset_is basic "$size_before"
command_mock "up all" || fatal "no ack for 'up all'"
lines 5000 1000 >> "$tmp/basic/log/app.log"
check "outage: all 6000 lines arrive" wait_until 60 distinct_lines_are basic 6000
echo "outage: $((SECONDS - t0)) s from down to everything delivered"
stop_agent basic
consume basic > "$tmp/basic.out"
check "outage: exactly 6000 messages (none twice)" test "$(wc -l < "$tmp/basic.out")" -eq 6000
check "outage: nothing went to the spool" test "$(counter basic spooled)" = 0
check "outage: 6000 acknowledged by Kafka" test "$(counter basic acked)" = 6000

"$PY" - "$tmp/basic.out" > "$tmp/basic.check" 2>&1 << 'PY' || true
import datetime, json, re, sys
bad = []
ids, lines, partitions = set(), set(), set()
n = 0
for raw in open(sys.argv[1], encoding="utf-8"):
    n += 1
    part, key, ts, headers, value = raw.rstrip("\n").split("\t", 4)
    partitions.add(part)
    if key != "kafkatest":
        bad.append(f"key {key!r}")
    h = dict(kv.split("=", 1) for kv in headers.split(","))
    if sorted(h) != ["logferry.id", "logferry.index", "logferry.ts"]:
        bad.append(f"headers {headers!r}")
        continue
    if h["logferry.index"] != "syslog":
        bad.append(f"index {h['logferry.index']!r}")
    if not re.fullmatch(r"[0-9a-f]{32}", h["logferry.id"]):
        bad.append(f"id {h['logferry.id']!r}")
    ids.add(h["logferry.id"])
    if h["logferry.ts"] != ts or not ts.isdigit():
        bad.append(f"ts header {h['logferry.ts']!r} vs timestamp {ts!r}")
    doc = json.loads(value)
    if doc["host"]["name"] != "kafkatest" or doc["agent"]["type"] != "logferry":
        bad.append(f"document {value[:80]}")
    m = re.fullmatch(r"line (\d+)", doc["message"])
    lines.add(int(m.group(1)))
    # the timestamp and logferry.ts are the event's @timestamp
    at = datetime.datetime.strptime(doc["@timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    at = at.replace(tzinfo=datetime.timezone.utc)
    if round(at.timestamp() * 1000) != int(ts):
        bad.append(f"@timestamp {doc['@timestamp']} vs timestamp {ts}")
if len(ids) != n:
    bad.append(f"{n - len(ids)} duplicate ids")
if lines != set(range(6000)):
    bad.append(f"lines: {len(lines)} distinct, not 0..5999")
if len(partitions) != 1:
    bad.append(f"one key, but {len(partitions)} partitions")
print("\n".join(bad[:10]) if bad else "ok")
PY
check "basic: key = agent name, headers right, ids unique, values the events" \
  test "$(cat "$tmp/basic.check")" = ok || cat "$tmp/basic.check"

# The same lines through the file output, from the same registry rewound:
# the _ids it writes are the logferry.id headers.
mkdir -p "$tmp/fileout"
cp -r "$tmp/basic/data" "$tmp/fileout/data"
"$PY" - "$tmp/fileout/data/registry.json" << 'PY'
import json, sys
reg = json.load(open(sys.argv[1]))
for e in reg["entries"]:
    e["offset"] = 0
json.dump(reg, open(sys.argv[1], "w"))
PY
cat > "$tmp/fileout/agent.yml" << YML
agent:
  name: kafkatest
  data_dir: $tmp/fileout/data
  timezone: UTC
inputs:
  metrics:
    enabled: false
  files:
    - paths: [$tmp/basic/log/*.log]
      start_at: beginning
output:
  type: file
  batch_max_age: 100ms
  file:
    dir: $tmp/fileout/out
YML
"$LOGFERRY" agent -c "$tmp/fileout/agent.yml" 2>> "$tmp/fileout/agent.log" &
agent_pid=$!
file_docs() { cat "$tmp"/fileout/out/*.ndjson 2> /dev/null | grep -c '^{"create"' || true; }
file_docs_are() { [ "$(file_docs)" -eq "$1" ]; }
check "file output: the same 6000 lines" wait_until 60 file_docs_are 6000
stop_agent "file output"
cat "$tmp"/fileout/out/*.ndjson | grep -o '^{"create":{[^}]*"_id":"[0-9a-f]*"' |
  grep -o '[0-9a-f]\{32\}' | sort > "$tmp/file.ids"
cut -f4 "$tmp/basic.out" | tr ',' '\n' | sed -n 's/^logferry\.id=//p' | sort > "$tmp/kafka.ids"
check "logferry.id = the file output's _id, for every line" cmp -s "$tmp/file.ids" "$tmp/kafka.ids"

# ---- spool ------------------------------------------------------------------
config spool spool "    delivery_timeout: 1s
    queue_max_size: 64KiB"
lines 0 1000 > "$tmp/spool/log/app.log"
start_agent spool
check "spool: 1000 messages" wait_until 60 count_is spool 1000
t0=$SECONDS
command_mock "down all" || fatal "no ack for 'down all'"
lines 1000 3000 >> "$tmp/spool/log/app.log"
size=$(stat -c %s "$tmp/spool/log/app.log")
check "spool: while Kafka is down, the whole file is acknowledged (spooled)" \
  wait_until 30 registry_offset_is spool "$size"
check "spool: the agent says so" grep -q "spooling to $tmp/spool/data/spool-kafka" "$tmp/spool/agent.log"
command_mock "up all" || fatal "no ack for 'up all'"
check "spool: all 4000 lines arrive" wait_until 60 distinct_lines_are spool 4000
echo "spool: $((SECONDS - t0)) s from down to everything delivered"
stop_agent spool
check "spool: exactly 4000 messages (none twice)" count_is spool 4000
check "spool: 3000 went through the spool" test "$(counter spool spooled)" = 3000
check "spool: 4000 acknowledged by Kafka" test "$(counter spool acked)" = 4000

# ---- codecs -----------------------------------------------------------------
for c in "${codecs[@]}"; do
  config "codec_$c" "codec_$c" "    compression: $c"
  lines 0 200 > "$tmp/codec_$c/log/app.log"
  start_agent "codec_$c"
  check "compression $c: 200 messages, read back by kcat" wait_until 60 distinct_lines_are "codec_$c" 200
  stop_agent "compression $c"
done

echo "total: $((SECONDS - started)) s"
if [ "$failures" -ne 0 ]; then
  for f in "$tmp"/*/agent.log; do echo "--- $f"; tail -n 20 "$f"; done
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
