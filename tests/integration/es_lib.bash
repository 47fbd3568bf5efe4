# Shared by the tests/integration/es_*.sh scripts that run `logferry agent`
# against fake Elasticsearch servers (tests/fake_es). Sourced, not run: its
# name does not end in .sh, so ctest does not take it for a test.
#
#   start_fake NAME [fake_es.py options...]   a fake on a free port, its own dir
#   stop_fake NAME [SIGNAL]                   by PID (SIGTERM by default)
#   es NAME PATH [curl options...]            a request to it (TLS and auth as set)
#   count NAME INDEX                          its _count for INDEX
#   write_agent_config CASE HOSTS_YAML [ES_YAML] [EXPRESSION] [PREFIX]
#   start_agent CASE [VAR=value...]           the agent on $tmp/CASE/agent.yml
#   stop_agent                                SIGTERM; it must exit 0
#
# Every server is started on 127.0.0.1 and stopped by its PID in the EXIT
# trap; waits have deadlines, never bare sleeps.
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
source "$LF_SOURCE_DIR/tests/integration/lib.bash"
PY=/usr/bin/python3 # Debian's: another python3 may come first in PATH
FAKE=$LF_SOURCE_DIR/tests/fake_es/fake_es.py
tmp=$(mktemp -d)
agent_pid=
declare -A fake_pid fake_port fake_url fake_curl
cleanup() {
  if [ -n "$agent_pid" ]; then kill -9 "$agent_pid" 2> /dev/null || true; fi
  for name in "${!fake_pid[@]}"; do
    kill -9 "${fake_pid[$name]}" 2> /dev/null || true
    wait "${fake_pid[$name]}" 2> /dev/null || true
  done
  if [ -z "${LF_KEEP_TMP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT

finish() {
  echo "$failures failed"
  test "$failures" = 0
}


# start_fake NAME [fake_es.py options]; FAKE_PORT=N start_fake NAME listens
# on port N instead of a free one (a host coming back where it was).
start_fake() {
  local name=$1 dir=$tmp/fake-$1
  shift
  mkdir -p "$dir"
  rm -f "$dir/port"
  "$PY" "$FAKE" --port "${FAKE_PORT:-0}" --port-file "$dir/port" --data "$dir/journal" \
    --log "$dir/requests.log" "$@" 2>> "$dir/stderr" &
  fake_pid[$name]=$!
  if ! wait_until 20 test -s "$dir/port"; then
    echo "the fake $name did not start"
    cat "$dir/stderr"
    exit 1
  fi
  fake_port[$name]=$(cat "$dir/port")
  local scheme=http
  fake_curl[$name]=""
  local a
  for a in "$@"; do
    if [ "$a" = --tls-cert ]; then scheme=https; fi
  done
  fake_url[$name]=$scheme://127.0.0.1:${fake_port[$name]}
}
stop_fake() { # NAME [SIGNAL]
  kill "-${2:-TERM}" "${fake_pid[$1]}" 2> /dev/null || true
  wait "${fake_pid[$1]}" 2> /dev/null || true
  unset "fake_pid[$1]"
}
# Options every request to that fake needs (CA, client certificate, auth).
set_curl_opts() { fake_curl[$1]=$2; }
es() { # NAME PATH [curl options]
  local name=$1 path=$2
  shift 2
  # shellcheck disable=SC2086 # the options are words on purpose
  curl -sS ${fake_curl[$name]} "${fake_url[$name]}$path" "$@"
}
count() { # NAME INDEX: the number, or -1 when there is no answer with a count
  es "$1" "/$2/_count" 2> /dev/null |
    "$PY" -c 'import json,sys
try: print(json.load(sys.stdin).get("count", -1))
except Exception: print(-1)'
}
count_is() { [ "$(count "$1" "$2")" = "$3" ]; }
stat_of() { # NAME DOTTED.PATH from GET /_fake/stats
  es "$1" /_fake/stats | "$PY" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v.get(k, 0) if isinstance(v, dict) else 0
print(v)' "$2"
}
# What the fakes' journals (running or killed: a SIGKILL loses nothing that
# was answered) hold for indices PREFIX-*, against the lines of LOGFILE (each
# line's message is what follows "]: "). Prints, space-separated: documents
# in each fake, then distinct ids across all, the most times one id occurs in
# one fake, distinct messages across all, and written lines missing from
# all of them.
journal_summary() { # PREFIX LOGFILE NAME...
  local prefix=$1 logfile=$2
  shift 2
  local journals=()
  for name in "$@"; do journals+=("$tmp/fake-$name/journal"); done
  "$PY" - "$prefix" "$logfile" "${journals[@]}" << 'PY'
import collections, json, sys
prefix, logfile, journals = sys.argv[1] + "-", sys.argv[2], sys.argv[3:]
per, ids, msgs, most = [], set(), set(), 0
for path in journals:
    seen = collections.Counter()
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue  # a torn last line after a SIGKILL: it was never answered
        if r.get("t") == "doc" and r["n"].startswith(prefix):
            seen[r["id"]] += 1
            msgs.add(json.loads(r["src"]).get("message"))
    per.append(sum(seen.values()))
    ids |= set(seen)
    most = max([most] + list(seen.values()))
want = {l.split("]: ", 1)[1] for l in open(logfile, encoding="utf-8").read().splitlines()}
print(*per, len(ids), most, len(msgs), len(want - msgs))
PY
}

# write_agent_config CASE HOSTS_YAML [ES_YAML] [EXPRESSION] [PREFIX]: tails
# $tmp/CASE/log/*.log into the hosts (a YAML flow list) with index PREFIX
# (default: CASE with '_' as '-'); ES_YAML is more of output.elasticsearch,
# indented by 4; $OUTPUT_YAML (indented by 2) more of output.
write_agent_config() {
  local case=$1 hosts=$2 extra=${3:-} expr=${4:-} prefix=${5:-${1//_/-}}
  local dir=$tmp/$case
  mkdir -p "$dir/log"
  # shellcheck disable=SC2016 # the quotes are YAML's
  cat > "$dir/agent.yml" << YML
agent:
  data_dir: $dir/data
  timezone: UTC
  shutdown_timeout: 2s
${expr:+grammars:
  syslog:
    expressions: ['$expr']
}inputs:
  metrics:
    enabled: false
  files:
    - paths: [$dir/log/*.log]
      start_at: beginning
      index: $prefix
output:
  type: elasticsearch
  batch_max_age: 100ms
${OUTPUT_YAML:-}
  elasticsearch:
    hosts: $hosts
    backoff_min: 50ms
    backoff_max: 500ms
    connect_timeout: 2s
$extra
YML
}
start_agent() { # CASE [VAR=value...]: environment for the agent
  local case=$1
  shift
  env "$@" "$LOGFERRY" agent -c "$tmp/$case/agent.yml" 2>> "$tmp/$case/agent.log" &
  agent_pid=$!
}
stop_agent() { # SIGTERM: the agent must exit 0 (sanitizer reports fail it too)
  local rc=0
  kill -TERM "$agent_pid" 2> /dev/null || true
  wait "$agent_pid" || rc=$?
  agent_pid=
  check "the agent exits 0 on SIGTERM" test "$rc" = 0
}
# N numbered syslog lines for a case: "... CASE line I".
lines() { # CASE N [FIRST]
  local i first=${3:-1}
  for ((i = first; i < first + $2; i++)); do
    printf 'Nov 21 10:%02d:%02d h app[1]: %s line %d\n' $((i / 60 % 60)) $((i % 60)) "$1" "$i"
  done
}
agent_log_has() { grep -q -- "$2" "$tmp/$1/agent.log"; }
