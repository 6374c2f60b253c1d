#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_cluster.py - the service on a Redis Cluster: three masters with a
replica each on loopback (redis-cli --cluster create), the workers and
heartbeatctl given only seed nodes. The whole flow runs against it, with
every script; the slot of the service's keys is migrated to another master
under a running load while the service is paused (the workers follow ASK,
then MOVED); the slot's master is killed and its replica promoted under
load. Throughout, answers are 200
or 503 with Retry-After, and the ledger is exact afterwards.

    test_cluster.py [TEST_NAME ...]
"""

import os
import random
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (Service, Venue, expect_one_event,  # noqa: E402
                     make_jwt, run_suite, settings, wait_for)
from test_invariants import RATE_COINS, Ledger  # noqa: E402
from test_load_faults import Load  # noqa: E402
from test_ops import parse_metrics, value  # noqa: E402

MASTERS = 3


def cluster_port(taken=()):
    """A free loopback port whose cluster bus port (+10000) is free too,
    both below the kernel's ephemeral range (where other suites' ports and
    outgoing connections come from), and not in taken."""
    while True:
        port = random.randint(10000, 19999)
        if port in taken:
            continue
        try:
            for p in (port, port + 10000):
                s = socket.socket()
                try:
                    s.bind(("127.0.0.1", p))
                finally:
                    s.close()
        except OSError:
            continue
        return port


class ClusterService(Service):
    """A Service whose Redis is a cluster of MASTERS masters and as many
    replicas on loopback TCP, each node in a directory of its own."""

    def __init__(self, name, env=None):
        self.ports = []
        for _ in range(2 * MASTERS):
            self.ports.append(cluster_port(self.ports))
        e = {"HB_REDIS_SOCKET": "",
             "HB_REDIS_CLUSTER": ",".join("127.0.0.1:%d" % p
                                          for p in self.ports),
             "HB_REDIS_TIMEOUT_MS": "500"}
        e.update(env or {})
        super().__init__(name, e)

    def node_key(self, port):
        return "node-%d" % port

    def start_node(self, port):
        d = os.path.join(self.dir, "node-%d" % port)
        os.makedirs(d, exist_ok=True)
        self._spawn(self.node_key(port), [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1",
            "--dir", d, "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "1000", "--save", "",
            "--repl-diskless-sync-delay", "0",
            "--appendonly", "yes", "--appendfsync", "always",
            "--daemonize", "no"], "redis-%d.log" % port)

    def start_redis(self):
        for p in self.ports:
            self.start_node(p)
        for p in self.ports:
            wait_for("node %d" % p, lambda p=p: self.cli(p, "PING") == "PONG")
        out = subprocess.run(
            ["redis-cli", "--cluster", "create"] +
            ["127.0.0.1:%d" % p for p in self.ports] +
            ["--cluster-replicas", "1", "--cluster-yes"],
            capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        wait_for("cluster ok everywhere", lambda: all(
            "cluster_state:ok" in self.cli(p, "CLUSTER", "INFO")
            for p in self.ports), timeout=30)
        # Failover needs every replica to know its master's link is up.
        try:
            wait_for("replicas in sync", lambda: sum(
                "master_link_status:up" in self.cli(p, "INFO", "replication")
                for p in self.ports) == MASTERS, timeout=60)
        except RuntimeError:
            for p in self.ports:
                print("node %d: %s" % (p, " ".join(
                    line for line in self.cli(p, "INFO",
                                              "replication").splitlines()
                    if line.startswith(("role", "master_link", "connected")))))
            raise

    def stop(self):
        for p in self.ports:
            self._stop(self.node_key(p))
        super().stop()

    def live_ports(self):
        return [p for p in self.ports if self.node_key(p) in self.procs]

    def slot(self):
        return int(self.cli(self.live_ports()[0], "CLUSTER", "KEYSLOT",
                            self.key("anchor")))

    def up_masters(self):
        """[(port, node id, slot range fields)] of the masters a live node
        knows as up (CLUSTER NODES: the slot ranges follow the flags)."""
        out = []
        for line in self.cli(self.live_ports()[0], "CLUSTER",
                             "NODES").splitlines():
            f = line.split()
            if "master" in f[2] and "fail" not in f[2]:
                out.append((int(f[1].split(":")[1].split("@")[0]), f[0],
                            f[8:]))
        return out

    def masters(self):
        """{port: node id} of the masters a live node knows as up."""
        return {port: node for port, node, _ in self.up_masters()}

    def owner_port(self):
        """The master serving the service's slot, as a live node sees it,
        or None."""
        slot = self.slot()
        for port, _, ranges in self.up_masters():
            for r in ranges:
                if r.startswith("["):  # a migration under way
                    continue
                lo, _, hi = r.partition("-")
                if int(lo) <= slot <= int(hi or lo):
                    return port
        return None  # during a failover

    def redis(self, *args):
        return self.cli(self.owner_port(), *args)


def healthz(svc):
    r = svc.request("GET", "/healthz")
    assert r.status == 200 and r.json["status"] == "ok" and r.json[
        "redis"] == {"mode": "cluster", "role": "master"}, r


@settings(HB_SWEEP_INTERVAL_SEC=0)
def test_admin_writes_create_the_anchor_first(svc):
    # Before any script runs, heartbeatctl's own writes create the key that
    # routes scripts: it must exist wherever the service's keys do.
    anchor = svc.key("anchor")
    assert svc.redis("EXISTS", anchor) == "0"
    svc.ctl("game", "list")
    assert svc.redis("EXISTS", anchor) == "0"   # reading creates nothing
    svc.ctl("game", "add", "g1", "--name", "Game", "--rate", 1)
    assert svc.redis("EXISTS", anchor) == "1"
    assert svc.redis("GET", anchor) == "1"


@settings(HB_SWEEP_INTERVAL_SEC=0)
def test_every_script_runs_on_a_cluster_in_one_slot(svc):
    healthz(svc)
    # launcher_start, launcher_ott, game_verify, game_heartbeat, game_end.
    v = Venue(svc, coins=10)
    token, gs = v.session("pc-1")
    r = v.heartbeat(gs)
    assert r.status == 200 and r.data["result"] == "OK", r
    r = v.check(gs)
    assert r.status == 200, r
    assert v.end(gs, play=5).status == 200
    # launcher_heartbeat, launcher_end.
    assert v.launcher_heartbeat(token).status == 200
    assert v.launcher_end(token).status == 200
    # wallet_topup, session_revoke, sweep (heartbeatctl).
    svc.ctl("wallet", "topup", v.id, 5)
    assert v.wallet() == 15 * 1000 - sum(
        e["charged_millicoins"] for e in svc.events())
    _, gs2 = v.session("pc-2")
    svc.ctl("session", "revoke", gs2, "--drain", 1)
    time.sleep(1.2)
    svc.ctl("sweep")
    expect_one_event(svc, gs2, "revoked", v, pc="pc-2")
    # device: the device-session script, with a JWT.
    auth = {"Authorization": "Bearer " + make_jwt({"sub": "user-1"})}
    r = svc.request("POST", "/sessions", {"fingerprint": "fp-1"}, auth)
    assert r.status == 200 and r.json["success"] is True, r
    sid = r.json["session"]["id"]
    r = svc.request("POST", "/sessions/%s/heartbeat" % sid, None, auth)
    assert r.status == 200, r
    r = svc.request("POST", "/sessions/%s/revoke" % sid, None, auth)
    assert r.status == 200, r
    # metrics.
    r = svc.request("GET", "/metrics")
    samples, _ = parse_metrics(r.body.decode())
    assert value(samples, "heartbeat_game_sessions_started_total") == 2
    assert value(samples, "heartbeat_redis_errors_total") == 0, r.body
    # Every key is in the one slot, on its master alone.
    slot, owner = svc.slot(), svc.owner_port()
    keys = int(svc.cli(owner, "CLUSTER", "COUNTKEYSINSLOT", slot))
    assert keys > 10, keys
    assert int(svc.cli(owner, "DBSIZE")) == keys
    for port in svc.masters():
        if port != owner:
            assert svc.cli(port, "DBSIZE") == "0", port
    stats = svc.cli(owner, "INFO", "commandstats")
    assert "cmdstat_fcall:" in stats or "cmdstat_evalsha:" in stats, stats
    for line in stats.splitlines():
        if "rejected_calls=" in line:
            assert "rejected_calls=0,failed_calls=0" in line, line


def migrate_slot(svc, load, src, dst):
    """Moves the service's slot from master src to master dst as
    docs/operations.md says: heartbeatctl pause, then CLUSTER SETSLOT and MIGRATE in batches,
    the anchor key last, SETSLOT NODE on the importing node first, and
    heartbeatctl resume; with pauses between steps so the load meets every
    state. Returns the statuses of the requests made while paused."""
    slot, ids = svc.slot(), svc.masters()
    anchor = svc.key("anchor")
    assert "paused" in svc.ctl("pause").stdout
    paused_at = time.monotonic()
    assert svc.cli(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING",
                   ids[src]) == "OK"
    assert svc.cli(src, "CLUSTER", "SETSLOT", slot, "MIGRATING",
                   ids[dst]) == "OK"
    while True:
        keys = [k for k in svc.cli(src, "CLUSTER", "GETKEYSINSLOT", slot,
                                   20).split("\n") if k and k != anchor]
        if not keys:
            break
        out = svc.cli(src, "MIGRATE", "127.0.0.1", dst, "", 0, 5000,
                      "KEYS", *keys)
        assert out in ("OK", "NOKEY"), out
        time.sleep(0.1)
    time.sleep(0.3)
    assert svc.cli(src, "MIGRATE", "127.0.0.1", dst, "", 0, 5000,
                   "KEYS", anchor) == "OK"
    # Only the anchor's absence sends scripts on (ASK): hold that state.
    n = len(load.statuses())
    wait_for("requests answered while asking",
             lambda: len(load.statuses()) >= n + 20, timeout=20)
    # The importing node first, so that no node sends back to the source.
    for port in [dst, src] + [p for p in ids if p not in (src, dst)]:
        assert svc.cli(port, "CLUSTER", "SETSLOT", slot, "NODE",
                       ids[dst]) == "OK"
    resumed_at = time.monotonic()
    assert "resumed" in svc.ctl("resume").stdout
    with load.lock:
        return [a[0] for a in load.answers
                if a[3] >= paused_at and a[3] + a[2] <= resumed_at]


def test_slot_migrated_under_load_while_paused(svc):
    v = Venue(svc, rate=RATE_COINS, coins=100000)
    sessions = [v.session("pc-%d" % i)[1] for i in range(4)]
    src = svc.owner_port()
    dst = [p for p in svc.masters() if p != src][0]
    with Load(v, sessions) as load:
        time.sleep(0.3)
        paused = migrate_slot(svc, load, src, dst)
        wait_for("service on the new master",
                 lambda: load.statuses()[-10:] == [200] * 10, timeout=30)
    load.check({200, 503})
    # Every request begun and answered while paused was refused.
    assert len(paused) > 50 and set(paused) == {503}, paused
    assert svc.owner_port() == dst
    assert svc.cli(src, "DBSIZE") == "0"
    samples, _ = parse_metrics(svc.request("GET", "/metrics").body.decode())
    assert value(samples, "heartbeat_redis_ask_total") >= 1, samples
    assert value(samples, "heartbeat_redis_moved_total") >= 1, samples
    for gs in sessions:
        assert v.end(gs).status == 200
    Ledger(svc, v).check(100000 * 1000, ended=sessions, exact_play=False)
    healthz(svc)


def test_master_killed_replica_promoted_under_load(svc):
    v = Venue(svc, rate=RATE_COINS, coins=100000)
    sessions = [v.session("pc-%d" % i)[1] for i in range(4)]
    old = svc.owner_port()
    pids = svc.worker_pids()
    with Load(v, sessions) as load:
        time.sleep(0.5)
        svc._stop(svc.node_key(old), signal.SIGKILL)
        wait_for("a replica promoted",
                 lambda: svc.owner_port() not in (old, None),
                 timeout=30)
        wait_for("service on the new master",
                 lambda: load.statuses()[-10:] == [200] * 10, timeout=30)
    load.check({200, 503})
    assert 503 in load.statuses(), "the kill was not seen"
    assert svc.worker_pids() == pids, "the workers were restarted"
    for gs in sessions:
        wait_for("end", lambda: v.end(gs).status == 200, timeout=20)
    Ledger(svc, v).check(100000 * 1000, ended=sessions, exact_play=False)
    healthz(svc)


TESTS = [test_admin_writes_create_the_anchor_first,
         test_every_script_runs_on_a_cluster_in_one_slot,
         test_slot_migrated_under_load_while_paused,
         test_master_killed_replica_promoted_under_load]

if __name__ == "__main__":
    only = sys.argv[1:]
    sys.exit(run_suite("cluster", [t for t in TESTS if not only or
                                   t.__name__ in only],
                       lambda t: ClusterService(
                           "cluster", getattr(t, "env", {})).start()))
