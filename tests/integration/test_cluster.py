#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_cluster.py - the service on a Redis Cluster: three masters with a
replica each on loopback (redis-cli --cluster create), the workers and
heartbeatctl given only seed nodes. The whole flow runs against it, with
every script; the slot of the service's keys is migrated to another master
under a running load while the service is paused (the workers follow ASK,
then MOVED); the slot's master is killed and its replica promoted under
load. Throughout, answers are 200 or 503 with Retry-After, and the ledger
is exact afterwards.

Then the same with HB_SHARDS=64 on nodes that keep serving while another
master is down (cluster-require-full-coverage no): the shards' slots spread
over all three masters; every script runs for venues and device users
whose shards are on different masters; one shard is paused (heartbeatctl
pause --shard) and its slot migrated under load while the venues of the
other shards, on the same master too, answer 200 throughout; one master is
killed under load until its replica is promoted while the venues of the
others answer 200 throughout. Each venue's ledger is exact afterwards.

    test_cluster.py [TEST_NAME ...]
"""

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (Service, Venue, crc16,  # noqa: E402
                     expect_one_event, make_jwt, run_suite, session_events,
                     settings, wait_for)
from test_invariants import RATE_COINS, Ledger  # noqa: E402
from test_load_faults import SLOWEST, Load  # noqa: E402
from test_ops import parse_metrics, value  # noqa: E402

MASTERS = 3
# Redis Cluster's hash slots.
SLOTS = 16384


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


def key_slot(key):
    """The hash slot of key, as Redis Cluster computes it: CRC16 of its
    hash tag (what stands between the first "{" and the next "}", when not
    empty), else of the whole name, modulo 16384."""
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    return crc16(key.encode()) % SLOTS


class ClusterService(Service):
    """A Service whose Redis is a cluster of MASTERS masters and as many
    replicas on loopback TCP, each node in a directory of its own. With
    full_coverage false, the nodes run with cluster-require-full-coverage
    no, so that the slots of live masters keep serving while another master
    is down (what a sharded deployment wants)."""

    def __init__(self, name, env=None, full_coverage=True):
        self.full_coverage = full_coverage
        self.ports = []
        for _ in range(2 * MASTERS):
            self.ports.append(cluster_port(self.ports))
        e = {"HB_REDIS_SOCKET": "",
             "HB_REDIS_CLUSTER": ",".join("127.0.0.1:%d" % p
                                          for p in self.ports),
             "HB_REDIS_TIMEOUT_MS": "500",
             # The one-slot tests: one shard, whatever the run's; the
             # sharded ones say HB_SHARDS themselves.
             "HB_SHARDS": "1"}
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
            "--cluster-require-full-coverage",
            "yes" if self.full_coverage else "no",
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

    def slot(self, shard=0):
        """The hash slot of shard (its anchor's, as every key's of it)."""
        return key_slot(self.key("anchor", shard))

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

    def slot_owners(self):
        """{slot: port} of the slots the masters a live node knows as up
        serve (a slot being failed over is missing)."""
        out = {}
        for port, _, ranges in self.up_masters():
            for r in ranges:
                if r.startswith("["):  # a migration under way
                    continue
                lo, _, hi = r.partition("-")
                for slot in range(int(lo), int(hi or lo) + 1):
                    out[slot] = port
        return out

    def owner_port(self, shard=0):
        """The master serving shard's slot, as a live node sees it, or None
        (during a failover)."""
        return self.slot_owners().get(self.slot(shard))

    def shard_owners(self):
        """{shard: port of its master} of every shard."""
        owners = self.slot_owners()
        return {i: owners.get(self.slot(i)) for i in range(self.shards())}

    def redis(self, *args):
        """Runs one command on the master of the slot of the key it names
        (args[1], a key of the service), else on shard 0's."""
        port = None
        if len(args) > 1 and "{" in str(args[1]):
            port = self.slot_owners().get(key_slot(str(args[1])))
        return self.cli(port or self.owner_port(), *args)


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


