#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_load_faults.py - faults under a running (bounded) load: Redis killed
and restarted from its append-only file, Redis paused, a worker killed
with SIGKILL mid-request, nginx reloaded. While the fault lasts, answers are
200 or a clean 503 with Retry-After (502 from nginx for the request a killed
worker had in hand), none waits past the command timeout, and afterwards the
service answers again with no restart. The ledger checker of
test_invariants then shows that no settled entry was lost or doubled and the
wallet is exact.

    test_load_faults.py [TEST_NAME ...]
"""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Venue, settings, suite_main, wait_for  # noqa: E402
from test_invariants import RATE_COINS, Ledger  # noqa: E402

COINS = 100000
# No request may take longer than this while Redis misbehaves (seconds):
# the command timeout below plus scheduling slack on a busy machine.
SLOWEST = 3.0


class Load:
    """Threads heartbeating sessions until stopped; records every answer's
    status, Retry-After, duration and start (time.monotonic())."""

    def __init__(self, venue, sessions, threads=6):
        self.v = venue
        self.sessions = sessions
        self.answers = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,))
                        for i in range(threads)]

    def run(self, i):
        n = 0
        while not self.stopping.is_set():
            gs = self.sessions[(i + n) % len(self.sessions)]
            n += 1
            t0 = time.monotonic()
            try:
                r = self.v.heartbeat(gs)
                answer = (r.status, r.header("Retry-After"),
                          time.monotonic() - t0, t0)
            except OSError as e:
                answer = ("error: %s" % e, None, time.monotonic() - t0, t0)
            with self.lock:
                self.answers.append(answer)

    def __enter__(self):
        for t in self.threads:
            t.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(30)

    def statuses(self):
        with self.lock:
            return [a[0] for a in self.answers]

    def check(self, allowed):
        """Every answer was in allowed, 503s carried Retry-After, none was
        slower than SLOWEST."""
        with self.lock:
            answers = list(self.answers)
        assert answers, "no requests ran"
        bad = [a for a in answers if a[0] not in allowed]
        assert not bad, bad[:5]
        no_retry = [a for a in answers if a[0] == 503 and not a[1]]
        assert not no_retry, no_retry[:5]
        slow = [a for a in answers if a[2] > SLOWEST]
        assert not slow, slow[:5]
        counts = {}
        for a in answers:
            counts[a[0]] = counts.get(a[0], 0) + 1
        print("     %d requests under the fault: %s" % (
            len(answers), ", ".join("%s: %d" % kv for kv in
                                    sorted(counts.items()))), flush=True)
        return answers


def setup(svc, n=4):
    v = Venue(svc, rate=RATE_COINS, coins=COINS)
    return v, [v.session("pc-%d" % i)[1] for i in range(n)]


def end_all_and_check(svc, v, sessions):
    """Ends every session (retrying while the service recovers) and checks
    the ledger: one entry each, wallet exact."""
    for gs in sessions:
        wait_for("end of " + gs, lambda: v.end(gs).status in (200, 409),
                 timeout=20)
    Ledger(svc, v).check(COINS * 1000, ended=sessions, exact_play=False)


@settings(HB_REDIS_TIMEOUT_MS=500)
def test_redis_killed_under_load_restarts_from_its_aof_losing_nothing(svc):
    v, sessions = setup(svc)
    # Settle one session before the crash: its entry must survive it.
    assert v.end(sessions[0]).status == 200
    before = svc.events()
    with Load(v, sessions[1:]) as load:
        svc.stop_redis(signal.SIGKILL)
        time.sleep(1.0)
        svc.start_redis()
        wait_for("recovery", lambda: 200 in load.statuses()[-20:])
        time.sleep(0.5)
    answers = load.check({200, 503})
    assert 503 in [a[0] for a in answers], "Redis was never seen down"
    after = svc.events()
    assert after[:len(before)] == before, (before, after)
    end_all_and_check(svc, v, sessions)


@settings(HB_REDIS_TIMEOUT_MS=300)
def test_slow_redis_under_load_answers_503_within_the_timeout(svc):
    v, sessions = setup(svc)
    with Load(v, sessions) as load:
        # A paused Redis (SIGSTOP) for 1.5 s, well past the timeout.
        pid = svc.procs["redis"].pid
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(1.5)
        finally:
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.5)
    answers = load.check({200, 503})
    assert 503 in [a[0] for a in answers], "no request saw the timeout"
    wait_for("recovery", lambda: v.heartbeat(sessions[0]).status == 200)
    end_all_and_check(svc, v, sessions)


def test_worker_killed_mid_request_leaves_no_partial_settlement(svc):
    v, sessions = setup(svc, 6)
    pids = svc.worker_pids()
    with Load(v, sessions, threads=8) as load:
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.3)
    # The supervisor replaced the killed workers without a restart of it.
    wait_for("new workers", lambda: len(svc.worker_pids()) == len(pids)
             and not set(svc.worker_pids()) & set(pids))
    assert v.heartbeat(sessions[0]).status == 200
    # nginx answers 502 for a request whose worker died with it.
    load.check({200, 502})
    # Each script ran whole or not at all: the ledger is exact.
    end_all_and_check(svc, v, sessions)


def test_nginx_reload_under_load_drops_nothing(svc):
    v, sessions = setup(svc)
    with Load(v, sessions) as load:
        for _ in range(3):
            svc.procs["web"].send_signal(signal.SIGHUP)
            time.sleep(0.4)
    load.check({200})
    end_all_and_check(svc, v, sessions)


if __name__ == "__main__":
    suite_main("load_faults", globals())
