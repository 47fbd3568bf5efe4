#!/usr/bin/env bash
# Silent inputs are gone (issue 12): a path pattern that leads to no file is
# warned at start with the reason, and again when the reason changes, rate
# limited:
#   nodir    a glob in a directory that does not exist: says so
#   empty    a glob that matches nothing: "matches no file" (after 5 s: a
#            file about to be created is not warned about), once, however
#            many rescans (every 200 ms here) pass; when a file appears,
#            "matches 1 file now", and its lines arrive
#   denied   (the agent run as nobody, when root can drop to it) a file
#            under a directory only root may enter, as /root/x.log for a
#            service user: "permission denied", with the uid
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
source "$LF_SOURCE_DIR/tests/integration/lib.bash"
tmp=$(mktemp -d)
agent_pid=
cleanup() {
  if [ -n "$agent_pid" ]; then kill -9 "$agent_pid" 2> /dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
not() { ! "$@"; }

# As root, the agent drops to nobody so that permissions apply to it.
as=()
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null && id nobody > /dev/null 2>&1; then
  as=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
  chmod 755 "$tmp"
fi
mkdir -p "$tmp/empty" "$tmp/locked" "$tmp/data" "$tmp/out"
echo 'Nov 21 10:00:00 h app[1]: secret' > "$tmp/locked/x.log"
chmod 700 "$tmp/locked"
chmod 777 "$tmp/empty" "$tmp/data" "$tmp/out"
cat > "$tmp/agent.yml" << YML
agent:
  data_dir: $tmp/data
  shutdown_timeout: 5s
inputs:
  metrics:
    enabled: false
  files:
    - paths: ['$tmp/nodir/*.log', '$tmp/empty/*.log', '$tmp/locked/x.log']
      start_at: beginning
      rescan: 200ms
output:
  type: file
  batch_max_age: 50ms
  file:
    dir: $tmp/out
YML
chmod 644 "$tmp/agent.yml"
"${as[@]}" "$LOGFERRY" agent -c "$tmp/agent.yml" 2> "$tmp/agent.log" &
agent_pid=$!
has() { grep -qF -- "$1" "$tmp/agent.log"; }
times() { grep -cF -- "$1" "$tmp/agent.log" || true; }

check "nodir: warned with the reason" wait_until 20 has \
  "$tmp/nodir/*.log: $tmp/nodir: No such file or directory; nothing to read from it"
check "empty: warned" wait_until 20 has "$tmp/empty/*.log: matches no file"
if [ ${#as[@]} -gt 0 ]; then
  check "denied: warned with the uid" wait_until 20 has \
    "$tmp/locked/x.log: permission denied: $tmp/locked may not be searched (running as uid $(id -u nobody))"
else
  echo "skip denied: needs root and setpriv to run the agent as nobody"
fi
# Some rescans later (each 200 ms), a file appears in empty/.
echo 'Nov 21 10:00:01 h app[1]: hello from empty' > "$tmp/empty/a.log"
chmod 644 "$tmp/empty/a.log"
check "empty: said when it matches" wait_until 20 has "$tmp/empty/*.log: matches 1 file now"
check "empty: its line arrives" wait_until 20 grep -q 'hello from empty' -r "$tmp/out"
check "empty: the no-match warning was said once, not at every rescan ($(times 'empty/*.log: matches no file'))" \
  test "$(times 'empty/*.log: matches no file')" = 1
check "nodir: said once ($(times 'nodir/*.log:'))" test "$(times 'nodir/*.log:')" = 1
check "the locked file's line never arrives" not grep -q secret -r "$tmp/out"
kill -TERM "$agent_pid"
rc=0
wait "$agent_pid" || rc=$?
agent_pid=
check "the agent exits 0 on SIGTERM" test "$rc" = 0
echo "$failures failed"
test "$failures" = 0
