#!/usr/bin/env bash
# logferry agent end to end with the file output: every line of a tailed file
# arrives once, in the right daily file, across a clean restart, a reload and
# a SIGKILL (after which a line may be written twice, with the same _id, so
# Elasticsearch keeps one: "create" answers 409 for the second).
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
tmp=$(mktemp -d)
agent_pid=
cleanup() {
  if [ -n "$agent_pid" ]; then kill -9 "$agent_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
mkdir -p "$tmp/log"
cat > "$tmp/agent.yml" <<YML
agent:
  data_dir: $tmp/data
  shutdown_timeout: 5s
inputs:
  metrics:
    enabled: false
  files:
    - paths: ['$tmp/log/*.log']
      start_at: beginning
      rescan: 200ms
output:
  type: file
  batch_max_age: 50ms
  file:
    dir: $tmp/out
YML
"$LOGFERRY" check -c "$tmp/agent.yml" > /dev/null

lines() { # lines FROM COUNT: syslog lines numbered FROM..FROM+COUNT-1
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys
a, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(a, a + n):
    print(f"Nov 21 10:{i // 60 % 60:02d}:{i % 60:02d} web01 app[{i + 1}]: line {i}")
PY
}
docs() { cat "$tmp"/out/*.ndjson 2>/dev/null | grep -c '"create"' || true; }
unique_lines() { cat "$tmp"/out/*.ndjson 2>/dev/null | grep -o '"message":"line [0-9]*"' | sort -u | wc -l; }
wait_for_unique() { # wait_for_unique N: up to 30 s for N distinct lines in the output
  local deadline=$((SECONDS + 30))
  while [ "$(unique_lines)" -lt "$1" ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  [ "$(unique_lines)" -ge "$1" ]
}
start_agent() {
  "$LOGFERRY" agent -c "$tmp/agent.yml" 2>> "$tmp/agent.log" &
  agent_pid=$!
}
stop_agent() { # stop_agent SIGNAL: returns the agent's exit status
  local rc=0
  kill -"$1" "$agent_pid"
  wait "$agent_pid" || rc=$?
  agent_pid=
  return $rc
}

lines 0 3000 > "$tmp/log/app.log"
start_agent
check "3000 lines shipped" wait_for_unique 3000
lines 3000 2000 >> "$tmp/log/app.log"
check "appended lines shipped" wait_for_unique 5000
check "SIGTERM exits 0" stop_agent TERM
check "each line once after a clean stop" test "$(docs)" = 5000
check "registry written" grep -q '"offset"' "$tmp/data/registry.json"

start_agent
lines 5000 1000 >> "$tmp/log/app.log"
check "restart resumes" wait_for_unique 6000
kill -HUP "$agent_pid"
sleep 0.3
lines 6000 500 >> "$tmp/log/app.log"
check "ships after SIGHUP reload" wait_for_unique 6500
check "clean stop" stop_agent INT
check "still each line once" test "$(docs)" = 6500

# A crash mid-stream: nothing lost; a line written again keeps its _id.
start_agent
lines 6500 20000 >> "$tmp/log/app.log"
sleep 0.2
stop_agent KILL || true
start_agent
check "nothing lost after SIGKILL" wait_for_unique 26500
check "stop after crash recovery" stop_agent TERM
ids=$(cat "$tmp"/out/*.ndjson | grep -o '"_id":"[0-9a-f]*"' | sort -u | wc -l)
check "one _id per line" test "$ids" = 26500
check "events have typed fields" grep -q '"process":{"name":"app","pid":42}' "$tmp"/out/syslog-*.ndjson
check "daily file by event date" test -n "$(ls "$tmp"/out/syslog-*.11.21.ndjson)"
check "no errors logged" test -z "$(grep -E ' (error|warn) ' "$tmp/agent.log" || true)"

# A broken config: the agent refuses to start and says where.
printf 'inputs:\n  files:\n    - paths: [relative]\n      bogus: 1\n' > "$tmp/bad.yml"
set +e
"$LOGFERRY" agent -c "$tmp/bad.yml" 2> "$tmp/bad.err"; rc=$?
set -e
check "bad config exits 1" test "$rc" = 1
check "bad config names the place" grep -q "$tmp/bad.yml:4:7: " "$tmp/bad.err"

echo "agent_file: $failures failed"
test "$failures" = 0
