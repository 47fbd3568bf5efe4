#!/usr/bin/env bash
# logferry setup (issue 13, items 4 and 5) against the fake Elasticsearch and
# the fake Kibana:
#   servers   Elasticsearch 8.x and 9.x, OpenSearch 2 and 3, with retention:
#             the lifecycle policy (ILM, or ISM with its ism_template) and the
#             template are installed; a daily index created by a bulk
#             afterwards carries the policy (index.lifecycle.name, or ISM's
#             explain); a second setup changes nothing, says so and sends
#             no PUT; a new retention updates the policy (ISM: with the
#             seq_no and primary term the GET gave)
#   agent     the agent installs the same policy and template at start: a
#             setup after it finds everything unchanged
#   dry-run   prints each PUT with its body and sends nothing to either server
#   foreign   a template of our name that is not logferry's is left alone
#   kibana    8.x and 9.x: every object imported (kbn-xsrf, multipart), the
#             objects of packaging/kibana too, a second run unchanged; refused objects (missing reference,
#             unknown type) name the object; a refused import (500), wrong
#             credentials (401), an unreachable Kibana, Elasticsearch with
#             wrong credentials or unreachable: exit 1 with the URL and reason
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=es_lib.bash
source "$(dirname "$0")/es_lib.bash"
KIBANA=$LF_SOURCE_DIR/tests/fake_kibana/fake_kibana.py
OBJECTS=$LF_SOURCE_DIR/tests/data/kibana
declare -A kbn_pid kbn_url
cleanup_kibana() {
  for name in "${!kbn_pid[@]}"; do
    kill -9 "${kbn_pid[$name]}" 2> /dev/null || true
    wait "${kbn_pid[$name]}" 2> /dev/null || true
  done
  cleanup
}
trap cleanup_kibana EXIT

start_kibana() { # NAME [fake_kibana.py options]
  local name=$1 dir=$tmp/kibana-$1
  shift
  mkdir -p "$dir"
  "$PY" "$KIBANA" --port 0 --port-file "$dir/port" "$@" 2>> "$dir/stderr" &
  kbn_pid[$name]=$!
  if ! wait_until 20 test -s "$dir/port"; then
    echo "the fake Kibana $name did not start"
    cat "$dir/stderr"
    exit 1
  fi
  kbn_url[$name]=http://127.0.0.1:$(cat "$dir/port")
}
kbn() { curl -sS "${kbn_url[$1]}$2" "${@:3}"; }

# run_setup CASE [setup options]: $tmp/CASE/agent.yml; output in $tmp/CASE/out.N
# (N counts the runs of the case), exit status in $tmp/CASE/rc.
run_setup() {
  local case=$1 rc=0 n
  shift
  n=$(($(cat "$tmp/$case/runs" 2> /dev/null || echo 0) + 1))
  echo "$n" > "$tmp/$case/runs"
  "$LOGFERRY" setup -c "$tmp/$case/agent.yml" "$@" > "$tmp/$case/out.$n" 2> "$tmp/$case/err" ||
    rc=$?
  echo "$rc" > "$tmp/$case/rc"
  cp "$tmp/$case/out.$n" "$tmp/$case/out"
  sed "s/^/  $case.$n: /" "$tmp/$case/out" | cut -c1-220
  check "$case.$n: no sanitizer report" not grep -q Sanitizer "$tmp/$case/err"
}
not() { ! "$@"; }
rc_is() { test "$(cat "$tmp/$1/rc")" = "$2"; }
says() { grep -qF -- "$2" "$tmp/$1/out"; }
# json NAME PATH EXPR: a Python expression on the answer j to GET PATH.
json() {
  es "$1" "$2" | "$PY" -c 'import json, sys
j = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$3"
}
# The number of requests of METHOD the fake NAME served, but its own /_fake ones.
served() {
  es "$1" /_fake/requests | "$PY" -c 'import json, sys
print(sum(1 for r in json.load(sys.stdin)["requests"] if r["method"] == sys.argv[1] and not r["path"].startswith("/_fake")))' "$2"
}
# bulk NAME INDEX: one document created there (the index made by the bulk).
bulk() {
  printf '{"create":{"_index":"%s","_id":"x1"}}\n{"@timestamp":"2026-12-07T00:00:00Z","message":"m"}\n' "$2" |
    es "$1" /_bulk -H 'Content-Type: application/x-ndjson' --data-binary @- > /dev/null
}
RETENTION="    retention: 30d"

