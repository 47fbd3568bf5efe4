#!/usr/bin/env bash
# bench/es: what the agent costs in front of Elasticsearch.
#   tail -> SYSLOGLINE grammar -> _bulk create into daily indices (libcurl)
#   -> bench/sink/es_sink.c, a small C stand-in for Elasticsearch 8 that
#   answers one item per action and keeps only counts,
# over the 1M-line corpus, ROUNDS times without gzip and ROUNDS times with
# `gzip: true`, interleaved (LF_BENCH_COMPARE=1: the default configuration
# against SYSLOGLINE only, and the ratio of their CPU per line). Per run: lines/s, the agent's CPU seconds per
# million lines (user + sys from /proc/PID/stat when the sink has the last
# document), peak RSS (VmHWM), body bytes as the sink received them. Then
# min/median, the byte ratio and CPU cost of gzip, and ratios against Fluent
# Bit's figures on this machine and against our targets.
#
# Every run is also checked: the sink counted one document per corpus line,
# the documents per daily index (syslog-YYYY.MM.DD, from the corpus's dates
# with the agent's year rule) are right, no _id came twice (--check-ids),
# every source is valid JSON (--check-docs), no item failed, and the agent
# neither spooled, retried nor dead-lettered anything.
#
# Builds nothing: it uses a release build directory (LF_BENCH_BUILD or the
# third argument; default build-bench), made with
#   scripts/build.sh build-bench -DCMAKE_BUILD_TYPE=Release -DLF_TESTS=OFF
# Usage: bench/es/run.sh [LINES] [ROUNDS] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
lines=${1:-1000000}
rounds=${2:-3}
build=${3:-${LF_BENCH_BUILD:-build-bench}}
# Our figures are over bench/gen_corpus.py's corpus. LF_CORPUS_GEN may name
# another generator with the same flags, for a comparison; the corpus file
# is named after the generator's checksum, so one is never taken for another.
gen=${LF_CORPUS_GEN:-bench/gen_corpus.py}
bin=$PWD/$build/logferry
sink=$PWD/$build/bench/lf_es_sink

# Fluent Bit on this machine and kind of sink (tail -> regex parse -> _bulk
# with create, daily indices; it judges only the whole request), measured on
# the corpus of its own run: an outside figure may come from any corpus,
# ours come from bench/gen_corpus.py.
fb_lps=310000 fb_cpu=3.5 fb_rss=155
# Ours, while judging every item.
target_cpu=1.0 target_rss=32

if [ ! -x "$bin" ] || [ ! -x "$sink" ] ||
  ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "bench/es: no release build with logferry and lf_es_sink in $build; make one with" >&2
  echo "  scripts/build.sh $build -DCMAKE_BUILD_TYPE=Release -DLF_TESTS=OFF" >&2
  echo "(or cmake -S . -B $build -DCMAKE_BUILD_TYPE=Release && cmake --build $build)" >&2
  exit 2
fi
mkdir -p bench/out
corpus=bench/out/corpus-$lines-$(cksum < "$gen" | cut -d" " -f1).log
[ -s "$corpus" ] || python3 "$gen" -n "$lines" -o "$corpus"

