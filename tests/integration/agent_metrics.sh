#!/usr/bin/env bash
# logferry agent with `inputs.metrics.sets: all` and the file output: every
# metric set arrives (cpu and process from their second sample on) with
# Metricbeat's envelope, documents of one sample have distinct ids, and every
# field the documents hold is in the index template the agent installs, with
# a type that fits its value.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
tmp=$(mktemp -d)
agent_pid=
cleanup() {
  if [ -n "$agent_pid" ]; then kill -9 "$agent_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
cat > "$tmp/agent.yml" <<YML
agent:
  data_dir: $tmp/data
  shutdown_timeout: 5s
inputs:
  metrics:
    interval: 200ms
    sets: all
    top_processes: 2
output:
  type: file
  batch_max_age: 50ms
  file:
    dir: $tmp/out
YML
"$LOGFERRY" check -c "$tmp/agent.yml" > /dev/null
"$LOGFERRY" check -c "$tmp/agent.yml" --print-template metrics > "$tmp/template.json"

sets_seen() {
  cat "$tmp"/out/*.ndjson 2>/dev/null | grep -o '"metricset":{"name":"[a-z_]*"' | sort -u | wc -l
}
wait_for_sets() { # up to 30 s for all 10 sets
  local deadline=$((SECONDS + 30))
  while [ "$(sets_seen)" -lt 10 ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  [ "$(sets_seen)" -ge 10 ]
}
"$LOGFERRY" agent -c "$tmp/agent.yml" 2>> "$tmp/agent.log" &
agent_pid=$!
check "all 10 metric sets arrive" wait_for_sets
kill -TERM "$agent_pid"
rc=0
wait "$agent_pid" || rc=$?
agent_pid=
check "SIGTERM exits 0" test "$rc" = 0
check "no sampler error logged" sh -c "! grep -q ' error ' '$tmp/agent.log'"

cat "$tmp"/out/*.ndjson > "$tmp/all.ndjson"
check "envelope, ids and template types" /usr/bin/python3 - "$tmp/all.ndjson" "$tmp/template.json" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
tmpl = json.load(open(sys.argv[2]))
props = tmpl["template"]["mappings"]["properties"]
def mapping(path):
    node = {"properties": props}
    for part in path.split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            return None
    return node
def leaves(obj, prefix=""):
    for k, v in obj.items():
        p = prefix + k
        if isinstance(v, dict):
            yield from leaves(v, p + ".")
        else:
            yield p, v
fits = {int: {"long", "scaled_float", "half_float", "double"},
        float: {"scaled_float", "half_float", "double"},
        str: {"keyword", "text", "date"}}
bad, ids, sets = [], set(), {}
for action, doc in zip(lines[0::2], lines[1::2]):
    meta = json.loads(action)["create"]
    d = json.loads(doc)
    ms = d.get("metricset", {}).get("name")
    if not ms:
        continue
    sets[ms] = sets.get(ms, 0) + 1
    for f, want in (("event.module", "system"), ("service.type", "system"),
                    ("ecs.version", "8.0.0"), ("host.os.type", "linux")):
        got = d
        for part in f.split("."):
            got = got.get(part, {}) if isinstance(got, dict) else {}
        if got != want:
            bad.append(f"{ms}: {f} is {got!r}")
    if d["metricset"].get("period") != 200:
        bad.append(f"{ms}: metricset.period {d['metricset'].get('period')}")
    if not isinstance(d["event"].get("duration"), int) or d["event"]["duration"] <= 0:
        bad.append(f"{ms}: event.duration {d['event'].get('duration')}")
    if not d["event"]["dataset"].startswith("system."):
        bad.append(f"{ms}: event.dataset {d['event']['dataset']}")
    if not d["host"].get("hostname") or not d["host"].get("architecture"):
        bad.append(f"{ms}: host.hostname/architecture missing")
    if meta["_id"] in ids:
        bad.append(f"{ms}: _id {meta['_id']} twice")
    ids.add(meta["_id"])
    for path, value in leaves(d):
        m = mapping(path)
        if m is None:
            bad.append(f"{path} is not in the template")
        elif type(value) in fits and m["type"] not in fits[type(value)]:
            bad.append(f"{path}={value!r} is mapped as {m['type']}")
        if m and m["type"] == "scaled_float" and m.get("scaling_factor") != 1000:
            bad.append(f"{path}: scaled_float without scaling_factor 1000")
for s in ("network", "filesystem", "process"):
    if sets.get(s, 0) < 1:
        bad.append(f"no {s} documents")
for b in sorted(set(bad))[:30]:
    print("   ", b)
sys.exit(1 if bad else 0)
PY

echo "$failures failed"
test "$failures" = 0
