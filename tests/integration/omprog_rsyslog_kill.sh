#!/usr/bin/env bash
# Issue 11 under a real rsyslogd (Debian's), with the shipped snippet as is
# (useTransactions="on") in front of the fake Elasticsearch:
#
# 1. SIGKILL of the agent while it is inside a transaction (lines answered
#    DEFER_COMMIT, journaled, no COMMIT yet: the case rsyslog does not send
#    again), KILLS times during a stream: rsyslog restarts it, the journal
#    is shipped by the next agent; every message arrives, copies only under
#    the same _id, so Elasticsearch keeps one.
# 2. Elasticsearch down longer than rsyslog's confirmTimeout (here 5 s; the
#    outage 12 s) with the spool off, so that the COMMIT really waits: the
#    agent's keep-alives hold rsyslog, which neither times out nor kills it;
#    everything arrives once Elasticsearch is back.
#
# Short by default; the long version (20 kills, a 150 s outage):
#   OMPROG_KILL_LONG=1 LOGFERRY=build/logferry LF_SOURCE_DIR=. \
#     bash tests/integration/omprog_rsyslog_kill.sh
#
# rsyslogd and the fake get their own config, pid file and work directory
# in a temporary directory; both are started here and stopped by PID.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
source "$LF_SOURCE_DIR/tests/integration/lib.bash"
LOGFERRY=$(realpath "$LOGFERRY")
RSYSLOGD=${RSYSLOGD:-/usr/sbin/rsyslogd}
PY=/usr/bin/python3
if [ ! -x "$RSYSLOGD" ] || ! command -v logger > /dev/null; then
  echo "SKIP: needs rsyslogd and logger"
  exit 77
fi
if [ -n "${OMPROG_KILL_LONG:-}" ]; then
  kills=20 messages=60000 outage=150
else
  kills=5 messages=15000 outage=12
