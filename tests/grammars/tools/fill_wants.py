#!/usr/bin/env python3
"""Fills each `want: ?` of tests/grammars/*.test files with the event the
engine gives now (grammar_cases prints it as "got N: JSON" for a `?`).
Read every filled line before committing: this records what the grammar
does, it does not say that it is right.

    tests/grammars/tools/fill_wants.py build/tests/grammar_cases tests/grammars/lib_x.test ...
"""
import re
import subprocess
import sys

runner = sys.argv[1]
for fn in sys.argv[2:]:
    out = subprocess.run([runner, fn], capture_output=True, text=True).stdout
    got = {int(m.group(1)): m.group(2) for m in re.finditer(r'^got (\d+): (.*)$', out, re.M)}
    lines = open(fn).read().split('\n')
    for i, l in enumerate(lines):
        # the case's line: is at file line i (1-based), its want: at i + 1
        if l == 'want: ?' and i in got:
            lines[i] = 'want: ' + got[i]
    open(fn, 'w').write('\n'.join(lines))
