#!/usr/bin/python3
"""Torture workload: numbered log lines appended at a steady rate, with
optional rotation while it writes.

Each line is unique by content:

    2026-11-21T10:00:00.123456Z torture app[PID]: seq=000001234 run=TAG xxxx...

seq counts from --first (default 1) without a gap; run is the trial's tag, so
the checker can tell this run's lines from anything else. The file is opened
with O_APPEND, like a syslog daemon or an application logging to a file.

Rotation (--rotate MODE), every --rotate-every N lines, at the seqs given by
--rotate-at, or at once on SIGUSR1:

  rename        app.log.K -> app.log.K+1 for every K present (the highest
                first), app.log -> app.log.1, then a new app.log is created
                and written to (logrotate's `create` and a postrotate reopen).
  copytruncate  the same shift, then app.log is copied to app.log.1 and
                truncated to 0; the writer keeps its descriptor (O_APPEND, so
                the next line lands at offset 0). The copy and the truncate
                happen between two writes, so unlike logrotate's own
                copytruncate no line is lost by the rotation itself: every
                line written is on disk somewhere.

Rotated copies are never deleted: every line written stays on disk.

Progress goes to --state FILE (replaced atomically about 10 times a second
and at exit): "seq=LAST rotations=N lines=COUNT", LAST being the last seq
whose line is completely written. SIGTERM or SIGINT stops the writer after
the line in progress; it exits 0 after writing the state.

Python 3 standard library only.
"""
import argparse
import datetime
import os
import signal
import socket
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--file", required=True, help="the log file to append to")
    ap.add_argument("--run", required=True, help="run tag written in every line")
    ap.add_argument("--rate", type=float, default=3000, help="lines per second (default 3000)")
    ap.add_argument("--count", type=int, default=0, help="stop after this many lines (0: until SIGTERM)")
    ap.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: no limit)")
    ap.add_argument("--first", type=int, default=1, help="first seq (default 1)")
    ap.add_argument("--size", type=int, default=200, help="approximate bytes per line (default 200)")
    ap.add_argument("--rotate", choices=("rename", "copytruncate"), help="rotation mode")
    ap.add_argument("--rotate-every", type=int, default=0, help="rotate every N lines")
    ap.add_argument("--rotate-at", default="", help="rotate before these seqs (comma list)")
    ap.add_argument("--state", help="progress file, replaced atomically")
    ap.add_argument("--host", default="torture", help="host name in the lines")
    return ap.parse_args()


class Writer:
    def __init__(self, a):
        self.a = a
        self.path = a.file
        self.fd = self.open()
        self.seq = a.first - 1  # last seq written
        self.rotations = 0
        self.pid = os.getpid()
        self.rotate_now = False
        self.stop = False
        self.at = sorted(int(x) for x in a.rotate_at.split(",") if x.strip())
        self.last_state = 0.0

    def open(self):
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def line(self, seq, stamp):
        head = "%s %s app[%d]: seq=%09d run=%s " % (stamp, self.a.host, self.pid, seq, self.a.run)
        pad = max(0, self.a.size - len(head) - 1)
        # padding that varies with seq, so that no two lines share long runs
        filler = ("abcdefghijklmnopqrstuvwxyz0123456789"[seq % 36:] + "abcdefghijklmnopqrstuvwxyz0123456789") * (pad // 36 + 2)
        return head + filler[:pad] + "\n"

    def shift(self):
        k = 1
        while os.path.exists("%s.%d" % (self.path, k)):
            k += 1
        for i in range(k - 1, 0, -1):
            os.rename("%s.%d" % (self.path, i), "%s.%d" % (self.path, i + 1))

    def rotate(self):
        mode = self.a.rotate or "rename"
        self.shift()
        if mode == "rename":
            os.rename(self.path, self.path + ".1")
            old = self.fd
            self.fd = self.open()
            os.close(old)
        else:
            tmp = self.path + ".1.tmp"
            with open(self.path, "rb") as src, open(tmp, "wb") as dst:
                while True:
                    b = src.read(1 << 20)
                    if not b:
                        break
                    dst.write(b)
            os.rename(tmp, self.path + ".1")
            os.ftruncate(self.fd, 0)
        self.rotations += 1
        self.write_state(force=True)

    def write_state(self, force=False):
        if not self.a.state:
            return
        now = time.monotonic()
        if not force and now - self.last_state < 0.1:
            return
        self.last_state = now
        tmp = self.a.state + ".tmp"
        with open(tmp, "w") as f:
            f.write("seq=%d rotations=%d lines=%d\n" % (self.seq, self.rotations, self.seq - self.a.first + 1))
        os.rename(tmp, self.a.state)

    def due_rotation(self, next_seq):
        """True when a rotation is due before writing next_seq."""
        if self.rotate_now:
            self.rotate_now = False
            return True
        if self.at and next_seq >= self.at[0]:
            self.at.pop(0)
            return True
        n = self.a.rotate_every
        return n > 0 and next_seq > self.a.first and (next_seq - self.a.first) % n == 0

    def run(self):
        a = self.a
        start = time.monotonic()
        last = a.first - 1 + (a.count if a.count else 1 << 62)
        while not self.stop and self.seq < last:
            now = time.monotonic()
            if a.duration and now - start >= a.duration:
                break
            target = a.first - 1 + int((now - start) * a.rate) + 1
            target = min(target, last)
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            chunk = []
            while self.seq + len(chunk) < target:
                nxt = self.seq + len(chunk) + 1
                if self.due_rotation(nxt) or self.rotate_now:
                    self.flush(chunk)
                    chunk = []
                    self.rotate()
                chunk.append(self.line(nxt, stamp))
                if len(chunk) >= 1000:
                    self.flush(chunk)
                    chunk = []
            self.flush(chunk)
            if self.rotate_now:  # SIGUSR1 while idle
                self.rotate_now = False
                self.rotate()
            self.write_state()
            time.sleep(0.01)
        self.write_state(force=True)

    def flush(self, chunk):
        if not chunk:
            return
        data = "".join(chunk).encode()
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.seq += len(chunk)


def main():
    a = parse_args()
    w = Writer(a)

    def on_stop(signum, frame):
        w.stop = True

    def on_usr1(signum, frame):
        w.rotate_now = True

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGUSR1, on_usr1)
    w.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
