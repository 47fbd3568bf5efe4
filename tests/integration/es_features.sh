#!/usr/bin/env bash
# logferry agent -> the fake Elasticsearch: output features, end to end.
#
#   gzip         `gzip: true`: every bulk request arrives gzip-encoded (the
#                fake's stats), fewer bytes than the documents, exact count
#   local_dates  `local_dates: true` with TZ a zone 14 hours east of UTC:
#                events on different local and UTC days go to the index of
#                the local date; the same events without it, to the UTC one
#   template     `logferry check --print-template PREFIX [-c FILE]` prints
#                valid JSON for PREFIX-* with metric.value a double (from
#                %{NUMBER:metric.value:float}); Elasticsearch (the fake)
#                takes it as is, and the agent finds it current (same
#                fingerprint) and does not install it again
#   big_doc      Elasticsearch down, a spool of 1 MiB: a 2 MiB line, which
#                the spool refuses for good, is kept in memory and sent
#                once Elasticsearch is up (not retried forever); batches
#                larger than the whole spool too; every line arrives once
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=es_lib.bash
source "$(dirname "$0")/es_lib.bash"

start_fake es
one="[${fake_url[es]}]"

# ---- gzip -----------------------------------------------------------------------------
N=2000
es es /_fake/stats -X DELETE > /dev/null
OUTPUT_YAML="  batch_max_docs: 200" write_agent_config gzip "$one" "    gzip: true"
lines gzip $N > "$tmp/gzip/log/a.log"
start_agent gzip
check "gzip: $N lines indexed" wait_until 30 count_is es 'gzip-*' $N
stop_agent
requests=$(stat_of es bulk.requests)
check "gzip: every bulk request was gzip-encoded ($(stat_of es bulk.gzip_requests) of $requests)" \
  test "$requests" -gt 0 -a "$(stat_of es bulk.gzip_requests)" = "$requests"
check "gzip: fewer bytes on the wire ($(stat_of es bulk.bytes)) than the lines ($(wc -c < "$tmp/gzip/log/a.log"))" \
  test "$(stat_of es bulk.bytes)" -lt "$(wc -c < "$tmp/gzip/log/a.log")"

# ---- local dates ------------------------------------------------------------------------
# TZ as a POSIX string (UTC+14, as Pacific/Kiritimati): no tzdata needed.
# UTC day, local day of each event:
#   2026-11-20T09:00Z  Nov 20, Nov 20 23:00    2026-11-20T23:00Z  Nov 20, Nov 21 13:00
#   2026-11-20T10:30Z  Nov 20, Nov 21 00:30    2026-11-21T11:00Z  Nov 21, Nov 22 01:00
iso='^%{TIMESTAMP_ISO8601:timestamp} %{GREEDYDATA:message}$'
for case in ld_local ld_utc; do
  yaml=""
  [ $case = ld_local ] && yaml="    local_dates: true"
  write_agent_config $case "$one" "$yaml" "$iso"
  for i in 1 2 3; do
    printf '2026-11-20T09:00:0%dZ evening\n2026-11-20T10:30:0%dZ after-midnight\n' "$i" "$i"
    printf '2026-11-20T23:00:0%dZ afternoon\n2026-11-21T11:00:0%dZ next-day\n' "$i" "$i"
  done > "$tmp/$case/log/a.log"
  start_agent $case TZ='<+14>-14'
  check "$case: 12 events indexed" wait_until 30 count_is es "${case//_/-}-*" 12
  stop_agent
done
check "ld_local: the local date: 2026.11.20 holds 3" count_is es ld-local-2026.11.20 3
check "ld_local: 2026.11.21 holds 6" count_is es ld-local-2026.11.21 6
check "ld_local: 2026.11.22 holds 3" count_is es ld-local-2026.11.22 3
check "ld_utc: the UTC date (same TZ): 2026.11.20 holds 9" count_is es ld-utc-2026.11.20 9
check "ld_utc: 2026.11.21 holds 3" count_is es ld-utc-2026.11.21 3
check "ld_utc: no 2026.11.22" count_is es 'ld-utc-2026.11.22*' 0

# ---- logferry check --print-template ----------------------------------------------------
write_agent_config tpl "$one" "" '^%{WORD:metric.name}: %{NUMBER:metric.value:float}$' pt
rc=0
"$LOGFERRY" check --print-template pt -c "$tmp/tpl/agent.yml" > "$tmp/tpl/template.json" \
  2> "$tmp/tpl/check.err" || rc=$?
check "template: --print-template exits 0, nothing on stderr" test "$rc" = 0 -a ! -s "$tmp/tpl/check.err"
check "template: one line of JSON for pt-*, metric.value double, ours" "$PY" - "$tmp/tpl/template.json" << 'PY'
import json, sys
text = open(sys.argv[1]).read()
assert text.count("\n") == 1 and text.endswith("\n"), "one line"
t = json.loads(text)
assert t["index_patterns"] == ["pt-*"], t["index_patterns"]
assert t["priority"] == 200 + len("pt-*"), t["priority"]
assert t["_meta"]["managed_by"] == "logferry" and len(t["_meta"]["fingerprint"]) == 16, t["_meta"]
props = t["template"]["mappings"]["properties"]
assert props["metric"]["properties"]["value"]["type"] == "double", props["metric"]
assert props["@timestamp"]["type"] == "date" and props["message"]["type"] == "text"
PY
check "template: Elasticsearch takes it as is" \
  sh -c "[ \"\$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    --data-binary @'$tmp/tpl/template.json' '${fake_url[es]}/_index_template/logferry-pt')\" = 200 ]"
