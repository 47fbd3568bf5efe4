#!/usr/bin/env bash
# logferry agent (file output) tailing a log that a writer appends to without
# pause (200 numbered lines per write, 10 ms apart) while the log is rotated
# under it:
#
#   rename        mv app.log app.log.1, a new app.log, then the writer reopens
#                 (logrotate's `create` + postrotate signal): at once, and
#                 after the writer went on writing to the renamed file for a
#                 moment. Paths 'app.log' alone, as users configure it (the
#                 renamed file is finished from the descriptor still open), and
#                 'app.log*' (followed under its new names, logrotate's
#                 app.log.1 -> app.log.2 included).
#   poll          the same, and a delete, without inotify (NFS).
#   copytruncate  cp app.log app.log.1 && truncate -s0 app.log, twice, the
#                 writer appending with O_APPEND; paths 'app.log*'.
#   delete        rm app.log, the writer creates it again: at once, and after
#                 a moment of writing to the deleted file.
#   restart       SIGTERM and start again, then SIGKILL and start again.
#   crash_rotate  SIGKILL, a rename while the agent is down, start again.
#
# What logferry guarantees, and what is checked:
# - Every line the writer put on disk is shipped: no loss.
# - Each line once; after a SIGKILL a line may come again with the same _id
#   (Elasticsearch's `create` keeps one).
# - copytruncate: the copy holds the content app.log had, and is known as
#   such by its first bytes: a glob that matches it does not read it again,
#   and what app.log had not been read yet when it was truncated is read
#   from the copy, from where reading had stopped, under the same _ids
#   (tests/integration/tail_recovery.sh has the agent behind, blocked or
#   stopped). Lines written between the copy and the truncate are on disk
#   nowhere (logrotate's documented window) and cannot be shipped; the test
#   checks that only lines written in that window are missing from disk.
# - A file that comes and goes between two rescans without inotify is not
#   read: not checked.
# - Elasticsearch's view: _id is a hash of host, the file's content id (kept
#   in the registry, new for every new file and every truncation) and the
#   offset, not of the path, so
#   1. the new content of a path (a new app.log, a truncated one, a second
#      copy) never reuses the _ids of the old content at the same offsets
#      (`create` would answer 409 and drop the new lines): each _id names one
#      line, nothing is lost;
#   2. a line read again after a crash from a file renamed meanwhile keeps
#      its _id: one document.
#   The checks replay the output through Elasticsearch's rule (the first
#   document with an _id wins).
#
# LF_ROTATION_CASES="rename delete" runs some cases; LF_KEEP_TMP=1 keeps the
# directory (agent logs, outputs) for a look.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
tmp=$(mktemp -d)
agent_pid=
writer_pid=
cleanup() {
  if [ -n "$agent_pid" ]; then kill -9 "$agent_pid" 2>/dev/null || true; fi
  if [ -n "$writer_pid" ]; then kill -9 "$writer_pid" 2>/dev/null || true; fi
  if [ -z "${LF_KEEP_TMP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT
failures=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}

TOTAL=40000 # lines per case: about 2.5 s of writing
PER=200     # lines per write
PAUSE_MS=10 # between writes

# writer.py LOG PROGRESS: writes TOTAL numbered lines to LOG with O_APPEND,
# PER lines per write(), PAUSE_MS apart; reopens LOG on SIGHUP; after each
# write, PROGRESS holds how many lines are written. It writes no further
# than the number in PROGRESS.budget (the test raises it step by step), so
# that it never runs ahead of the test however slow the agent is.
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
fd = open_log()
n = 0
def budget():
    try:
        with open(progress + ".budget") as b:
            return int(b.read() or 0)
    except (OSError, ValueError):
        return 0
while n < total:
    while n >= budget():
        time.sleep(0.01)
    if reopen:
        reopen = False
        os.close(fd)
        fd = open_log()
    k = min(per, total - n)
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

# analyze.py DIR [--wait S] [--upto N] [--disk FILE...] [--copies FILE...]
# [--windows LO:HI...] [--before F] [--snapshot F]: reads DIR/out/*.ndjson.
# The lines expected are 0..TOTAL-1 (0..N-1 with --upto), or with --disk the
# complete lines of those files. --wait: until every expected line is there,
# at most S seconds (exit 1 if not). Otherwise writes DIR/stats, "name value"
# per line:
#   docs            documents
#   missing         expected lines not shipped
#   extra, garbled  numbers never written; messages not "line N end"
#   dup_same_id     documents that repeat a line with the _id it had
#   dup_other_id    documents that repeat a line under another _id
#   dup_not_copied  lines under two _ids that no --copies file holds
#   dup_before      repeats of lines listed in --before (lines shipped
#                   before a clean stop)
#   id_collisions   _ids given to two different lines
#   es_lost         expected lines Elasticsearch would not have: the first
#                   document with an _id wins, `create` refuses the others
#   disk_lost       with --disk: lines written but on disk nowhere
#   disk_lost_outside   ... and not in any --windows LO:HI (LO <= n < HI)
# --snapshot: writes the numbers shipped so far to F.
cat > "$tmp/analyze.py" <<PY
import glob, json, os, re, sys, time
total = $TOTAL
d = sys.argv[1]
opts = {"--disk": [], "--copies": [], "--windows": [], "--wait": [], "--upto": [],
        "--before": [], "--snapshot": []}
cur = None
for a in sys.argv[2:]:
    if a in opts:
        cur = opts[a]
    else:
        cur.append(a)
LINE = re.compile(r"line (\d+) end")

def numbers_on_disk(files):
    nums = set()
    for f in files:
        with open(f, "rb") as fh:
            for raw in fh.read().split(b"\n")[:-1]:  # complete lines only
                m = LINE.search(raw.decode("utf-8", "replace"))
                if m:
                    nums.add(int(m.group(1)))
    return nums

def documents():
    docs = []  # (_id, log.file.path, number or None)
    for f in sorted(glob.glob(os.path.join(d, "out", "*.ndjson"))):
        with open(f, "rb") as fh:
            complete = fh.read().split(b"\n")[:-1]
        for i in range(0, len(complete) - 1, 2):
            action, doc = json.loads(complete[i]), json.loads(complete[i + 1])
            m = LINE.fullmatch(doc.get("message", ""))
            docs.append((action["create"]["_id"], doc["log"]["file"]["path"],
                         int(m.group(1)) if m else None))
    return docs

expected = numbers_on_disk(opts["--disk"]) if opts["--disk"] else set(range(total))
if opts["--upto"]:
    expected &= set(range(int(opts["--upto"][0])))
if opts["--wait"]:
    deadline = time.monotonic() + float(opts["--wait"][0])
    while True:
        missing = expected - {n for _, _, n in documents()}
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if missing:
        print(f"{len(missing)} lines not shipped, first {sorted(missing)[:5]}", file=sys.stderr)
    sys.exit(1 if missing else 0)

docs = documents()
seen, ids_of, lines_of_id, count, es_kept = set(), {}, {}, {}, {}
garbled = dup_same = 0
for id_, path, n in docs:
    if n is None:
        garbled += 1
        n = ("garbled", id_, path)
    else:
        seen.add(n)
    count[n] = count.get(n, 0) + 1
    if id_ in ids_of.setdefault(n, set()):
        dup_same += 1
    ids_of[n].add(id_)
    lines_of_id.setdefault(id_, set()).add(n)
    es_kept.setdefault(id_, n)
copies = numbers_on_disk(opts["--copies"])
before = set()
for f in opts["--before"]:
    before |= {int(x) for x in open(f).read().split()}
numbered = {n: v for n, v in ids_of.items() if isinstance(n, int)}
written = set(range(total))
disk_lost = written - expected
windows = set()
for w in opts["--windows"]:
    lo, hi = map(int, w.split(":"))
    windows |= set(range(lo, hi))
stats = {
    "docs": len(docs),
    "missing": len(expected - seen),
    "extra": len(seen - written),
    "garbled": garbled,
    "dup_same_id": dup_same,
    "dup_other_id": sum(len(v) - 1 for v in numbered.values()),
    "dup_not_copied": sum(1 for n, v in numbered.items() if len(v) > 1 and n not in copies),
    "dup_before": sum(count.get(n, 0) - 1 for n in before),
    "id_collisions": sum(1 for v in lines_of_id.values() if len(v) > 1),
    "es_lost": len(expected - set(es_kept.values())),
    "disk_lost": len(disk_lost),
    "disk_lost_outside": len(disk_lost - windows),
}
with open(os.path.join(d, "stats"), "w") as fh:
    for k, v in stats.items():
        fh.write(f"{k} {v}\n")
if opts["--snapshot"]:
    with open(opts["--snapshot"][0], "w") as fh:
        fh.write("\n".join(str(n) for n in sorted(seen)))
missing = sorted(expected - seen)
if missing and not opts["--snapshot"]:
    print(f"  {len(missing)} lines not shipped, first {missing[:5]}")
PY

# ---- one case: a directory, an agent, a writer -----------------------------

new_case() { # new_case NAME PATHS [RESCAN]: sets dir, writes the config
  dir=$tmp/$1
  poll=
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
      rescan: ${3:-10s}
output:
  type: file
  batch_max_age: 50ms
  file:
    dir: $dir/out
YML
  "$LOGFERRY" check -c "$dir/agent.yml" > /dev/null
}
start_agent() { # with poll=1: without inotify
  LOGFERRY_TAIL_POLL=$poll "$LOGFERRY" agent -c "$dir/agent.yml" 2>> "$dir/agent.log" &
  agent_pid=$!
}
stop_agent() { # stop_agent SIGNAL: returns the agent's exit status
  local rc=0
  kill -"$1" "$agent_pid"
  wait "$agent_pid" || rc=$?
  agent_pid=
  return $rc
}
set_budget() { # set_budget N: the writer may write up to N lines (never lowered)
  local cur
  cur=$(cat "$dir/progress.budget" 2>/dev/null || echo 0)
  [ "$1" -gt "$cur" ] || return 0
  echo "$1" > "$dir/progress.budget.tmp" && mv "$dir/progress.budget.tmp" "$dir/progress.budget"
}
start_writer() {
  echo 0 > "$dir/progress.budget"
  /usr/bin/python3 "$tmp/writer.py" "$dir/log/app.log" "$dir/progress" &
  writer_pid=$!
}
followed() { # the agent has found app.log
  set_budget "$PER"
  analyze --wait 30 --upto "$PER"
}
written() { cat "$dir/progress" 2>/dev/null || echo 0; }
wait_written() { # wait_written N: up to 30 s until the writer has written N lines
  local deadline=$((SECONDS + 30))
  set_budget "$1"
  while [ "$(written)" -lt "$1" ] && [ $SECONDS -lt $deadline ]; do sleep 0.02; done
  [ "$(written)" -ge "$1" ]
}
wait_writer() { # up to 30 s for the writer to finish; returns its exit status
  local deadline=$((SECONDS + 30)) rc=0
  set_budget "$TOTAL"
  while kill -0 "$writer_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  if kill -0 "$writer_pid" 2>/dev/null; then kill -9 "$writer_pid"; fi
  wait "$writer_pid" || rc=$?
  writer_pid=
  return $rc
}
reopen() { kill -HUP "$writer_pid"; } # the postrotate signal
rotate_create() { # rotate_create SUFFIX: rename to app.log.SUFFIX, create app.log
  mv "$dir/log/app.log" "$dir/log/app.log.$1"
  : > "$dir/log/app.log"
}
analyze() { /usr/bin/python3 "$tmp/analyze.py" "$dir" "$@"; }
stat_of() { awk -v k="$1" '$1 == k { print $2 }' "$dir/stats"; }
is() { test "$(stat_of "$1")" "$2" "$3"; } # is NAME OP VALUE, as test(1)
no_errors_logged() { ! grep -E ' error ' "$dir/agent.log"; }
no_warnings_logged() { ! grep -E ' (error|warn) ' "$dir/agent.log"; }
# A SIGKILL can land in the middle of the file output's write() of a batch:
# the agent started again cuts that unfinished write off (a warning, by
# design: those events were not acknowledged and are written again, with
# their _ids). How often depends on what the agent was doing at the kill,
# so after a SIGKILL that warning is shown, not failed; any other is.
crash_repair='out_file: .*: removing [0-9]+ bytes of an unfinished write at the end'
no_warnings_logged_but_crash_repair() {
  ! grep -E ' (error|warn) ' "$dir/agent.log" | grep -Ev "$crash_repair"
}
crash_repairs() { grep -cE "$crash_repair" "$dir/agent.log" || true; }

# finish_case [analyze options]: the writer done, every line shipped, the
# agent stopped cleanly, then the counts every case checks.
finish_case() {
  check "writer done" wait_writer
  check "every line shipped" analyze --wait 30 "$@"
  check "agent stops cleanly" stop_agent TERM
  analyze "$@"
  echo "  $(tr '\n' ' ' < "$dir/stats")"
  check "no line lost" is missing = 0
  check "only lines that were written" is extra = 0
}
exactly_once() {
  check "each line once" is docs = "$TOTAL"
  check "no line under two _ids" is dup_other_id = 0
  check "no warnings or errors logged" no_warnings_logged
}
ids_unique() {
  check "each _id names one line" is id_collisions = 0
  check "nothing lost in Elasticsearch (first _id wins)" is es_lost = 0
}

# ---- 1. rename and create ---------------------------------------------------

# Paths 'app.log' alone: the renamed file is finished from its descriptor,
# at once and after the writer went on writing into it for a moment.
case_rename() {
  new_case rename app.log
  start_agent
  start_writer
  check "app.log followed" followed
  check "writing" wait_written 8000
  rotate_create 1
  reopen
  check "writing to the new file" wait_written 20000
  rotate_create 2
  check "writer still on the renamed file" wait_written "$(($(written) + 3 * PER))"
  reopen
  finish_case
  exactly_once
  ids_unique
}

# Paths 'app.log*': renamed files are followed under their new names.
case_rename_glob() {
  new_case rename_glob 'app.log*'
  start_agent
  start_writer
  check "app.log followed" followed
  check "writing" wait_written 8000
  rotate_create 1
  reopen
  check "writing to the new file" wait_written 20000
  mv "$dir/log/app.log.1" "$dir/log/app.log.2"
  rotate_create 1
  check "writer still on the renamed file" wait_written "$(($(written) + 3 * PER))"
  reopen
  finish_case
  exactly_once
  ids_unique
}

# Without inotify (NFS): renamed and deleted files are noticed by the check
# each second, the new app.log at the next rescan.
case_poll() {
  new_case poll app.log 1s
  poll=1
  start_writer
  check "writing before the agent starts" wait_written 2000
  start_agent
  check "app.log followed" followed
  check "writing" wait_written 8000
  rotate_create 1
  reopen
  # Before the next rotation, the new app.log must have been found: a file
  # that comes and goes between two rescans is never seen.
  local n=$(($(written) + 2 * PER))
  check "writing to the new file" wait_written "$n"
  check "new file found" analyze --wait 30 --upto "$n"
  rm "$dir/log/app.log"
  check "writer still on the deleted file" wait_written "$(($(written) + 3 * PER))"
  reopen
  finish_case
  exactly_once
  ids_unique
}

# ---- 2. copytruncate ----------------------------------------------------------

copytruncate() { # copytruncate: logrotate's copytruncate; prints the lines
  local lo hi  # written meanwhile (may be lost) as LO:HI
  lo=$(written)
  cp "$dir/log/app.log" "$dir/log/app.log.1" && truncate -s0 "$dir/log/app.log"
  hi=$(($(written) + PER))
  echo "$lo:$hi"
}
case_copytruncate() {
  new_case copytruncate 'app.log*'
  start_agent
  start_writer
  check "app.log followed" followed
  check "writing" wait_written 8000
  local w1 w2
  w1=$(copytruncate)
  check "writing to the truncated file" wait_written 20000
  mv "$dir/log/app.log.1" "$dir/log/app.log.2"
  w2=$(copytruncate)
  local copies=("$dir/log/app.log.1" "$dir/log/app.log.2")
  finish_case --disk "$dir/log/app.log" "${copies[@]}" --copies "${copies[@]}" --windows "$w1" "$w2"
  echo "  $(stat_of disk_lost) lines on disk nowhere, written between a copy and its truncate"
  check "only lines written between copy and truncate are on disk nowhere" \
    is disk_lost_outside = 0
  check "a copy is not read again" is dup_other_id = 0
  check "never twice under one _id" is dup_same_id = 0
  check "at most a cut last line of a copy" is garbled -le 2
  check "no errors logged" no_errors_logged
  ids_unique
}

# ---- 3. delete and create ---------------------------------------------------

case_delete() {
  new_case delete app.log
  start_agent
  start_writer
  check "app.log followed" followed
  check "writing" wait_written 8000
  rm "$dir/log/app.log"
  reopen
  check "writing to the new file" wait_written 20000
  rm "$dir/log/app.log"
  check "writer still on the deleted file" wait_written "$(($(written) + 3 * PER))"
  reopen
  finish_case
  exactly_once
  ids_unique
}

# ---- 4. restart and crash -------------------------------------------------------

case_restart() {
  new_case restart app.log
  start_agent
  start_writer
  check "app.log followed" followed
  check "writing" wait_written 8000
  check "SIGTERM exits 0" stop_agent TERM
  analyze --snapshot "$dir/before_stop"
  check "each line once before the restart" is dup_same_id = 0
  start_agent
  check "writing" wait_written 20000
  { stop_agent KILL || true; } 2> /dev/null
  start_agent
  finish_case --before "$dir/before_stop"
  check "lines shipped before the clean stop never again" is dup_before = 0
  check "a line repeated only with its _id" is dup_other_id = 0
  echo "  $(stat_of dup_same_id) lines shipped again after SIGKILL, with their _id"
  echo "  $(crash_repairs) unfinished output writes cut off after SIGKILL"
  check "no warnings or errors logged (but a cut-off write)" no_warnings_logged_but_crash_repair
  # One content per path here; the restarts keep its content id.
  check "each _id names one line" is id_collisions = 0
  check "nothing lost in Elasticsearch (first _id wins)" is es_lost = 0
}

# A crash, then a rotation before the agent is back, paths 'app.log*': the
# renamed file is resumed from the registry under its new name, with its
# content id. The lines read after the last registry checkpoint come again,
# with the _id they had (it is made from the content id, not the path): one
# document each in Elasticsearch. With paths 'app.log' alone the renamed
# file is found again by its inode (tests/integration/tail_recovery.sh).
case_crash_rotate() {
  new_case crash_rotate 'app.log*'
  start_agent
  start_writer
  check "app.log followed" followed
  check "writing" wait_written 12000
  { stop_agent KILL || true; } 2> /dev/null
  rotate_create 1
  reopen
  check "writing to the new file" wait_written 20000
  start_agent
  finish_case
  check "a line repeated only with its _id" is dup_other_id = 0
  echo "  $(stat_of dup_same_id) lines shipped again after SIGKILL, with their _id"
  echo "  $(crash_repairs) unfinished output writes cut off after SIGKILL"
  check "no warnings or errors logged (but a cut-off write)" no_warnings_logged_but_crash_repair
  ids_unique
}

all_cases="rename rename_glob poll copytruncate delete restart crash_rotate"
for c in ${LF_ROTATION_CASES:-$all_cases}; do
  "case_$c"
done

echo "tail_rotation: $failures failed"
test "$failures" = 0
