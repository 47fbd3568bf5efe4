#!/usr/bin/python3
"""Runs a command and reports what it cost: measure.py --pid-file F --out F -- CMD...

The command's PID goes to --pid-file (atomically) once it is forked, so the
caller signals the command itself (SIGKILL included). When it ends, its
rusage goes to --out as "cpu_s=U+S maxrss_kb=N status=RC": CPU seconds (user
+ system) and peak RSS from wait4(2), exact even after a SIGKILL, which
/proc cannot give once the shell has reaped the process. SIGTERM, SIGINT and
SIGHUP sent to this wrapper are passed on. Exits with the command's status
(128 + signal when a signal ended it).
"""
import argparse
import os
import signal
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        except OSError as e:
            print("measure.py: %s: %s" % (cmd[0], e), file=sys.stderr)
            os._exit(127)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, lambda signum, frame: os.kill(pid, signum))
    tmp = a.pid_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % pid)
    os.rename(tmp, a.pid_file)
    _, status, ru = os.wait4(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    rc = 128 - rc if rc < 0 else rc
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("cpu_s=%.3f maxrss_kb=%d status=%d\n" % (ru.ru_utime + ru.ru_stime, ru.ru_maxrss, rc))
    os.rename(tmp, a.out)
    return rc


if __name__ == "__main__":
    sys.exit(main())
