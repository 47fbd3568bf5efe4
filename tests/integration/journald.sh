#!/usr/bin/env bash
# logferry agent, inputs.journald: journal files made here from the journal
# export format by systemd-journal-remote (Debian's systemd-journal-remote
# package), so that no running journald is needed. Skipped (77) without
# that tool, or when logferry was built without libsystemd.
#
#   fields     each entry's ECS fields (message, severity, facility and
#              priority, process, systemd.unit, host.hostname, times) and an
#              sshd MESSAGE through the sshd grammar
#   matches    units, priority and FIELD=value select the entries they name
#   live       entries appended to the journal file the agent reads, then a
#              new journal file in its directory, arrive without a restart;
#              logferry status shows the cursor; a SIGHUP reload goes on
#   kill       SIGKILL three times while a 30000-entry journal is shipped,
#              then a restart: every entry arrives, each under one _id (a
#              resend after a kill has the _id it had), counted by content
#   restart    SIGTERM and start again: nothing is read twice
#
# LF_KEEP_TMP=1 keeps the directory.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
# shellcheck source=lib.bash
. "$LF_SOURCE_DIR/tests/integration/lib.bash"

remote=
for p in /lib/systemd/systemd-journal-remote /usr/lib/systemd/systemd-journal-remote; do
  if [ -x "$p" ]; then remote=$p; break; fi
done
if [ -z "$remote" ]; then
  echo "SKIP: systemd-journal-remote not installed (apt-get install systemd-journal-remote)"
  exit 77
fi

