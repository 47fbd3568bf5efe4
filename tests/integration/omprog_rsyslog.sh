#!/usr/bin/env bash
# A real rsyslogd (Debian's) runs `logferry agent --omprog` through the shipped
# snippet packaging/rsyslog/logferry-omprog.conf, as in production: messages
# sent with logger arrive exactly once in the file output; when the agent is
# SIGKILLed mid-stream, rsyslog restarts it and sends again what was not
# confirmed, and no message is lost (a copy, if any, has the same _id, so
# Elasticsearch keeps one); stopping rsyslog stops the agent cleanly.
#
# rsyslogd gets its own config, pid file, work directory and socket in a
# temporary directory; it is started here and stopped by its PID.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
LOGFERRY=$(realpath "$LOGFERRY") # rsyslogd runs it from its own working directory
RSYSLOGD=${RSYSLOGD:-/usr/sbin/rsyslogd}
if [ ! -x "$RSYSLOGD" ] || ! command -v logger > /dev/null; then
  echo "SKIP: needs rsyslogd and logger"
  exit 77
fi
tmp=$(mktemp -d)
rs_pid=
cleanup() {
  if [ -n "$rs_pid" ]; then
    for child in $(pgrep -P "$rs_pid" || true); do kill -9 "$child" 2>/dev/null || true; done
    kill -9 "$rs_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
dump_logs() {
  echo "--- agent log"; tail -n 30 "$tmp/agent.log" 2>/dev/null || true
  echo "--- rsyslogd"; tail -n 30 "$tmp/rsyslogd.log" "$tmp/rsyslogd.out" 2>/dev/null || true
}

mkdir -p "$tmp/work"
cat > "$tmp/agent.yml" <<YML
agent:
  data_dir: $tmp/data
  shutdown_timeout: 5s
inputs:
  metrics:
    enabled: false
output:
  type: file
  file:
    dir: $tmp/out
YML
"$LOGFERRY" check -c "$tmp/agent.yml" > /dev/null

# The shipped snippet, pointed at this build and this directory; retries
# after 1 s instead of 10 so that the restart does not make the test slow.
sed -e "s#/usr/bin/logferry#$LOGFERRY#" \
    -e "s#/etc/logferry/agent.yml#$tmp/agent.yml#" \
    -e "s#/var/log/logferry/omprog.log#$tmp/agent.log#" \
    -e 's#action.resumeInterval="10"#action.resumeInterval="1"#' \
    "$LF_SOURCE_DIR/packaging/rsyslog/logferry-omprog.conf" > "$tmp/logferry-omprog.conf"
cat > "$tmp/rsyslog.conf" <<CONF
global(workDirectory="$tmp/work" processInternalMessages="on" reportChildProcessExits="all")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$tmp/log.sock" RateLimit.Interval="0")
if \$programname == "rsyslogd" or \$programname == "rsyslogd-2007" then {
  action(type="omfile" file="$tmp/rsyslogd.log")
}
include(file="$tmp/logferry-omprog.conf")
CONF
if ! "$RSYSLOGD" -N1 -f "$tmp/rsyslog.conf" > "$tmp/check.out" 2>&1; then
  cat "$tmp/check.out"
  exit 1
fi

# Counts over the output: documents of our messages, distinct messages,
# and messages whose copies do not all share one _id.
stats() {
  /usr/bin/python3 - "$tmp/out" <<'PY'
import glob, json, sys
docs, ids = 0, {}
for path in glob.glob(sys.argv[1] + "/*.ndjson"):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for action, doc in zip(lines[0::2], lines[1::2]):
        d = json.loads(doc)
        if d.get("process", {}).get("name") != "lftest":
            continue
        docs += 1
        ids.setdefault(d["message"], set()).add(json.loads(action)["create"]["_id"])
print(docs, len(ids), sum(1 for s in ids.values() if len(s) > 1))
PY
}
docs_written() { cat "$tmp"/out/*.ndjson 2>/dev/null | grep -c '"create":{' || true; }
wait_until() { # wait_until SECONDS COMMAND...: polls COMMAND until true or the deadline
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}
distinct_at_least() { [ "$(stats | cut -d' ' -f2)" -ge "$1" ]; }
docs_at_least() { [ "$(docs_written)" -ge "$1" ]; }
agent_pid() { pgrep -P "$rs_pid" | head -n 1; }
agent_running() { [ -n "$(agent_pid)" ]; }
send() { # send FROM COUNT: messages m-FROM..m-(FROM+COUNT-1) through the socket
  seq -f "m-%06g" "$1" $(($1 + $2 - 1)) > "$tmp/batch.txt"
  logger -u "$tmp/log.sock" -t lftest -p user.info -f "$tmp/batch.txt"
}

"$RSYSLOGD" -n -f "$tmp/rsyslog.conf" -i "$tmp/rsyslogd.pid" > "$tmp/rsyslogd.out" 2>&1 &
rs_pid=$!
check "rsyslogd listens" wait_until 20 test -S "$tmp/log.sock"

# 1. Every message once.
send 1 2000
check "2000 messages arrive" wait_until 40 distinct_at_least 2000
read -r docs distinct split <<< "$(stats)"
check "each exactly once ($docs documents)" test "$docs" = 2000 -a "$distinct" = 2000
first_agent=$(agent_pid)
check "one agent, a child of rsyslogd" test -n "$first_agent"

# 2. SIGKILL mid-stream: rsyslog restarts the agent and nothing is lost.
send 2001 6000 &
sender=$!
check "the stream is flowing" wait_until 40 docs_at_least 3000
kill -9 "$first_agent"
wait "$sender"
send 8001 100 # rsyslog restarts the agent when it has a message for it
check "rsyslog restarts the agent" wait_until 40 \
  bash -c "p=\$(pgrep -P $rs_pid | head -n 1); [ -n \"\$p\" ] && [ \"\$p\" != $first_agent ]"
check "all 8100 messages arrive after the kill" wait_until 40 distinct_at_least 8100
read -r docs distinct split <<< "$(stats)"
echo "     $docs documents for $distinct messages"
check "no message lost" test "$distinct" = 8100
check "copies only with the same _id" test "$split" = 0
check "no document beyond rsyslog's resends" test "$docs" -lt 8200

# 3. Stopping rsyslog closes the agent's stdin: it answers and exits.
last_agent=$(agent_pid)
kill -TERM "$rs_pid"
check "rsyslogd stops" wait_until 30 bash -c "! kill -0 $rs_pid 2>/dev/null"
wait "$rs_pid" || true
rs_pid=
check "the agent exits with rsyslogd" wait_until 20 bash -c "! kill -0 $last_agent 2>/dev/null"
check "the agent finished at end of input" grep -q "end of input" "$tmp/agent.log"
# (During its shutdown rsyslogd reports on its stderr, not through rules.)
check "the agent exited with status 0" \
  grep -q "(pid $last_agent) exited with status 0" "$tmp/rsyslogd.log" "$tmp/rsyslogd.out"
check "stdout carried only the protocol" bash -c "! grep -q 'omprog: program .* returned' '$tmp/rsyslogd.log' 2>/dev/null"

if [ "$failures" -ne 0 ]; then
  dump_logs
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
