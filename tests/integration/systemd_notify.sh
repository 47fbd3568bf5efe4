#!/usr/bin/env bash
# The daemons under systemd, without systemd: the test listens on a datagram
# socket named by NOTIFY_SOCKET, as systemd does for Type=notify, and checks
# that the agent says READY=1 once running, RELOADING=1 (with
# MONOTONIC_USEC) then READY=1 around a SIGHUP, WATCHDOG=1 when
# WATCHDOG_USEC asks for it, STOPPING=1 on SIGTERM, and that it logs for
# the journal (<N> priorities, no timestamp) when JOURNAL_STREAM names its
# stderr. The shipper: READY=1, then STOPPING=1 on SIGTERM. Skipped (77)
# when the binary was built without libsystemd (not linked to it).
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
# shellcheck source=lib.bash
. "$LF_SOURCE_DIR/tests/integration/lib.bash"
if [[ $(ldd "$LOGFERRY") != *libsystemd.so* ]]; then
  echo "skip: $LOGFERRY was built without libsystemd (CMake said so)"
  exit 77
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# The listener: one line per datagram (newlines inside become spaces).
python3 - "$tmp/notify.sock" "$tmp/messages" << 'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode().replace("\n", " ") + "\n")
PY
pids+=($!)
wait_until 10 test -S "$tmp/notify.sock"
count() { grep -c "^$1" "$tmp/messages" || true; }
has() { [ "$(count "$1")" -ge "$2" ]; }

mkdir -p "$tmp/logs"
echo "Dec  6 21:00:00 web01 sshd[1]: hello" > "$tmp/logs/app.log"
cat > "$tmp/agent.yml" << YML
agent:
  data_dir: $tmp/data
inputs:
  metrics:
    enabled: false
  files:
    - paths: [$tmp/logs/app.log]
      start_at: beginning
output:
  type: file
YML
: > "$tmp/agent.err"
journal=$(stat -c '%d:%i' "$tmp/agent.err")
(
  export NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=1000000 WATCHDOG_PID=$BASHPID
  export JOURNAL_STREAM=$journal
  exec "$LOGFERRY" agent -c "$tmp/agent.yml" 2>> "$tmp/agent.err"
) &
agent=$!
pids+=($agent)

check "agent: READY=1 once running" wait_until 20 has READY=1 1
check "agent: feeds the watchdog (WATCHDOG_USEC=1s)" wait_until 20 has WATCHDOG=1 2
check "journal: lines carry <6> and no timestamp" \
  grep -qE '^<6>info agent: ' "$tmp/agent.err"
check "journal: no line has a timestamp" bash -c "! grep -qE '^[0-9]{4}-' '$tmp/agent.err'"

kill -HUP "$agent"
check "SIGHUP: RELOADING=1 with MONOTONIC_USEC" \
  wait_until 20 grep -qE '^RELOADING=1 MONOTONIC_USEC=[0-9]+$' "$tmp/messages"
check "SIGHUP: READY=1 again once reloaded" wait_until 20 has READY=1 2
check "READY=1 follows RELOADING=1" \
  bash -c "grep -E '^(READY|RELOADING)=1' '$tmp/messages' | tail -1 | grep -q '^READY=1'"

kill -TERM "$agent"
rc=0
wait "$agent" || rc=$?
check "agent exits 0 on SIGTERM" test "$rc" = 0
check "agent: STOPPING=1 on SIGTERM" has STOPPING=1 1
check "STOPPING=1 is the last state" \
  bash -c "grep -vE '^WATCHDOG=1' '$tmp/messages' | tail -1 | grep -q '^STOPPING=1'"

# Without JOURNAL_STREAM (or naming another stream), the usual timestamps.
"$LOGFERRY" agent -c "$tmp/agent.yml" 2> "$tmp/plain.err" &
plain=$!
pids+=($plain)
wait_until 20 grep -q ' info ' "$tmp/plain.err"
kill -TERM "$plain"
wait "$plain" || true
check "no journal: timestamped lines" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T.* info  agent: ' \
  "$tmp/plain.err"

# The shipper: no Kafka broker needed to be running and to stop.
: > "$tmp/messages"
cat > "$tmp/shipper.yml" << YML
shipper:
  data_dir: $tmp/shipper
  shutdown_timeout: 1s
inputs:
  kafka:
    brokers: ['127.0.0.1:$(free_port)']
output:
  elasticsearch:
    hosts: ['http://127.0.0.1:$(free_port)']
YML
(
  export NOTIFY_SOCKET=$tmp/notify.sock
  exec "$LOGFERRY" shipper -c "$tmp/shipper.yml" 2> "$tmp/shipper.err"
) &
shipper=$!
pids+=($shipper)
check "shipper: READY=1 once running" wait_until 20 has READY=1 1
kill -TERM "$shipper"
rc=0
wait "$shipper" || rc=$?
check "shipper exits 0 on SIGTERM" test "$rc" = 0
check "shipper: STOPPING=1 on SIGTERM" has STOPPING=1 1

[ "$failures" = 0 ] || { cat "$tmp/agent.err" "$tmp/shipper.err" >&2; exit 1; }
