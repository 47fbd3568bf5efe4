#!/usr/bin/env bash
# logferry agent -> the fake Elasticsearch over HTTPS with security on, end
# to end. A throwaway CA, a server certificate for 127.0.0.1/localhost and a
# client certificate are made with the openssl CLI at test time. Two fakes:
# `sec` (HTTPS, basic auth and an API key required) and `mtls` (HTTPS, a
# client certificate signed by the CA required). Every case counts exactly
# the lines it wrote in its own index prefix:
#
#   ca_file       verify on, ca_file, username + password: all lines indexed
#   untrusted     verify on with the system CAs, then with another CA: nothing
#                 indexed, the agent says which TLS problem, the lines go to
#                 the spool (their positions acknowledged); then the right CA
#                 on the same data_dir: every line arrives from the spool,
#                 exactly once
#   verify_off    verify: false without ca_file: all lines indexed
#   mtls          client certificate required: works with cert_file and
#                 key_file; without them nothing is indexed, the agent says
#                 the server wants a certificate, the lines are spooled; with
#                 them again, all arrive
#   pw_file       password_file
#   pw_env        password: ${LF_TEST_ES_PASSWORD} from the environment
#   api_key       api_key (Authorization: ApiKey), and api_key_file
#   wrong_pw      a wrong password: 401 logged as such, nothing indexed, nothing
#                 dropped (the right one later: every line arrives)
#   secrets       neither password nor API key ever appears in the agent's
#                 stderr, in any case
#   client        python3-elasticsearch over the same TLS and auth (the fake
#                 answers like the real thing: 401, WWW-Authenticate, TLS)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=es_lib.bash
source "$(dirname "$0")/es_lib.bash"
for tool in openssl curl; do
  if ! command -v "$tool" > /dev/null; then
    echo "needs $tool (scripts/setup.sh installs it)"
    exit 1
  fi
done

# ---- a throwaway PKI ---------------------------------------------------------
pki=$tmp/pki
mkdir -p "$pki"
mkca() { # NAME
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=logferry test $1" -keyout "$pki/$1.key" -out "$pki/$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2> "$pki/openssl.err"
}
mkcert() { # NAME CA EXTENSIONS
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
    -keyout "$pki/$1.key" -out "$pki/$1.csr" 2> "$pki/openssl.err"
  printf '%s\n' "$3" > "$pki/$1.ext"
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$2.pem" -CAkey "$pki/$2.key" -CAcreateserial \
    -days 2 -extfile "$pki/$1.ext" -out "$pki/$1.pem" 2> "$pki/openssl.err"
}
mkca ca
mkca otherca
mkcert server ca "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
mkcert client ca "extendedKeyUsage=clientAuth"

# Secrets that must never show in a log: greppable, unlike anything else.
PW=pw-4f1c9e-never-logged
WRONG_PW=pw-wrong-8d2b77-never-logged
KEY_SECRET=apikey-secret-3a9e51
API_KEY=$(printf 'logferry-agent:%s' "$KEY_SECRET" | base64 -w0)
printf '%s\n' "$PW" > "$pki/password"
printf '%s\n' "$API_KEY" > "$pki/api_key"
chmod 600 "$pki/password" "$pki/api_key"

start_fake sec --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" \
  --auth "elastic:$PW" --api-key "$API_KEY"
set_curl_opts sec "--cacert $pki/ca.pem -u elastic:$PW"
start_fake mtls --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" \
  --tls-client-ca "$pki/ca.pem"
set_curl_opts mtls "--cacert $pki/ca.pem --cert $pki/client.pem --key $pki/client.key"
sec="[${fake_url[sec]}]"
mtls="[${fake_url[mtls]}]"
N=300

