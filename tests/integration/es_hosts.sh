#!/usr/bin/env bash
# logferry agent -> several Elasticsearch hosts, end to end, against fakes
# that each keep their own data (tests/fake_es):
#
#   spread      two hosts: both get documents, and between them every line
#               is there exactly once (the union of ids is the lines written,
#               no id in both, none twice)
#   killed      one of the two SIGKILLed mid-stream: what it had not answered
#               goes to the other one; nothing lost, nothing twice in the
#               survivor, and the agent never needed its spool
#   down_start  a host that is down when the agent starts is set aside (and
#               said so); the other takes everything; once it is up it is
#               tried again and gets documents
#
# The stores are counted from the fakes' journals, which a SIGKILL does not
# lose anything answered from.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=es_lib.bash
source "$(dirname "$0")/es_lib.bash"

start_fake a
start_fake b --faults '{"slow_ms": 20}' # b always has requests in flight
two="[${fake_url[a]}, ${fake_url[b]}]"
# shellcheck disable=SC2034 # read by write_agent_config
OUTPUT_YAML="  batch_max_docs: 100"

summary_ok() { # PREFIX LOGFILE N FAKES...: every line once in the union
  local prefix=$1 logfile=$2 n=$3 s
  shift 3
  s=$(journal_summary "$prefix" "$logfile" "$@")
  # The last four: distinct ids, most copies of one id in one store,
  # distinct messages, lines missing.
  [ "$(echo "$s" | awk '{print $(NF-3), $(NF-2), $(NF-1), $NF}')" = "$n 1 $n 0" ]
}

# ---- spread over two hosts ---------------------------------------------------------
N=3000
write_agent_config spread "$two"
lines spread $N > "$tmp/spread/log/a.log"
start_agent spread
check "spread: all $N lines across the two hosts" \
  wait_until 40 summary_ok spread "$tmp/spread/log/a.log" $N a b
stop_agent
read -r in_a in_b ids most _ <<< "$(journal_summary spread "$tmp/spread/log/a.log" a b)"
echo "     a: $in_a, b: $in_b, distinct ids $ids, most copies of one id in one store $most"
check "spread: both hosts got documents" test "$in_a" -gt 0 -a "$in_b" -gt 0
check "spread: no document in both (a + b = $N)" test $((in_a + in_b)) = $N
check "spread: each store's _count agrees" \
  test "$(count a 'spread-*')" = "$in_a" -a "$(count b 'spread-*')" = "$in_b"

# ---- one host killed mid-stream -------------------------------------------------------
# A document that b indexed and journaled but whose answer died with it is
# sent again, to a: with one real cluster behind both hosts that retry would
# meet the same index and answer 409, but these fakes are separate stores, so
# it can be in both. Hence: the union of distinct ids across both stores is
# exactly the lines written, and no store holds an id twice.
N=5000
b_has_some() { [ "$(journal_summary killed "$tmp/killed/log/a.log" b | cut -d' ' -f1)" -gt 0 ]; }
write_agent_config killed "$two"
start_agent killed
for i in $(seq 0 9); do
  lines killed 500 $((i * 500 + 1)) >> "$tmp/killed/log/a.log"
  if [ "$i" = 4 ]; then
    check "killed: b has indexed some when it is killed" wait_until 10 b_has_some
    stop_fake b KILL
  fi
  sleep 0.1
done
check "killed: all $N lines in the union of the two stores, none twice in one" \
  wait_until 40 summary_ok killed "$tmp/killed/log/a.log" $N a b
read -r in_a in_b ids _ <<< "$(journal_summary killed "$tmp/killed/log/a.log" a b)"
echo "     a: $in_a, b (killed): $in_b, distinct ids $ids, in both $((in_a + in_b - ids))"
check "killed: a's _count is its share ($in_a)" count_is a 'killed-*' "$in_a"
check "killed: every line written after the kill is in a" sh -c "
  '$PY' - '$tmp/fake-a/journal' << 'PY'
import json, sys
got = {json.loads(r['src'])['message'] for r in map(json.loads, open(sys.argv[1])) if r.get('t') == 'doc'}
missing = [i for i in range(2501, 5001) if 'killed line %d' % i not in got]
sys.exit(1 if missing else 0)
PY"
check "killed: the agent set b aside" agent_log_has killed "${fake_url[b]}.*set aside"
check "killed: ... and needed no spool, a being up" sh -c "! grep -q spooling '$tmp/killed/agent.log'"
stop_agent
check "killed: nothing failed or dead-lettered" sh -c "
  grep -q 'output elasticsearch: submitted $N acked $N failed 0' '$tmp/killed/agent.log' &&
  ! test -s '$tmp/killed/data/dead-letter.ndjson'"

# ---- a host down at start --------------------------------------------------------------
port_c=$(free_port) # nothing listens there yet
write_agent_config down_start "[http://127.0.0.1:$port_c, ${fake_url[a]}]"
lines down_start 1000 > "$tmp/down_start/log/a.log"
start_agent down_start
check "down_start: a takes all 1000 lines" wait_until 30 count_is a 'down-start-*' 1000
check "down_start: the agent says the host is down and set aside" \
  agent_log_has down_start "127.0.0.1:$port_c: .*nothing listens there.*set aside"
FAKE_PORT=$port_c start_fake c
more_until_c_has_some() { # keep writing while c is retried
  lines down_start 50 $((1001 + written)) >> "$tmp/down_start/log/a.log"
  written=$((written + 50))
  [ "$(count c 'down-start-*')" -gt 0 ]
}
written=0
check "down_start: once up, the host is tried again and gets documents" \
  wait_until 20 more_until_c_has_some
total=$((1000 + written))
check "down_start: all $total lines in a and c, once each" \
  wait_until 30 summary_ok down-start "$tmp/down_start/log/a.log" $total a c
check "down_start: the agent says it answers again" agent_log_has down_start "127.0.0.1:$port_c answers again"
stop_agent

finish
