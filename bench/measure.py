#!/usr/bin/env python3
"""Run a command a few times; print the best wall time (s) and the peak RSS
(MiB) of the child, read with wait4 so each run is measured alone.
Usage: measure.py RUNS CMD [ARGS...]"""
import os, sys, time

runs = int(sys.argv[1])
cmd = sys.argv[2:]
best, rss = float("inf"), 0
for _ in range(runs):
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvp(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}")
    best = min(best, elapsed)
    rss = max(rss, usage.ru_maxrss)
print(f"{best:.3f} {rss / 1024:.0f}")