work=$(mktemp -d)
sink_pid="" time_pid=""
cleanup() {
  # Only what this script started, by PID.
  if [ -n "$time_pid" ]; then
    kill -TERM "$(pgrep -P "$time_pid" 2>/dev/null || echo "$time_pid")" 2>/dev/null || true
  fi
  if [ -n "$sink_pid" ]; then kill -TERM "$sink_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/log"
cp "$corpus" "$work/log/corpus.log"
clk_tck=$(getconf CLK_TCK)
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $build/logferry, $lines lines ($(stat -c %s "$work/log/corpus.log") bytes), $rounds rounds each"

# The documents each daily index should get: the corpus's syslog dates (UTC)
# with the year rule of grammars/parser.c (this year, unless that puts the
# line more than 31 days ahead).
python3 - "$work/log/corpus.log" > "$work/expected.json" <<'PY'
import calendar, collections, json, sys, time
months = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
stamps = collections.Counter()
with open(sys.argv[1], "rb") as f:
    for line in f:
        stamps[line[:15]] += 1
now = time.time()
year = time.gmtime(now).tm_year
out = collections.Counter()
for k, n in stamps.items():
    k = k.decode()
    mon, day = months[k[:3]], int(k[4:6])
    hh, mm, ss = (int(x) for x in k[7:15].split(":"))
    for y in (year, year - 1):
        t = calendar.timegm((y, mon, day, hh, mm, ss))
        if t <= now + 31 * 86400:
            break
    d = time.gmtime(t)
    out["syslog-%04d.%02d.%02d" % (d.tm_year, d.tm_mon, d.tm_mday)] += n
json.dump(dict(sorted(out.items())), sys.stdout)
PY
echo "== expected documents per index: $(cat "$work/expected.json")"

# wait_for FILE SECONDS PID: until FILE exists, PID is alive and time is left.
wait_for() {
  local file=$1 deadline=$(($(date +%s) + $2)) pid=$3
  while [ ! -s "$file" ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.02
  done
}

# The grammar: SYSLOGLINE, or LF_BENCH_EXPR (e.g. '%{LOGFERRY_SYSLOG}', the
# built-in default, to measure what the default configuration costs).
expr='%{SYSLOGLINE}'
[ -n "${LF_BENCH_EXPR:-}" ] && expr=$LF_BENCH_EXPR
# LF_BENCH_COMPARE=1: instead of gzip against no gzip, the default
# configuration (no grammars section: the built-in syslog grammar, by path,
# header and program) against SYSLOGLINE only, both without gzip,
# interleaved, and the ratio of their CPU per line.
compare=${LF_BENCH_COMPARE:-}

# grammar_section GRAMMAR: the config's grammars section ("default": none).
grammar_section() {
  [ "$1" = default ] && return
  printf 'grammars:\n  syslog:\n    expressions: [%s]\n' "'$1'"
}

# run GZIP ROUND [GRAMMAR]: one measured run; appends a result line to
# $work/results. GRAMMAR: an expression, or "default"; $expr if not given.
run() {
  local gzip=$1 round=$2 grammar=${3:-$expr} d
  d=$work/run-$1-$2-$([ "${3:-}" = default ] && echo default || echo expr)
  mkdir -p "$d"
  "$sink" --port-file "$d/port" --check-ids --check-docs --expect-docs "$lines" \
    --done-file "$d/done.json" > "$d/sink.json" 2> "$d/sink.log" &
  sink_pid=$!
  wait_for "$d/port" 10 "$sink_pid" || { echo "sink did not start:"; cat "$d/sink.log"; exit 1; }
  cat > "$d/es.yml" <<YML
agent:
  data_dir: $d/data
  timezone: UTC
$(grammar_section "$grammar")
inputs:
  metrics:
    enabled: false
  files:
    - paths: [$work/log/corpus.log]
      start_at: beginning
output:
  type: elasticsearch
  elasticsearch:
    hosts: [http://127.0.0.1:$(cat "$d/port")]
    gzip: $gzip
YML
  local start agent="" ticks hwm
  start=$(date +%s.%N)
  /usr/bin/time -f "%e %U %S %M" -o "$d/time" "$bin" agent -c "$d/es.yml" 2> "$d/agent.log" &
  time_pid=$!
  while [ -z "$agent" ]; do
    sleep 0.01
    agent=$(pgrep -P "$time_pid" || true)
    kill -0 "$time_pid" 2>/dev/null || { echo "agent died:"; cat "$d/agent.log"; exit 1; }
  done
  if ! wait_for "$d/done.json" 900 "$agent"; then
    echo "the sink never counted $lines documents; agent log:"
    tail -20 "$d/agent.log"
    curl -s "http://127.0.0.1:$(cat "$d/port")/_sink/stats" || true
    exit 1
  fi
  # The agent's CPU and peak RSS the moment the last document is in.
  ticks=$(awk '{print $14 + $15}' "/proc/$agent/stat")
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$agent/status")
  kill -TERM "$agent" # the agent, not /usr/bin/time, which would die silently
  wait "$time_pid" || true
  time_pid=""
  kill -TERM "$sink_pid"
  wait "$sink_pid" || true
  sink_pid=""
  local counters
  counters=$(grep -o 'output elasticsearch: .*' "$d/agent.log" | tail -1)
  python3 - "$d" "$work/expected.json" "$lines" "$gzip" "$round" "$start" "$ticks" "$clk_tck" \
    "$hwm" "$counters" "$grammar" >> "$work/results" <<'PY'
import json, os, sys
d, expected_path, lines, gz, rnd, start, ticks, tck, hwm, counters, grammar = sys.argv[1:]
lines = int(lines)
done = json.load(open(os.path.join(d, "done.json")))
final = json.load(open(os.path.join(d, "sink.json")))
expected = json.load(open(expected_path))
wall_e, user_e, sys_e, rss_e = open(os.path.join(d, "time")).read().split()
problems = []
def check(ok, what):
    if not ok:
        problems.append(what)
check(final["docs"] == lines, "sink counted %d documents, corpus has %d lines" % (final["docs"], lines))
check(final["indices"] == expected, "documents per index %s, expected %s" % (final["indices"], expected))
check(final["duplicates"] == 0, "%d duplicate _ids" % final["duplicates"])
check(final["ids"]["unique"] == lines, "%d unique _ids" % final["ids"]["unique"])
check(final["item_errors"] == 0 and final["bad_requests"] == 0,
      "%d failed items, %d bad requests" % (final["item_errors"], final["bad_requests"]))
check(final["gzip_requests"] == (final["bulk_requests"] if gz == "true" else 0),
      "%d of %d bulk requests gzipped" % (final["gzip_requests"], final["bulk_requests"]))
c = dict(zip(counters.split()[2::2], counters.split()[3::2])) if counters else {}
check(c.get("spooled") == "0" and c.get("retried") == "0" and c.get("failed") == "0",
      "agent counters: %s" % (counters or "missing"))
dead = os.path.join(d, "data", "dead-letter.ndjson")
check(not os.path.exists(dead) or os.path.getsize(dead) == 0, "dead letters written")
wall = done["done_at"] - float(start)
# The last bulk request carries the last, partial batch, which waited for
# output.batch_max_age (1 s): the rate before it is the steady one.
before = done["before_last"]
steady = before["docs"] / (before["at"] - float(start)) if before["docs"] else lines / wall
cpu = int(ticks) / int(tck)
print(json.dumps({
    "gzip": gz == "true", "grammar": grammar, "round": int(rnd), "wall": wall, "lps": lines / wall,
    "steady_lps": steady, "tail_wait": done["done_at"] - before["at"],
    "cpu": cpu, "cpu_per_m": cpu * 1e6 / lines, "rss_mb": int(hwm) / 1024,
    "cpu_exit": float(user_e) + float(sys_e), "rss_exit_mb": int(rss_e) / 1024,
    "body_bytes": final["body_bytes"], "decoded_bytes": final["decoded_bytes"],
    "bulk_requests": final["bulk_requests"], "sink_cpu": final["cpu_s"],
    "problems": problems}))
PY
  tail -1 "$work/results" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print("%-8s round %d: %7.0f lines/s (%.2f s, of which %.2f s for the last partial batch; steady %.0f lines/s), agent CPU %.2f s = %.2f CPU-s/M lines (%.2f s at exit), "
      "peak RSS %.1f MB, %d bulk requests, %.1f MB body sent (%.1f MB decoded), sink CPU %.2f s%s" % (
      ("gzip" if r["gzip"] else "no gzip") + ("" if r["grammar"] == "%{SYSLOGLINE}" else ", " + r["grammar"]),
      r["round"], r["lps"], r["wall"], r["tail_wait"], r["steady_lps"], r["cpu"], r["cpu_per_m"],
      r["cpu_exit"], r["rss_mb"], r["bulk_requests"], r["body_bytes"] / 1e6, r["decoded_bytes"] / 1e6,
      r["sink_cpu"], "" if not r["problems"] else "\n  CHECK FAILED: " + "; ".join(r["problems"])))'
}

if [ -n "$compare" ]; then
  for round in $(seq 1 "$rounds"); do
    run false "$round" '%{SYSLOGLINE}'
    run false "$round" default
  done
  python3 - "$work/results" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def med(g, k):
    return statistics.median(r[k] for r in runs if r["grammar"] == g)
def span(g, k):
    v = sorted(r[k] for r in runs if r["grammar"] == g)
    return "%.2f / %.2f / %.2f" % (v[0], statistics.median(v), v[-1])
sl, df = "%{SYSLOGLINE}", "default"
rounds = sorted({r["round"] for r in runs})
per = [next(r for r in runs if r["grammar"] == df and r["round"] == n)["cpu_per_m"] /
       next(r for r in runs if r["grammar"] == sl and r["round"] == n)["cpu_per_m"] for n in rounds]
print("== SYSLOGLINE only, %d runs: %s CPU-s per million lines (min / median / max), body %.1f MB"
      % (len(rounds), span(sl, "cpu_per_m"), med(sl, "body_bytes") / 1e6))
print("== default grammar, %d runs: %s CPU-s per million lines (min / median / max), body %.1f MB"
      % (len(rounds), span(df, "cpu_per_m"), med(df, "body_bytes") / 1e6))
print("== default / SYSLOGLINE-only CPU per line: %.2f (medians %.2f / %.2f; per round %s; "
      "target <= 1.2)" % (med(df, "cpu_per_m") / med(sl, "cpu_per_m"), med(df, "cpu_per_m"),
      med(sl, "cpu_per_m"), " ".join("%.2f" % x for x in per)))
if any(r["problems"] for r in runs):
    print("== CORRECTNESS: a run failed a check (see above)")
    sys.exit(1)
PY
  exit
fi
for round in $(seq 1 "$rounds"); do
  run false "$round"
  run true "$round"
done

python3 - "$work/results" "$lines" "$fb_lps" "$fb_cpu" "$fb_rss" "$target_cpu" "$target_rss" <<'PY'
import json, statistics, sys
path, lines, fb_lps, fb_cpu, fb_rss, t_cpu, t_rss = sys.argv[1:]
runs = [json.loads(l) for l in open(path)]
fb_lps, fb_cpu, fb_rss, t_cpu, t_rss = map(float, (fb_lps, fb_cpu, fb_rss, t_cpu, t_rss))
failed = [r for r in runs if r["problems"]]
def summary(gz):
    rs = [r for r in runs if r["gzip"] == gz]
    s = {}
    for k in ("lps", "steady_lps", "cpu_per_m", "rss_mb", "body_bytes"):
        v = sorted(r[k] for r in rs)
        s[k] = (v[0], statistics.median(v), v[-1])
    return s
plain, gz = summary(False), summary(True)
for name, s in (("no gzip", plain), ("gzip", gz)):
    print("== %s, %d runs (min / median / max): %.0f / %.0f / %.0f lines/s (steady %.0f / %.0f / "
          "%.0f); %.2f / %.2f / %.2f CPU-s per million lines; peak RSS %.1f / %.1f / %.1f MB; "
          "body %.1f / %.1f / %.1f MB" % (
          name, len([r for r in runs if r["gzip"] == (name == "gzip")]), *s["lps"],
          *s["steady_lps"], *s["cpu_per_m"], *s["rss_mb"], *(b / 1e6 for b in s["body_bytes"])))
ratio = gz["body_bytes"][1] / plain["body_bytes"][1]
extra = gz["cpu_per_m"][1] - plain["cpu_per_m"][1]
print("== gzip: %.3f of the bytes (%.1fx smaller), +%.2f CPU-s per million lines (%+.0f%%) and "
      "%.0f%% of the throughput (medians)" % (ratio, 1 / ratio, extra,
      100 * extra / plain["cpu_per_m"][1], 100 * gz["lps"][1] / plain["lps"][1]))
for name, s in (("no gzip", plain), ("gzip", gz)):
    lps, cpu, rss = s["lps"][1], s["cpu_per_m"][1], s["rss_mb"][1]
    print("== %s vs Fluent Bit (%.0f lines/s, %.1f CPU-s/M, %.0f MB, whole-request verdicts): "
          "%.2fx the throughput (steady: %.2fx), %.1fx less CPU per line, %.1fx less memory" % (
          name, fb_lps, fb_cpu, fb_rss, lps / fb_lps, s["steady_lps"][1] / fb_lps, fb_cpu / cpu,
          fb_rss / rss))
    print("== %s vs targets (<= %.1f CPU-s/M, <= %.0f MB, every item judged): CPU %.2f = %.0f%% "
          "of target (%s), RSS %.1f MB = %.0f%% of target (%s)" % (
          name, t_cpu, t_rss, cpu, 100 * cpu / t_cpu, "met" if cpu <= t_cpu else "MISSED",
          rss, 100 * rss / t_rss, "met" if rss <= t_rss else "MISSED"))
if failed:
    print("== CORRECTNESS: %d of %d runs failed a check (see above)" % (len(failed), len(runs)))
    sys.exit(1)
print("== correctness: every run: %d documents, per-index counts right, no duplicate _id, "
      "valid JSON sources, no failed item, nothing spooled, retried or dead-lettered" % int(lines))
PY
