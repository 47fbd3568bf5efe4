#!/usr/bin/python3
"""Speaks rsyslog's omprog protocol to `logferry agent --omprog` on stdin, one
message at a time, waiting for each answer as rsyslog does, while a fake
Elasticsearch goes down after message DOWN_AFTER for DOWN seconds (issue 11,
item 1). Started and stopped here by PID, on 127.0.0.1, on the same port and
journal when it comes back.

Like rsyslog, a message answered with an error is sent again after a resume
interval (1 s); like rsyslog's confirmTimeout, no byte (answer or keep-alive
dot) may take longer than CONFIRM seconds. With --transactions the messages
go in transactions of TXN as rsyslog batches them (BEGIN, DEFER_COMMIT each,
COMMIT), a failed COMMIT sending every message again in its own transaction,
as rsyslogd 8.2302 does.

With --reject-429 F the fake refuses that share of the items with 429 and
--down 0 means no outage: with transactions and the spool, refused items go
to the spool at once and the COMMIT does not wait for their retry (a
backoff_min of 20 s makes a COMMIT that waits for one take 10 s or more:
--max-seconds bounds the whole conversation).

Checks: every message answered; no gap over CONFIRM; after the last answer
stdin is closed and the agent exits 0 within EXIT seconds; every message in
the fake's journal, each under one _id. Prints "ok"/"FAIL" lines and exits 1
on a failure.

    omprog_outage.py --logferry BIN --fake FAKE_ES_PY --dir DIR [--messages N]
        [--down-after K] [--down SECONDS] [--spool|--no-spool]
        [--timeout-ms MS] [--transactions [--txn N]] [--reject-429 F]
        [--backoff-min DURATION] [--max-seconds S]
"""

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--logferry", required=True)
ap.add_argument("--fake", required=True)
ap.add_argument("--dir", required=True)
ap.add_argument("--messages", type=int, default=5000)
ap.add_argument("--down-after", type=int, default=100)
ap.add_argument("--down", type=float, default=12)
ap.add_argument("--spool", action=argparse.BooleanOptionalAction, default=True)
ap.add_argument("--timeout-ms", type=int, default=0, help="the agent's answer timeout")
ap.add_argument("--confirm", type=float, default=10, help="rsyslog's confirmTimeout, s")
ap.add_argument("--exit", type=float, default=15, help="rsyslog's closeTimeout, s")
ap.add_argument("--transactions", action="store_true")
ap.add_argument("--txn", type=int, default=64)
ap.add_argument("--reject-429", type=float, default=0, help="share of items the fake refuses")
ap.add_argument("--backoff-min", default="50ms", help="output.elasticsearch.backoff_min")
ap.add_argument("--max-seconds", type=float, default=0, help="bound on the conversation, s")
args = ap.parse_args()

failures = 0


def check(name, ok):
    global failures
    print(("ok   " if ok else "FAIL ") + name, flush=True)
    if not ok:
        failures += 1


d = args.dir
os.makedirs(d, exist_ok=True)
fake = None


def start_fake(port=0):
    global fake
    pf = os.path.join(d, "port")
    if os.path.exists(pf):
        os.unlink(pf)
    fake = subprocess.Popen(
        ["/usr/bin/python3", args.fake, "--port", str(port), "--port-file", pf,
         "--data", os.path.join(d, "journal")] +
        (["--faults", json.dumps({"reject_429_fraction": args.reject_429})]
         if args.reject_429 else []),
        stderr=open(os.path.join(d, "fake.err"), "a"))
    deadline = time.time() + 20
    while not (os.path.exists(pf) and open(pf).read().strip()):
        if time.time() > deadline:
            sys.exit("the fake did not start")
        time.sleep(0.05)
    return int(open(pf).read())


def stop_fake():
    fake.send_signal(signal.SIGKILL)
    fake.wait()


