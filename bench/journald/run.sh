#!/usr/bin/env bash
# bench/journald: what reading the journal costs. A journal file of ENTRIES
# entries (sshd, CRON, systemd and application messages from eight units,
# made from export format by systemd-journal-remote) is read from its head
# by the journald input with the default grammar (the program's grammar on
# MESSAGE) into the file output (fsync: never): entries/s, CPU seconds per
# million entries, peak RSS.
# Usage: bench/journald/run.sh [ENTRIES]   (default 200000)
set -euo pipefail
cd "$(dirname "$0")/../.."
entries=${1:-200000}
remote=
for p in /lib/systemd/systemd-journal-remote /usr/lib/systemd/systemd-journal-remote; do
  [ -x "$p" ] && remote=$p && break
done
[ -n "$remote" ] || { echo "needs systemd-journal-remote (apt-get install systemd-journal-remote)"; exit 1; }
scripts/build.sh build-bench -DCMAKE_BUILD_TYPE=Release -DLF_TESTS=OFF >/dev/null
bin=$PWD/build-bench/logferry
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

mkdir -p "$work/j"
python3 - "$entries" <<'PY' | "$remote" -o "$work/j/bench.journal" - 2>/dev/null
import sys
n = int(sys.argv[1])
base = 1795255200 * 1000000
kinds = [
    ("ssh.service", "sshd", 6, "Accepted publickey for deploy from 192.0.2.{a} port {p} ssh2: ED25519 SHA256:q1w2e3r4t5y6u7i8o9p0"),
    ("ssh.service", "sshd", 6, "Failed password for invalid user admin{a} from 198.51.100.{a} port {p} ssh2"),
    ("cron.service", "CRON", 6, "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)"),
    ("init.scope", "systemd", 6, "Started session-{p}.scope - Session {p} of User deploy."),
    ("nginx.service", "nginx", 5, "worker process {p} exited on signal 9"),
    ("app.service", "app", 4, "request id={p} took {a}ms status=200 path=/api/v1/items/{a}"),
    ("systemd-logind.service", "systemd-logind", 6, "New session {p} of user deploy."),
    ("postfix@-.service", "postfix/smtpd", 6, "connect from unknown[203.0.113.{a}]"),
]
w = sys.stdout.write
for i in range(n):
    unit, ident, prio, msg = kinds[i % len(kinds)]
    a, p = i % 250 + 1, 10000 + i % 50000
    w(f"__REALTIME_TIMESTAMP={base + i * 1000}\n__MONOTONIC_TIMESTAMP={1000 + i * 1000}\n"
      f"_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=bench01\n_TRANSPORT=syslog\n"
      f"_SYSTEMD_UNIT={unit}\nSYSLOG_IDENTIFIER={ident}\nSYSLOG_FACILITY=3\n_PID={1000 + i % 4000}\n"
      f"PRIORITY={prio}\nMESSAGE={msg.format(a=a, p=p)}\n\n")
PY
cat > "$work/agent.yml" <<YML
agent:
  data_dir: $work/data
  status_listen: "off"
inputs:
  metrics:
    enabled: false
  journald:
    enabled: true
    directory: $work/j
    seek: head
output:
  type: file
  file:
    dir: $work/out
    fsync: never
YML
docs() { cat "$work"/out/*.ndjson 2>/dev/null | wc -l | awk '{print int($1 / 2)}'; }
start=$(date +%s.%N)
/usr/bin/time -f "%U %S %M" -o "$work/time" "$bin" agent -c "$work/agent.yml" 2> "$work/agent.log" &
pid=$!
agent="" last_ticks=-1 done_at=$start
while [ "$(docs)" -lt "$entries" ]; do
  sleep 0.05
  kill -0 $pid 2>/dev/null || { echo "agent died:"; cat "$work/agent.log"; exit 1; }
  [ -n "$agent" ] || agent=$(pgrep -P $pid || true)
  [ -n "$agent" ] || continue
  ticks=$(awk '{print $14 + $15}' "/proc/$agent/stat" 2>/dev/null || echo 0)
  if [ "$ticks" != "$last_ticks" ]; then last_ticks=$ticks; done_at=$(date +%s.%N); fi
done
kill -TERM "$(pgrep -P $pid)"
wait $pid || true
read -r user sys rss < "$work/time"
awk -v n="$entries" -v t0="$start" -v t1="$done_at" -v u="$user" -v s="$sys" -v rss="$rss" 'BEGIN {
  wall = t1 - t0; cpu = u + s;
  printf "journald -> default grammar -> file (fsync: never): %d entries in %.2f s wall: %.0f entries/s\n", n, wall, n / wall;
  printf "  CPU %.2f s (user %.2f + sys %.2f) = %.2f CPU-s per million entries, peak RSS %.1f MB\n", cpu, u, s, cpu * 1e6 / n, rss / 1024;
}'