def migrate_slot(svc, answers, src, dst, shard=None):
    """Moves the service's slot (shard's, with heartbeatctl pause --shard,
    when shard is given) from master src to master dst as
    docs/operations.md says: heartbeatctl pause, then CLUSTER SETSLOT and
    MIGRATE in batches, the anchor key last, SETSLOT NODE on the importing
    node first, and heartbeatctl resume; with pauses between steps so the
    load meets every state. answers() gives the answers so far of the
    calls on the moved slot: (status, Retry-After, duration, start).
    Returns the statuses of those begun and answered while paused."""
    slot, ids = svc.slot(shard or 0), svc.masters()
    anchor = svc.key("anchor", shard or 0)
    only = [] if shard is None else ["--shard", shard]
    assert "paused" in svc.ctl("pause", *only).stdout
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
    n = len(answers())
    wait_for("requests answered while asking",
             lambda: len(answers()) >= n + 20, timeout=20)
    # The importing node first, so that no node sends back to the source.
    for port in [dst, src] + [p for p in ids if p not in (src, dst)]:
        assert svc.cli(port, "CLUSTER", "SETSLOT", slot, "NODE",
                       ids[dst]) == "OK"
    resumed_at = time.monotonic()
    assert "resumed" in svc.ctl("resume", *only).stdout
    return [a[0] for a in answers()
            if a[3] >= paused_at and a[3] + a[2] <= resumed_at]


def test_slot_migrated_under_load_while_paused(svc):
    v = Venue(svc, rate=RATE_COINS, coins=100000)
    sessions = [v.session("pc-%d" % i)[1] for i in range(4)]
    src = svc.owner_port()
    dst = [p for p in svc.masters() if p != src][0]
    with Load(v, sessions) as load:
        time.sleep(0.3)
        paused = migrate_slot(svc, lambda: list(load.answers), src, dst)
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


# -- shards over every master ----------------------------------------------

SHARDS = 64


def sharded(fn):
    """Decorator: the test's service has SHARDS shards, on nodes that keep
    serving their slots while another master is down."""
    fn.env = {"HB_SHARDS": str(SHARDS)}
    fn.service_options = {"full_coverage": False}
    return fn


def owners_on(svc, masters, prefix, exclude=(), per_master=1):
    """Names prefix-0, prefix-1, ... whose shards are served by the given
    masters, per_master for each, each in a shard of its own and none in a
    shard of exclude: {port: [(name, shard), ...]}."""
    owners = svc.shard_owners()
    out = {port: [] for port in masters}
    used = set(exclude)
    for i in range(10000):
        name = "%s-%d" % (prefix, i)
        shard = svc.shard_of_owner(name)
        port = owners[shard]
        if shard in used or port not in out or len(out[port]) >= per_master:
            continue
        out[port].append((name, shard))
        used.add(shard)
        if all(len(v) == per_master for v in out.values()):
            return out
    raise AssertionError("no names for every master: %r" % out)


