#!/usr/bin/env bash
# JSON lines through the agent into the file output (docs/JSONLINES.md):
# application logs (ECS-style, nested, arrays, escapes), nginx access lines
# from a `escape=json` log_format, and Docker json-file lines with a grammar
# on the message, plus lines that are not JSON objects. Every line arrives
# once; decoded lines have their typed fields and event time; failures are
# the line itself, tagged; keys the agent owns are moved under json.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
# shellcheck source=lib.bash
. "$LF_SOURCE_DIR/tests/integration/lib.bash"
tmp=$(mktemp -d)
agent_pid=
cleanup() {
  if [ -n "$agent_pid" ]; then kill -9 "$agent_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
data="$LF_SOURCE_DIR/tests/data/jsonlines"
mkdir -p "$tmp/log"
cat > "$tmp/agent.yml" <<YML
agent:
  name: jl-host
  data_dir: $tmp/data
  timezone: UTC
  shutdown_timeout: 5s
grammars:
  app_level:
    expressions: ['^%{LOGLEVEL:log.level} %{GREEDYDATA:message}$']
inputs:
  metrics:
    enabled: false
  files:
    - paths: ['$tmp/log/app.log']
      index: app
      start_at: beginning
      json:
        enabled: true
    - paths: ['$tmp/log/nginx.log']
      index: nginx
      start_at: beginning
      json: {enabled: true, timestamp_key: time_iso8601, message_fallback: none}
    - paths: ['$tmp/log/*-json.log']
      index: docker
      grammar: app_level
      start_at: beginning
      json: {enabled: true, message_key: log, timestamp_key: time, apply_grammar: true}
output:
  type: file
  batch_max_age: 50ms
  file:
    dir: $tmp/out
YML
check "config accepted" "$LOGFERRY" check -c "$tmp/agent.yml"
cp "$data/app.log" "$data/nginx.log" "$data/docker-json.log" "$tmp/log/"
total=$(cat "$tmp"/log/*.log | wc -l)
docs() { cat "$tmp"/out/*.ndjson 2>/dev/null | grep -c '"create"' || true; }
all_in() { [ "$(docs)" -ge "$total" ]; }

"$LOGFERRY" agent -c "$tmp/agent.yml" 2> "$tmp/agent.log" &
agent_pid=$!
check "all $total lines shipped" wait_until 30 all_in
kill -TERM "$agent_pid"
rc=0
wait "$agent_pid" || rc=$?
agent_pid=
check "SIGTERM exits 0" test "$rc" = 0
check "no errors logged" test -z "$(grep -E ' (error|warn) ' "$tmp/agent.log" || true)"

check "events as expected" /usr/bin/python3 - "$tmp" <<'PY'
import glob, json, os, sys
tmp = sys.argv[1]
docs = []
for path in sorted(glob.glob(f"{tmp}/out/*.ndjson")):
    lines = open(path, encoding="utf-8").read().splitlines()
    for action, doc in zip(lines[0::2], lines[1::2]):
        assert "create" in json.loads(action), action
        docs.append(json.loads(doc, object_pairs_hook=lambda kv: (
            len({k for k, _ in kv}) == len(kv) or sys.exit(f"duplicate key: {kv}")) and dict(kv)))
bad = []
def expect(cond, what):
    if not cond:
        bad.append(what)

def get(d, path):
    for part in path.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d

# every line once, by file and offset
by = {}
for d in docs:
    key = (d["log"]["file"]["path"], d["log"]["offset"])
    expect(key not in by, f"twice: {key}")
    by[key] = d
    # the envelope is the agent's, whatever the line said
    expect(d["host"]["name"] == "jl-host", f"host.name {key}")
    expect(d["agent"]["type"] == "logferry", f"agent.type {key}")
    expect("_id" not in d and "_source" not in d, f"metadata field at the root {key}")
    expect(isinstance(d["@timestamp"], str) and d["@timestamp"].endswith("Z"), f"@timestamp {key}")
lines = {}
for name in ("app.log", "nginx.log", "docker-json.log"):
    path = f"{tmp}/log/{name}"
    off = 0
    with open(path, "rb") as f:
        for i, raw in enumerate(f):
            lines[(name, i)] = by.get((path, off))
            expect(lines[(name, i)] is not None, f"missing {name}:{i + 1}")
            off += len(raw)
expect(len(docs) == len(lines), f"{len(docs)} documents for {len(lines)} lines")
if bad:
    sys.exit("\n".join(bad))

def L(name, n):  # 1-based line number
    return lines[(name, n - 1)]
failed = lambda d: "_jsonparsefailure" in d.get("tags", [])

# application log: ECS-style keys, typed and nested
d = L("app.log", 1)
expect(d["message"] == "Server listening on :8080" and d["log"]["level"] == "info", "app 1 message")
expect(d["@timestamp"] == "2026-12-06T23:58:01.120Z", "app 1 time")
expect(d["process"]["pid"] == 4121 and d["service"]["name"] == "billing", "app 1 dotted keys")
expect(d["event"]["dataset"] == "json", "app 1 dataset is the agent's")
d = L("app.log", 2)
expect(d["db"]["pool"]["size"] == 20 and d["db"]["port"] == 5432, "app 2 numbers stay numbers")
d = L("app.log", 3)
expect(get(d, "http.response.status_code") == 200 and get(d, "http.response.body.bytes") == 1832, "app 3")
expect(get(d, "json.event.duration") == 12500000, "app 3 event.* moved")
d = L("app.log", 4)
expect(d["@timestamp"] == "2026-12-06T22:58:06.002Z", "app 4 zone")
expect(d["slow"] is True and d["query"]["ms"] == 812.4, "app 4 bool and float")
d = L("app.log", 5)
expect(d["error"]["stack_trace"].count("\n") == 2 and d["customer"]["vip"] is False, "app 5")
d = L("app.log", 6)
expect(get(d, "json.host") == "api.example.com" and get(d, "json.agent").startswith("Mozilla"), "app 6 moved")
expect(get(d, "client.ip") == "203.0.113.9", "app 6 client")
d = L("app.log", 7)
expect(get(d, "cache.sizes") == [128, 256, 512] and get(d, "cache.ratio") == 0.9707, "app 7 array")
expect(d["tags"] == ["cache", "metrics"], "app 7 tags merged")
d = L("app.log", 8)
expect(get(d, "json._id") == "6571f0c2e4b0a1", "app 8 _id moved")
expect(get(d, "json.event.dataset") == "billing.jobs" and d["event"]["dataset"] == "json", "app 8 event")
expect(get(d, "job.items") == [{"id": 1, "ok": True}, {"id": 2, "ok": False}], "app 8 objects in a list")
d = L("app.log", 9)
expect(d["message"] == "Benutzer angemeldet: J\u00fcrgen \u2013 caf\u00e9 \U0001F600", "app 9 unicode")
d = L("app.log", 10)
expect(d["last_error"] is None and d["meta"] == {} and d["attempt"] == 3, "app 10 null, {}")
d = L("app.log", 11)
expect(d["changed"] == ["limits.rate", "limits.burst"] and get(d, "log.logger") == "config", "app 11")
d = L("app.log", 12)
expect(d["message"] == 'quote "inside" and backslash \\ and tab\tend', "app 12 escapes")
d = L("app.log", 13)
expect(d["message"] == "no timestamp in this one" and d["count"] == 1, "app 13")
d = L("app.log", 14)
expect("_timestampparsefailure" in d["tags"] and get(d, "json.@timestamp") == "last tuesday", "app 14")
d = L("app.log", 15)
expect(d["@timestamp"] == "2026-12-07T00:00:00.000Z", "app 15 epoch seconds")
d = L("app.log", 16)
expect(d["message"] == "spaces around tokens" and d["n"] == 4, "app 16 whitespace")
d = L("app.log", 17)
expect(d["level"] == "warn", "app 17 last duplicate wins")
raw = open(f"{tmp}/log/app.log", encoding="utf-8").read().splitlines()
for n in range(18, 25):
    d = L("app.log", n)
    expect(failed(d) and d["message"] == raw[n - 1] and "at byte" in d["error"]["message"],
           f"app {n} shipped as text, tagged")
    expect(set(d) <= {"@timestamp", "agent", "event", "host", "log", "message", "tags", "error"},
           f"app {n}: only the line and the envelope")

# nginx escape=json
for n in range(1, 13):
    d = L("nginx.log", n)
    expect(not failed(d) and "message" not in d, f"nginx {n} decoded, no message")
    expect(isinstance(d["status"], int) and isinstance(d["body_bytes_sent"], int), f"nginx {n} types")
    expect(isinstance(d["request_time"], (int, float)), f"nginx {n} request_time")
    expect("time_iso8601" not in d, f"nginx {n} time read")
expect(L("nginx.log", 1)["@timestamp"] == "2026-12-06T23:59:00.000Z", "nginx 1 time")
expect(L("nginx.log", 4)["@timestamp"] == "2026-12-06T22:59:03.000Z", "nginx 4 zone")
expect(L("nginx.log", 4)["uri"] == '/search?q="quoted"&lang=de', "nginx 4 escapes")
expect(L("nginx.log", 7)["http_user_agent"] == "\x16\x03\x01", "nginx 7 control characters")
expect(get(L("nginx.log", 8), "json.host") == "app.internal", "nginx 8 host moved")
expect(L("nginx.log", 9)["body_bytes_sent"] == 104857600, "nginx 9 big number")

# Docker json-file, the grammar on the message
d = L("docker-json.log", 1)
expect(d["message"] == "Starting worker pool size=4" and get(d, "log.level") == "INFO", "docker 1")
expect(d["stream"] == "stdout" and d["@timestamp"] == "2026-12-06T23:57:00.000Z", "docker 1 time")
expect("time" not in d and "json" not in d, "docker 1 keys consumed")
expect(get(L("docker-json.log", 4), "log.level") == "ERROR" and L("docker-json.log", 4)["stream"] == "stderr", "docker 4")
d = L("docker-json.log", 5)
expect(d["message"] == "Traceback (most recent call last):" and "_grokparsefailure" in d["tags"], "docker 5 no level")
expect(d["@timestamp"] == "2026-12-06T23:57:35.000Z", "docker 5 time")
expect(get(L("docker-json.log", 8), "attrs.tag") == "worker", "docker 8 attrs")
expect(L("docker-json.log", 9)["message"] == "Received SIGTERM, draining", "docker 9 CRLF removed")
d = L("docker-json.log", 12)
expect(d["message"] == "last" and "_timestampparsefailure" in d["tags"] and d["time"] == "not-a-time", "docker 12")
d = L("docker-json.log", 13)
expect(failed(d) and d["message"].startswith('{"log":"INFO cut off"'), "docker 13 shipped as text")
if bad:
    sys.exit("\n".join(bad))
PY

# Bad json settings are refused where they are.
cat > "$tmp/bad.yml" <<YML
inputs:
  files:
    - paths: [/var/log/app.json]
      json:
        enabled: yes
        target: agent.x
        timestamp_format: iso
        max_depth: 0
YML
set +e
"$LOGFERRY" check -c "$tmp/bad.yml" > "$tmp/bad.err" 2>&1
rc=$?
set -e
check "bad json config refused" test "$rc" != 0
check "target named" grep -q "bad.yml:6:" "$tmp/bad.err"
check "format named" grep -q "bad.yml:7:" "$tmp/bad.err"
check "max_depth named" grep -q "bad.yml:8:" "$tmp/bad.err"

echo "agent_jsonlines: $failures failed"
test "$failures" = 0