echo 'load: 0.25' > "$tmp/tpl/log/a.log"
start_agent tpl
check "template: the agent indexes with it" wait_until 30 count_is es 'pt-*' 1
stop_agent
check "template: the agent found it current and left it alone" \
  sh -c "grep -q 'out_es.*Elasticsearch 8' '$tmp/tpl/agent.log' &&
    ! grep -q 'index template logferry-pt installed' '$tmp/tpl/agent.log'"
mapping=$(es es '/pt-*/_mapping')
check "template: the index maps metric.value as double" "$PY" -c '
import json, sys
m = next(iter(json.loads(sys.argv[1]).values()))["mappings"]["properties"]
assert m["metric"]["properties"]["value"]["type"] == "double", m["metric"]' "$mapping"
"$LOGFERRY" check --print-template syslog > "$tmp/tpl/default.json" || true
check "template: without -c, the defaults: syslog-*, no metric.value" "$PY" -c '
import json, sys
t = json.load(open(sys.argv[1]))
assert t["index_patterns"] == ["syslog-*"] and "metric" not in t["template"]["mappings"]["properties"]
' "$tmp/tpl/default.json"
cat > "$tmp/tpl/omprog.yml" << YML
grammars:
  metric:
    expressions: ['^%{WORD:metric.name}: %{NUMBER:metric.value:float}$']
inputs:
  omprog:
    grammar: metric
YML
"$LOGFERRY" check --print-template syslog --omprog -c "$tmp/tpl/omprog.yml" \
  > "$tmp/tpl/omprog.json" || true
"$LOGFERRY" check --print-template syslog -c "$tmp/tpl/omprog.yml" > "$tmp/tpl/files.json" || true
check "template: --omprog maps the omprog grammar's fields, without it not" "$PY" -c '
import json, sys
with_, without = (json.load(open(f))["template"]["mappings"]["properties"] for f in sys.argv[1:3])
assert with_["metric"]["properties"]["value"]["type"] == "double" and "metric" not in without
' "$tmp/tpl/omprog.json" "$tmp/tpl/files.json"
rc=0
"$LOGFERRY" check --print-template 'Bad Prefix' > "$tmp/tpl/bad.out" 2> "$tmp/tpl/bad.err" || rc=$?
check "template: a prefix that makes no index name: exit 1, said on stderr, nothing on stdout" \
  sh -c "[ $rc = 1 ] && grep -q 'no valid index name' '$tmp/tpl/bad.err' && ! test -s '$tmp/tpl/bad.out'"

# ---- a document larger than the spool ----------------------------------------------------
port_big=$(free_port) # Elasticsearch down at first
dir=$tmp/big_doc
mkdir -p "$dir/log"
cat > "$dir/agent.yml" << YML
agent:
  data_dir: $dir/data
  timezone: UTC
  shutdown_timeout: 2s
grammars:
  syslog:
    expressions: ['%{LOGFERRY_SYSLOG}']
    max_line: 3MiB
inputs:
  metrics:
    enabled: false
  files:
    - paths: [$dir/log/*.log]
      start_at: beginning
      index: big
output:
  type: elasticsearch
  batch_max_age: 500ms
  batch_max_bytes: 2MiB
  elasticsearch:
    hosts: [http://127.0.0.1:$port_big]
    backoff_min: 50ms
    backoff_max: 500ms
    spool:
      max_size: 1MiB
YML
: > "$dir/log/a.log"
start_agent big_doc
check "big_doc: the agent finds Elasticsearch down" \
  wait_until 20 agent_log_has big_doc "127.0.0.1:$port_big: .*nothing listens there"
{
  lines big_doc 20
  printf 'Nov 21 10:00:30 h app[1]: big_doc huge %s\n' "$(head -c $((2 << 20)) /dev/zero | tr '\0' x)"
  lines big_doc 20 21
} >> "$dir/log/a.log"
check "big_doc: the 2 MiB document is kept in memory, not spooled" \
  wait_until 20 agent_log_has big_doc "larger than the spool takes.*kept in memory"
check "big_doc: the small ones around it are spooled" wait_until 20 agent_log_has big_doc "spooling to"
# Long lines, appended in one go: a batch of them (2 MiB) is larger than the
# 1 MiB spool.
pad=$(head -c 700 /dev/zero | tr '\0' p)
for ((i = 41; i <= 3040; i++)); do
  printf 'Nov 21 10:01:00 h app[1]: big_doc line %d %s\n' "$i" "$pad"
done > "$dir/long.txt"
cat "$dir/long.txt" >> "$dir/log/a.log"
check "big_doc: a batch larger than the whole spool goes to memory" \
  wait_until 20 agent_log_has big_doc "cannot fit in a spool of"
FAKE_PORT=$port_big start_fake big
total=$(wc -l < "$dir/log/a.log")
check "big_doc: once Elasticsearch is up, all $total lines arrive" wait_until 40 count_is big 'big-*' "$total"
check "big_doc: ... the 2 MiB one whole" "$PY" - "$tmp/fake-big/journal" << 'PY'
import json, sys
sizes = [len(json.loads(r["src"])["message"]) for r in map(json.loads, open(sys.argv[1]))
         if r.get("t") == "doc" and "huge" in r["src"][:200000]]
assert sizes == [len("big_doc huge ") + (2 << 20)], sizes
PY
stop_agent
check "big_doc: exactly $total (no duplicates) once the agent is gone" count_is big 'big-*' "$total"
# A full spool may hold a batch back for a while (back-pressure, "limit
# reached"); an error is what used to be retried forever.
check "big_doc: no batch refused with an error (the old endless retry)" \
  sh -c "! grep 'refused a batch' '$dir/agent.log' | grep -qv 'limit reached'"
check "big_doc: nothing failed or dead-lettered" \
  sh -c "grep -q 'failed 0' '$dir/agent.log' && ! test -s '$dir/data/dead-letter.ndjson'"

finish
