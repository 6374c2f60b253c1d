#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_invariants.py - concurrency against the money rules. Each scenario
races real clients against one service, then a checker reads the settlement
stream, the sessions still live and the wallet, and asserts:

- every session has exactly one settlement entry once it has ended, and
  none while it is live;
- play time equals the time between start and end (heartbeats came well
  within the TTL, so no gap was capped);
- each session's charge is floor(rate x billed ms / 3 600 000), with billed
  time equal to play time while the wallet lasted;
- the wallet equals the top-ups minus every charge, exactly, and is never
  below zero.

    test_invariants.py [TEST_NAME ...]
"""

import concurrent.futures
import datetime
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import CTL, Venue, settings, suite_main  # noqa: E402

RATE_COINS = 3600           # coins per hour: one millicoin per ms
RATE = RATE_COINS * 1000    # millicoins per hour


def ms(iso):
    """Milliseconds since the epoch of an RFC 3339 UTC time with ms."""
    t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
    t = t.replace(tzinfo=datetime.timezone.utc)
    return round(t.timestamp() * 1000)


def due(rate, billed_ms):
    return rate * billed_ms // 3600000


class Ledger:
    """What the service says happened, read after a scenario."""

    def __init__(self, svc, venue):
        self.events = svc.events()
        self.by_session = {}
        for e in self.events:
            self.by_session.setdefault(e["game_session_id"], []).append(e)
        self.live = {}
        for gs in svc.live_ids():
            s = svc.session(gs)
            self.live[gs] = s["chg"] if s else 0
        self.wallet = venue.wallet()

    def check(self, topups_millicoins, ended=(), live=(), exact_play=True):
        """The invariants, for sessions known to have ended and to be live."""
        for gs in ended:
            evs = self.by_session.get(gs, [])
            assert len(evs) == 1, "%s settled %d times: %r" % (gs, len(evs),
                                                               evs)
            assert gs not in self.live, gs
        for gs in live:
            assert gs in self.live and gs not in self.by_session, gs
        for gs, evs in self.by_session.items():
            assert len(evs) == 1, "%s settled %d times" % (gs, len(evs))
            e = evs[0]
            span = ms(e["ended_at"]) - ms(e["started_at"])
            if exact_play:
                assert e["play_duration_sec"] == span // 1000, e
                assert e["charged_millicoins"] <= due(RATE, span), e
        charged = sum(e["charged_millicoins"] for e in self.events)
        charged += sum(self.live.values())
        assert self.wallet >= 0, self.wallet
        assert self.wallet == topups_millicoins - charged, (
            self.wallet, topups_millicoins, charged)
        print("     ledger: %d entries and %d live sessions checked, wallet "
              "%d millicoins exact" % (len(self.events), len(self.live),
                                       self.wallet), flush=True)


def run_for(seconds, fn, threads):
    """Calls fn(i) in a loop from each of threads threads for seconds;
    returns the answers' statuses."""
    stop = time.monotonic() + seconds
    statuses = []
    lock = threading.Lock()

    def loop(i):
        while time.monotonic() < stop:
            st = fn(i).status
            with lock:
                statuses.append(st)

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(loop, range(threads)))
    return statuses


def test_many_clients_heartbeating_one_session_count_real_time_once(svc):
    v = Venue(svc, rate=RATE_COINS, coins=100000)
    _, gs = v.session()
    statuses = run_for(2.5, lambda i: v.heartbeat(gs), 12)
    assert statuses and set(statuses) == {200}, set(statuses)
    r = v.end(gs)
    assert r.status == 200, r
    led = Ledger(svc, v)
    led.check(100000 * 1000, ended=[gs])
    e = led.by_session[gs][0]
    span = ms(e["ended_at"]) - ms(e["started_at"])
    # Never capped, never billed short: the charge is the whole span.
    assert e["charged_millicoins"] == due(RATE, span), (e, span)


def test_verify_racing_verify_on_one_pc_leaves_one_live_session(svc):
    v = Venue(svc, rate=RATE_COINS, coins=100000)
    token = v.launcher("pc-1")
    otts = [v.ott(token) for _ in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(v.verify, otts))
    ids = [r.data["game_session_id"] for r in answers
           if r.status == 200 and r.data.get("is_valid")]
    assert len(ids) == 8, answers
    led = Ledger(svc, v)
    assert len(led.live) == 1, led.live
    (live,) = led.live
    replaced = [gs for gs in ids if gs != live]
    assert all(led.by_session[gs][0]["reason"] == "replaced"
               for gs in replaced), led.events
    led.check(100000 * 1000, ended=replaced, live=[live])


def test_end_racing_heartbeats_settles_once(svc):
    v = Venue(svc, rate=RATE_COINS, coins=100000)
    sessions = [v.session("pc-%d" % i)[1] for i in range(6)]
    barrier = threading.Barrier(12)

    def race(i):
        gs = sessions[i // 2]
        barrier.wait()
        if i % 2:
            return [v.end(gs) for _ in range(3)]
        return [v.heartbeat(gs) for _ in range(6)]

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = [r for rs in pool.map(race, range(12)) for r in rs]
    statuses = [r.status for r in answers]
    assert set(statuses) <= {200, 409, 410}, statuses
    ends_ok = sum(1 for r in answers if r.status == 200 and
                  r.data.get("result") == "SUCCESS")
    assert ends_ok == len(sessions), statuses
    Ledger(svc, v).check(100000 * 1000, ended=sessions)


@settings(HB_GAME_TTL_SEC=1, HB_SWEEP_INTERVAL_SEC=0)
def test_concurrent_sweeps_settle_each_expired_session_once(svc):
    v = Venue(svc, rate=RATE_COINS, coins=100000)
    sessions = [v.session("pc-%d" % i)[1] for i in range(30)]
    time.sleep(1.3)
    procs = [subprocess.Popen([CTL, "sweep", "--limit", "7"], env=svc.env,
                              stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    settled = 0
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0, out
        settled += int(out.split()[-1])
    assert settled == len(sessions), settled
    led = Ledger(svc, v)
    assert all(led.by_session[gs][0]["reason"] == "expired"
               for gs in sessions), led.events
    # An expired session counts play up to its last heartbeat plus the TTL.
    led.check(100000 * 1000, ended=sessions, exact_play=False)


def test_top_ups_racing_charges_keep_the_wallet_exact(svc):
    # A wallet of 1 coin at 3600 coins/h lasts one second of play: charges
    # hit the floor while top-ups arrive.
    v = Venue(svc, rate=RATE_COINS, coins=1)
    sessions = [v.session("pc-%d" % i)[1] for i in range(4)]
    topups = [0]
    lock = threading.Lock()

    def work(i):
        if i < 4:
            return v.heartbeat(sessions[i])
        svc.ctl("wallet", "topup", v.id, "0.25")
        with lock:
            topups[0] += 250

        class Done:
            status = 200
        return Done

    statuses = run_for(2.5, work, 6)
    assert set(statuses) == {200}, set(statuses)
    for gs in sessions:
        assert v.end(gs).status == 200
    led = Ledger(svc, v)
    # Some sessions ran out of coins mid-way: play counts on, billing stops.
    led.check(1000 + topups[0], ended=sessions, exact_play=False)
    assert topups[0] > 0


if __name__ == "__main__":
    suite_main("invariants", globals())
