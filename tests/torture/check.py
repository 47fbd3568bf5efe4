#!/usr/bin/python3
"""Torture checker: counts the workload's lines found downstream, by content.

Every line the workload wrote carries "seq=NNNNNNNNN run=TAG". The checker
finds those in what the downstream holds, whatever the document ids:

  --es-journal FILE   the fake Elasticsearch's --data journal (repeatable):
                      {"t":"doc","n":INDEX,"id":ID,...,"src":"<source>"}
                      records, replayed as the fake does (a later "doc" for
                      the same index and id replaces the earlier one, "del",
                      "ixd" and "wipe" remove), so what is counted is what
                      the index holds at the end. A torn last line (a
                      SIGKILLed fake) is skipped: it was never answered.
  --kafka FILE        message values, one per line (kcat -f '%s\\n'); each
                      message is one copy.
  --index-prefix P    only indices starting with P (journal).

For each seq in 1..--written (or --first..--first+--written-1):
  lost        seqs written but held by no document
  duplicated  extra copies: a seq held by k documents counts k-1 (the same
              line under two ids, or two messages)
  unexpected  documents of this run whose seq was never written

Output: one line of key=value pairs (--quiet: only that), and with --json FILE
the same as a JSON object, plus the first ranges of lost and duplicated seqs.
Exit status: 0 when lost == --expect-lost (default 0) and duplicated == 0 and
unexpected == 0, 1 otherwise, 2 on a usage error.
"""
import argparse
import json
import re
import sys

SEQ = re.compile(r"seq=(\d{9}) run=([A-Za-z0-9_.-]+)")


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--written", type=int, required=True, help="lines written")
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--es-journal", action="append", default=[])
    ap.add_argument("--kafka", action="append", default=[])
    ap.add_argument("--index-prefix", default="")
    ap.add_argument("--expect-lost", type=int, default=0)
    ap.add_argument("--json")
    ap.add_argument("--quiet", action="store_true")
    return ap.parse_args()


def seqs_in(text, run):
    """The distinct seqs of this run in one document (a document may repeat
    its line, e.g. message and event.original: that is one copy)."""
    out = set()
    for m in SEQ.finditer(text):
        if m.group(2) == run:
            out.add(int(m.group(1)))
    return out


def from_journal(path, prefix, run, docs):
    """Replays a journal: docs maps (index, id) -> set of seqs."""
    try:
        f = open(path, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return 0
    ids_rewritten = 0
    with f:
        for line in f:
            if '"t":"doc"' not in line and '"t":"del"' not in line and '"t":"ixd"' not in line \
                    and '"t":"wipe"' not in line:
                continue
            try:
                r = json.loads(line)
            except ValueError:
                continue  # torn last line of a SIGKILLed fake: never answered
            t = r.get("t")
            if t == "wipe":
                docs.clear()
                continue
            n = r.get("n", "")
            if not n.startswith(prefix):
                continue
            if t == "doc":
                key = (n, r.get("id"))
                if key in docs:
                    ids_rewritten += 1
                docs[key] = seqs_in(r.get("src", ""), run)
            elif t == "del":
                docs.pop((n, r.get("id")), None)
            elif t == "ixd":
                for k in [k for k in docs if k[0] == n]:
                    del docs[k]
    return ids_rewritten


def ranges(nums, limit=10):
    out, nums = [], sorted(nums)
    i = 0
    while i < len(nums) and len(out) < limit:
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append("%d" % nums[i] if i == j else "%d-%d" % (nums[i], nums[j]))
        i = j + 1
    return out


def main():
    a = parse_args()
    if not a.es_journal and not a.kafka:
        print("check.py: give --es-journal or --kafka", file=sys.stderr)
        return 2
    copies = {}  # seq -> copies
    docs_total = 0
    ids_rewritten = 0
    for path in a.es_journal:
        docs = {}
        ids_rewritten += from_journal(path, a.index_prefix, a.run, docs)
        docs_total += len(docs)
        for seqs in docs.values():
            for s in seqs:
                copies[s] = copies.get(s, 0) + 1
    for path in a.kafka:
        try:
            f = open(path, encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue
        with f:
            for line in f:
                seqs = seqs_in(line, a.run)
                if seqs:
                    docs_total += 1
                for s in seqs:
                    copies[s] = copies.get(s, 0) + 1
    lo, hi = a.first, a.first + a.written - 1
    lost = [s for s in range(lo, hi + 1) if s not in copies]
    dups = [s for s, c in copies.items() if c > 1 and lo <= s <= hi]
    unexpected = [s for s in copies if s < lo or s > hi]
    duplicated = sum(copies[s] - 1 for s in dups)
    res = {
        "written": a.written,
        "found": a.written - len(lost),
        "lost": len(lost),
        "duplicated": duplicated,
        "dup_lines": len(dups),
        "unexpected": len(unexpected),
        "docs": docs_total,
        "ids_rewritten": ids_rewritten,
        "lost_ranges": ranges(lost),
        "dup_ranges": ranges(dups),
    }
    line = "written=%d found=%d lost=%d duplicated=%d unexpected=%d docs=%d" % (
        res["written"], res["found"], res["lost"], res["duplicated"], res["unexpected"], res["docs"])
    print(line)
    if not a.quiet:
        if lost:
            print("lost seqs (first ranges): " + " ".join(res["lost_ranges"]))
        if dups:
            print("duplicated seqs (first ranges): " + " ".join(res["dup_ranges"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f)
    ok = len(lost) == a.expect_lost and duplicated == 0 and not unexpected
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