# run_ok CASE FAKE HOSTS ES_YAML [VAR=value]: N lines, all indexed.
run_ok() {
  local case=$1 fake=$2 hosts=$3 yaml=$4
  shift 4
  write_agent_config "$case" "$hosts" "$yaml"
  lines "$case" $N > "$tmp/$case/log/a.log"
  start_agent "$case" "$@"
  check "$case: $N lines indexed" wait_until 30 count_is "$fake" "${case//_/-}-*" $N
  stop_agent
}
# run_refused CASE FAKE HOSTS ES_YAML LOG_REGEX: nothing indexed while the
# agent says why (LOG_REGEX, in the out_es warning). The first time for a
# case, the N lines are written once the agent knows Elasticsearch refuses
# it: they go to the spool, and their positions are acknowledged, so only
# the spool can bring them back later (nothing re-read from the file).
run_refused() {
  local case=$1 fake=$2 hosts=$3 yaml=$4 regex=$5
  write_agent_config "$case" "$hosts" "$yaml"
  local from=0 fresh=
  if [ -f "$tmp/$case/agent.log" ]; then from=$(wc -l < "$tmp/$case/agent.log"); fi
  if [ ! -e "$tmp/$case/log/a.log" ]; then
    fresh=1
    : > "$tmp/$case/log/a.log"
  fi
  start_agent "$case"
  check "$case: the agent says why ($regex)" \
    wait_until 20 log_since_has "$case" "$from" "out_es.*$regex"
  if [ -n "$fresh" ]; then
    lines "$case" $N > "$tmp/$case/log/a.log"
    check "$case: the lines go to the spool meanwhile" \
      wait_until 20 log_since_has "$case" "$from" "spooling to"
  fi
  check "$case: nothing indexed" test "$(count "$fake" "${case//_/-}-*")" -le 0
  stop_agent
  if [ -n "$fresh" ]; then
    check "$case: all $N acknowledged to the input (they are safe in the spool)" \
      log_since_has "$case" "$from" "files\[0\]: read $N .* acked $N "
    check "$case: ... the output spooled all $N" \
      log_since_has "$case" "$from" "output elasticsearch: .* spooled $N "
  fi
  tail -n "+$((from + 1))" "$tmp/$case/agent.log" | grep -E "out_es.*$regex" | head -n 1 |
    sed 's/^/     /' || true
}
log_since_has() { tail -n "+$(($2 + 1))" "$tmp/$1/agent.log" | grep -qE -- "$3"; }
auth="    username: elastic
    password: $PW"

# ---- verify on, ca_file --------------------------------------------------------
run_ok ca_file sec "$sec" "    ca_file: $pki/ca.pem
$auth"
check "ca_file: the fake saw TLS handshakes ($(stat_of sec tls.handshakes))" \
  test "$(stat_of sec tls.handshakes)" -gt 0
check "ca_file: ... and basic authentication ($(stat_of sec auth.basic))" \
  test "$(stat_of sec auth.basic)" -gt 0

# ---- an untrusted certificate, then the right CA ------------------------------
run_refused untrusted sec "$sec" "$auth" "certificate"
run_refused untrusted sec "$sec" "    ca_file: $pki/otherca.pem
$auth" "certificate.*TLS: the server's certificate is not trusted"
check "untrusted: the fake saw refused handshakes ($(stat_of sec tls.handshake_failures))" \
  test "$(stat_of sec tls.handshake_failures)" -gt 0
run_ok untrusted sec "$sec" "    ca_file: $pki/ca.pem
$auth"
check "untrusted: still exactly $N once the agent is gone (no duplicates)" \
  count_is sec 'untrusted-*' $N

# ---- verify off ----------------------------------------------------------------
run_ok verify_off sec "$sec" "    verify: false
$auth"

# ---- a client certificate required -----------------------------------------------
run_ok mtls mtls "$mtls" "    ca_file: $pki/ca.pem
    cert_file: $pki/client.pem
    key_file: $pki/client.key"
check "mtls: the fake saw client certificates ($(stat_of mtls tls.client_certs))" \
  test "$(stat_of mtls tls.client_certs)" -gt 0
run_refused mtls_none mtls "$mtls" "    ca_file: $pki/ca.pem" \
  "certificate required.*TLS: the server requires a client certificate"
run_ok mtls_none mtls "$mtls" "    ca_file: $pki/ca.pem
    cert_file: $pki/client.pem
    key_file: $pki/client.key"

# ---- the password from a file, from the environment ------------------------------
run_ok pw_file sec "$sec" "    ca_file: $pki/ca.pem
    username: elastic
    password_file: $pki/password"
run_ok pw_env sec "$sec" "    ca_file: $pki/ca.pem
    username: elastic
    password: \${LF_TEST_ES_PASSWORD}" LF_TEST_ES_PASSWORD="$PW"

# ---- API keys ---------------------------------------------------------------------
before=$(stat_of sec auth.api_key)
run_ok api_key sec "$sec" "    ca_file: $pki/ca.pem
    api_key: $API_KEY"
run_ok api_key_file sec "$sec" "    ca_file: $pki/ca.pem
    api_key_file: $pki/api_key"
check "api_key: the fake saw API-key requests ($(stat_of sec auth.api_key))" \
  test "$(stat_of sec auth.api_key)" -gt "$before"

# ---- a wrong password: 401, nothing lost --------------------------------------------
rejected=$(stat_of sec auth.rejected)
run_refused wrong_pw sec "$sec" "    ca_file: $pki/ca.pem
    username: elastic
    password: $WRONG_PW" "401 Unauthorized.*refused the credentials.*unable to authenticate user \[elastic\]"
check "wrong_pw: the fake refused the credentials ($(stat_of sec auth.rejected) refusals)" \
  test "$(stat_of sec auth.rejected)" -gt "$rejected"
run_ok wrong_pw sec "$sec" "    ca_file: $pki/ca.pem
    username: elastic
    password_file: $pki/password"

# ---- no secret in any log -----------------------------------------------------------
for secret in "$PW" "$WRONG_PW" "$KEY_SECRET" "$API_KEY"; do
  check "secrets: '${secret:0:8}...' is in no agent log" \
    sh -c "! grep -rqF -- '$secret' '$tmp'/*/agent.log"
done
check "secrets: the logs are not empty (the grep looked at something)" \
  sh -c "cat '$tmp'/*/agent.log | grep -q 'out_es'"

# ---- python3-elasticsearch over the same TLS and auth ---------------------------
if "$PY" -c 'import elasticsearch' 2> /dev/null; then
  check "client: python3-elasticsearch, HTTPS with basic auth and API keys" \
    "$PY" "$LF_SOURCE_DIR/tests/fake_es/check_clients.py" "${fake_port[sec]}" tls \
    "$pki/ca.pem" "elastic:$PW" "$API_KEY"
  check "client: python3-elasticsearch, HTTPS with a client certificate" \
    "$PY" "$LF_SOURCE_DIR/tests/fake_es/check_clients.py" "${fake_port[mtls]}" mtls \
    "$pki/ca.pem" "$pki/client.pem" "$pki/client.key"
else
  check "client: python3-elasticsearch is installed (scripts/setup.sh)" false
fi

finish
