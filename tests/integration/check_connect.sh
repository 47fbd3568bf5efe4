#!/usr/bin/env bash
# logferry check --connect (issue 12, item 5): after the configuration's
# checks, it reaches what the configuration sends to, one line per thing
# reached, and exits 0 only when everything answered.
#   es        the fake Elasticsearch as 8.11.0 and as 9.0.0: OK, each with its
#             version and the composable template API; a refused port, a
#             6.2.4 (too old), missing credentials (401) each fail the run
#             with the reason, while the good host is still reported OK;
#             credentials in a URL are never printed; a web server that
#             is not Elasticsearch fails; TLS: an untrusted
#             certificate fails, with ca_file it is OK
#   file      the file output: nothing to connect to, directory writable or
#             not (a read-only parent unless root, a path under a plain file)
#   kafka     the librdkafka mock cluster (skipped, exit 77, without it): the
#             agent's Kafka output and the shipper's Kafka input list the
#             brokers and say whether the topics exist; no broker: fails
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=es_lib.bash
source "$(dirname "$0")/es_lib.bash"

# connect CASE [--shipper]: runs check --connect on $tmp/CASE/{agent,shipper}.yml,
# output in $tmp/CASE/out, exit status in $tmp/CASE/rc.
connect() {
  local case=$1 file=agent.yml rc=0
  shift
  if [ "${1:-}" = --shipper ]; then file=shipper.yml; fi
  "$LOGFERRY" check "$@" --connect -c "$tmp/$case/$file" > "$tmp/$case/out" 2> "$tmp/$case/err" ||
    rc=$?
  echo "$rc" > "$tmp/$case/rc"
  sed "s/^/  $case: /" "$tmp/$case/out"
  # A failing run exits 1 anyway: a sanitizer's report must not hide there.
  check "$case: no sanitizer report" not grep -q Sanitizer "$tmp/$case/err"
}
not() { ! "$@"; }
rc_is() { test "$(cat "$tmp/$1/rc")" = "$2"; }
says() { grep -qF -- "$2" "$tmp/$1/out"; }

# ---- Elasticsearch -----------------------------------------------------------------
start_fake es8 --version 8.11.0
start_fake es9 --version 9.0.0
start_fake old --version 6.2.4
start_fake auth --version 8.11.0 --auth elastic:s3cret
refused=http://127.0.0.1:$(free_port)

write_agent_config good "[${fake_url[es8]}, ${fake_url[es9]}]"
connect good
check "good: exit 0" rc_is good 0
check "good: configuration OK first" says good "$tmp/good/agent.yml: OK"
check "good: 8.x OK with its API" says good \
  "${fake_url[es8]}/: OK: Elasticsearch 8.11.0, composable templates (_index_template)"
check "good: 9.0.0 OK with its API" says good \
  "${fake_url[es9]}/: OK: Elasticsearch 9.0.0, composable templates (_index_template)"

write_agent_config mixed "[${fake_url[es8]}, $refused]"
connect mixed
check "refused: exit 1" rc_is mixed 1
check "refused: the reachable host still OK" says mixed "${fake_url[es8]}/: OK: Elasticsearch 8.11.0"
check "refused: the reason" grep -qE "^$refused/: FAILED: .*nothing listens there" "$tmp/mixed/out"

write_agent_config old "[${fake_url[old]}]"
connect old
check "too old: exit 1" rc_is old 1
check "too old: says so" grep -qE "^${fake_url[old]}/: FAILED: Elasticsearch 6.2.4 is too old" \
  "$tmp/old/out"
check "too old: not called unreachable" not says old unreachable

write_agent_config noauth "[${fake_url[auth]}]"
connect noauth
check "401: exit 1" rc_is noauth 1
check "401: says the credentials were refused" says noauth "FAILED: HTTP 401 Unauthorized"

