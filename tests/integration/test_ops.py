#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_ops.py - operations: /metrics (content, and the Prometheus text
format by a strict parser and by promtool check metrics), /healthz, the
release in --version, /healthz and /metrics,
heartbeatctl pause and resume, and Redis Sentinel: a master, a replica and three sentinels on
loopback, a failover forced with SENTINEL FAILOVER under a running load,
after which the workers find the new master with no restart and the ledger
is exact.

    test_ops.py [TEST_NAME ...]
"""

import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import (TOP, Service, Venue, expect_error,  # noqa: E402
                     free_port, run_suite, settings, wait_for)
from test_invariants import RATE_COINS, Ledger  # noqa: E402
from test_load_faults import Load  # noqa: E402

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? '
                    r'(-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$')
LABEL = re.compile(r'^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"$')


def parse_metrics(text):
    """A strict reading of the Prometheus text format (0.0.4): every line is
    a # HELP, a # TYPE or a sample; every sample belongs to a declared
    family. Returns {name: [(labels dict, value)]} and {family: type}."""
    samples, types = {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram", "summary",
                            "untyped"), line
            assert name not in types, "family declared twice: " + name
            types[name] = kind
            continue
        assert not line.startswith("#"), line
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels = m.group(1), {}
        if m.group(3):
            for pair in re.findall(r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"',
                                   m.group(3)):
                lm = LABEL.match(pair)
                assert lm, line
                labels[lm.group(1)] = lm.group(2)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or family in types, "undeclared: " + line
        samples.setdefault(name, []).append((labels, float(m.group(4))))
    return samples, types


def value(samples, name, **labels):
    return sum(v for lab, v in samples.get(name, [])
               if all(lab.get(k) == x for k, x in labels.items()))


def test_metrics_are_valid_prometheus_text_with_the_service_figures(svc):
    v = Venue(svc)
    _, gs = v.session()
    assert v.heartbeat(gs).status == 200
    assert v.end(gs).status == 200
    assert svc.request("GET", "/no/such/path").status == 404
    r = svc.request("GET", "/metrics")
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4"), r
    samples, types = parse_metrics(r.body.decode())
    assert types["heartbeat_requests_total"] == "counter", types
    assert types["heartbeat_request_duration_seconds"] == "histogram", types
    assert value(samples, "heartbeat_requests_total",
                 route="/v1/game/session/heartbeat", status="200") >= 1
    assert value(samples, "heartbeat_requests_total", status="404") >= 1
    # A histogram's buckets grow with le and end at +Inf = _count.
    buckets = [(float(lab["le"]) if lab["le"] != "+Inf" else float("inf"), n)
               for lab, n in samples["heartbeat_request_duration_seconds_bucket"]]
    counts = [n for _, n in sorted(buckets)]
    assert counts == sorted(counts), buckets
    assert counts[-1] == value(samples,
                               "heartbeat_request_duration_seconds_count")
    assert value(samples, "heartbeat_redis_up") == 1
    assert value(samples, "heartbeat_game_sessions_started_total") == 1
    assert value(samples, "heartbeat_game_sessions_ended_total",
                 reason="normal") == 1
    assert value(samples, "heartbeat_live_game_sessions") == 0
    # And Prometheus's own checker (scripts/test installs it) agrees.
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed (scripts/install-deps " \
        "prometheus)"
    p = subprocess.run([promtool, "check", "metrics"], input=r.body,
                       capture_output=True, timeout=30)
    assert p.returncode == 0 and not p.stdout and not p.stderr, (
        p.returncode, p.stdout, p.stderr)


@settings(HB_METRICS_ALLOW="10.0.0.0/8")
def test_metrics_are_refused_outside_the_allowed_addresses(svc):
    r = svc.request("GET", "/metrics")
    assert r.status == 404, r


def release():
    """The version configure.ac's AC_INIT names."""
    with open(os.path.join(TOP, "configure.ac")) as f:
        m = re.search(r"^AC_INIT\(\[[^]]*\], \[([^]]+)\]", f.read(), re.M)
    assert m, "no AC_INIT version in configure.ac"
    return m.group(1)


