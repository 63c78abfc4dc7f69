#!/usr/bin/env python3
"""Runs a command N times; prints the best wall time (s) and the peak RSS (MiB) of the child.
Usage: measure.py RUNS -- COMMAND...   (exit 0 and 1 of meshc lint both count as success)"""
import os, subprocess, sys, time

runs = int(sys.argv[1])
cmd = sys.argv[sys.argv.index("--") + 1:]
best, peak = None, 0.0
for _ in range(runs):
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"measure: {' '.join(cmd)} exited {code}")
    best = elapsed if best is None else min(best, elapsed)
    peak = max(peak, usage.ru_maxrss / 1024)  # ru_maxrss is in KiB on Linux
print(f"{best:.3f} {peak:.0f}")