fi
tmp=$(mktemp -d)
rs_pid= fake=
cleanup() {
  if [ -n "$rs_pid" ]; then
    for child in $(pgrep -P "$rs_pid" || true); do kill -9 "$child" 2> /dev/null || true; done
    kill -9 "$rs_pid" 2> /dev/null || true
  fi
  if [ -n "$fake" ]; then kill -9 "$fake" 2> /dev/null || true; fi
  wait 2> /dev/null || true
  if [ -z "${LF_KEEP_TMP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT
dump_logs() {
  echo "--- agent log"
  tail -n 30 "$tmp/agent.log" 2> /dev/null || true
  echo "--- rsyslogd"
  tail -n 30 "$tmp/rsyslogd.log" "$tmp/rsyslogd.out" 2> /dev/null || true
}

start_fake() { # [PORT]
  rm -f "$tmp/port"
  "$PY" "$LF_SOURCE_DIR/tests/fake_es/fake_es.py" --port "${1:-0}" --port-file "$tmp/port" \
    --data "$tmp/journal" 2>> "$tmp/fake.err" &
  fake=$!
  wait_until 20 test -s "$tmp/port" || {
    echo "the fake did not start"
    exit 1
  }
}
stop_fake() {
  kill -9 "$fake" 2> /dev/null || true
  wait "$fake" 2> /dev/null || true
  fake=
}
start_fake
port=$(cat "$tmp/port")

# Documents of our messages in the fake's journal (a SIGKILLed or running
# fake loses nothing it answered): documents, distinct messages, messages
# under more than one _id, and how many of m-1..m-N are missing.
stats() { # N
  "$PY" - "$tmp/journal" "$1" << 'PY'
import json, sys
ids = {}
try:
    lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
except FileNotFoundError:
    lines = []
docs = 0
for line in lines:
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("t") != "doc":
        continue
    d = json.loads(r["src"])
    if d.get("process", {}).get("name") != "lftest":
        continue
    docs += 1
    ids.setdefault(d["message"], set()).add(r["id"])
want = {"m-%06d" % i for i in range(1, int(sys.argv[2]) + 1)}
print(docs, len(ids), sum(1 for s in ids.values() if len(s) > 1), len(want - set(ids)))
PY
}
missing_is_zero() { [ "$(stats "$1" | cut -d' ' -f4)" = 0 ]; }

mkdir -p "$tmp/work" "$tmp/data"
write_config() { # SPOOL: true|false
  cat > "$tmp/agent.yml" << YML
agent:
  data_dir: $tmp/data
  shutdown_timeout: 5s
inputs:
  metrics:
    enabled: false
output:
  type: elasticsearch
  elasticsearch:
    hosts: [http://127.0.0.1:$port]
    backoff_min: 50ms
    backoff_max: 1s
    connect_timeout: 1s
    timeout: 5s
    spool:
      enabled: $1
YML
}
# The spool off: an outage makes the COMMIT wait for Elasticsearch itself.
write_config false
"$LOGFERRY" check -c "$tmp/agent.yml" > /dev/null

# The shipped snippet, pointed at this build and this directory; retries
# after 1 s instead of 10, a confirmTimeout of 5 s so that the outage is
# well past it.
sed -e "s#/usr/bin/logferry#$LOGFERRY#" \
  -e "s#/etc/logferry/agent.yml#$tmp/agent.yml#" \
  -e "s#/var/log/logferry/omprog.log#$tmp/agent.log#" \
  -e 's#action.resumeInterval="10"#action.resumeInterval="1"#' \
  -e 's#confirmTimeout="10000"#confirmTimeout="5000"#' \
  "$LF_SOURCE_DIR/packaging/rsyslog/logferry-omprog.conf" > "$tmp/logferry-omprog.conf"
grep -q 'useTransactions="on"' "$tmp/logferry-omprog.conf"
cat > "$tmp/rsyslog.conf" << CONF
global(workDirectory="$tmp/work" processInternalMessages="on" reportChildProcessExits="all")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$tmp/log.sock" RateLimit.Interval="0")
if \$programname == "rsyslogd" or \$programname startswith "rsyslogd-" then {
  action(type="omfile" file="$tmp/rsyslogd.log")
  stop
}
include(file="$tmp/logferry-omprog.conf")
CONF
"$RSYSLOGD" -N1 -f "$tmp/rsyslog.conf" > "$tmp/check.out" 2>&1 || {
  cat "$tmp/check.out"
  exit 1
}
"$RSYSLOGD" -n -f "$tmp/rsyslog.conf" -i "$tmp/rsyslogd.pid" > "$tmp/rsyslogd.out" 2>&1 &
rs_pid=$!
check "rsyslogd listens" wait_until 20 test -S "$tmp/log.sock"

agent_pid() { pgrep -P "$rs_pid" | head -n 1; }
# Inside a transaction: the journal's first record has a length.
in_transaction() {
  [ -s "$tmp/data/omprog.journal" ] &&
    [ "$(od -An -tu4 -j8 -N4 "$tmp/data/omprog.journal" | tr -d ' ')" != 0 ]
}
send() { # FROM COUNT
  seq -f "m-%06g" "$1" $(($1 + $2 - 1)) > "$tmp/batch-$1.txt"
  logger -u "$tmp/log.sock" -t lftest -p user.info -f "$tmp/batch-$1.txt"
}

# 1. SIGKILLs inside transactions.
send 1 "$messages" &
sender=$!
killed=0
for ((k = 1; k <= kills; k++)); do
  if ! wait_until 60 bash -c "p=\$(pgrep -P $rs_pid | head -n 1); [ -n \"\$p\" ] && [ \"\$p\" != '${last:-}' ]"; then
    break
  fi
  last=$(agent_pid)
  # The moment: DEFER_COMMITs out, COMMIT not yet sent.
  if wait_until 30 in_transaction; then
    kill -9 "$last" 2> /dev/null && killed=$((killed + 1))
  fi
done
wait "$sender"
echo "     $killed agents SIGKILLed inside a transaction"
check "the agent was killed inside transactions $kills times" test "$killed" = "$kills"
send $((messages + 1)) 10 # rsyslog restarts the agent when it has a message for it
check "every message arrives" wait_until 180 missing_is_zero $((messages + 10))
read -r docs distinct split missing <<< "$(stats $((messages + 10)))"
echo "     $docs documents for $distinct messages, $missing missing"
check "none lost" test "$missing" = 0
check "copies only under the same _id" test "$split" = 0
check "shipped journals" grep -q "shipped again" "$tmp/agent.log"

# 2. An outage longer than confirmTimeout: the COMMIT waits.
agent=$(agent_pid)
stop_fake
t0=$SECONDS
send 100001 500 &
sender=$!
sleep "$outage" # the outage itself; nothing to wait for
start_fake "$port"
wait "$sender"
want_outage() {
  "$PY" - "$tmp/journal" << 'PY'
import json, sys
seen = set()
for line in open(sys.argv[1], encoding="utf-8").read().splitlines():
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("t") == "doc":
        seen.add(json.loads(r["src"]).get("message"))
want = {"m-%06d" % i for i in range(100001, 100501)}
sys.exit(0 if want <= seen else 1)
PY
}
check "the 500 messages sent during the ${outage} s outage arrive" wait_until 120 want_outage
echo "     outage and recovery took $((SECONDS - t0)) s"
check "rsyslog never timed out waiting for the agent" \
  bash -c "! grep -q 'did not respond within timeout' '$tmp/rsyslogd.log' '$tmp/rsyslogd.out'"
check "nor killed it" bash -c "! grep -q 'killing it' '$tmp/rsyslogd.log' '$tmp/rsyslogd.out'"
check "the same agent all along" test "$(agent_pid)" = "$agent"

# 3. Stopping rsyslog closes the agent's stdin: it answers and exits 0.
kill -TERM "$rs_pid"
check "rsyslogd stops" wait_until 30 bash -c "! kill -0 $rs_pid 2>/dev/null"
wait "$rs_pid" || true
rs_pid=
check "the agent exits with rsyslogd" wait_until 20 bash -c "! kill -0 $agent 2>/dev/null"
check "the agent exited with status 0" \
  grep -q "(pid $agent) exited with status 0" "$tmp/rsyslogd.log" "$tmp/rsyslogd.out"

if [ "$failures" -ne 0 ]; then
  dump_logs
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