class ShardLoad:
    """Threads heartbeating the sessions of several venues until stopped;
    records every answer as (venue id, status, Retry-After, duration,
    start)."""

    def __init__(self, sessions, threads=6):
        self.sessions = sessions    # [(Venue, game session id)]
        self.answers = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,))
                        for i in range(threads)]

    def run(self, i):
        n = 0
        while not self.stopping.is_set():
            v, gs = self.sessions[(i + n) % len(self.sessions)]
            n += 1
            t0 = time.monotonic()
            try:
                r = v.heartbeat(gs)
                answer = (v.id, r.status, r.header("Retry-After"),
                          time.monotonic() - t0, t0)
            except OSError as e:
                answer = (v.id, "error: %s" % e, None,
                          time.monotonic() - t0, t0)
            with self.lock:
                self.answers.append(answer)

    def __enter__(self):
        for t in self.threads:
            t.start()
        wait_for("the load running", lambda: len(self.answers) >= 20,
                 timeout=30)
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(30)

    def of(self, venues):
        """The answers for the venues (ids) so far, without the venue id:
        (status, Retry-After, duration, start)."""
        with self.lock:
            return [a[1:] for a in self.answers if a[0] in venues]

    def settled(self, venues, n=10):
        """Whether the last n answers of each of venues were 200."""
        for v in venues:
            last = [a[0] for a in self.of({v})[-n:]]
            if last != [200] * n:
                return False
        return True

    def check(self, venues, allowed, what):
        """Every answer for venues was in allowed, and each 503 carried
        Retry-After; prints the counts. Returns the statuses."""
        answers = self.of(venues)
        assert answers, "no requests ran for " + what
        bad = [a for a in answers if a[0] not in allowed]
        assert not bad, (what, bad[:5])
        no_retry = [a for a in answers if a[0] == 503 and not a[1]]
        assert not no_retry, (what, no_retry[:5])
        slow = [a for a in answers if a[2] > SLOWEST]
        assert not slow, (what, slow[:5])
        counts = {}
        for a in answers:
            counts[a[0]] = counts.get(a[0], 0) + 1
        print("     %s: %d requests, %s" % (what, len(answers), ", ".join(
            "%s: %d" % kv for kv in sorted(counts.items()))), flush=True)
        return [a[0] for a in answers]


class VenueLedger(Ledger):
    """test_invariants' Ledger for one venue among several: its settlement
    entries, its live sessions (in its shard) and its wallet."""

    def __init__(self, svc, venue):
        self.events = [e for e in svc.events()
                       if e.get("venue_id") == venue.id]
        self.by_session = {}
        for e in self.events:
            self.by_session.setdefault(e["game_session_id"], []).append(e)
        self.live = {}
        shard = svc.shard_of_owner(venue.id)
        for gs in svc.redis("ZRANGE", svc.key("deadlines", shard), 0,
                            -1).split():
            st = svc.session(gs)
            if st and st.get("venue") == venue.id:
                self.live[gs] = st["chg"]
        self.wallet = venue.wallet()


def end_and_check_ledgers(svc, sessions, coins):
    """Ends every session (retrying while the service recovers) and checks
    each venue's ledger: every session settled once, the wallet exact."""
    by_venue = {}
    for v, gs in sessions:
        wait_for("end of " + gs, lambda: v.end(gs).status == 200, timeout=30)
        by_venue.setdefault(v.id, (v, []))[1].append(gs)
    for v, ended in by_venue.values():
        VenueLedger(svc, v).check(coins * 1000, ended=ended,
                                  exact_play=False)


@sharded
def test_shards_spread_over_every_master(svc):
    owners = svc.shard_owners()
    slots = [svc.slot(i) for i in range(SHARDS)]
    # The slots computed here are the cluster's own.
    for i in (0, 1, SHARDS - 1):
        assert int(svc.cli(svc.live_ports()[0], "CLUSTER", "KEYSLOT",
                           svc.key("anchor", i))) == slots[i]
    assert len(set(slots)) == SHARDS, "two shards share a slot"
    split = {port: sorted(i for i, p in owners.items() if p == port)
             for port in svc.masters()}
    print("     %d shards over %d masters: %s" % (
        SHARDS, len(split), ", ".join("%d on :%d" % (len(v), port)
                                      for port, v in sorted(split.items()))),
        flush=True)
    assert len(split) == MASTERS, split
    assert sum(len(v) for v in split.values()) == SHARDS, owners
    assert all(len(v) > 0 for v in split.values()), split
    # heartbeatctl wrote the games into every shard, on its master.
    Venue(svc, "v-spread")
    for shard, port in owners.items():
        assert svc.cli(port, "EXISTS", svc.key("games", shard)) == "1", shard
    healthz(svc)