# ---- Elasticsearch 8 and 9, OpenSearch 2 and 3 ---------------------------------------
for server in es8:8.11.0:elasticsearch es9:9.0.0:elasticsearch os2:2.11.0:opensearch \
  os3:3.0.0:opensearch; do
  IFS=: read -r name version flavour <<< "$server"
  start_fake "$name" --version "$version" --flavour "$flavour"
  write_agent_config "$name" "[${fake_url[$name]}]" "$RETENTION" "" syslog
  run_setup "$name"
  check "$name: exit 0" rc_is "$name" 0
  check "$name: the server named" says "$name" "${fake_url[$name]}:"
  check "$name: policy installed" says "$name" "lifecycle policy logferry-syslog: installed"
  check "$name: template installed" says "$name" "index template logferry-syslog: installed"
  check "$name: summary" says "$name" "setup: 2 installed or updated, 0 unchanged"
  index=syslog-2026.12.07
  if [ "$flavour" = elasticsearch ]; then
    check "$name: ILM policy deletes after 30d" test "$(json "$name" /_ilm/policy/logferry-syslog \
      'j["logferry-syslog"]["policy"]["phases"]["delete"]["min_age"]')" = 30d
    check "$name: the template names the policy" test "$(json "$name" \
      /_index_template/logferry-syslog \
      'j["index_templates"][0]["index_template"]["template"]["settings"]["index"]["lifecycle"]["name"]')" \
      = logferry-syslog
    bulk "$name" "$index"
    check "$name: a new daily index carries the policy" test "$(json "$name" "/$index/_settings" \
      "j['$index']['settings']['index']['lifecycle']['name']")" = logferry-syslog
    check "$name: ILM manages it" test "$(json "$name" "/$index/_ilm/explain" \
      "j['indices']['$index']['policy']")" = logferry-syslog
  else
    check "$name: ISM policy deletes after 30d" test "$(json "$name" \
      /_plugins/_ism/policies/logferry-syslog \
      'j["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"]')" = 30d
    check "$name: ISM template matches the prefix" test "$(json "$name" \
      /_plugins/_ism/policies/logferry-syslog 'j["policy"]["ism_template"][0]["index_patterns"]')" \
      = "['syslog-*']"
    check "$name: no ILM setting in the template" test "$(json "$name" \
      /_index_template/logferry-syslog \
      '"settings" in j["index_templates"][0]["index_template"]["template"]')" = False
    bulk "$name" "$index"
    check "$name: ISM manages a new daily index" test "$(json "$name" \
      "/_plugins/_ism/explain/$index" "j['$index']['policy_id']")" = logferry-syslog
  fi
  if [ "$flavour" = elasticsearch ]; then
    check "$name: check --print-template prints what setup installed" test "$("$LOGFERRY" check \
      --print-template syslog -c "$tmp/$name/agent.yml" | "$PY" -c 'import json, sys