with_creds=${fake_url[auth]/http:\/\//http://elastic:s3cret@}
write_agent_config creds "[$with_creds]"
connect creds
check "credentials in the URL: exit 0" rc_is creds 0
check "credentials in the URL: OK" says creds ": OK: Elasticsearch 8.11.0"
check "credentials in the URL: the password is not printed" not says creds s3cret

printf 'elastic\n' > "$tmp/user"
printf 's3cret\n' > "$tmp/password"
write_agent_config pwfile "[${fake_url[auth]}]" \
  "    username: elastic
    password_file: $tmp/password"
connect pwfile
check "password_file: exit 0" rc_is pwfile 0
check "password_file: OK" says pwfile "${fake_url[auth]}/: OK: Elasticsearch 8.11.0"

# Not Elasticsearch: a plain web server answering GET / with a page.
mkdir -p "$tmp/www"
web_port=$(free_port)
"$PY" -m http.server --bind 127.0.0.1 --directory "$tmp/www" "$web_port" > /dev/null 2>&1 &
fake_pid[web]=$!
wait_until 20 curl -sf -o /dev/null "http://127.0.0.1:$web_port/" || {
  echo "the web server did not start"
  exit 1
}
write_agent_config web "[http://127.0.0.1:$web_port]"
connect web
check "not Elasticsearch: exit 1" rc_is web 1
check "not Elasticsearch: says so" says web "not Elasticsearch or OpenSearch?"

# TLS: a self-signed server certificate, untrusted without ca_file.
if command -v openssl > /dev/null; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=logferry check test" -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$tmp/server.key" -out "$tmp/server.pem" 2> "$tmp/openssl.err"
  start_fake tls --version 8.11.0 --tls-cert "$tmp/server.pem" --tls-key "$tmp/server.key"
  write_agent_config untrusted "[${fake_url[tls]}]"
  connect untrusted
  check "TLS, untrusted: exit 1" rc_is untrusted 1
  check "TLS, untrusted: a certificate problem" grep -qiE "^${fake_url[tls]}/: FAILED: .*certificate" \
    "$tmp/untrusted/out"
  write_agent_config trusted "[${fake_url[tls]}]" "    ca_file: $tmp/server.pem"
  connect trusted
  check "TLS, ca_file: exit 0" rc_is trusted 0
  check "TLS, ca_file: OK" says trusted "${fake_url[tls]}/: OK: Elasticsearch 8.11.0"
else
  echo "SKIP TLS cases: no openssl"
fi

# ---- file and stdout ---------------------------------------------------------------
file_config() { # CASE TYPE DIR
  mkdir -p "$tmp/$1"
  cat > "$tmp/$1/agent.yml" << YML
agent:
  data_dir: $tmp/$1/data
inputs:
  metrics:
    enabled: false
output:
  type: $2
  file:
    dir: $3
YML
}
file_config file file "$tmp/file/out.d"
connect file
check "file: exit 0" rc_is file 0
check "file: nothing to connect to" says file "nothing to connect to"
mkdir -p "$tmp/ro"
chmod 0555 "$tmp/ro"
file_config file_ro file "$tmp/ro/out.d"
connect file_ro
if [ "$(id -u)" != 0 ]; then # root writes anywhere
  check "file, read-only parent: exit 1" rc_is file_ro 1
  check "file, read-only parent: says so" says file_ro "FAILED: does not exist and $tmp/ro is not"
fi
chmod 0755 "$tmp/ro"
touch "$tmp/plain"
file_config file_under_file file "$tmp/plain/out.d"
connect file_under_file
check "file, under a plain file: exit 1" rc_is file_under_file 1
check "file, under a plain file: says why" says file_under_file "out.d: FAILED: Not a directory"
file_config stdout stdout "$tmp/unused"
connect stdout
check "stdout: exit 0" rc_is stdout 0
check "stdout: nothing to connect to" says stdout "output.stdout: nothing to connect to"

# ---- Kafka -------------------------------------------------------------------------
MOCK=${LF_KAFKA_MOCK:-}
if [ -z "$MOCK" ] || [ ! -x "$MOCK" ]; then
  echo "SKIP kafka: needs the lf_kafka_mock helper (LF_KAFKA_MOCK=${MOCK:-unset})"
  finish
  exit 77
fi
"$MOCK" --brokers 3 --topic logs:3 --topic raw:2 --bootstrap-file "$tmp/bootstrap" \
  > "$tmp/mock.out" 2> "$tmp/mock.err" &
fake_pid[mock]=$!
wait_until 30 test -s "$tmp/bootstrap" || {
  echo "the mock cluster did not start"
  cat "$tmp/mock.err"
  exit 1
}
bs=$(cat "$tmp/bootstrap")
kafka_config() { # CASE BROKERS TOPIC
  mkdir -p "$tmp/$1"
  cat > "$tmp/$1/agent.yml" << YML
agent:
  data_dir: $tmp/$1/data
inputs:
  metrics:
    enabled: false
output:
  type: kafka
  kafka:
    brokers: [${2//,/, }]
    topic: $3
YML
}
kafka_config kafka "$bs" logs
connect kafka
check "kafka: exit 0" rc_is kafka 0
check "kafka: three brokers listed" test "$(grep -c '^output.kafka: broker .*: OK$' "$tmp/kafka/out")" = 3
check "kafka: the topic exists" says kafka "output.kafka: topic logs: OK, 3 partitions"

kafka_config kafka_missing "$bs" nosuchtopic
connect kafka_missing
check "kafka, missing topic: exit 1" rc_is kafka_missing 1
check "kafka, missing topic: says so" says kafka_missing "topic nosuchtopic: FAILED"

kafka_config kafka_down "127.0.0.1:$(free_port)" logs
connect kafka_down
check "kafka, no broker: exit 1" rc_is kafka_down 1
check "kafka, no broker: says so" says kafka_down "output.kafka: FAILED: no cluster metadata"

mkdir -p "$tmp/shipper"
cat > "$tmp/shipper/shipper.yml" << YML
shipper:
  data_dir: $tmp/shipper
inputs:
  kafka:
    brokers: [${bs//,/, }]
    topics: [logs, raw]
    group: check
output:
  elasticsearch:
    hosts: [${fake_url[es9]}]
YML
connect shipper --shipper
check "shipper: exit 0" rc_is shipper 0
check "shipper: both topics exist" says shipper "inputs.kafka: topic raw: OK, 2 partitions"
check "shipper: Elasticsearch OK" says shipper "${fake_url[es9]}/: OK: Elasticsearch 9.0.0"
sed -i "s|hosts: .*|hosts: [${fake_url[old]}]|" "$tmp/shipper/shipper.yml"
connect shipper --shipper
check "shipper, old Elasticsearch: exit 1" rc_is shipper 1
check "shipper, old Elasticsearch: Kafka still OK" says shipper "inputs.kafka: topic logs: OK"

finish
