#!/usr/bin/env bash
# bench/jsonlines: what decoding JSON lines costs the agent. The same file of
# JSON lines (nginx escape=json access lines and application log lines,
# generated here, the same bytes every run) is tailed into the file output
# (fsync: never) twice: as plain text through a one-capture grammar
# (%{GREEDYDATA:message}: the line as the message, the least a grammar does)
# and with `json.enabled`. Prints CPU seconds per million lines, peak RSS and
# their ratio, from one run of each.
# Usage: bench/jsonlines/run.sh [LINES]
set -euo pipefail
cd "$(dirname "$0")/../.."
lines=${1:-500000}
scripts/build.sh build-bench -DCMAKE_BUILD_TYPE=Release -DLF_TESTS=OFF >/dev/null
bin=$PWD/build-bench/logferry
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/log"
python3 - "$lines" > "$work/log/app.json" <<'PY'
import json, random, sys
r = random.Random(7)
n = int(sys.argv[1])
uas = ["curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
       "kube-probe/1.28", "python-requests/2.31.0"]
for i in range(n):
    t = 1796601600 + i // 50
    ts = f"2026-12-07T{t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d}.{i % 1000:03d}Z"
    if i % 2:
        d = {"@timestamp": ts, "remote_addr": f"198.51.100.{i % 250}", "request_method": "GET",
             "uri": f"/api/items/{i % 977}?page={i % 7}", "status": r.choice([200, 200, 304, 404, 500]),
             "body_bytes_sent": r.randrange(50000), "request_time": round(r.random(), 3),
             "http_user_agent": r.choice(uas), "upstream": "unix:/run/app.sock"}
    else:
        d = {"@timestamp": ts, "log.level": r.choice(["info", "debug", "warn"]),
             "message": f"processed job {i} for customer {i % 313}", "service": {"name": "billing"},
             "job": {"id": i, "ms": round(r.random() * 100, 2), "ok": i % 17 != 0},
             "tags": ["worker"]}
    print(json.dumps(d, separators=(",", ":")))
PY
size=$(stat -c %s "$work/log/app.json")
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== $lines JSON lines, $size bytes"
offset() { grep -o '"offset":[0-9]*' "$work/data/registry.json" 2>/dev/null | cut -d: -f2 || echo 0; }
run() { # run NAME JSON_ENABLED
  rm -rf "$work/data" "$work/out"
  cat > "$work/agent.yml" <<YML
agent:
  data_dir: $work/data
  status_listen: "off"
grammars:
  line:
    expressions: ['%{GREEDYDATA:message}']
inputs:
  metrics:
    enabled: false
  files:
    - paths: [$work/log/app.json]
      grammar: line
      start_at: beginning
      json: {enabled: $2}
output:
  type: file
  file:
    dir: $work/out
    fsync: never
YML
  /usr/bin/time -f "%U %S %M" -o "$work/time" "$bin" agent -c "$work/agent.yml" 2> "$work/agent.log" &
  pid=$!
  local deadline=$((SECONDS + 600))
  while [ "$(offset)" != "$size" ] && [ $SECONDS -lt $deadline ]; do
    sleep 0.05
    kill -0 "$pid" 2>/dev/null || { echo "agent died:"; cat "$work/agent.log"; exit 1; }
  done
  kill -TERM "$(pgrep -P "$pid")"
  wait "$pid" || true
  pid=
  read -r user sys rss < "$work/time"
  local docs
  docs=$(cat "$work"/out/*.ndjson | grep -c '"create"')
  [ "$docs" -ge "$lines" ] || { echo "$1: only $docs documents"; exit 1; }
  awk -v n="$lines" -v u="$user" -v s="$sys" -v rss="$rss" -v name="$1" 'BEGIN {
    printf "%-28s CPU %.2f s (user %.2f + sys %.2f) = %.2f CPU-s per million lines, peak RSS %.1f MB\n",
      name, u + s, u, s, (u + s) * 1e6 / n, rss / 1024 }' | tee -a "$work/results"
}
run "plain (GREEDYDATA)" false
run "json.enabled" true
awk '/CPU-s per million/ { for (i = 1; i <= NF; i++) if ($i == "CPU-s") v[NR] = $(i - 1) }
     END { printf "json / plain CPU per line: %.2f\n", v[2] / v[1] }' "$work/results"
