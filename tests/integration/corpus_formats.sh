#!/usr/bin/env bash
# Every line format of the benchmark corpus generator parses, with the right
# fields and types: SYSLOGLINE / SYSLOG5424LINE / SYSLOGOPSLINE on their
# format, and the all-in-one LOGFERRY_SYSLOG on all three.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
gen=$LF_SOURCE_DIR/bench/gen_corpus.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=20000
for format in file rfc5424 ops; do
  /usr/bin/python3 "$gen" -n "$n" --format "$format" -o "$tmp/$format.log" > "$tmp/stdout"
  if [ -s "$tmp/stdout" ]; then echo "the generator wrote to stdout with -o"; exit 1; fi
done
# The same seed gives the same bytes, to a file or to stdout; another seed
# other bytes.
/usr/bin/python3 "$gen" -n "$n" --format file > "$tmp/again.log"
cmp "$tmp/file.log" "$tmp/again.log"
/usr/bin/python3 "$gen" -n "$n" --seed 7 -o "$tmp/seed7.log"
if cmp -s "$tmp/file.log" "$tmp/seed7.log"; then echo "--seed makes no difference"; exit 1; fi

check() { # check FORMAT EXPR: every line matched, fields typed as expected
  local format=$1 expr=$2
  "$LOGFERRY" grok -e "$expr" < "$tmp/$format.log" > "$tmp/out.json"
  /usr/bin/python3 - "$tmp/out.json" "$tmp/$format.log" "$n" "$format" "$expr" <<'PY'
import json, re, sys
path, corpus, n, fmt, expr = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
full = "LOGFERRY" in expr
events = [json.loads(l) for l in open(path)]
lines = open(corpus).read().split("\n")[:-1]
assert len(lines) == n, f"{len(lines)} lines in the corpus, not {n}"
assert len(events) == n, f"{len(events)} events for {n} lines"
# Each format's header, read here without the grammar.
HEADER = {
    "file": r"(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (?P<host>\S+) (?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: +(?P<msg>.*)",
    "rfc5424": r"<(?P<pri>\d+)>1 (?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00) (?P<host>\S+) (?P<prog>\S+) (?:-|(?P<pid>\d+)) - - +(?P<msg>.*)",
    "ops": r"(?P<host>\S+) ops (?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: +(?P<msg>.*)",
}[fmt]

def get(e, path):
    for k in path.split("."):
        if not isinstance(e, dict) or k not in e:
            return None
        e = e[k]
    return e

def same(e, path, want):
    got = get(e, path)
    assert got == want and type(got) is type(want), f"{path} is {got!r}, want {want!r}: {e['message']}"

def sshd_fields(e, msg):
    # sshd's own lines all name the peer; those about a user name it.
    same(e, "system.auth.ssh.event", re.match(r"Accepted|Failed|Invalid|Connection closed|Connection reset|Disconnected|Received disconnect", msg).group())
    peer = re.search(r" ([0-9a-f.:]+) port (\d+)", msg)
    same(e, "source.ip", peer.group(1))
    same(e, "source.port", int(peer.group(2)))
    user = re.search(r"(?:for (?:invalid user )?|user )(\S+) (?:from )?[0-9a-f.:]+ port", msg)
    if user:
        same(e, "user.name", user.group(1))
    else:
        assert get(e, "user") is None, e
    if msg.startswith("Accepted publickey"):
        same(e, "system.auth.ssh.signature", msg.split("ssh2: ")[1])

def pam_fields(e, msg, prog):
    m = re.match(r"pam_unix\(([\w-]+):(\w+)\): ", msg)
    same(e, "system.auth.pam.module", "pam_unix")
    same(e, "system.auth.pam.origin", m.group(1) + ":" + m.group(2))
    assert m.group(1) == prog.lower(), msg
    s = re.match(r"session (opened|closed) for user (\w+)(?:\(uid=(\d+)\))?", msg[m.end():])
    if s:
        same(e, "system.auth.pam.session_state", s.group(1))
        same(e, "user.name", s.group(2))
        if s.group(3):
            same(e, "user.id", s.group(3))
        return
    a = re.fullmatch(r"authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=(\S+)(?:  user=(\w+))?", msg[m.end():])
    same(e, "event.action", "authentication failure")
    same(e, "source.address", a.group(1))
    if a.group(2):
        same(e, "user.name", a.group(2))

def postfix_fields(e, msg):
    if msg.startswith(("connect from", "disconnect from")):
        c = re.match(r"(?:dis)?connect from ([^\[]+)\[([^\]]+)\]", msg)
        same(e, "postfix.client.hostname", c.group(1))
        same(e, "postfix.client.ip", c.group(2))
        return
    qid = msg.split(":")[0]
    same(e, "postfix.queueid", qid)
    rest = msg[len(qid) + 2:]
    if rest.startswith("to=<"):
        d = re.match(r"to=<([^>]*)>, relay=([^,\[]+)(?:\[([^\]]+)\]:(\d+))?, delay=([\d.]+), delays=([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+), dsn=([\d.]+), status=(\w+) \((.*)\)$", rest)
        same(e, "postfix.to", d.group(1))
        same(e, "postfix.relay.hostname", d.group(2))
        if d.group(3):
            same(e, "postfix.relay.ip", d.group(3))
            same(e, "postfix.relay.port", int(d.group(4)))
        same(e, "postfix.delay", float(d.group(5)))
        for i, part in enumerate(("before_qmgr", "in_qmgr", "conn_setup", "transmission")):
            same(e, "postfix.delays." + part, float(d.group(6 + i)))
        same(e, "postfix.dsn", d.group(10))
        same(e, "postfix.status", d.group(11))
        same(e, "postfix.response", d.group(12))
    elif rest.startswith("from=<"):
        q = re.match(r"from=<([^>]*)>, size=(\d+), nrcpt=(\d+) \(queue active\)$", rest)
        same(e, "postfix.from", q.group(1))
        same(e, "postfix.size", int(q.group(2)))
        same(e, "postfix.nrcpt", int(q.group(3)))
    elif rest.startswith("message-id="):
        same(e, "postfix.message_id", rest[len("message-id=<"):-1])
    elif rest.startswith("client="):
        same(e, "postfix.client.ip", re.search(r"\[([^\]]+)\]", rest).group(1))
    else:
        assert rest == "removed", msg

def kernel_fields(e, msg):
    same(e, "kernel.uptime", float(re.match(r"\[ *([\d.]+)\]", msg).group(1)))
    if " IN=" in msg:
        kv = dict(re.findall(r"\b([A-Z]+)=(\S*)", msg))
        same(e, "iptables.prefix", "[UFW BLOCK]")
        same(e, "source.ip", kv["SRC"])
        same(e, "destination.ip", kv["DST"])
        same(e, "network.transport", kv["PROTO"])
        same(e, "source.port", int(kv["SPT"]))
        same(e, "destination.port", int(kv["DPT"]))
        same(e, "iptables.ttl", int(kv["TTL"]))
    m = re.search(r"Out of memory: Killed process (\d+) \(([^)]+)\) total-vm:(\d+)kB, anon-rss:(\d+)kB", msg)
    if m:
        same(e, "kernel.oom.process.pid", int(m.group(1)))
        same(e, "kernel.oom.process.name", m.group(2))
        same(e, "kernel.oom.total_vm_kb", int(m.group(3)))
        same(e, "kernel.oom.anon_rss_kb", int(m.group(4)))

NGINX = re.compile(r'(\S+) - - \[([^\]]+)\] "([A-Z]+) (\S+) HTTP/([\d.]+)" (\d+) (\d+) "([^"]*)" "([^"]*)"(?: "([^"]*)")?$')
kinds = {}
last = ""
for e, line in zip(events, lines):
    assert "tags" not in e, f"tagged {e['tags']}: {line}"
    h = re.fullmatch(HEADER, line)
    assert h, f"not a {fmt} line: {line}"
    same(e, "host.hostname", h["host"])
    same(e, "process.name", h["prog"])
    if h["pid"]:
        same(e, "process.pid", int(h["pid"]))
    else:
        assert get(e, "process.pid") is None, e
    if fmt != "ops":
        same(e, "timestamp", h["ts"])
        if fmt == "rfc5424":
            assert h["ts"] >= last, f"time went back: {line}"
            last = h["ts"]
            same(e, "log.syslog.priority", int(h["pri"]))
    msg = h["msg"]
    same(e, "message", msg)
    if not full:
        continue
    # The message-specific fields, checked against the text the generator
    # wrote.
    name = h["prog"]
    if name == "root":
        kind = "metric"
        m = re.fullmatch(r"(\w+): (-?\d+(?:\.\d+)?)", msg)
        same(e, "metric.name", m.group(1))
        same(e, "metric.value", float(m.group(2)))
    elif msg.startswith("pam_unix("):
        kind = "pam"
        pam_fields(e, msg, name)
    elif name == "sshd":
        kind = "sshd"
        sshd_fields(e, msg)
    elif name == "CRON":
        kind = "cron"
        m = re.fullmatch(r"\(([^()\s]+)\) ([A-Za-z]+) \((.*)\)", msg)
        same(e, "user.name", m.group(1))
        same(e, "system.cron.action", m.group(2))
        if m.group(2) == "CMD":
            same(e, "process.command_line", m.group(3))
    elif name.startswith("postfix/"):
        kind = "postfix"
        postfix_fields(e, msg)
    elif name == "nginx":
        kind = "nginx"
        m = NGINX.match(msg)
        same(e, "source.address", m.group(1))
        same(e, "nginx.access.time", m.group(2))
        same(e, "http.request.method", m.group(3))
        same(e, "url.original", m.group(4))
        same(e, "http.version", m.group(5))
        same(e, "http.response.status_code", int(m.group(6)))
        same(e, "http.response.body.bytes", int(m.group(7)))
        same(e, "user_agent.original", m.group(9))
        if m.group(8) != "-":
            same(e, "http.request.referrer", m.group(8))
        if m.group(10):
            same(e, "nginx.access.remote_ip_list", m.group(10))
    elif name == "kernel":
        kind = "kernel"
        kernel_fields(e, msg)
    elif name == "systemd":
        kind = "systemd"
        same(e, "systemd.unit", msg.split(": ")[0])
    else:
        raise AssertionError(f"a line the generator should not make: {line}")
    kinds[kind] = kinds.get(kind, 0) + 1
print(f"{fmt:8} {expr:20} {n} lines, all parsed {dict(sorted(kinds.items()))}")
if full:
    for k in ("metric", "pam", "sshd", "cron", "postfix", "nginx", "kernel", "systemd"):
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
