#!/usr/bin/env bash
# The agent's status endpoint and `logferry status`, against the fake
# Elasticsearch:
#   - /metrics is Prometheus text whose counters match what the fake holds;
#   - /health turns 503 (with the reason) when Elasticsearch goes away, and
#     200 again once it is back;
#   - `logferry status` shows a growing file's lag while reading waits;
#   - SIGHUP keeps the counters (totals since the start);
#   - a loopback HOST:PORT listener works too, a second agent on the same
#     socket is refused, a non-loopback address is a config error.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
source "$LF_SOURCE_DIR/tests/integration/lib.bash"
PY=/usr/bin/python3
FAKE=$LF_SOURCE_DIR/tests/fake_es/fake_es.py
tmp=$(mktemp -d)
agent_pid= es_pid= agent2_pid=
cleanup() {
  for p in $agent_pid $agent2_pid $es_pid; do kill -9 "$p" 2> /dev/null || true; done
  if [ -z "${LF_KEEP_TMP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT

port=$(free_port)
start_es() {
  rm -f "$tmp/port"
  "$PY" "$FAKE" --port "$port" --port-file "$tmp/port" --data "$tmp/es.journal" \
    --log "$tmp/fake.log" 2>> "$tmp/fake.err" &
  es_pid=$!
  wait_until 20 test -s "$tmp/port" || { echo "the fake did not start"; cat "$tmp/fake.err"; exit 1; }
}
stop_es() {
  kill -9 "$es_pid" 2> /dev/null || true
  wait "$es_pid" 2> /dev/null || true
  es_pid=
}
count() { curl -sS "http://127.0.0.1:$port/syslog-*/_count" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("count", -1))'; }
count_is() { [ "$(count)" = "$1" ]; }

sock=$tmp/data/status.sock
get() { curl -sS --max-time 10 --unix-socket "$sock" "http://localhost$1"; }
# The value of one sample of /metrics (name with its labels, exactly).
metric() { get /metrics | awk -v k="$1" '$1 == k {print $2}'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
health_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 --unix-socket "$sock" http://localhost/health; }
health_is() { [ "$(health_code)" = "$1" ]; }

mkdir -p "$tmp/log"
cat > "$tmp/agent.yml" << YML
agent:
  data_dir: $tmp/data
  timezone: UTC
  unhealthy_after: 1s
inputs:
  metrics:
    enabled: false
  files:
    - paths: [$tmp/log/*.log, $tmp/nodir/*.log]
      start_at: beginning
output:
  type: elasticsearch
  batch_max_age: 100ms
  batch_max_docs: 100
  elasticsearch:
    hosts: [http://127.0.0.1:$port]
    backoff_min: 50ms
    backoff_max: 1s
    queue_max_size: 1KiB
    spool:
      enabled: false
YML
lines() { # FILE FROM TO
  "$PY" -c '
import sys
with open(sys.argv[1], "a") as f:
    for i in range(int(sys.argv[2]), int(sys.argv[3]) + 1):
        f.write("Nov 21 10:00:00 web app[1]: status line %d padding %s\n" % (i, "x" * 100))
' "$@"
}

start_es
"$LOGFERRY" agent -c "$tmp/agent.yml" 2>> "$tmp/agent.log" &
agent_pid=$!
check "the endpoint's socket appears" wait_until 30 test -S "$sock"
lines "$tmp/log/a.log" 1 2000
check "2000 lines indexed" wait_until 60 count_is 2000

# ---- /metrics matches the fake ---------------------------------------------
check "/metrics: output acked = what Elasticsearch holds (2000)" \
  wait_until 10 metric_is 'logferry_output_acked_total{output="elasticsearch"}' 2000
check "/metrics: input read 2000" metric_is 'logferry_input_read_total{input="files[0]"}' 2000
size=$(stat -c %s "$tmp/log/a.log")
check "/metrics: the file's offset is its size ($size)" \
  metric_is "logferry_file_offset_bytes{input=\"files[0]\",path=\"$tmp/log/a.log\"}" "$size"
check "/metrics: Prometheus text (HELP and TYPE lines)" \
  sh -c "curl -s --unix-socket '$sock' http://localhost/metrics | grep -q '^# TYPE logferry_output_acked_total counter$'"
check "/metrics: content type text/plain version 0.0.4" \
  sh -c "curl -sI --unix-socket '$sock' http://localhost/metrics | grep -qi '^content-type: text/plain; version=0.0.4'"
check "/status is JSON with the output's counters" \
  sh -c "curl -s --unix-socket '$sock' http://localhost/status | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d[\"output\"][\"acked\"] == 2000, d'"
check "/health: 200 while delivering" health_is 200
check "/status: a pattern whose directory does not exist, with the reason" \
  wait_until 30 sh -c "curl -s --unix-socket '$sock' http://localhost/status | $PY -c '
import json, sys
paths = json.load(sys.stdin)[\"inputs\"][0][\"paths_without_files\"]
assert [p[\"pattern\"] for p in paths] == [\"$tmp/nodir/*.log\"], paths
assert \"$tmp/nodir\" in paths[0][\"why\"], paths'"
check "/metrics: every family's samples together, after its TYPE line" \
  sh -c "curl -s --unix-socket '$sock' http://localhost/metrics | $PY -c '
import sys
seen, current = set(), None
for line in sys.stdin:
    if line.startswith(\"# TYPE \"):
        current = line.split()[2]
        assert current not in seen, current
        seen.add(current)
    elif not line.startswith(\"#\"):
        name = line.split(\"{\")[0].split()[0]
        assert name == current, (name, current)'"
check "unknown path: 404" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --unix-socket '$sock' http://localhost/nope)\" = 404 ]"

# ---- Elasticsearch away: 503 with the reason, status shows the lag ---------
stop_es
lines "$tmp/log/a.log" 2001 4000
check "/health: 503 within seconds of Elasticsearch going away" wait_until 30 health_is 503
reason=$(get /health)
check "/health names the reason ($reason)" sh -c "echo '$reason' | grep -q 'elasticsearch unavailable'"
# The first batch after the outage took what was written; these wait.
lines "$tmp/log/a.log" 4001 6000
check "logferry status: the growing file is behind" \
  wait_until 30 sh -c "'$LOGFERRY' status -c '$tmp/agent.yml' | grep -E '$tmp/log/a.log  offset [0-9]+ of .*, [0-9.]+ (B|KiB|MiB) behind' | grep -vq ' 0 B behind'"
"$LOGFERRY" status -c "$tmp/agent.yml" > "$tmp/status.txt" || true
check "logferry status: output UNAVAILABLE" grep -q '^output elasticsearch: UNAVAILABLE' "$tmp/status.txt"
check "logferry status --health: exit 1 while unhealthy" sh -c "! '$LOGFERRY' status -c '$tmp/agent.yml' --health > /dev/null"
start_es
check "all 6000 lines indexed after the fake is back" wait_until 90 count_is 6000
check "/health: 200 again" wait_until 30 health_is 200
check "logferry status --health: exit 0" sh -c "'$LOGFERRY' status -c '$tmp/agent.yml' --health > /dev/null"
check "logferry status --json: the /status document" \
  sh -c "'$LOGFERRY' status -c '$tmp/agent.yml' --json | $PY -c 'import json,sys; json.load(sys.stdin)'"

# ---- SIGHUP keeps the totals -------------------------------------------------
kill -HUP "$agent_pid"
check "SIGHUP: reloaded" wait_until 30 grep -q 'SIGHUP: reading' "$tmp/agent.log"
lines "$tmp/log/a.log" 6001 6100
check "after SIGHUP all 6100 lines indexed" wait_until 60 count_is 6100
check "after SIGHUP the acked total counts from the start (6100)" \
  wait_until 10 metric_is 'logferry_output_acked_total{output="elasticsearch"}' 6100

# ---- one socket, one agent ---------------------------------------------------
"$LOGFERRY" agent -c "$tmp/agent.yml" 2> "$tmp/agent2.log" &
agent2_pid=$!
check "a second agent on the same socket says so" \
  wait_until 30 grep -q 'another process listens there' "$tmp/agent2.log"
kill -TERM "$agent2_pid" 2> /dev/null || true
wait "$agent2_pid" 2> /dev/null || true
agent2_pid=
check "the first agent still answers" health_is 200

rc=0
kill -TERM "$agent_pid"
wait "$agent_pid" || rc=$?
agent_pid=
check "the agent exits 0 on SIGTERM" test "$rc" = 0
check "the socket is removed at exit" test ! -e "$sock"

# ---- a relative data_dir (the quickstart's): unix:./data/status.sock -------
cat > "$tmp/rel.yml" << YML
agent:
  data_dir: ./reldata
inputs:
  metrics:
    enabled: false
  files:
    - paths: [$tmp/log/*.log]
output:
  type: file
YML
(cd "$tmp" && exec "$LOGFERRY" agent -c rel.yml 2>> "$tmp/rel.log") &
agent_pid=$!
check "relative data_dir: the socket is there" wait_until 30 test -S "$tmp/reldata/status.sock"
check "relative data_dir: logferry status from the same directory" \
  wait_until 10 sh -c "cd '$tmp' && '$LOGFERRY' status -c rel.yml --health > /dev/null"
check "relative data_dir: no warning" sh -c "! grep -q ' warn ' '$tmp/rel.log'"
kill -TERM "$agent_pid"
wait "$agent_pid" || true
agent_pid=

# ---- a loopback port; a public address refused -------------------------------
sport=$(free_port)
sed "s|^  unhealthy_after: 1s|  status_listen: 127.0.0.1:$sport|" "$tmp/agent.yml" > "$tmp/tcp.yml"
"$LOGFERRY" agent -c "$tmp/tcp.yml" 2>> "$tmp/agent.log" &
agent_pid=$!
check "127.0.0.1:PORT: /health answers" \
  wait_until 30 sh -c "[ \"\$(curl -s --max-time 5 http://127.0.0.1:$sport/health)\" = ok ]"
check "logferry status --listen 127.0.0.1:PORT" \
  sh -c "'$LOGFERRY' status --listen 127.0.0.1:$sport | grep -q '^input files\[0\]'"
kill -TERM "$agent_pid"
wait "$agent_pid" || true
agent_pid=
sed "s|^  unhealthy_after: 1s|  status_listen: 0.0.0.0:$sport|" "$tmp/agent.yml" > "$tmp/public.yml"
check "0.0.0.0 is refused by check, with the line" \
  sh -c "'$LOGFERRY' check -c '$tmp/public.yml' 2>&1 | grep -q 'public.yml:4:.*loopback'"

echo "$failures failed"
test "$failures" = 0