@sharded
def test_every_script_runs_on_shards_over_every_master(svc):
    healthz(svc)
    masters = sorted(svc.masters())
    placed = owners_on(svc, masters, "venue")
    venues = [Venue(svc, name, coins=10) for port in masters
              for name, _ in placed[port]]
    users = [name for port in masters
             for name, _ in owners_on(svc, masters, "user")[port]]
    revoked = {}
    for v in venues:
        # launcher_start, launcher_ott, game_verify, game_heartbeat,
        # game_end.
        token, gs = v.session("pc-1")
        assert svc.shard_of_id(gs) == svc.shard_of_owner(v.id), gs
        r = v.heartbeat(gs)
        assert r.status == 200 and r.data["result"] == "OK", r
        assert v.check(gs).status == 200
        assert v.end(gs, play=5).status == 200
        # launcher_heartbeat, launcher_end.
        assert v.launcher_heartbeat(token).status == 200
        assert v.launcher_end(token).status == 200
        # wallet_topup, session_revoke, sweep (heartbeatctl).
        svc.ctl("wallet", "topup", v.id, 5)
        assert v.wallet() == 15 * 1000 - sum(
            e["charged_millicoins"] for e in svc.events()
            if e["venue_id"] == v.id)
        _, gs2 = v.session("pc-2")
        svc.ctl("session", "revoke", gs2, "--drain", 1)
        revoked[v.id] = gs2
    for v in venues:
        gs2 = revoked[v.id]
        wait_for("the revoked session of %s swept" % v.id, lambda: svc.ctl(
            "sweep") and len(session_events(svc, gs2)) == 1, timeout=30)
        expect_one_event(svc, gs2, "revoked", v, pc="pc-2")
    # device: the device-session script, with a JWT, for users on every
    # master.
    for user in users:
        auth = {"Authorization": "Bearer " + make_jwt({"sub": user})}
        r = svc.request("POST", "/sessions", {"fingerprint": "fp-1"}, auth)
        assert r.status == 200 and r.json["success"] is True, r
        sid = r.json["session"]["id"]
        r = svc.request("POST", "/sessions/%s/heartbeat" % sid, None, auth)
        assert r.status == 200, r
        r = svc.request("POST", "/sessions/%s/revoke" % sid, None, auth)
        assert r.status == 200, r
    # metrics, from every shard.
    r = svc.request("GET", "/metrics")
    samples, _ = parse_metrics(r.body.decode())
    assert value(samples, "heartbeat_game_sessions_started_total") == \
        2 * len(venues)
    assert value(samples, "heartbeat_redis_errors_total") == 0, r.body
    # Each venue's and user's keys are in its shard's slot, on the master
    # that serves it (asked directly: no redirect).
    owners = svc.shard_owners()
    for v in venues:
        shard = svc.shard_of_owner(v.id)
        assert svc.cli(owners[shard], "EXISTS",
                       svc.key("venue:" + v.id, shard)) == "1", v.id
    # Every key of a master is in the slot of a shard it serves.
    for port in masters:
        mine = [i for i, p in owners.items() if p == port]
        keys = sum(int(svc.cli(port, "CLUSTER", "COUNTKEYSINSLOT",
                               svc.slot(i))) for i in mine)
        assert int(svc.cli(port, "DBSIZE")) == keys, port
        stats = svc.cli(port, "INFO", "commandstats")
        assert "cmdstat_fcall:" in stats or "cmdstat_evalsha:" in stats, \
            (port, stats)
        for line in stats.splitlines():
            if "rejected_calls=" in line:
                assert "rejected_calls=0,failed_calls=0" in line, line


def shard_venues(svc, coins):
    """Venues on shards of every master, two on each (shards of their
    own), with two game sessions each: ({port: [Venue, ...]}, [(Venue,
    gs), ...])."""
    masters = sorted(svc.masters())
    placed = owners_on(svc, masters, "venue", per_master=2)
    venues = {port: [Venue(svc, name, rate=RATE_COINS, coins=coins)
                     for name, _ in placed[port]] for port in masters}
    sessions = [(v, v.session("pc-%d" % i)[1])
                for vs in venues.values() for v in vs for i in range(2)]
    return venues, sessions


