#!/usr/bin/env python3
"""emitted_fields.py - the other half of check_objects.py: the metric fields
the shipped host dashboard and Metricbeat's Host overview use are not only
mapped but sent. Runs `logferry agent` with `inputs.metrics.sets: all` on
this machine's /proc into the file output until every metric set has
arrived (cpu and process need a second sample), stops it by its PID, and
checks that

  - every field a Lens column of a metrics-* visualization aggregates is in
    documents of the event.dataset its query names (`event.dataset: X`);
  - every field of the Host overview's 21 data panels (check_objects.py's
    HOST_OVERVIEW) is in some document, holding a number where the panel
    computes with it.

A set this machine has nothing for (no block device that did I/O) is said
and its fields are skipped, and so is system.memory.swap.used.pct on a
machine without swap (the agent leaves it out then, as Metricbeat does);
the static check still covers them.

    emitted_fields.py --logferry build/logferry
"""

import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_objects import HOST_OVERVIEW, NUMERIC, FITS  # noqa: E402

SETS = ("load", "memory", "cpu", "network", "diskio", "filesystem", "fsstat",
        "process_summary", "process", "uptime")
DATASET_IN_QUERY = re.compile(r"event\.dataset:\s*([\w.]+)")


def leaves(obj, prefix=""):
    for k, v in obj.items():
        if isinstance(v, dict):
            yield from leaves(v, prefix + k + ".")
        else:
            yield prefix + k, v


def collect(logferry, tmp):
    conf = os.path.join(tmp, "agent.yml")
    with open(conf, "w") as f:
        f.write(f"""agent:
  data_dir: {tmp}/data
  shutdown_timeout: 5s
  status_listen: "off"
inputs:
  metrics:
    interval: 200ms
    sets: all
    top_processes: 3
output:
  type: file
  batch_max_age: 50ms
  file:
    dir: {tmp}/out
""")
    log = open(os.path.join(tmp, "agent.log"), "w")
    agent = subprocess.Popen([logferry, "agent", "-c", conf], stderr=log, stdout=log)
    docs, deadline = [], time.monotonic() + 30
    try:
        # diskio may never come (no device did I/O); wait for the others.
        want = set(SETS) - {"diskio"}
        while time.monotonic() < deadline:
            docs = read_docs(tmp)
            seen = {d.get("metricset", {}).get("name") for d in docs}
            if want <= seen and ("diskio" in seen or time.monotonic() > deadline - 25):
                break
            time.sleep(0.1)
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=20)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
    return read_docs(tmp)


def read_docs(tmp):
    docs = []
    for path in glob.glob(os.path.join(tmp, "out", "*.ndjson")):
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        # _bulk form: an action line, then the document; a last line may be
        # half written while the agent runs.
        for doc in lines[1::2]:
            try:
                docs.append(json.loads(doc))
            except ValueError:
                pass
    return docs


def dashboard_uses(kibana_dir):
    """(vis title, dataset or None, field, operation) of metrics-* Lens columns."""
    uses = []
    for path in sorted(glob.glob(os.path.join(kibana_dir, "*.ndjson"))):
        objs = [json.loads(line) for line in open(path, encoding="utf-8")]
        metric_views = {o["id"] for o in objs
                        if o["type"] == "index-pattern" and o["attributes"]["title"] == "metrics-*"}
        for o in objs:
            if o["type"] != "lens" or not any(r["id"] in metric_views for r in o["references"]):
                continue
            state = o["attributes"]["state"]
            m = DATASET_IN_QUERY.search(state["query"]["query"])
            for layer in state["datasourceStates"]["indexpattern"]["layers"].values():
                for col in layer["columns"].values():
                    src = col.get("sourceField")
                    if src and src != "Records":
                        uses.append((o["attributes"]["title"], m.group(1) if m else None,
                                     src, col["operationType"]))
    return uses


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--logferry", required=True)
    ap.add_argument("--dir", default=os.path.join(root, "packaging", "kibana"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        docs = collect(args.logferry, tmp)
        log = open(os.path.join(tmp, "agent.log")).read()
    by_set, fields_of = {}, {}
    for d in docs:
        ms = d.get("metricset", {}).get("name")
        if not ms:
            continue
        by_set[ms] = by_set.get(ms, 0) + 1
        ds = d.get("event", {}).get("dataset")
        for path, value in leaves(d):
            fields_of.setdefault(path, {}).setdefault(ds, type(value))
    print("documents per set: " + ", ".join(f"{s} {by_set.get(s, 0)}" for s in SETS))
    problems = []
    missing_sets = [s for s in SETS if not by_set.get(s)]
    for s in missing_sets:
        if s == "diskio":
            print("skip: no block device did I/O here, so no diskio documents; "
                  "system.diskio.* is checked statically only")
        else:
            problems.append(f"no {s} documents in 30 s (agent log: {log[-300:]!r})")
    skipped = ("system.diskio.",) if "diskio" in missing_sets else ()
    if any(d.get("system", {}).get("memory", {}).get("swap", {}).get("total") == 0 for d in docs):
        print("skip: this machine has no swap, so no system.memory.swap.used.pct")
        skipped += ("system.memory.swap.used.pct",)
    checked = 0
    for title, dataset, field, op in dashboard_uses(args.dir):
        if field.startswith(skipped):
            continue
        checked += 1
        have = fields_of.get(field, {})
        if dataset and dataset not in have:
            problems.append(f"{title}: {field} is in no {dataset} document"
                            + (f" (only in {sorted(have)})" if have else ""))
        elif not have:
            problems.append(f"{title}: {field} is in no document")
    for panel, uses in HOST_OVERVIEW:
        for op, field in uses:
            if field.startswith(skipped):
                continue
            checked += 1
            have = fields_of.get(field, {})
            if not have:
                problems.append(f"Host overview '{panel}': {field} is in no document")
            elif FITS[op] == NUMERIC and not any(t in (int, float) for t in have.values()):
                problems.append(f"Host overview '{panel}': {field} is not a number")
    for p in problems:
        print(p)
    print(f"{len(docs)} documents, {checked} field uses checked: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