tmp=$(mktemp -d)
agent_pid=
cleanup() {
  if [ -n "$agent_pid" ]; then kill -9 "$agent_pid" 2>/dev/null || true; fi
  if [ -z "${LF_KEEP_TMP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT

# gen.py FIRST COUNT [BOOT]: export-format entries numbered FIRST.., one
# second apart from 2026-11-21 10:00:00 UTC plus FIRST seconds, with a
# rotating unit, identifier and priority. MESSAGE "entry <n> end".
cat > "$tmp/gen.py" <<'PY'
import sys
first, count = int(sys.argv[1]), int(sys.argv[2])
boot = sys.argv[3] if len(sys.argv) > 3 else "0123456789abcdef0123456789abcdef"
base = 1795255200 * 1000000  # 2026-11-21T10:00:00Z in microseconds
units = ["cron.service", "ssh.service", "nginx.service"]
idents = ["CRON", "sshd", "nginx"]
out = []
for n in range(first, first + count):
    t = base + n * 1000000
    out.append(f"__REALTIME_TIMESTAMP={t}\n__MONOTONIC_TIMESTAMP={1000000 + n * 1000}\n"
               f"_BOOT_ID={boot}\n_HOSTNAME=gen01\n_SYSTEMD_UNIT={units[n % 3]}\n"
               f"SYSLOG_IDENTIFIER={idents[n % 3]}\n_PID={100 + n % 7}\nPRIORITY={n % 8}\n"
               f"MESSAGE=entry {n} end\n\n")
sys.stdout.write("".join(out))
PY

# journal FILE < export: writes (or appends to) a journal file.
journal() {
  "$remote" -o "$1" - 2>"$tmp/remote.err" || { cat "$tmp/remote.err" >&2; return 1; }
}

# config DIR JOURNALDIR [extra journald keys...]
config() {
  local dir=$1 jdir=$2
  shift 2
  mkdir -p "$dir"
  {
    printf 'agent:\n  name: agent01\n  data_dir: %s/data\n' "$dir"
    if [ -n "${STATUS:-}" ]; then printf '  status_listen: unix:%s/st.sock\n' "$dir"
    else printf '  status_listen: "off"\n'; fi
    printf '  shutdown_timeout: 30s\n'
    printf 'inputs:\n  metrics: {enabled: false}\n  journald:\n    enabled: true\n'
    printf '    directory: %s\n    seek: head\n' "$jdir"
    for k in "$@"; do printf '    %s\n' "$k"; done
    printf 'output:\n  type: file\n  batch_max_docs: %s\n  batch_max_age: 50ms\n' "${BATCH:-100}"
  } > "$dir/agent.yml"
}

start_agent() {
  "$LOGFERRY" agent -c "$1/agent.yml" 2>>"$1/agent.log" &
  agent_pid=$!
}

stop_agent() {
  kill -TERM "$agent_pid"
  wait "$agent_pid" || true
  agent_pid=
}

# docs DIR: how many documents the file output holds.
docs() {
  cat "$1"/data/out/*.ndjson 2>/dev/null | grep -c '^{"create"' || true
}

docs_at_least() { # DIR N
  [ "$(docs "$1")" -ge "$2" ]
}

# count.py DIR FIRST COUNT: the entries FIRST..FIRST+COUNT-1 by content,
# "missing N dup_same_id N dup_other_id N extra N" on stdout.
cat > "$tmp/count.py" <<'PY'
import glob, json, os, re, sys
d, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ids = {}
seen = {}
extra = dup_same = dup_other = 0
for f in sorted(glob.glob(os.path.join(d, "data", "out", "*.ndjson"))):
    lines = open(f, encoding="utf-8").read().splitlines()
    for action, doc in zip(lines[0::2], lines[1::2]):
        _id = json.loads(action)["create"]["_id"]
        m = re.fullmatch(r"entry (\d+) end", json.loads(doc).get("message", ""))
        if not m or not first <= int(m.group(1)) < first + count:
            extra += 1
            continue
        n = int(m.group(1))
        if n in ids:
            if ids[n] == _id:
                dup_same += 1
            else:
                dup_other += 1
        ids[n] = _id
missing = count - len(ids)
print(f"missing {missing} dup_same_id {dup_same} dup_other_id {dup_other} extra {extra}")
PY

all_arrived() { # DIR FIRST COUNT
  python3 "$tmp/count.py" "$@" | grep -q '^missing 0 '
}

# ---- fields ------------------------------------------------------------------
fields() {
  local d=$tmp/fields
  mkdir -p "$d/j"
  # Written by hand: the fields every mapping rule looks at.
  {
    printf '__REALTIME_TIMESTAMP=1795255200500000\n__MONOTONIC_TIMESTAMP=1000\n'
    printf '_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=web01\n'
    printf '_SOURCE_REALTIME_TIMESTAMP=1795255200123456\n_TRANSPORT=syslog\n'
    printf 'SYSLOG_IDENTIFIER=sshd\nSYSLOG_FACILITY=4\nSYSLOG_PID=4242\n_PID=4242\n'
    printf '_COMM=sshd\n_SYSTEMD_UNIT=ssh.service\nPRIORITY=6\n'
    printf 'MESSAGE=Accepted publickey for root from 10.0.0.5 port 51234 ssh2: RSA SHA256:abc\n\n'
    printf '__REALTIME_TIMESTAMP=1795255201000000\n__MONOTONIC_TIMESTAMP=2000\n'
    printf '_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=web01\n'
    printf '_COMM=backup.sh\n_PID=77\nPRIORITY=3\n_TRANSPORT=stdout\n'
    printf '_SYSTEMD_UNIT=backup.service\nMESSAGE=disk full\n\n'
  } | journal "$d/j/a.journal"
  config "$d" "$d/j"
  "$LOGFERRY" check --connect -c "$d/agent.yml" > "$d/connect.out" 2>&1 || true
  check "fields: check --connect reads the journal" grep -q \
    "^journald: $d/j: OK, entries from 2026-11-21T10:00:00.500Z to 2026-11-21T10:00:01.000Z" \
    "$d/connect.out"
  start_agent "$d"
  wait_until 60 docs_at_least "$d" 2 || true
  stop_agent
  "$LOGFERRY" check --connect -c "$d/agent.yml" > "$d/connect.out" 2>&1 || true
  check "fields: check --connect finds the saved cursor" grep -q \
    "cursor: saved, its entry is in the journal" "$d/connect.out"
  cat > "$d/check.py" <<'PY'
import glob, json, sys
docs = []
for f in sorted(glob.glob(sys.argv[1] + "/data/out/*.ndjson")):
    lines = open(f).read().splitlines()
    docs += [json.loads(x) for x in lines[1::2]]
by = {d["message"]: d for d in docs}
ssh = by["Accepted publickey for root from 10.0.0.5 port 51234 ssh2: RSA SHA256:abc"]
want = {
    ("@timestamp",): "2026-11-21T10:00:00.123Z",  # _SOURCE_REALTIME_TIMESTAMP
    ("event", "created"): "2026-11-21T10:00:00.500Z",  # __REALTIME_TIMESTAMP
    ("event", "dataset"): "journald",
    ("host", "hostname"): "web01",
    ("host", "name"): "agent01",
    ("process", "name"): "sshd",
    ("process", "pid"): 4242,
    ("systemd", "unit"): "ssh.service",
    ("systemd", "transport"): "syslog",
    ("log", "syslog", "severity", "code"): 6,
    ("log", "syslog", "severity", "name"): "info",
    ("log", "syslog", "facility", "code"): 4,
    ("log", "syslog", "facility", "name"): "auth",
    ("log", "syslog", "priority"): 38,
    ("user", "name"): "root",  # the sshd grammar on MESSAGE
    ("source", "ip"): "10.0.0.5",
    ("source", "port"): 51234,
}
bad = 0
def get(d, path):
    for k in path:
        d = d.get(k) if isinstance(d, dict) else None
    return d
for path, v in want.items():
    if get(ssh, path) != v:
        print("sshd entry:", ".".join(path), "is", repr(get(ssh, path)), "want", repr(v))
        bad += 1
other = by["disk full"]
want2 = {("@timestamp",): "2026-11-21T10:00:01.000Z", ("process", "name"): "backup.sh",
         ("process", "pid"): 77, ("log", "syslog", "severity", "name"): "err",
         ("systemd", "unit"): "backup.service"}
for path, v in want2.items():
    if get(other, path) != v:
        print("stdout entry:", ".".join(path), "is", repr(get(other, path)), "want", repr(v))
        bad += 1
if get(other, ("log", "syslog", "priority")) is not None or "tags" in other:
    print("stdout entry: a priority without a facility, or tags:", other)
    bad += 1
print("two documents" if len(docs) == 2 else f"{len(docs)} documents")
sys.exit(1 if bad or len(docs) != 2 else 0)
PY
  check "fields: ECS fields of two entries, sshd grammar on MESSAGE" python3 "$d/check.py" "$d"
}

# ---- matches -----------------------------------------------------------------
matches() {
  local d=$tmp/matches
  mkdir -p "$d/j"
  python3 "$tmp/gen.py" 0 240 | journal "$d/j/a.journal"
  # units: ssh (n % 3 == 1) or nginx (2); priority <= warning (n % 8 <= 4);
  # _PID=101 or 102 (n % 7 in 1, 2).
  config "$d" "$d/j" "units: [ssh.service, nginx.service]" "priority: warning" \
    "matches: ['_PID=101', '_PID=102']"
  local want
  want=$(python3 -c 'print(sum(1 for n in range(240) if n % 3 and n % 8 <= 4 and n % 7 in (1, 2)))')
  start_agent "$d"
  # The entries are read in order: once the last match is shipped, every
  # entry before it was read (a wrong one would have been shipped too).
  wait_until 60 docs_at_least "$d" "$want" || true
  stop_agent
  local got
  got=$(cat "$d"/data/out/*.ndjson | python3 -c '
import json, re, sys
lines = sys.stdin.read().splitlines()
ok = 0
for doc in lines[1::2]:
    n = int(re.fullmatch(r"entry (\d+) end", json.loads(doc)["message"]).group(1))
    ok += 1 if n % 3 and n % 8 <= 4 and n % 7 in (1, 2) else -1000
print(ok)')
  echo "matches: $got documents, $want entries match"
  check "matches: units, priority and FIELD=value select the entries" test "$got" -eq "$want"
}

# ---- live --------------------------------------------------------------------
live() {
  local d=$tmp/live
  mkdir -p "$d/j"
  python3 "$tmp/gen.py" 0 50 | journal "$d/j/a.journal"
  STATUS=1 config "$d" "$d/j"
  start_agent "$d"
  check "live: the first 50 entries" wait_until 60 all_arrived "$d" 0 50
  # The status endpoint: the cursor of entry 49 (i=0x32 in this file), nothing
  # in flight, safe up to its time (2026-11-21T10:00:49Z).
  status_shows() {
    "$LOGFERRY" status -c "$d/agent.yml" > "$d/status.out" 2>&1 &&
      grep -q "0 entries in flight, safe up to 2026-11-21T10:00:49.000Z" "$d/status.out" &&
      grep -q "cursor s=[0-9a-f]*;i=32;" "$d/status.out"
  }
  check "live: logferry status shows the cursor" wait_until 30 status_shows
  python3 "$tmp/gen.py" 50 50 | journal "$d/j/a.journal"
  check "live: 50 entries appended to the file arrive" wait_until 60 all_arrived "$d" 0 100
  python3 "$tmp/gen.py" 100 50 fedcba9876543210fedcba9876543210 | journal "$d/j/b.journal"
  check "live: 50 entries of a new file in the directory arrive" wait_until 60 all_arrived "$d" 0 150
  # SIGHUP rebuilds the input: it goes on from its cursor.
  kill -HUP "$agent_pid"
  python3 "$tmp/gen.py" 150 50 fedcba9876543210fedcba9876543210 | journal "$d/j/b.journal"
  check "live: after SIGHUP, the next 50" wait_until 60 all_arrived "$d" 0 200
  stop_agent
  local stats
  stats=$(python3 "$tmp/count.py" "$d" 0 200)
  echo "live: $stats"
  check "live: each entry once" test "$stats" = "missing 0 dup_same_id 0 dup_other_id 0 extra 0"
}

# ---- kill --------------------------------------------------------------------
kill_restart() {
  local d=$tmp/kill N=30000
  mkdir -p "$d/j"
  python3 "$tmp/gen.py" 0 $N | journal "$d/j/a.journal"
  BATCH=10 config "$d" "$d/j"
  local kills=0 at
  for want in 1 5000 12000; do
    start_agent "$d"
    wait_until 120 docs_at_least "$d" "$want" || true
    kill -9 "$agent_pid"
    wait "$agent_pid" 2>/dev/null || true
    agent_pid=
    at=$(docs "$d")
    echo "kill: SIGKILL with $at documents written"
    [ "$at" -lt $N ] && kills=$((kills + 1))
  done
  check "kill: the three kills landed before the end ($kills of 3)" test $kills -eq 3
  start_agent "$d"
  check "kill: every entry after the restart" wait_until 180 all_arrived "$d" 0 $N
  stop_agent
  local stats
  stats=$(python3 "$tmp/count.py" "$d" 0 $N)
  echo "kill: $stats"
  check "kill: none missing, none under a second _id" \
    bash -c "[[ '$stats' =~ ^missing\ 0\ dup_same_id\ [0-9]+\ dup_other_id\ 0\ extra\ 0$ ]]"

  # restart: a graceful stop and start reads nothing twice.
  local before
  before=$(docs "$d")
  python3 "$tmp/gen.py" $N 100 | journal "$d/j/a.journal"
  start_agent "$d"
  check "restart: the 100 new entries" wait_until 60 all_arrived "$d" 0 $((N + 100))
  stop_agent
  check "restart: nothing read twice after SIGTERM" test "$(docs "$d")" -eq $((before + 100))
}

# Built without libsystemd: the agent refuses the input; nothing to test.
mkdir -p "$tmp/probe/j"
config "$tmp/probe" "$tmp/probe/j"
if "$LOGFERRY" check -c "$tmp/probe/agent.yml" 2>&1 | grep -q "without libsystemd"; then
  echo "SKIP: logferry was built without libsystemd"
  exit 77
fi

fields
matches
live
kill_restart

if [ "$failures" -ne 0 ]; then
  for f in "$tmp"/*/agent.log; do echo "--- $f"; tail -20 "$f"; done
  echo "$failures checks failed"
  exit 1
fi
echo "all journald checks passed"