port = start_fake()
# The dead-letter file's directory: the spool makes it, but not every case
# has one.
os.makedirs(os.path.join(d, "data"), exist_ok=True)
with open(os.path.join(d, "agent.yml"), "w") as f:
    f.write(f"""agent:
  data_dir: {d}/data
  timezone: UTC
  shutdown_timeout: 2s
inputs:
  metrics:
    enabled: false
  omprog:
    answer_timeout: {str(args.timeout_ms) + "ms" if args.timeout_ms else "30s"}
output:
  type: elasticsearch
  batch_max_age: 100ms
  elasticsearch:
    hosts: [http://127.0.0.1:{port}]
    backoff_min: {args.backoff_min}
    backoff_max: 1s
    connect_timeout: 1s
    timeout: 5s
    spool:
      enabled: {"true" if args.spool else "false"}
""")
env = dict(os.environ)
agent = subprocess.Popen([args.logferry, "agent", "--omprog", "-c", os.path.join(d, "agent.yml")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=open(os.path.join(d, "agent.log"), "w"), env=env, bufsize=0)
out = agent.stdout.fileno()
pending = b""
max_gap = 0.0


def answer():
    """The next answer line, dots skipped, or None if the agent is silent
    longer than --confirm (rsyslog would kill it) or exits."""
    global pending, max_gap
    last = time.time()
    while b"\n" not in pending:
        r, _, _ = select.select([out], [], [], args.confirm)
        now = time.time()
        max_gap = max(max_gap, now - last)
        if not r:
            return None
        chunk = os.read(out, 4096)
        if not chunk:
            return None
        last = now
        pending += chunk
    line, pending = pending.split(b"\n", 1)
    return line.lstrip(b".").decode()


def send(line):
    agent.stdin.write(line.encode() + b"\n")


def msg(i):
    return json.dumps({"hostname": "h", "programname": "lftest",
                       "msg": " outage message %06d" % i}, separators=(",", ":"))


if answer() != "OK":
    check("greeting", False)
    stop_fake()
    os.system(f"tail -n 20 {d}/agent.log")
    sys.exit(1)
down_at = up_at = None
errors = silent = 0
sent = 0  # messages answered OK (or committed)
i = 1
resent = 0
t0 = time.time()


def maybe_outage():
    global down_at, up_at, port
    if args.down <= 0:
        return
    if down_at is None and sent >= args.down_after:
        stop_fake()
        down_at = time.time()
        print(f"     Elasticsearch down after message {sent}", flush=True)
    if down_at is not None and up_at is None and time.time() - down_at >= args.down:
        start_fake(port)
        up_at = time.time()
        print(f"     Elasticsearch back after {up_at - down_at:.0f} s, at message {sent}",
              flush=True)


while i <= args.messages and not silent:
    maybe_outage()
    if not args.transactions:
        send(msg(i))
        a = answer()
        if a is None:
            silent += 1
            break
        if a == "OK":
            sent += 1
            i += 1
        else:
            errors += 1
            resent += 1
            time.sleep(1)  # action.resumeInterval
        continue
    batch = list(range(i, min(i + args.txn, args.messages + 1)))
    send("BEGIN TRANSACTION")
    ok = answer() == "OK"
    for k in batch:
        send(msg(k))
        a = answer()
        if a is None:
            silent += 1
            break
        ok = ok and a == "DEFER_COMMIT"
    if silent:
        break
    send("COMMIT TRANSACTION")
    a = answer()
    if a is None:
        silent += 1
        break
    if a == "OK" and ok:
        sent += len(batch)
        i += len(batch)
        continue
    errors += 1
    time.sleep(1)
    # rsyslogd 8.2302: each message again in a transaction of its own
    for k in batch:
        while True:
            maybe_outage()
            send("BEGIN TRANSACTION")
            b = answer()
            send(msg(k))
            m = answer()
            send("COMMIT TRANSACTION")
            c = answer()
            if None in (b, m, c):
                silent += 1
                break
            resent += 1
            if c == "OK":
                break
            time.sleep(1)
        if silent:
            break
        sent += 1
    i += len(batch)
if up_at is None and down_at is not None:
    start_fake(port)
    up_at = time.time()

took = time.time() - t0
print(f"     {sent} messages in {took:.1f} s, {errors} error answers, {resent} sent again, "
      f"longest silence {max_gap:.1f} s", flush=True)
check(f"every message answered ({sent} of {args.messages})", sent == args.messages and not silent)
check(f"never silent for {args.confirm:.0f} s (longest {max_gap:.1f} s)", max_gap < args.confirm)
if args.down > 0:
    check("the outage happened during the run", down_at is not None)
if args.max_seconds:
    check(f"answered within {args.max_seconds:.0f} s ({took:.1f} s)", took < args.max_seconds)
if args.reject_429:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/stats", timeout=10) as r:
        refused = json.load(r)["faults"]["item_429"]
    check(f"the fake refused items with 429 ({refused})", refused > 0)
    # The spool's retries are 10 s and more away: what is left in it goes
    # at once to the second agent below, the fake accepting everything now.
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_fake/faults", data=b"{}",
                                 method="PUT", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).close()

agent.stdin.close()
t_close = time.time()
try:
    rc = agent.wait(timeout=args.exit)
except subprocess.TimeoutExpired:
    rc = None
    agent.kill()
    agent.wait()
check(f"end of input seen: the agent exits 0 within {args.exit:.0f} s (rc {rc}, "
      f"{time.time() - t_close:.1f} s)", rc == 0)


def journal_ids():
    ids, msgs = {}, {}
    try:
        lines = open(os.path.join(d, "journal"), encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if r.get("t") == "doc":
            m = json.loads(r["src"]).get("message")
            msgs.setdefault(m, set()).add(r["id"])
    return msgs


# What was answered OK before the exit is in Elasticsearch, or in the spool
# (shipped by the next start): with the fake up, wait for it to arrive.
deadline = time.time() + 60
msgs = journal_ids()
want = {"outage message %06d" % k for k in range(1, args.messages + 1)}
if not want <= set(msgs):
    # What the agent spooled and did not ship before its exit: a second
    # agent, with nothing on stdin, ships it.
    again = subprocess.Popen([args.logferry, "agent", "--omprog", "-c",
                              os.path.join(d, "agent.yml")],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(d, "agent2.log"), "w"))
    while time.time() < deadline and not want <= set(journal_ids()):
        time.sleep(0.2)
    again.stdin.close()
    again.wait(timeout=30)
    msgs = journal_ids()
missing = want - set(msgs)
split = sum(1 for v in msgs.values() if len(v) > 1)
check(f"no message lost ({len(missing)} missing)", not missing)
check(f"each message one _id ({split} with more)", split == 0)
stop_fake()
if failures:
    os.system(f"tail -n 20 {d}/agent.log")
sys.exit(1 if failures else 0)