def test_one_release_in_version_healthz_and_metrics(svc):
    version = release()
    for prog, name in ((harness.WORKER, "heartbeat.fcgi"),
                       (harness.CTL, "heartbeatctl")):
        p = subprocess.run([prog, "--version"], capture_output=True,
                           text=True, timeout=30)
        assert p.returncode == 0 and not p.stderr, (prog, p)
        lines = p.stdout.splitlines()
        assert re.match(r"^%s %s( \(git [0-9a-f][-0-9a-zA-Z.]*\))?$" % (
            re.escape(name), re.escape(version)), lines[0]), lines
        for lib in ("hiredis", "json-c", "libfcgi"):
            assert any(line.startswith(lib + " ") for line in lines), lines
        assert re.match(r"^json-c [0-9]+\.[0-9]+", lines[2]), lines
    r = svc.request("GET", "/healthz")
    assert r.status == 200 and r.json["version"] == version, r
    samples, _ = parse_metrics(svc.request("GET", "/metrics").body.decode())
    info = samples["heartbeat_build_info"]
    assert len(info) == 1 and info[0][1] == 1, info
    assert info[0][0]["version"] == version, info


def test_healthz_follows_redis_and_its_role(svc):
    up = {"status": "ok", "redis": {"mode": "standalone", "role": "master"},
          "version": release()}
    r = svc.request("GET", "/healthz")
    assert r.status == 200 and r.json == up, r
    svc.stop_redis()
    r = svc.request("GET", "/healthz")
    assert r.status == 503 and r.json == {
        "status": "unavailable",
        "redis": {"mode": "standalone", "role": None},
        "version": release()}, r
    assert r.header("Retry-After"), r
    svc.start_redis()
    wait_for("healthz", lambda: svc.request("GET", "/healthz").status == 200)
    # A replica would refuse every write: not healthy.
    other = free_port()
    svc.redis("REPLICAOF", "127.0.0.1", other)
    r = svc.request("GET", "/healthz")
    assert r.status == 503 and r.json["redis"]["role"] == "replica", r
    assert r.header("Retry-After"), r
    svc.redis("REPLICAOF", "NO", "ONE")
    wait_for("master again",
             lambda: svc.request("GET", "/healthz").json == up)


def test_pause_answers_503_until_resume_and_changes_nothing(svc):
    v = Venue(svc)
    _, gs = v.session()
    assert v.heartbeat(gs).status == 200
    before = svc.redis("HGET", svc.bucket(gs), gs)
    assert before
    wallet = v.wallet()
    out = svc.ctl("pause").stdout
    assert "paused" in out, out
    for r in (v.heartbeat(gs), v.check(gs), v.end(gs),
              v.launcher_start("pc-2")):
        expect_error(r, 503, "SERVICE_UNAVAILABLE")
        assert r.header("Retry-After") == "1", r.headers
    # A planned pause: Redis is up, nothing failed, no warning logged.
    samples, _ = parse_metrics(svc.request("GET", "/metrics").body.decode())
    assert value(samples, "heartbeat_paused") == 1, samples
    assert value(samples, "heartbeat_redis_up") == 1, samples
    assert value(samples, "heartbeat_redis_errors_total") == 0, samples
    assert "level=warn" not in svc.worker_log(), svc.worker_log()[-2000:]
    # Scripts of heartbeatctl stop too; nothing was written meanwhile.
    p = svc.ctl("sweep", check=False)
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert svc.redis("HGET", svc.bucket(gs), gs) == before
    # Reading sessions goes on: heartbeatctl session writes nothing.
    assert svc.session(gs)["st"] == "live"
    assert svc.ctl("session", "list").stdout.split("\t")[0] == gs
    assert svc.redis("HGET", svc.bucket(gs), gs) == before
    assert v.wallet() == wallet
    assert svc.ctl("resume").stdout.strip() == "resumed"
    r = v.heartbeat(gs)
    assert r.status == 200 and r.data["result"] == "OK", r
    assert v.end(gs).status == 200
    samples, _ = parse_metrics(svc.request("GET", "/metrics").body.decode())
    assert value(samples, "heartbeat_paused") == 0, samples


