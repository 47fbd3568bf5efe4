#!/usr/bin/env bash
# logferry agent, inputs.journald into a fake Elasticsearch (tests/fake_es)
# that is down at first, with the spool off: the input is refused, reads no
# further and sleeps (its cursor stays unsaved: nothing was acknowledged);
# once the fake answers on that port, every entry is indexed, each once by
# _id, and the cursor names the journal's last entry. Skipped (77) without
# systemd-journal-remote, or without libsystemd in logferry.
set -euo pipefail
# shellcheck source=es_lib.bash
. "$LF_SOURCE_DIR/tests/integration/es_lib.bash"

remote=
for p in /lib/systemd/systemd-journal-remote /usr/lib/systemd/systemd-journal-remote; do
  if [ -x "$p" ]; then remote=$p; break; fi
done
if [ -z "$remote" ]; then
  echo "SKIP: systemd-journal-remote not installed"
  exit 77
fi

N=6000
dir=$tmp/down
mkdir -p "$dir/j"
"$PY" - $N << 'PY' | "$remote" -o "$dir/j/a.journal" - 2> "$dir/remote.err"
import sys
n = int(sys.argv[1])
base = 1795255200 * 1000000
sys.stdout.write("".join(
    f"__REALTIME_TIMESTAMP={base + i * 1000}\n__MONOTONIC_TIMESTAMP={1000 + i}\n"
    f"_BOOT_ID=0123456789abcdef0123456789abcdef\nSYSLOG_IDENTIFIER=app\nPRIORITY=6\n"
    f"MESSAGE=entry {i} end\n\n" for i in range(n)))
PY
port=$(free_port)
cat > "$dir/agent.yml" << YML
agent:
  data_dir: $dir/data
  status_listen: "off"
  shutdown_timeout: 20s
inputs:
  metrics: {enabled: false}
  journald:
    enabled: true
    directory: $dir/j
    seek: head
    index: jd
output:
  type: elasticsearch
  batch_max_docs: 500
  batch_max_age: 100ms
  elasticsearch:
    hosts: ["http://127.0.0.1:$port"]
    backoff_min: 50ms
    backoff_max: 500ms
    connect_timeout: 2s
    queue_max_size: 256KiB
    spool: {enabled: false}
YML
if "$LOGFERRY" check -c "$dir/agent.yml" 2>&1 | grep -q "without libsystemd"; then
  echo "SKIP: logferry was built without libsystemd"
  exit 77
fi
start_agent down

# Down: the output refuses, the input stops reading and sleeps.
check "refused while Elasticsearch is down" wait_until 60 agent_log_has down "refused a batch"
ticks() { awk '{print $14 + $15}' "/proc/$agent_pid/stat"; }
t0=$(ticks)
wait_until 3 false || true # a measured interval: CPU while blocked
t1=$(ticks)
echo "CPU while blocked: $((t1 - t0)) ticks in 3 s"
check "blocked, the agent sleeps (< 30 ticks in 3 s)" test $((t1 - t0)) -lt 30
check "nothing acknowledged: no cursor saved" bash -c "! grep -q cursors '$dir/data/registry.json' 2>/dev/null"

# Up on that port: everything goes, each entry once.
FAKE_PORT=$port start_fake main
check "every entry indexed once Elasticsearch answers" wait_until 120 count_is main 'jd-*' $N
cursor_saved() { grep -q '"cursor":"s=[0-9a-f]*;i=1770;' "$dir/data/registry.json"; }
check "the cursor names the last entry (seqnum 6000 = 0x1770)" wait_until 30 cursor_saved
stop_agent
check "still $N documents: none under a second _id" count_is main 'jd-*' $N
finish
