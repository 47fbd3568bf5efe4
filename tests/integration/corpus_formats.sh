#!/usr/bin/env bash
# Every line format of the benchmark corpus generator parses, with the right
# fields and types: SYSLOGLINE / SYSLOG5424LINE / SYSLOGOPSLINE on their
# format, and the all-in-one LOGFERRY_SYSLOG on all three.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
gen=${LF_CORPUS_GEN:-$LF_SOURCE_DIR/../shared/bench/gen_corpus.py}
if [ ! -f "$gen" ]; then
  echo "skipped: no corpus generator at $gen"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=20000
for format in file rfc5424 ops; do
  /usr/bin/python3 "$gen" -n "$n" --format "$format" -o "$tmp/$format.log"
done

check() { # check FORMAT EXPR: every line matched, fields typed as expected
  local format=$1 expr=$2
  "$LOGFERRY" grok -e "$expr" < "$tmp/$format.log" > "$tmp/out.json"
  /usr/bin/python3 - "$tmp/out.json" "$n" "$format" "$expr" <<'PY'
import json, sys
path, n, fmt, expr = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
full = "LOGFERRY" in expr
events = [json.loads(l) for l in open(path)]
assert len(events) == n, f"{len(events)} events for {n} lines"
kinds = {}
for e in events:
    assert "tags" not in e, f"tagged {e['tags']}: {e['message']}"
    assert isinstance(e["host"]["hostname"], str)
    assert isinstance(e["process"]["name"], str)
    if fmt != "ops":
        assert "timestamp" in e
    pid = e["process"].get("pid")
    assert pid is None or isinstance(pid, int), pid
    msg = e["message"]
    name = e["process"]["name"]
    if not full:
        continue
    # The message-specific fields, by what the generator wrote.
    if msg.startswith(("LoadAverage:", "MemoryUsedPct:", "SwapUsedPct:")):
        kind = "metric"
        assert e["metric"]["name"] == msg.split(":")[0]
        assert isinstance(e["metric"]["value"], float), e["metric"]
    elif name == "sshd":
        kind = "sshd"
        assert isinstance(e["user"]["name"], str), e
        if not msg.startswith("pam_unix"):
            assert isinstance(e["source"]["port"], int), e
    elif name == "CRON":
        kind = "cron"
        assert e["process"]["command_line"].startswith("run-parts"), e
    elif name == "postfix/smtp":
        kind = "postfix"
        assert e["postfix"]["status"] == "sent" and isinstance(e["postfix"]["delay"], float), e
    elif name == "nginx":
        kind = "nginx"
        assert isinstance(e["http"]["response"]["status_code"], int), e
        assert isinstance(e["http"]["response"]["body"]["bytes"], int), e
        assert e["http"]["request"]["method"] in ("GET", "POST"), e
    elif name == "kernel":
        kind = "kernel"
        assert isinstance(e["kernel"]["uptime"], float), e
    else:
        kind = "other"
    kinds[kind] = kinds.get(kind, 0) + 1
print(f"{fmt:8} {expr:20} {n} lines, all parsed {dict(sorted(kinds.items()))}")
if full:
    for k in ("metric", "sshd", "cron", "postfix", "nginx", "kernel"):
        assert kinds.get(k), f"no {k} lines recognised"
PY
}
check file '%{SYSLOGLINE}'
check rfc5424 '%{SYSLOG5424LINE}'
check ops '%{SYSLOGOPSLINE}'
for format in file rfc5424 ops; do
  check "$format" '%{LOGFERRY_SYSLOG}'
done
echo "corpus formats: 6 passed, 0 failed"