print(json.load(sys.stdin)["_meta"]["fingerprint"])')" = "$(json "$name" \
      /_index_template/logferry-syslog 'j["index_templates"][0]["index_template"]["_meta"]["fingerprint"]')"
  fi
  puts=$(served "$name" PUT)
  run_setup "$name"
  check "$name: again: exit 0" rc_is "$name" 0
  check "$name: again: policy unchanged" says "$name" "lifecycle policy logferry-syslog: unchanged"
  check "$name: again: template unchanged" says "$name" "index template logferry-syslog: unchanged"
  check "$name: again: says nothing changed" says "$name" "setup: nothing changed (2 unchanged)"
  check "$name: again: no PUT sent" test "$(served "$name" PUT)" = "$puts"
  sed -i 's/retention: 30d/retention: 12h/' "$tmp/$name/agent.yml"
  run_setup "$name"
  check "$name: new retention: policy updated" says "$name" "lifecycle policy logferry-syslog: updated"
  check "$name: new retention: template unchanged" says "$name" \
    "index template logferry-syslog: unchanged"
  if [ "$flavour" = opensearch ]; then
    check "$name: ISM update named seq_no and primary term" grep -q \
      'PUT /_plugins/_ism/policies/logferry-syslog?if_seq_no=0&if_primary_term=1' \
      <(es "$name" /_fake/requests | "$PY" -c 'import json, sys
for r in json.load(sys.stdin)["requests"]: print(r["method"], r["path"])')
    check "$name: ISM policy now 12h" test "$(json "$name" /_plugins/_ism/policies/logferry-syslog \
      'j["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"]')" = 12h
  else
    check "$name: ILM policy now 12h" test "$(json "$name" /_ilm/policy/logferry-syslog \
      'j["logferry-syslog"]["policy"]["phases"]["delete"]["min_age"]')" = 12h
  fi
done

# ---- the agent installs the same at start -----------------------------------------------
for server in agent8:8.11.0:elasticsearch agentos:2.11.0:opensearch; do
  IFS=: read -r name version flavour <<< "$server"
  start_fake "$name" --version "$version" --flavour "$flavour"
  write_agent_config "$name" "[${fake_url[$name]}]" "$RETENTION" "" syslog
  lines "$name" 3 > "$tmp/$name/log/a.log"
  start_agent "$name"
  check "$name: the agent delivers" wait_until 60 count_is "$name" 'syslog-*' 3
  stop_agent
  check "$name: the agent logged the policy" agent_log_has "$name" \
    "lifecycle policy logferry-syslog installed (retention 30d)"
  run_setup "$name"
  check "$name: setup after the agent: nothing changed" says "$name" \
    "setup: nothing changed (2 unchanged)"
  if [ "$flavour" = elasticsearch ]; then
    idx=$(es "$name" '/_cat/indices/syslog-*?h=index' | head -1 | tr -d ' ')
    check "$name: the agent's index carries the policy" test "$(json "$name" "/$idx/_settings" \
      "j['$idx']['settings']['index']['lifecycle']['name']")" = logferry-syslog
  fi
done

# ---- the shipper's configuration: its index and index_prefixes ---------------------------
start_fake shipper --version 8.11.0
mkdir -p "$tmp/shipper"
cat > "$tmp/shipper/agent.yml" << YML
shipper:
  data_dir: $tmp/shipper
inputs:
  kafka:
    brokers: [127.0.0.1:9]
    topics: [logs]
    group: g
output:
  index_prefixes: [syslog, metrics]
  elasticsearch:
    hosts: [${fake_url[shipper]}]
    retention: 14d
YML
run_setup shipper --shipper
check "shipper: exit 0" rc_is shipper 0
for p in syslog metrics; do
  check "shipper: policy for $p" says shipper "lifecycle policy logferry-$p: installed"
  check "shipper: template for $p" says shipper "index template logferry-$p: installed"
done
check "shipper: one prefix each" says shipper "setup: 4 installed or updated, 0 unchanged"
run_setup shipper
check "shipper: as an agent configuration it is refused" rc_is shipper 1
check "shipper: with the hint" grep -q "give --shipper" "$tmp/shipper/err"

# ---- dry run ---------------------------------------------------------------------------
start_fake dry --version 8.11.0
start_kibana dry
write_agent_config dry "[${fake_url[dry]}]" "$RETENTION" "" syslog
run_setup dry --dry-run --kibana "${kbn_url[dry]}" --kibana-objects "$OBJECTS"
check "dry: exit 0" rc_is dry 0
check "dry: the policy's PUT" says dry "PUT ${fake_url[dry]}/_ilm/policy/logferry-syslog"
check "dry: its body" grep -q '^{"policy":{"_meta":.*"min_age":"30d"' "$tmp/dry/out"
check "dry: the template's PUT" says dry "PUT ${fake_url[dry]}/_index_template/logferry-syslog"
check "dry: the import's POST" says dry \
  "POST ${kbn_url[dry]}/api/saved_objects/_import?overwrite=true"
check "dry: the objects in its body" says dry '"id":"logferry-test-dashboard"'
check "dry: nothing sent to Elasticsearch" test "$(es dry /_fake/requests | "$PY" -c \
  'import json, sys; print(sum(1 for r in json.load(sys.stdin)["requests"] if not r["path"].startswith("/_fake")))')" = 0
check "dry: nothing sent to Kibana" test "$(kbn dry /_fake/requests)" = "[]"
run_setup dry --dry-run --opensearch
check "dry --opensearch: the ISM policy" says dry \
  "PUT ${fake_url[dry]}/_plugins/_ism/policies/logferry-syslog"

# ---- a template that is not logferry's -------------------------------------------------
start_fake foreign --version 8.11.0
es foreign /_index_template/logferry-syslog -X PUT -H 'Content-Type: application/json' \
  -d '{"index_patterns":["syslog-*"],"priority":500}' > /dev/null
write_agent_config foreign "[${fake_url[foreign]}]" "" "" syslog
run_setup foreign
check "foreign: exit 0" rc_is foreign 0
check "foreign: left alone" says foreign \
  "index template logferry-syslog: not logferry's: left alone"
check "foreign: still the operator's" test "$(json foreign /_index_template/logferry-syslog \
  'j["index_templates"][0]["index_template"]["priority"]')" = 500

# ---- Kibana ----------------------------------------------------------------------------
start_fake kes --version 8.11.0
write_agent_config kbase "[${fake_url[kes]}]" "" "" syslog
for v in 8.15.0 9.0.0; do
  name=kbn${v%%.*}
  start_kibana "$name" --version "$v"
  mkdir -p "$tmp/$name"
  cp "$tmp/kbase/agent.yml" "$tmp/$name/agent.yml"
  run_setup "$name" --kibana "${kbn_url[$name]}" --kibana-objects "$OBJECTS"
  check "$name: exit 0" rc_is "$name" 0
  check "$name: Kibana named" says "$name" "${kbn_url[$name]}: Kibana $v, available"
  check "$name: imported" says "$name" "kibana logferry-test.ndjson: imported (3 objects)"
  check "$name: every object is in Kibana" test "$(kbn "$name" /_fake/objects)" = \
    '{"default": ["dashboard/logferry-test-dashboard", "index-pattern/logferry-test-syslog", "lens/logferry-test-volume"]}'
  check "$name: every write carried kbn-xsrf" test "$(kbn "$name" /_fake/requests | "$PY" -c \
    'import json, sys; print(all(r["kbn-xsrf"] for r in json.load(sys.stdin) if r["method"] != "GET"))')" = True
  # The objects the package ships (packaging/kibana), every one accepted.
  shipped=$(cat "$LF_SOURCE_DIR"/packaging/kibana/*.ndjson | grep -c '"type"')
  run_setup "$name" --dashboards --kibana "${kbn_url[$name]}" \
    --kibana-objects "$LF_SOURCE_DIR/packaging/kibana"
  check "$name: the shipped objects: exit 0" rc_is "$name" 0
  check "$name: the shipped objects: none refused" not grep -q FAILED "$tmp/$name/out"
  check "$name: the shipped objects: all $shipped in Kibana" test "$(kbn "$name" /_fake/objects |
    "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)["default"]) - 3)')" = "$shipped"
  imports() { kbn "$1" /_fake/requests | "$PY" -c \
    'import json, sys; print(sum(1 for r in json.load(sys.stdin) if "_import" in r["path"]))'; }
  before=$(imports "$name")
  run_setup "$name" --dashboards --kibana "${kbn_url[$name]}" --kibana-objects "$OBJECTS"
  check "$name: again: unchanged" says "$name" "kibana logferry-test.ndjson: unchanged (3 objects)"
  check "$name: again: nothing changed" says "$name" "setup: nothing changed (1 unchanged)"
  check "$name: again: no import sent" test "$(imports "$name")" = "$before"
done

# Objects Kibana refuses: each named, the run fails.
mkdir -p "$tmp/badref/objects"
cat > "$tmp/badref/objects/bad.ndjson" << 'EOF'
{"type":"dashboard","id":"d1","attributes":{"title":"D"},"references":[{"type":"index-pattern","id":"nope","name":"x"}]}
{"type":"no-such-type","id":"t1","attributes":{"title":"T"}}
{"type":"index-pattern","id":"ok1","attributes":{"title":"ok-*"}}
EOF
cp "$tmp/kbase/agent.yml" "$tmp/badref/agent.yml"
run_setup badref --dashboards --kibana "${kbn_url[kbn8]}" --kibana-objects "$tmp/badref/objects"
check "refused objects: exit 1" rc_is badref 1
check "refused objects: the missing reference" says badref \
  "dashboard/d1: missing_references (missing: index-pattern/nope)"
check "refused objects: the unknown type" says badref "no-such-type/t1: unsupported_type"
check "refused objects: how many went in" says badref "FAILED: 1 of 3 objects imported"

# A file that is not NDJSON of saved objects is not sent at all.
mkdir -p "$tmp/broken/objects"
printf '{"type":"dashboard","id":"d1","attributes":{}}\nnot json\n' > "$tmp/broken/objects/b.ndjson"
cp "$tmp/kbase/agent.yml" "$tmp/broken/agent.yml"
run_setup broken --dashboards --kibana "${kbn_url[kbn8]}" --kibana-objects "$tmp/broken/objects"
check "broken file: exit 1" rc_is broken 1
check "broken file: the line named" grep -q "b.ndjson: FAILED: line 2: not a JSON object" \
  "$tmp/broken/out"

# Kibana refuses the import as a whole.
start_kibana fault
kbn fault /_fake/faults -X PUT -d '{"import_status": 500}' > /dev/null
mkdir -p "$tmp/kfault"
cp "$tmp/kbase/agent.yml" "$tmp/kfault/agent.yml"
run_setup kfault --dashboards --kibana "${kbn_url[fault]}" --kibana-objects "$OBJECTS"
check "kibana 500: exit 1" rc_is kfault 1
check "kibana 500: the URL and the answer" says kfault \
  "POST ${kbn_url[fault]}/api/saved_objects/_import?overwrite=true: FAILED: answered 500: \"injected fault: import refused\""

# Wrong and right Kibana credentials.
start_kibana auth --auth elastic:right
echo wrong > "$tmp/wrong.pw"
echo right > "$tmp/right.pw"
mkdir -p "$tmp/kauth"
cp "$tmp/kbase/agent.yml" "$tmp/kauth/agent.yml"
run_setup kauth --dashboards --kibana "${kbn_url[auth]}" --kibana-objects "$OBJECTS" \
  --kibana-username elastic --kibana-password-file "$tmp/wrong.pw"
check "kibana 401: exit 1" rc_is kauth 1
check "kibana 401: the reason" grep -q \
  "GET ${kbn_url[auth]}/api/status: FAILED: answered 401 Unauthorized .*unable to authenticate user \[elastic\]" \
  "$tmp/kauth/out"
check "kibana 401: no password printed" not grep -q wrong "$tmp/kauth/out"
run_setup kauth --dashboards --kibana "${kbn_url[auth]}" --kibana-objects "$OBJECTS" \
  --kibana-username elastic --kibana-password-file "$tmp/right.pw"
check "kibana right credentials: exit 0" rc_is kauth 0

# Kibana unreachable.
mkdir -p "$tmp/kdown"
cp "$tmp/kbase/agent.yml" "$tmp/kdown/agent.yml"
down=http://127.0.0.1:$(free_port)
run_setup kdown --dashboards --kibana "$down" --kibana-objects "$OBJECTS"
check "kibana unreachable: exit 1" rc_is kdown 1
check "kibana unreachable: the URL" grep -q "^GET $down/api/status: FAILED: " "$tmp/kdown/out"

# Elasticsearch with wrong credentials, and unreachable.
start_fake esauth --version 8.11.0 --auth elastic:s3cret
write_agent_config esauth "[${fake_url[esauth]}]" "    username: elastic
    password: nope" "" syslog
run_setup esauth
check "es 401: exit 1" rc_is esauth 1
check "es 401: the reason" grep -q \
  "^GET ${fake_url[esauth]}/: FAILED: answered 401 Unauthorized.*unable to authenticate user \[elastic\]" \
  "$tmp/esauth/out"
check "es 401: summary" says esauth "setup: FAILED"
write_agent_config esdown "[$down]" "" "" syslog
run_setup esdown
check "es unreachable: exit 1" rc_is esdown 1
check "es unreachable: the URL" grep -q "^GET $down/: FAILED: " "$tmp/esdown/out"

# Usage errors.
"$LOGFERRY" setup > /dev/null 2>&1 && rc=0 || rc=$?
check "no -c: exit 2" test "$rc" = 2
"$LOGFERRY" setup -c "$tmp/dry/agent.yml" --dashboards > /dev/null 2>&1 && rc=0 || rc=$?
check "--dashboards without --kibana: exit 2" test "$rc" = 2

finish