@sharded
def test_one_shard_moved_under_load_while_the_others_serve(svc):
    coins = 100000
    venues, sessions = shard_venues(svc, coins)
    src = sorted(venues)[0]
    moved = venues[src][0]
    shard = svc.shard_of_owner(moved.id)
    slot = svc.slot(shard)
    dst = sorted(venues)[1]
    others = {v.id for vs in venues.values() for v in vs} - {moved.id}
    # The slot holds that shard alone: moving it moves nothing else.
    assert [i for i in range(SHARDS) if svc.slot(i) == slot] == [shard]
    print("     moving shard %d (slot %d) from :%d to :%d" % (
        shard, slot, src, dst), flush=True)
    with ShardLoad(sessions) as load:
        paused = migrate_slot(svc, lambda: load.of({moved.id}), src, dst,
                              shard)
        wait_for("the moved shard on its new master",
                 lambda: load.settled({moved.id}), timeout=30)
        n = len(load.of(others))
        wait_for("the other shards answering after the move",
                 lambda: len(load.of(others)) >= n + 20, timeout=30)
    load.check(others, {200}, "other shards")
    load.check({moved.id}, {200, 503}, "moved shard")
    # Every request for the moved shard begun and answered while paused
    # was refused.
    assert len(paused) > 10 and set(paused) == {503}, paused
    assert svc.owner_port(shard) == dst
    assert svc.cli(src, "CLUSTER", "COUNTKEYSINSLOT", slot) == "0"
    assert int(svc.cli(dst, "CLUSTER", "COUNTKEYSINSLOT", slot)) > 0
    samples, _ = parse_metrics(svc.request("GET", "/metrics").body.decode())
    assert value(samples, "heartbeat_redis_ask_total") >= 1, samples
    assert value(samples, "heartbeat_redis_moved_total") >= 1, samples
    assert value(samples, "heartbeat_paused") == 0, samples
    for v, gs in sessions:
        r = v.heartbeat(gs)
        assert r.status == 200, (v.id, r)
    end_and_check_ledgers(svc, sessions, coins)
    healthz(svc)


@sharded
def test_one_master_killed_under_load_while_the_others_serve(svc):
    coins = 100000
    venues, sessions = shard_venues(svc, coins)
    old = sorted(venues)[0]
    lost = {v.id for v in venues[old]}
    others = {v.id for vs in venues.values() for v in vs} - lost
    shards = [svc.shard_of_owner(v) for v in lost]
    pids = svc.worker_pids()
    with ShardLoad(sessions) as load:
        svc._stop(svc.node_key(old), signal.SIGKILL)
        wait_for("a replica promoted", lambda: all(
            svc.owner_port(i) not in (old, None) for i in shards),
            timeout=30)
        wait_for("the lost shards on the new master",
                 lambda: load.settled(lost), timeout=30)
        n = len(load.of(others))
        wait_for("the other shards answering after the promotion",
                 lambda: len(load.of(others)) >= n + 20, timeout=30)
    load.check(others, {200}, "shards of the other masters")
    statuses = load.check(lost, {200, 503}, "shards of the killed master")
    assert 503 in statuses, "the kill was not seen"
    assert svc.worker_pids() == pids, "the workers were restarted"
    end_and_check_ledgers(svc, sessions, coins)
    healthz(svc)


TESTS = [test_admin_writes_create_the_anchor_first,
         test_every_script_runs_on_a_cluster_in_one_slot,
         test_slot_migrated_under_load_while_paused,
         test_master_killed_replica_promoted_under_load,
         test_shards_spread_over_every_master,
         test_every_script_runs_on_shards_over_every_master,
         test_one_shard_moved_under_load_while_the_others_serve,
         test_one_master_killed_under_load_while_the_others_serve]

if __name__ == "__main__":
    only = sys.argv[1:]
    sys.exit(run_suite("cluster", [t for t in TESTS if not only or
                                   t.__name__ in only],
                       lambda t: ClusterService(
                           "cluster", getattr(t, "env", {}),
                           **getattr(t, "service_options", {})).start()))
