#!/usr/bin/env bash
# logferry agent -> the fake Elasticsearch (tests/fake_es), end to end. Each
# case asserts the exact _count per daily index, as the issue asks:
#
#   corpus      the 100k-line corpus tailed: every line once in its daily
#               index (timezone UTC, so the day is the line's), log.offset
#               long, @timestamp date, metric.value a number (double), the
#               index template installed.
#   hostile     lines crafted to break NDJSON (quotes, backslashes, a NUL,
#               {"index":...} action look-alikes, invalid UTF-8, a 100 KiB
#               line): one document each, the text intact.
#   down_start  Elasticsearch down when the agent starts, up 3 s later.
#   killed_es   the fake SIGKILLed mid-stream, then started again.
#   reject429   30% of the items answered 429: retried until all are in.
#   split413    requests over 64 KiB answered 413: split until they fit.
#   dead        a line whose :int field is not a number: Elasticsearch
#               refuses it (mapping), it goes to the dead-letter file with
#               the reason, the others are indexed.
#   sigkill     the agent SIGKILLed at random points, 3 trials, restarted:
#               _count equals the lines written, no more, no less.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
source "$LF_SOURCE_DIR/tests/integration/lib.bash"
PY=/usr/bin/python3
FAKE=$LF_SOURCE_DIR/tests/fake_es/fake_es.py
tmp=$(mktemp -d)
agent_pid=
es_pid=
cleanup() {
  if [ -n "$agent_pid" ]; then kill -9 "$agent_pid" 2> /dev/null || true; fi
  if [ -n "$es_pid" ]; then kill -9 "$es_pid" 2> /dev/null || true; fi
  if [ -z "${LF_KEEP_TMP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT



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

# A config tailing $tmp/$case/log/*.log into the fake.
start_agent() { # case, [extra yaml for output.elasticsearch], [grammar expression]
  local dir=$tmp/$1
  mkdir -p "$dir/log"
  cat > "$dir/agent.yml" << YML
agent:
  data_dir: $dir/data
  timezone: UTC
${3:+grammars:
  syslog:
    expressions: ['$3']
}inputs:
  metrics:
    enabled: false
  files:
    - paths: [$dir/log/*.log]
      start_at: beginning
output:
  type: elasticsearch
  batch_max_age: 200ms
  elasticsearch:
    hosts: [http://127.0.0.1:$port]
    backoff_min: 50ms
    backoff_max: 1s
${2:-}
YML
  "$LOGFERRY" agent -c "$dir/agent.yml" 2>> "$dir/agent.log" &
  agent_pid=$!
}
stop_agent() { # SIGTERM: the agent must exit 0 (sanitizer reports fail it too)
  local rc=0
  kill -TERM "$agent_pid" 2> /dev/null || true
  wait "$agent_pid" || rc=$?
  agent_pid=
  check "the agent exits 0 on SIGTERM" test "$rc" = 0
}

port=$(free_port)
start_es

# ---- corpus ---------------------------------------------------------------
corpus=$tmp/corpus.log
"$PY" "$LF_SOURCE_DIR/bench/gen_corpus.py" -n 100000 -o "$corpus"
start_agent corpus
cp "$corpus" "$tmp/corpus/log/app.log"
total=$(wc -l < "$corpus")
check "corpus: $total lines indexed" wait_until 150 count_is 'syslog-*' "$total"
for day in $(awk '{print $2}' "$corpus" | sort -u); do
  want=$(awk -v d="$day" '$2 == d' "$corpus" | wc -l)
  idx=$(printf 'syslog-2026.11.%02d' "$day")
  check "corpus: $idx holds $want" count_is "$idx" "$want"
done
mapping=$(es "/syslog-*/_mapping")
types() { echo "$mapping" | "$PY" -c '
import json, sys
m = json.load(sys.stdin)
props = next(iter(m.values()))["mappings"]["properties"]
def get(path):
    p = props
    parts = path.split(".")
    for i, k in enumerate(parts):
        node = p[k]
        if i < len(parts) - 1:
            p = node["properties"]
    return node["type"]
print(get(sys.argv[1]))' "$1"; }
check "corpus: @timestamp is a date" test "$(types @timestamp)" = date
check "corpus: log.offset is a long" test "$(types log.offset)" = long
check "corpus: message is text" test "$(types message)" = text
check "corpus: metric.value is a double" test "$(types metric.value)" = double
numeric=$(es "/syslog-*/_count" -H 'Content-Type: application/json' \
  -d '{"query":{"range":{"metric.value":{"gte":0}}}}' | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["count"])')
check "corpus: metric.value answers a numeric range query ($numeric documents)" test "$numeric" -gt 0
check "corpus: the template is installed" \
  sh -c "curl -s http://127.0.0.1:$port/_index_template/logferry-syslog | grep -q managed_by"
stop_agent

# ---- hostile lines ------------------------------------------------------
start_agent hostile
{
  printf 'Nov 21 10:00:00 h app: a "quoted" \\backslash\\ line\n'
  printf 'Nov 21 10:00:01 h app: {"index":{"_index":"evil","_id":"1"}}\n'
  printf 'Nov 21 10:00:02 h app: {"create":{}}\n{"delete":{"_index":"syslog-2026.11.21"}}\n'
  printf 'Nov 21 10:00:03 h app: nul \000 in the middle\n'
  printf 'Nov 21 10:00:04 h app: invalid utf-8 \377\376 and \303 cut\n'
  printf 'Nov 21 10:00:05 h app: tab\there, cr\r, bell\a\n'
  printf 'Nov 21 10:00:06 h app: %s\n' "$(head -c 100000 /dev/zero | tr '\0' x)"
} > "$tmp/hostile/log/h.log"
hostile_lines=$(wc -l < "$tmp/hostile/log/h.log")
check "hostile: $hostile_lines lines, one document each" \
  wait_until 30 count_is 'syslog-*' "$((total + hostile_lines))"
check "hostile: no index named evil" sh -c "! curl -s http://127.0.0.1:$port/_cat/indices | grep -q evil"
found=$(es "/syslog-*/_search" -H 'Content-Type: application/json' \
  -d '{"query":{"term":{"process.name":"app"}},"size":20}' | "$PY" -c '
import json, sys
hits = json.load(sys.stdin)["hits"]["hits"]
msgs = [h["_source"]["message"] for h in hits]
want = ["a \"quoted\" \\backslash\\ line", "{\"index\":{\"_index\":\"evil\",\"_id\":\"1\"}}",
        "nul \u0000 in the middle", "invalid utf-8 \u00ff\u00fe and \u00c3 cut"]
print(sum(1 for w in want if w in msgs))')
check "hostile: quotes, action look-alikes, NUL, invalid UTF-8 come back as text" test "$found" = 4
stop_agent

# ---- Elasticsearch down at start ---------------------------------------
stop_es
start_agent down_start
head -3000 "$corpus" | sed 's/web/down/' > "$tmp/down_start/log/d.log"
sleep 3 # the agent finds nothing listening and spools
start_es
check "down_start: 3000 lines indexed once it is up" \
  wait_until 60 count_is 'syslog-*' "$((total + hostile_lines + 3000))"
stop_agent
grep -q "spooling" "$tmp/down_start/agent.log" &&
  check "down_start: the agent spooled meanwhile" true ||
  check "down_start: the agent spooled meanwhile" false
base=$((total + hostile_lines + 3000))

# ---- Elasticsearch killed mid-stream -----------------------------------
start_agent killed_es
for i in $(seq 1 10); do
  sed -n "$((i * 400 + 1)),$((i * 400 + 400))p" "$corpus" | sed 's/web/kill/' >> "$tmp/killed_es/log/k.log"
  [ "$i" = 4 ] && { stop_es; sleep 1; start_es; }
  sleep 0.2
done
check "killed_es: 4000 lines indexed, none twice" wait_until 60 count_is 'syslog-*' "$((base + 4000))"
stop_agent
base=$((base + 4000))

# ---- 429 on 30% of the items -------------------------------------------
es /_fake/faults -X PUT -H 'Content-Type: application/json' -d '{"reject_429_fraction":0.3}' > /dev/null
start_agent reject429
head -5000 "$corpus" | sed 's/web/rej/' > "$tmp/reject429/log/r.log"
check "reject429: 5000 lines indexed despite 30% of 429s" \
  wait_until 60 count_is 'syslog-*' "$((base + 5000))"
rejected=$(es /_fake/stats | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["faults"]["item_429"])')
check "reject429: items were rejected ($rejected)" test "$rejected" -gt 0
stop_agent
es /_fake/faults -X PUT -H 'Content-Type: application/json' -d '{}' > /dev/null
base=$((base + 5000))

# ---- 413 above 64 KiB --------------------------------------------------
es /_fake/faults -X PUT -H 'Content-Type: application/json' -d '{"max_body_bytes":65536}' > /dev/null
start_agent split413
head -2000 "$corpus" | sed 's/web/big/' > "$tmp/split413/log/s.log"
check "split413: 2000 lines indexed in requests under 64 KiB" \
  wait_until 60 count_is 'syslog-*' "$((base + 2000))"
stop_agent
es /_fake/faults -X PUT -H 'Content-Type: application/json' -d '{}' > /dev/null
base=$((base + 2000))

# ---- a mapping error goes to the dead-letter file ----------------------
start_agent dead "" '^%{NOTSPACE:n:int} %{GREEDYDATA:message}$'
printf '1 one\n2 two\nthree not-a-number\n4 four\n' > "$tmp/dead/log/x.log"
check "dead: the 3 good lines are indexed" wait_until 30 count_is 'syslog-*' "$((base + 3))"
check "dead: the bad one is in the dead-letter file with the reason" \
  wait_until 10 grep -q 'not-a-number' "$tmp/dead/data/dead-letter.ndjson"
check "dead: ... with Elasticsearch's error type" \
  grep -qE '"type":"(mapper_parsing_exception|document_parsing_exception)"' \
  "$tmp/dead/data/dead-letter.ndjson"
stop_agent
base=$((base + 3))

# ---- the agent SIGKILLed at random points -------------------------------
mkdir -p "$tmp/sigkill/log"
head -20000 "$corpus" | sed 's/web/sk/' > "$tmp/sigkill/log/all.log"
for trial in 1 2 3; do
  start_agent sigkill
  sleep "0.$((RANDOM % 9 + 1))"
  kill -9 "$agent_pid"
  wait "$agent_pid" 2> /dev/null || true
  agent_pid=
done
start_agent sigkill
check "sigkill: after 3 crashes, 20000 lines indexed, no more, no less" \
  wait_until 90 count_is 'syslog-*' "$((base + 20000))"
sleep 1
check "sigkill: still exactly that a moment later" count_is 'syslog-*' "$((base + 20000))"
stop_agent

echo "$failures failed"
test "$failures" = 0
