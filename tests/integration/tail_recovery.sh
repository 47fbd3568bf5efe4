#!/usr/bin/env bash
# logferry agent (file output) when a log is rotated while the agent is
# behind, stopped or killed: what was on disk and not read yet is found
# again in the log's directory by its first bytes (or its inode) and read
# from where reading had stopped, under the same _ids; what cannot be found
# any more is reported with its byte count. A writer appends numbered lines
# (PER lines per write, PAUSE_MS apart); the checker counts every line by
# content, whatever its _id.
#
#   copytruncate_stopped  SIGTERM, copytruncate, start again; paths 'app.log'
#   copytruncate_behind   SIGSTOP (the agent reads nothing: behind, as when
#                         blocked), copytruncate, SIGCONT; paths 'app.log'
#   rename_twice_killed   SIGKILL, app.log -> app.log.1 -> app.log.2 with a
#                         new app.log each time (the writer reopens), start
#                         again; paths 'app.log' alone
#   glob_copies           paths 'app.log*', which match every copy: copies
#                         made while the agent is behind and while it keeps
#                         up, renamed on (app.log.1 -> app.log.2); no line
#                         twice
#   lost_reported         SIGTERM, app.log renamed and compressed, start
#                         again: the bytes never read are reported (warn)
#
# Checked: each line on disk shipped (missing 0); never under two _ids
# (after a SIGKILL a line may come again with the _id it had, which
# Elasticsearch's `create` keeps once); exactly once where the agent was
# not killed. The writer is paused (SIGSTOP) around each copy and truncate,
# so that no line falls in copytruncate's window between the two.
#
# LF_RECOVERY_CASES="..." runs some cases; LF_KEEP_TMP=1 keeps the directory.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
# shellcheck source=lib.bash
. "$LF_SOURCE_DIR/tests/integration/lib.bash"
tmp=$(mktemp -d)
agent_pid=
writer_pid=
cleanup() {
  if [ -n "$agent_pid" ]; then kill -CONT "$agent_pid" 2>/dev/null || true; kill -9 "$agent_pid" 2>/dev/null || true; fi
  if [ -n "$writer_pid" ]; then kill -CONT "$writer_pid" 2>/dev/null || true; kill -9 "$writer_pid" 2>/dev/null || true; fi
  if [ -z "${LF_KEEP_TMP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT

TOTAL=24000 # lines per case
PER=200     # lines per write
PAUSE_MS=10 # between writes

# writer.py LOG PROGRESS: TOTAL numbered lines to LOG (O_APPEND), PER per
# write(), PAUSE_MS apart; reopens LOG on SIGHUP; PROGRESS holds how many
# lines are written. It writes no further than PROGRESS.budget says (the
# test raises it step by step): however slow the agent or the machine, the
# writer cannot finish before the case's next step.
cat > "$tmp/writer.py" <<PY
import os, signal, sys, time
path, progress = sys.argv[1], sys.argv[2]
total, per, pause = $TOTAL, $PER, $PAUSE_MS / 1000
reopen = False
def on_hup(signum, frame):
    global reopen
    reopen = True
signal.signal(signal.SIGHUP, on_hup)
def open_log():
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
def budget():
    try:
        with open(progress + ".budget") as b:
            return int(b.read() or 0)
    except (OSError, ValueError):
        return 0
fd = open_log()
n = 0
while n < total:
    if n >= budget():
        time.sleep(0.01)
        continue
    if reopen:
        reopen = False
        os.close(fd)
        fd = open_log()
    k = min(per, total - n, budget() - n)
    data = "".join(f"Nov 21 10:{i // 60 % 60:02d}:{i % 60:02d} web01 app[{i % 30000 + 1}]: "
                   f"line {i} end\n" for i in range(n, n + k)).encode()
    while data:
        data = data[os.write(fd, data):]
    n += k
    with open(progress + ".tmp", "w") as p:
        p.write(str(n))
    os.replace(progress + ".tmp", progress)
    time.sleep(pause)
os.close(fd)
PY

# count.py DIR [--wait S] [--disk FILE...]: the lines expected are 0..TOTAL-1,
# or with --disk the complete lines of those files. --wait: until every one
# is shipped, at most S seconds (exit 1 if not). Otherwise writes DIR/stats,
# "name value" per line: docs, missing, extra (numbers never written),
# garbled, dup_same_id (a line again with its _id), dup_other_id (a line
# again under another _id).
cat > "$tmp/count.py" <<PY
import glob, json, os, re, sys, time
total = $TOTAL
d = sys.argv[1]
args = sys.argv[2:]
wait = float(args[args.index("--wait") + 1]) if "--wait" in args else None
disk = args[args.index("--disk") + 1:] if "--disk" in args else []
LINE = re.compile(r"line (\d+) end")

def on_disk(files):
    nums = set()
    for f in files:
        with open(f, "rb") as fh:
            for raw in fh.read().split(b"\n")[:-1]:
                m = LINE.search(raw.decode("utf-8", "replace"))
                if m:
                    nums.add(int(m.group(1)))
    return nums

def documents():
    docs = []
    for f in sorted(glob.glob(os.path.join(d, "out", "*.ndjson"))):
        with open(f, "rb") as fh:
            complete = fh.read().split(b"\n")[:-1]
        for i in range(0, len(complete) - 1, 2):
            action, doc = json.loads(complete[i]), json.loads(complete[i + 1])
            m = LINE.fullmatch(doc.get("message", ""))
            docs.append((action["create"]["_id"], int(m.group(1)) if m else None))
    return docs

expected = on_disk(disk) if disk else set(range(total))
if wait is not None:
    deadline = time.monotonic() + wait
    while True:
        missing = expected - {n for _, n in documents()}
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if missing:
        print(f"{len(missing)} lines not shipped, first {sorted(missing)[:5]}", file=sys.stderr)
    sys.exit(1 if missing else 0)
docs = documents()
ids, garbled, same = {}, 0, 0
for id_, n in docs:
    if n is None:
        garbled += 1
        continue
    if id_ in ids.setdefault(n, set()):
        same += 1
    ids[n].add(id_)
stats = {"docs": len(docs), "missing": len(expected - set(ids)),
         "extra": len(set(ids) - set(range(total))), "garbled": garbled,
         "dup_same_id": same, "dup_other_id": sum(len(v) - 1 for v in ids.values())}
with open(os.path.join(d, "stats"), "w") as fh:
    for k, v in stats.items():
        fh.write(f"{k} {v}\n")
PY

# ---- one case: a directory, an agent, a writer -------------------------------

new_case() { # new_case NAME PATHS
  dir=$tmp/$1
  echo "# $1 (paths '$2')"
  mkdir -p "$dir/log"
  cat > "$dir/agent.yml" <<YML
agent:
  data_dir: $dir/data
  timezone: UTC
  shutdown_timeout: 10s
inputs:
  metrics:
    enabled: false
  files:
    - paths: ['$dir/log/$2']
      start_at: beginning
output:
  type: file
  batch_max_age: 50ms
  file:
    dir: $dir/out
YML
  "$LOGFERRY" check -c "$dir/agent.yml" > /dev/null
}
start_agent() {
  "$LOGFERRY" agent -c "$dir/agent.yml" 2>> "$dir/agent.log" &
  agent_pid=$!
}
stop_agent() { # stop_agent SIGNAL: returns the agent's exit status
  local rc=0
  kill -"$1" "$agent_pid"
  wait "$agent_pid" || rc=$?
  agent_pid=
  return $rc
}
allow() { # allow N: the writer may write up to N lines
  echo "$1" > "$dir/progress.budget.tmp" && mv "$dir/progress.budget.tmp" "$dir/progress.budget"
}
start_writer() {
  allow 1000
  /usr/bin/python3 "$tmp/writer.py" "$dir/log/app.log" "$dir/progress" &
  writer_pid=$!
}
written() { cat "$dir/progress" 2>/dev/null || echo 0; }
wait_written() { # wait_written N: up to 60 s until the writer has written N lines
  allow "$1"
  local deadline=$((SECONDS + 60))
  while [ "$(written)" -lt "$1" ] && [ $SECONDS -lt $deadline ]; do sleep 0.02; done
  [ "$(written)" -ge "$1" ]
}
wait_writer() { # up to 60 s for the writer to finish; returns its exit status
  allow "$TOTAL"
  local deadline=$((SECONDS + 60)) rc=0
  while kill -0 "$writer_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  if kill -0 "$writer_pid" 2>/dev/null; then kill -9 "$writer_pid"; fi
  wait "$writer_pid" || rc=$?
  writer_pid=
  return $rc
}
count() { /usr/bin/python3 "$tmp/count.py" "$dir" "$@"; }
followed() { # the agent has shipped what app.log holds now
  wait_until 30 test -s "$dir/log/app.log" && count --wait 30 --disk "$dir/log/app.log"
}
stat_of() { awk -v k="$1" '$1 == k { print $2 }' "$dir/stats"; }
is() { test "$(stat_of "$1")" "$2" "$3"; } # is NAME OP VALUE, as test(1)
logged() { grep -qE "$1" "$dir/agent.log"; }
# After a SIGKILL the file output may find an unfinished write to cut off
# (a warning by design); any other warning or error fails.
crash_repair='out_file: .*: removing [0-9]+ bytes of an unfinished write at the end'
no_warnings() { ! grep -E ' (error|warn) ' "$dir/agent.log" | grep -Ev "$crash_repair"; }
# copytruncate with the writer paused, so that no line is written between
# the copy and the truncate.
copytruncate() { # copytruncate TO
  kill -STOP "$writer_pid"
  cp "$dir/log/app.log" "$dir/log/$1" && truncate -s0 "$dir/log/app.log"
  kill -CONT "$writer_pid"
}
rotate_create() { # rotate_create SUFFIX: app.log -> app.log.SUFFIX, a new app.log, reopen
  mv "$dir/log/app.log" "$dir/log/app.log.$1"
  : > "$dir/log/app.log"
  kill -HUP "$writer_pid"
}
finish() { # finish [count options]: writer done, every line shipped, clean stop
  check "writer done" wait_writer
  check "every line shipped" count --wait 60 "$@"
  check "agent stops cleanly" stop_agent TERM
  count "$@"
  echo "  $(tr '\n' ' ' < "$dir/stats")"
  check "no line lost" is missing = 0
  check "only lines that were written" is extra = 0
  check "no line under two _ids" is dup_other_id = 0
  check "no garbled line" is garbled = 0
}

# ---- the cases ---------------------------------------------------------------

case_copytruncate_stopped() {
  new_case copytruncate_stopped app.log
  start_agent
  start_writer
  check "app.log followed" followed
  check "writing" wait_written 6000
  check "SIGTERM exits 0" stop_agent TERM
  check "writing while stopped" wait_written 10000
  copytruncate app.log.1
  check "writing to the truncated file" wait_written 14000
  start_agent
  finish
  check "each line once" is docs = "$TOTAL"
  check "the copy found and finished" logged 'app.log: truncated, rewritten or replaced .* now .*/app.log.1, [0-9]+ bytes not read: finishing it from offset'
  check "no warnings or errors" no_warnings
}

case_copytruncate_behind() {
  new_case copytruncate_behind app.log
  start_agent
  start_writer
  check "app.log followed" followed
  check "writing" wait_written 6000
  kill -STOP "$agent_pid"
  check "writing while the agent reads nothing" wait_written 12000
  copytruncate app.log.1
  check "writing to the truncated file" wait_written 14000
  kill -CONT "$agent_pid"
  finish
  check "each line once" is docs = "$TOTAL"
  check "the copy found and finished" logged 'app.log: truncated \(size [0-9]+\) while [0-9]+ bytes were not read yet: finishing them in its copy .*/app.log.1'
  check "no warnings or errors" no_warnings
}

case_rename_twice_killed() {
  new_case rename_twice_killed app.log
  start_agent
  start_writer
  check "app.log followed" followed
  check "writing" wait_written 6000
  { stop_agent KILL || true; } 2> /dev/null
  check "writing while killed" wait_written 9000
  rotate_create 1
  check "writing to the second file" wait_written 13000
  mv "$dir/log/app.log.1" "$dir/log/app.log.2"
  rotate_create 1
  check "writing to the third file" wait_written 15000
  start_agent
  finish
  echo "  $(stat_of dup_same_id) lines shipped again after SIGKILL, with their _id"
  check "the file being read found under its new name" logged 'app.log: rotated or deleted while the agent was down, now .*/app.log.2, [0-9]+ bytes not read'
  check "the file written while down read" logged 'app.log.1: written at .*/app.log while the agent was down'
  check "no warnings or errors (but a cut-off write)" no_warnings
}

case_glob_copies() {
  new_case glob_copies 'app.log*'
  start_agent
  start_writer
  check "app.log followed" followed
  check "writing" wait_written 4000
  copytruncate app.log.1 # the agent keeps up
  check "writing to the truncated file" wait_written 8000
  kill -STOP "$agent_pid"
  check "writing while the agent reads nothing" wait_written 14000
  mv "$dir/log/app.log.1" "$dir/log/app.log.2"
  copytruncate app.log.1 # the agent is behind
  check "writing to the truncated file" wait_written 16000
  kill -CONT "$agent_pid"
  check "writing" wait_written 20000
  { stop_agent KILL || true; } 2> /dev/null
  start_agent # every copy matched again at startup
  finish
  echo "  $(stat_of dup_same_id) lines shipped again after SIGKILL, with their _id"
  check "no warnings or errors (but a cut-off write)" no_warnings
}

case_lost_reported() {
  new_case lost_reported app.log
  start_agent
  start_writer
  check "app.log followed" followed
  check "writing" wait_written 6000
  check "SIGTERM exits 0" stop_agent TERM
  check "writing while stopped" wait_written 10000
  kill -STOP "$writer_pid"
  mv "$dir/log/app.log" "$dir/log/app.log.1"
  gzip "$dir/log/app.log.1"
  : > "$dir/log/app.log"
  kill -HUP "$writer_pid"
  kill -CONT "$writer_pid"
  start_agent
  check "writer done" wait_writer
  check "the new file shipped" count --wait 60 --disk "$dir/log/app.log"
  check "agent stops cleanly" stop_agent TERM
  check "the lost bytes reported, with their count" \
    logged ' warn  tail: .*/app.log: rotated or deleted while the agent was down and its content is not in its directory any more \(compressed or deleted\): [0-9]+ bytes \(offset [0-9]+ of [0-9]+\) not read'
}

all_cases="copytruncate_stopped copytruncate_behind rename_twice_killed glob_copies lost_reported"
for c in ${LF_RECOVERY_CASES:-$all_cases}; do
  "case_$c"
done

echo "tail_recovery: $failures failed"
test "$failures" = 0
