#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_reconnect.py - a Redis connection that dies while its worker is idle
costs no request: after CLIENT KILL of every client, a Redis restart from its
append-only file, Redis's idle-client timeout, and a Sentinel failover, every
request made once Redis answers again is a 200, with the libfcgi workers and
with the event loop alike, and the ledger checker stays exact.

A worker looks at an idle connection before it writes on it (a poll with no
wait): one that Redis closed is opened again first, so no command is ever
sent twice.

    test_reconnect.py [TEST_NAME ...]
"""

import concurrent.futures
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Service, Venue, expect_ok, run_suite, wait_for  # noqa
from test_invariants import RATE_COINS, Ledger  # noqa: E402
from test_ops import SentinelService  # noqa: E402

COINS = 100000
WORKERS = 4


def worker_clients(svc):
    """The clients of the service's Redis: not the CLIENT LIST itself, a
    replica or a sentinel."""
    return [c for c in svc.redis("CLIENT", "LIST").splitlines()
            if c and "cmd=client|list" not in c and " flags=S " not in c
            and "name=sentinel" not in c]


def connect_every_worker(svc, v, gs):
    """Heartbeats until each worker holds its own Redis connection, so the
    fault reaches every one of them."""
    wait_for("every worker connected to Redis", lambda: (
        v.heartbeat(gs).status == 200 and
        len(worker_clients(svc)) >= WORKERS), timeout=60)


def every_call_answers_200(svc, v, sessions):
    """Healthz and heartbeats, one after another (each worker in turn takes
    the next connection) and then many at once: every answer is a 200."""
    statuses = []
    for i in range(2 * WORKERS):
        statuses.append(svc.request("GET", "/healthz").status)
        statuses.append(v.heartbeat(sessions[i % len(sessions)]).status)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses += list(pool.map(
            lambda i: v.heartbeat(sessions[i % len(sessions)]).status,
            range(32)))
    assert statuses == [200] * len(statuses), statuses
    # A whole new session on some worker too: verify, then end.
    token = v.launcher("pc-new")
    gs = expect_ok(v.verify(v.ott(token)))["game_session_id"]
    return gs


def scenario(svc, fault):
    """Sessions on every worker, fault(svc), then every call a 200, the
    same workers, and every session settled once with an exact wallet."""
    v = Venue(svc, rate=RATE_COINS, coins=COINS)
    sessions = [v.session("pc-%d" % i)[1] for i in range(4)]
    connect_every_worker(svc, v, sessions[0])
    pids = svc.worker_pids()
    fault(svc)
    wait_for("Redis answering", lambda: svc.redis("PING") == "PONG",
             timeout=60)
    sessions.append(every_call_answers_200(svc, v, sessions))
    assert svc.worker_pids() == pids, "the workers were restarted"
    for gs in sessions:
        assert expect_ok(v.end(gs))["result"] == "SUCCESS"
    Ledger(svc, v).check(COINS * 1000, ended=sessions, exact_play=False)


def client_kill(svc):
    out = svc.redis("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    assert int(out) >= WORKERS, out


def restart(svc):
    svc.stop_redis()
    svc.start_redis()


def idle_timeout(svc):
    # Redis closes clients idle for more than a second; the workers stay
    # idle until it has closed them all (and at least 3 s).
    assert svc.redis("CONFIG", "SET", "timeout", "1") == "OK"
    t0 = time.monotonic()
    wait_for("Redis closing the idle workers' connections",
             lambda: not worker_clients(svc) and
             time.monotonic() - t0 >= 3, timeout=60)


def failover(svc):
    old = svc.master_port()
    out = svc.cli(svc.ports[2], "SENTINEL", "FAILOVER", svc.NAME)
    assert out == "OK", out
    wait_for("a new master", lambda: svc.master_port() != old, timeout=60)
    # Sentinel turns the old master into a replica of the new one and
    # closes its clients; once every sentinel names the new master and it
    # takes writes, Redis is up again.
    wait_for("the old master demoted",
             lambda: svc.cli(old, "ROLE").startswith("slave"), timeout=60)
    new = svc.master_port()
    wait_for("every sentinel naming the new master", lambda: all(
        svc.cli(p, "SENTINEL", "get-master-addr-by-name",
                svc.NAME).split()[1:] == [str(new)]
        for p in svc.ports[2:]), timeout=60)
    # The new master refuses writes (NOREPLICAS) until the old one has
    # synced as its replica: Redis is up once a write goes through.
    wait_for("the new master taking writes", lambda: svc.cli(
        new, "SET", "reconnect-probe", "1") == "OK", timeout=60)


FAULTS = [("client_kill", client_kill), ("redis_restart", restart),
          ("idle_timeout", idle_timeout), ("sentinel_failover", failover)]


def make_test(name, fault, event_loop):
    def test(svc):
        scenario(svc, fault)
    test.__name__ = "test_%s_costs_no_request_%s" % (
        name, "event_loop" if event_loop else "libfcgi")
    test.fault = name
    test.event_loop = event_loop
    return test


TESTS = [make_test(name, fault, loop) for name, fault in FAULTS
         for loop in (False, True)]


def make(test):
    if test.fault == "sentinel_failover":
        svc = SentinelService("reconnect-sentinel")
        svc.event_loop = test.event_loop
        svc.workers = WORKERS
    else:
        svc = Service("reconnect", workers=WORKERS,
                      event_loop=test.event_loop)
    return svc.start()


if __name__ == "__main__":
    only = sys.argv[1:]
    sys.exit(run_suite("reconnect", [t for t in TESTS if not only or
                                     t.__name__ in only], make))