class SentinelService(Service):
    """A Service whose Redis is a master, a replica and three sentinels on
    loopback TCP; the workers and heartbeatctl find the master through the
    sentinels."""

    NAME = "hbmaster"

    def __init__(self, name):
        self.ports = [free_port() for _ in range(5)]
        super().__init__(name, {
            "HB_REDIS_SOCKET": "",
            "HB_REDIS_SENTINELS": ",".join("127.0.0.1:%d" % p
                                           for p in self.ports[2:]),
            "HB_REDIS_MASTER_NAME": self.NAME,
            "HB_REDIS_TIMEOUT_MS": "500"})

    def _redis_node(self, key, port, *extra):
        self._spawn(key, ["redis-server", "--port", str(port), "--bind",
                          "127.0.0.1", "--dir", self.dir, "--dbfilename",
                          "dump-%d.rdb" % port, "--appendonly", "yes",
                          "--appendfilename", "aof-%d.aof" % port,
                          "--appenddirname", "aof-%d" % port,
                          "--appendfsync", "always", "--save", ""] +
                    list(extra), "redis-%d.log" % port)

    def start_redis(self):
        master, replica = self.ports[:2]
        # A master that has lost its replica for a second refuses writes
        # (NOREPLICAS): after a failover, the old master stops taking
        # writes the new one would never see.
        fence = ["--min-replicas-to-write", "1", "--min-replicas-max-lag",
                 "1"]
        self._redis_node("redis", master, *fence)
        self._redis_node("replica", replica, "--replicaof", "127.0.0.1",
                         str(master), *fence)
        for i, port in enumerate(self.ports[2:]):
            conf = os.path.join(self.dir, "sentinel-%d.conf" % port)
            with open(conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\ndir %s\n"
                        "sentinel monitor %s 127.0.0.1 %d 2\n"
                        "sentinel down-after-milliseconds %s 1000\n"
                        "sentinel failover-timeout %s 5000\n"
                        % (port, self.dir, self.NAME, master, self.NAME,
                           self.NAME))
            self._spawn("sentinel%d" % i, ["redis-server", conf,
                                           "--sentinel"],
                        "sentinel-%d.log" % port)
        wait_for("replica in sync", lambda: "master_link_status:up" in
                 self.cli(replica, "INFO", "replication"))
        wait_for("sentinels", lambda: all(
            self.cli(p, "SENTINEL", "get-master-addr-by-name", self.NAME)
            for p in self.ports[2:]))
        # A sentinel learns the replica from the master's INFO, which it
        # reads every few seconds: failover needs it known.
        wait_for("sentinels knowing the replica", lambda: all(
            str(replica) in self.cli(p, "SENTINEL", "replicas", self.NAME)
            for p in self.ports[2:]), timeout=30)

    def stop(self):
        for i in range(3):
            self._stop("sentinel%d" % i)
        self._stop("replica")
        super().stop()

    def master_port(self):
        out = self.cli(self.ports[2], "SENTINEL", "get-master-addr-by-name",
                       self.NAME).split()
        return int(out[1])

    def redis(self, *args):
        return self.cli(self.master_port(), *args)


def test_sentinel_failover_under_load_resumes_with_an_exact_ledger(svc):
    v = Venue(svc, rate=RATE_COINS, coins=100000)
    sessions = [v.session("pc-%d" % i)[1] for i in range(4)]
    old = svc.master_port()
    pids = svc.worker_pids()
    with Load(v, sessions) as load:
        time.sleep(0.5)
        out = svc.cli(svc.ports[2], "SENTINEL", "FAILOVER", svc.NAME)
        assert out == "OK", out
        wait_for("a new master", lambda: svc.master_port() != old,
                 timeout=30)
        # Sentinel turns the old master into a replica of the new one.
        wait_for("the old master demoted", lambda: svc.cli(
            old, "ROLE").startswith("slave"), timeout=30)
        wait_for("service on the new master",
                 lambda: load.statuses()[-10:] == [200] * 10, timeout=30)
    load.check({200, 503})
    assert svc.master_port() == svc.ports[1]
    assert svc.worker_pids() == pids, "the workers were restarted"
    for gs in sessions:
        wait_for("end", lambda: v.end(gs).status == 200, timeout=20)
    Ledger(svc, v).check(100000 * 1000, ended=sessions, exact_play=False)


TESTS = [test_metrics_are_valid_prometheus_text_with_the_service_figures,
         test_metrics_are_refused_outside_the_allowed_addresses,
         test_one_release_in_version_healthz_and_metrics,
         test_healthz_follows_redis_and_its_role,
         test_pause_answers_503_until_resume_and_changes_nothing,
         test_sentinel_failover_under_load_resumes_with_an_exact_ledger]


def make(test):
    if test is test_sentinel_failover_under_load_resumes_with_an_exact_ledger:
        return SentinelService("ops-sentinel").start()
    return Service("ops", getattr(test, "env", {})).start()


if __name__ == "__main__":
    only = sys.argv[1:]
    sys.exit(run_suite("ops", [t for t in TESTS if not only or
                               t.__name__ in only], make))
