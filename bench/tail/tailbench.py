#!/usr/bin/env python3
"""Helpers for bench/tail/run.sh: writes numbered syslog lines (our own
generator, so the benchmark needs nothing outside the tree) and waits for
the agent's registry to show everything read.

  tailbench.py write FILE N                    N lines at once
  tailbench.py paced FILE ROUNDS PER PAUSE     ROUNDS x PER lines, PAUSE s apart
  tailbench.py many DIR FILES ROUNDS PER PAUSE PER lines to each of FILES files
                                               per round (DIR/f0000.log ...)
  tailbench.py wait DATA_DIR BYTES TIMEOUT     until the registry's offsets add
                                               up to BYTES (exit 1 on timeout)
"""
import json
import os
import sys
import time

PAD = "x" * 40


def lines(start, n, host="web01"):
    # Each file its own host name: files with the same bytes are copies of
    # one another to the agent (it reads one of them).
    return "".join(
        f"Nov 21 10:{i // 60 % 60:02d}:{i % 60:02d} {host} app[{i % 30000 + 1}]: "
        f"request {i} served {PAD}\n"
        for i in range(start, start + n)
    ).encode()


def append(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    while data:
        data = data[os.write(fd, data):]
    os.close(fd)


def main():
    cmd = sys.argv[1]
    if cmd == "write":
        path, n = sys.argv[2], int(sys.argv[3])
        step = 100000
        for s in range(0, n, step):
            append(path, lines(s, min(step, n - s)))
    elif cmd == "paced":
        path, rounds, per, pause = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
        nxt = time.monotonic()
        for r in range(rounds):
            append(path, lines(r * per, per))
            nxt += pause
            time.sleep(max(0.0, nxt - time.monotonic()))
    elif cmd == "many":
        d, files, rounds, per, pause = (sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                                        int(sys.argv[5]), float(sys.argv[6]))
        nxt = time.monotonic()
        for r in range(rounds):
            for f in range(files):
                append(os.path.join(d, f"f{f:04d}.log"), lines(r * per, per, f"web{f:04d}"))
            nxt += pause
            time.sleep(max(0.0, nxt - time.monotonic()))
    elif cmd == "wait":
        data, want, timeout = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
        deadline = time.monotonic() + timeout
        got = 0
        while time.monotonic() < deadline:
            try:
                with open(os.path.join(data, "registry.json")) as fh:
                    got = sum(e["offset"] for e in json.load(fh)["entries"])
            except (OSError, ValueError):
                got = 0
            if got >= want:
                return 0
            time.sleep(0.05)
        print(f"timeout: {got} of {want} bytes read", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
