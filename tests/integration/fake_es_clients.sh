#!/usr/bin/env bash
# The fake Elasticsearch (tests/fake_es/fake_es.py) checked with real clients,
# so that the tests that use it test against something that answers like
# Elasticsearch:
#   1. python3-elasticsearch 7.17 (Debian): product check, index template,
#      helpers.bulk with create and ids, the same again -> 409s, count, search,
#      mapping conflicts, get_mapping, cat.indices (tests/fake_es/check_clients.py);
#   2. rsyslog's omelasticsearch (Debian): a private rsyslogd ships N messages
#      from logger in bulk mode to a daily index; exactly N arrive, and the one
#      document that conflicts with the template's mapping lands in its errorfile;
#   3. faults: 429 items, 503, 413, dropped connections, a malformed answer,
#      gzip and chunked request bodies (python client and curl);
#   4. persistence: SIGKILL mid-stream, restart on the same journal: every item
#      that was answered 201 is there, counts and mappings are unchanged.
# Every server is started here on 127.0.0.1 and stopped by its PID.
set -euo pipefail
LF_SOURCE_DIR=${LF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3 # explicitly Debian's: another python3 may come first in PATH
FAKE=$LF_SOURCE_DIR/tests/fake_es/fake_es.py
CLIENT=$LF_SOURCE_DIR/tests/fake_es/check_clients.py
RSYSLOGD=${RSYSLOGD:-$(command -v rsyslogd || echo /usr/sbin/rsyslogd)}

if ! "$PY" -c 'import elasticsearch' 2> /dev/null; then
  echo "SKIP: needs python3-elasticsearch"
  exit 77
fi
if [ ! -x "$RSYSLOGD" ] || ! command -v logger > /dev/null || ! command -v curl > /dev/null; then
  echo "SKIP: needs rsyslogd, logger and curl"
  exit 77
fi

tmp=$(mktemp -d)
fake_pid='' rs_pid='' loader_pid='' os_pid='' es7_pid=''
cleanup() {
  for p in $loader_pid $rs_pid $fake_pid $os_pid $es7_pid; do
    kill -9 "$p" 2> /dev/null || true
    wait "$p" 2> /dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
cat > "$tmp/probe.conf" << CONF
module(load="omelasticsearch")
action(type="omelasticsearch" server="127.0.0.1" serverport="9" bulkmode="on")
CONF
if ! "$RSYSLOGD" -N1 -f "$tmp/probe.conf" > "$tmp/probe.out" 2>&1; then
  cat "$tmp/probe.out"
  echo "SKIP: rsyslogd cannot load omelasticsearch (package rsyslog-elasticsearch)"
  exit 77
fi
failures=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
wait_until() { # wait_until SECONDS COMMAND...: polls COMMAND until true or the deadline
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}
dump_logs() {
  echo "--- fake_es stderr"; tail -n 30 "$tmp/fake.err" 2> /dev/null || true
  echo "--- fake_es requests"; tail -n 20 "$tmp/fake.log" 2> /dev/null || true
  echo "--- rsyslogd"; tail -n 20 "$tmp/rsyslogd.log" "$tmp/rsyslogd.out" 2> /dev/null || true
}

start_fake() { # the fake on a free port, journal in $tmp (kept across restarts)
  rm -f "$tmp/port"
  "$PY" "$FAKE" --port 0 --port-file "$tmp/port" --data "$tmp/es.journal" --log "$tmp/fake.log" \
    2>> "$tmp/fake.err" &
  fake_pid=$!
  wait_until 15 test -s "$tmp/port" || { echo "FAIL the fake did not start"; dump_logs; exit 1; }
  port=$(cat "$tmp/port")
  es=http://127.0.0.1:$port
}
jcurl() { curl -sS -H 'Content-Type: application/json' "$@"; }
count() { "$PY" "$CLIENT" "$port" count "$1"; }
count_is() { [ "$(count "$1")" = "$2" ]; }

# 0. The fake itself.
start_fake
check "the fake listens on 127.0.0.1:$port" curl -sSf -o /dev/null "$es/"
check "X-Elastic-Product header" bash -c "curl -sSI '$es/' | grep -qi '^X-elastic-product: Elasticsearch'"

# 1. The python client.
echo "--- python3-elasticsearch $("$PY" -c 'import elasticsearch; print(*elasticsearch.__version__, sep=".")')"
check "python client checks" "$PY" "$CLIENT" "$port" client
# The same against the 7.17 personality (typed items, mapper_parsing_exception).
"$PY" "$FAKE" --port 0 --port-file "$tmp/es7.port" --version 7.17.0 2>> "$tmp/fake.err" &
es7_pid=$!
check "the 7.17 personality starts" wait_until 15 test -s "$tmp/es7.port"
check "python client checks against --version 7.17.0" bash -c "
  '$PY' '$CLIENT' \$(cat '$tmp/es7.port') client > '$tmp/es7.out' || { grep -v '^ok' '$tmp/es7.out'; exit 1; }"
kill -TERM "$es7_pid"
wait "$es7_pid" || true
es7_pid=
# Every personality logferry serves (tests/integration/es_versions.sh), as the
# real client sees it: product check, the template API that version has,
# bulk; OpenSearch (2.x, 3.x, compatibility mode) refused as the client
# refuses the real one.
for v in 6.8.23 7.7.1 7.10.2 8.11.0 9.0.0 opensearch:2.11.0 opensearch:3.0.0 opensearch:2.11.0:compat; do
  rm -f "$tmp/ver.port"
  IFS=: read -r a b c <<< "$v"
  if [ "$a" = opensearch ]; then
    args=(--flavour opensearch --version "$b" ${c:+--opensearch-compat distribution})
  else
    args=(--version "$a")
  fi
  "$PY" "$FAKE" --port 0 --port-file "$tmp/ver.port" "${args[@]}" 2>> "$tmp/fake.err" &
  es7_pid=$!
  check "the $v personality starts" wait_until 15 test -s "$tmp/ver.port"
  check "python client checks against $v" bash -c "
    '$PY' '$CLIENT' \$(cat '$tmp/ver.port') version '$v' > '$tmp/ver.out' ||
      { grep -v '^ok' '$tmp/ver.out'; exit 1; }"
  kill -TERM "$es7_pid"
  wait "$es7_pid" || true
  es7_pid=
done

# 2. rsyslog's omelasticsearch, bulk mode, daily index from the message's time.
echo "--- rsyslog omelasticsearch ($("$RSYSLOGD" -v | head -n 1))"
mkdir -p "$tmp/work"
jcurl -f -o /dev/null -XPUT "$es/_index_template/rsyslog-test" -d '{
  "index_patterns": ["rsyslog-*"], "priority": 50,
  "template": {"settings": {"number_of_replicas": 0},
               "mappings": {"properties": {"seq": {"type": "long"}, "host.name": {"type": "keyword"},
                                           "@timestamp": {"type": "date"}}}}}'
# esVersion.major="8": without it this rsyslog adds "_type" to every action
# line, which Elasticsearch 8 (and the fake) rejects with a 400.
cat > "$tmp/rsyslog.conf" << CONF
global(workDirectory="$tmp/work" processInternalMessages="on")
module(load="imuxsock" SysSock.Use="off")
module(load="omelasticsearch")
input(type="imuxsock" Socket="$tmp/log.sock" RateLimit.Interval="0")
template(name="es_index" type="string"
         string="rsyslog-%timereported:::date-year%.%timereported:::date-month%.%timereported:::date-day%")
template(name="es_doc" type="list") {
  constant(value="{\"@timestamp\":\"") property(name="timereported" dateFormat="rfc3339")
  constant(value="\",\"host.name\":\"") property(name="hostname" format="json")
  constant(value="\",\"process.name\":\"") property(name="programname" format="json")
  constant(value="\",\"seq\":\"") property(name="msg" field.delimiter="32" field.number="2" format="json")
  constant(value="\",\"message\":\"") property(name="msg" format="json")
  constant(value="\"}")
}
if \$programname startswith "rsyslogd" then {
  action(type="omfile" file="$tmp/rsyslogd.log")
  stop
}
action(type="omelasticsearch" server="127.0.0.1" serverport="$port" esVersion.major="8"
       template="es_doc" searchIndex="es_index" dynSearchIndex="on" bulkmode="on"
       errorfile="$tmp/es-errors.json" erroronly="on"
       action.resumeRetryCount="-1" action.resumeInterval="1")
CONF
"$RSYSLOGD" -N1 -f "$tmp/rsyslog.conf" > "$tmp/check.out" 2>&1 || { cat "$tmp/check.out"; exit 1; }
"$RSYSLOGD" -n -f "$tmp/rsyslog.conf" -i "$tmp/rsyslogd.pid" > "$tmp/rsyslogd.out" 2>&1 &
rs_pid=$!
check "rsyslogd listens on its private socket" wait_until 20 test -S "$tmp/log.sock"
N=2000
seq -f "%g message from logger" 1 $N > "$tmp/batch.txt"
logger -u "$tmp/log.sock" -t esclient -p user.info -f "$tmp/batch.txt"
logger -u "$tmp/log.sock" -t esclient -p user.info "notanumber conflicts with the long mapping of seq"
check "omelasticsearch delivers $N documents" wait_until 40 count_is 'rsyslog-*' $N
check "the conflicting document is in omelasticsearch's errorfile" wait_until 20 test -s "$tmp/es-errors.json"
kill -TERM "$rs_pid"
check "rsyslogd stops" wait_until 30 bash -c "! kill -0 $rs_pid 2> /dev/null"
wait "$rs_pid" || true
rs_pid=
read -r docs distinct <<< "$("$PY" "$CLIENT" "$port" distinct 'rsyslog-*' seq)"
check "exactly $N documents, $N distinct seq (got $docs, $distinct)" test "$docs" = $N -a "$distinct" = $N
check "one daily index rsyslog-YYYY.MM.DD" \
  bash -c "curl -sS '$es/_cat/indices/rsyslog-*?h=index' | grep -Eqx 'rsyslog-[0-9]{4}\.[0-9]{2}\.[0-9]{2}'"
check "errorfile: one failed request, a 400 parsing exception on [seq]" "$PY" -c '
import json, sys
e = json.load(open(sys.argv[1]))
reply = json.loads(e["reply"][0])
print("     errorfile reply:", json.dumps(reply["error"]))
assert len(e["request"]) == 1 and "notanumber" in e["request"][0], e
assert reply["status"] == 400 and reply["error"]["type"] in ("document_parsing_exception", "mapper_parsing_exception")
assert "failed to parse field [seq] of type [long]" in reply["error"]["reason"], reply' "$tmp/es-errors.json"
check "template types and dynamic ones in the rsyslog index" bash -c "
  curl -sS '$es/rsyslog-*/_mapping' | '$PY' -c '
import json, sys
m = list(json.load(sys.stdin).values())[0][\"mappings\"][\"properties\"]
assert m[\"seq\"] == {\"type\": \"long\"} and m[\"@timestamp\"] == {\"type\": \"date\"}, m
assert m[\"host\"][\"properties\"][\"name\"] == {\"type\": \"keyword\"}, m
assert m[\"message\"][\"type\"] == \"text\" and m[\"process\"][\"properties\"][\"name\"][\"type\"] == \"text\", m'"

# 3. Faults.
echo "--- faults"
check "python client fault checks" "$PY" "$CLIENT" "$port" faults
printf '%s\n' '{"create":{"_index":"curl-test","_id":"gz"}}' '{"msg":"gzip and chunked"}' | gzip > "$tmp/bulk.gz"
status=$(curl -sS -o "$tmp/gz.out" -w '%{http_code}' -H 'Content-Type: application/x-ndjson' \
  -H 'Content-Encoding: gzip' -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/bulk.gz" "$es/_bulk")
check "gzip + chunked request body: 200 and the item created" \
  bash -c "[ $status = 200 ] && grep -q '\"status\":201' '$tmp/gz.out'"
status=$(curl -sS -o /dev/null -w '%{http_code}' --data-binary @"$tmp/bulk.gz" "$es/_bulk")
check "a body without a JSON Content-Type: 406" test "$status" = 406
jcurl -o /dev/null -XPUT "$es/_fake/faults" -d '{"max_body_bytes": 100}'
head -c 5000 /dev/zero | tr '\0' 'x' > "$tmp/big"
status=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-ndjson' \
  --data-binary @"$tmp/big" "$es/_bulk")
check "curl: body over max_body_bytes: 413" test "$status" = 413
jcurl -o /dev/null -XPUT "$es/_fake/faults" -d '{}'
status=$(curl -sS -o "$tmp/nl.out" -w '%{http_code}' -H 'Content-Type: application/x-ndjson' \
  --data-binary '{"index":{"_index":"curl-test"}}' "$es/_bulk")
check "a bulk body without the final newline: 400" \
  bash -c "[ $status = 400 ] && grep -q 'must be terminated by a newline' '$tmp/nl.out'"

# 4. Persistence: SIGKILL while a client streams, restart on the same journal.
echo "--- persistence"
before_all=$(count '*')
mapping_before=$(curl -sS "$es/client-2024.03.15/_mapping")
jcurl -o /dev/null -XPUT "$es/_fake/faults" -d '{"slow_ms": 20}'
: > "$tmp/acked"
"$PY" "$CLIENT" "$port" load stream-test 200000 "$tmp/acked" &
loader_pid=$!
check "the stream is flowing" wait_until 30 bash -c "[ \$(wc -l < '$tmp/acked') -ge 2000 ]"
kill -9 "$fake_pid"
wait "$fake_pid" 2> /dev/null || true
wait "$loader_pid" || true
loader_pid=
start_fake
read -r acked present total <<< "$("$PY" "$CLIENT" "$port" verify stream-test "$tmp/acked")"
echo "     acknowledged $acked, present $present, in the index $total"
check "every item answered 201 before the kill is there" test "$acked" -ge 2000 -a "$present" = "$acked"
check "nothing beyond what was sent before the kill" test "$total" -ge "$acked" -a "$total" -le $((acked + 500))
check "other indices unchanged by the kill and restart" test "$(count '*')" = $((before_all + total))
check "mappings unchanged" test "$(curl -sS "$es/client-2024.03.15/_mapping")" = "$mapping_before"
check "templates survive the restart" curl -sSf -o /dev/null "$es/_index_template/rsyslog-test"
check "faults are not persisted" test "$(curl -sS "$es/_fake/faults")" = '{}'
kill -9 "$fake_pid"
wait "$fake_pid" 2> /dev/null || true
start_fake
check "a second restart: same count" test "$(count '*')" = $((before_all + total))
jcurl -o /dev/null "$es/stream-test/_doc/after-restart" -XPUT -d '{"seq": 1}'
kill -TERM "$fake_pid"
check "SIGTERM stops the fake" wait_until 10 bash -c "! kill -0 $fake_pid 2> /dev/null"
wait "$fake_pid" 2> /dev/null || true
start_fake
check "writes after a restart are journaled too" test "$(count stream-test)" = $((total + 1))

# 5. The OpenSearch flavour: the Elasticsearch client refuses it, as it refuses the real one.
"$PY" "$FAKE" --port 0 --port-file "$tmp/os.port" --flavour opensearch 2>> "$tmp/fake.err" &
os_pid=$!
check "opensearch flavour starts" wait_until 15 test -s "$tmp/os.port"
os_es=http://127.0.0.1:$(cat "$tmp/os.port")
check "opensearch flavour: distribution and no X-Elastic-Product" bash -c "
  curl -sS '$os_es/' | grep -q '\"distribution\":\"opensearch\"' && ! curl -sSI '$os_es/' | grep -qi x-elastic-product"
check "python3-elasticsearch refuses the opensearch flavour" "$PY" -c "
import warnings; warnings.simplefilter('ignore')
from elasticsearch import Elasticsearch, exceptions
try:
    Elasticsearch(['$os_es']).search(index='x')
except exceptions.UnsupportedProductError:
    raise SystemExit(0)
raise SystemExit(1)"

if [ "$failures" -ne 0 ]; then
  dump_logs
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
