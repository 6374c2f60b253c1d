#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""run.py - runs the integration suites (tests/integration/test_*.py), a few
at a time, each in a process of its own with its own servers, and prints
their output followed by the total: "N passed, N failed".

    run.py [-j JOBS] [SUITE...]     SUITE: a file name such as test_game
"""

import argparse
import concurrent.futures
import glob
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# No suite may run longer than this (seconds); a hung one counts as failed.
SUITE_TIMEOUT = int(os.environ.get("HB_SUITE_TIMEOUT", "900"))


def run(path):
    t0 = time.monotonic()
    try:
        p = subprocess.run([sys.executable, path], capture_output=True,
                           text=True, timeout=SUITE_TIMEOUT)
        out = p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") + \
            "\nsuite timed out after %ds\n" % SUITE_TIMEOUT
    m = re.search(r"^(\d+) passed, (\d+) failed\s*$", out, re.M)
    passed, failed = (int(m.group(1)), int(m.group(2))) if m else (0, 1)
    if m is None:
        out += "\nsuite ended without a summary: counted as one failure\n"
    return path, out, passed, failed, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-j", "--jobs", type=int,
                    default=int(os.environ.get("HB_TEST_JOBS", "3")))
    ap.add_argument("suites", nargs="*")
    args = ap.parse_args()
    paths = sorted(glob.glob(os.path.join(HERE, "test_*.py")))
    if args.suites:
        paths = [p for p in paths
                 if os.path.basename(p)[:-3] in args.suites]
    total_p = total_f = 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for path, out, p, f, secs in pool.map(run, paths):
            name = os.path.basename(path)[:-3]
            print("== %s (%.0fs)" % (name, secs))
            print(out.rstrip())
            total_p += p
            total_f += f
    print("%d passed, %d failed" % (total_p, total_f))
    return 0 if total_f == 0 and total_p > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
