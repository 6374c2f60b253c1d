# SPDX-License-Identifier: BSD-3-Clause
"""harness.py - real servers for the integration suites.

A Service starts, in a temporary directory of its own, a redis-server on a
unix socket, the FastCGI workers (heartbeat.fcgi --socket --workers) and a
web server on a loopback port, and stops them by PID. Suites talk to it over
HTTP with request(), administer it with ctl(), and look at Redis with redis().

The build directory is $HB_BUILD (default: the source tree's top), so the
suites also run from a VPATH build such as make distcheck's.
"""

import base64
import glob
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.abspath(os.environ.get("HB_BUILD", TOP))
WORKER = os.path.join(BUILD, "src", "heartbeat.fcgi")
CTL = os.path.join(BUILD, "src", "heartbeatctl")
LEDGER = os.path.join(BUILD, "src", "heartbeat-ledger")
DEPLOY = os.path.join(TOP, "deploy")
# HB_VALGRIND=1 runs the workers under valgrind's memcheck; a test whose
# workers report an error or a definite leak fails. Sanitizer builds
# (./configure --enable-asan) report into the service's directory likewise.
VALGRIND = os.environ.get("HB_VALGRIND") == "1"
# HB_EVENT_LOOP=1 runs the workers with --event-loop behind
# deploy/nginx/nginx-keepalive.conf (kept FastCGI connections).
EVENT_LOOP = os.environ.get("HB_EVENT_LOOP") == "1"


def free_port():
    """A loopback TCP port nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(parent):
    """The PIDs of the processes parent (a PID) has started, sorted."""
    try:
        with open("/proc/%d/task/%d/children" % (parent, parent)) as f:
            return sorted(int(x) for x in f.read().split())
    except OSError:
        out = subprocess.run(["pgrep", "-P", str(parent)],
                             capture_output=True, text=True).stdout
        return sorted(int(x) for x in out.split())


def wait_for(what, check, timeout=60.0):
    """Polls check() until it is true; raises after timeout seconds (a
    bound for a busy machine: an idle one takes a fraction of it)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


def pg_bindir():
    """Where the PostgreSQL server's programs (initdb, postgres) are:
    pg_config --bindir, else the newest /usr/lib/postgresql/*/bin."""
    try:
        d = subprocess.run(["pg_config", "--bindir"], capture_output=True,
                           text=True, timeout=30).stdout.strip()
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    except OSError:
        pass
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[-3]))
    if not found:
        raise RuntimeError("no PostgreSQL server: install postgresql")
    return os.path.dirname(found[-1])


# PostgreSQL refuses to run as root: the suites run it as this user.
PG_USER = os.environ.get("HB_PG_USER", "nobody")


def fill_template(path, values):
    """The text of a deploy/ file with its @NAME@ placeholders filled."""
    with open(path) as f:
        text = f.read()
    for name, value in values.items():
        text = text.replace("@" + name + "@", str(value))
    return text


def crc16(data):
    """CRC16-CCITT (XMODEM), as Redis Cluster and src/util.c compute it."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xffff
    return crc


def metrics_file(path):
    """The samples of a Prometheus text file (node_exporter's textfile
    format) as {name{labels}: value}; {} while it does not exist."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, val = line.rsplit(" ", 1)
            out[k] = float(val)
    return out


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def data(self):
        return (self.json or {}).get("data") or {}

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:300])


def redis_cli(where, *args):
    """Runs one Redis command with redis-cli reaching the server by where
    (["-s", socket] or ["-h", host, "-p", port]); returns its raw output
    (bytes that are not UTF-8, as in a session record, as surrogates)."""
    p = subprocess.run(["redis-cli"] + where + ["--raw"] +
                       [str(a) for a in args], capture_output=True,
                       text=True, errors="surrogateescape", timeout=30)
    return p.stdout.strip()


class Service:
    """Redis, workers and a web server for one suite."""

    def __init__(self, name, env=None, workers=2, ipv6=False,
                 event_loop=None, redis_args=()):
        self.name = name
        # More redis-server options (a test's own Redis).
        self.redis_args = list(redis_args)
        # ipv6: nginx also listens on [::1] (same port); request(host="::1").
        self.ipv6 = ipv6
        self.dir = tempfile.mkdtemp(prefix="hb-%s-" % name)
        self.redis_sock = os.path.join(self.dir, "redis.sock")
        self.worker_sock = os.path.join(self.dir, "worker.sock")
        self.workers = workers
        self.port = None
        # Workers in event-loop mode behind nginx-keepalive.conf (None:
        # as HB_EVENT_LOOP says).
        self.event_loop = EVENT_LOOP if event_loop is None else event_loop
        # Where the web server mounts the API: prepended to request paths.
        self.prefix = ""
        self.procs = {}
        self.env = dict(os.environ)
        self.env.update({
            "HB_REDIS_SOCKET": self.redis_sock,
            "HB_KEY_PREFIX": "t:",
            # The suites drive many calls from loopback: no rate limits
            # unless a test sets them.
            "HB_RATE_KEY_PER_SEC": "0",
            "HB_RATE_SESSION_PER_MIN": "0",
            "HB_RATE_LAUNCHER_PER_MIN": "0",
            "HB_RATE_DEVICE_USER_PER_MIN": "0",
            "HB_JWT_SECRET": "integration-jwt-secret",
            "HB_LOG_LEVEL": "warn",
            # Read only by sanitizer builds: reports go to files that stop()
            # checks, not only to the log.
            "ASAN_OPTIONS": "log_path=%s/asan:detect_leaks=1:"
                            "abort_on_error=1" % self.dir,
            "UBSAN_OPTIONS": "log_path=%s/ubsan:print_stacktrace=1:"
                             "halt_on_error=1" % self.dir,
        })
        self.env.update(env or {})

    # -- processes -----------------------------------------------------

    def _spawn(self, key, argv, log, env=None):
        out = open(os.path.join(self.dir, log), "ab")
        self.procs[key] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            env=env or self.env, cwd=self.dir, start_new_session=True)
        out.close()
        return self.procs[key]

    def _stop(self, key, sig=signal.SIGTERM, timeout=10):
        p = self.procs.pop(key, None)
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                print("%s (pid %d) ignored signal %d for %ds: killed" % (
                    key, p.pid, sig, timeout), flush=True)
                p.kill()
                p.wait()
        # Each process leads a session of its own (start_new_session): what
        # it started and left behind (worker children, web server workers)
        # goes with it.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass

    def start_redis(self):
        self._spawn("redis", [
            "redis-server", "--port", "0", "--unixsocket", self.redis_sock,
            "--unixsocketperm", "700", "--dir", self.dir, "--save", "",
            "--appendonly", "yes", "--appendfsync", "always",
            "--daemonize", "no"] + self.redis_args, "redis.log")
        wait_for("redis", lambda: self.redis("PING") == "PONG")

    def stop_redis(self, sig=signal.SIGTERM):
        self._stop("redis", sig)
        if os.path.exists(self.redis_sock):
            os.unlink(self.redis_sock)

    def under_valgrind(self, argv):
        """argv under valgrind's memcheck when HB_VALGRIND=1 (reports into
        the service's directory, which stop() checks), else as it is."""
        if not VALGRIND:
            return argv
        return [shutil.which("valgrind") or "valgrind", "--quiet",
                "--leak-check=full", "--errors-for-leak-kinds=definite",
                "--show-leak-kinds=definite", "--error-exitcode=99",
                "--log-file=%s/valgrind-%%p.log" % self.dir] + argv

    def worker_argv(self, *args):
        """The command line of the worker with args, under valgrind when
        HB_VALGRIND=1."""
        argv = [WORKER] + list(args)
        if self.event_loop:
            argv.append("--event-loop")
        return self.under_valgrind(argv)

    def start_workers(self):
        self._spawn("workers", self.worker_argv(
            "--socket", "unix:" + self.worker_sock,
            "--workers", str(self.workers)), "worker.log")
        wait_for("worker socket", lambda: os.path.exists(self.worker_sock))

    def start_web(self):
        self.port = free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            name = "nginx-keepalive.conf" if self.event_loop else "nginx.conf"
            f.write(fill_template(os.path.join(DEPLOY, "nginx", name), {
                "STATE": self.dir, "LISTEN": "127.0.0.1:%d" % self.port,
                "SOCKET": self.worker_sock, "USER": "root"}))
        if self.ipv6:
            with open(conf) as f:
                text = f.read()
            text = text.replace("listen 127.0.0.1:%d;" % self.port,
                                "listen 127.0.0.1:%d;\n\t\tlisten [::1]:%d;"
                                % (self.port, self.port), 1)
            with open(conf, "w") as f:
                f.write(text)
        self._spawn("web", ["nginx", "-c", conf, "-p", self.dir], "nginx.log")
        wait_for("nginx", lambda: self.request("GET", "/healthz").status
                 in (200, 503))

    def start(self):
        try:
            self.start_redis()
            self.start_workers()
            self.start_web()
        except BaseException:
            # Nothing started may outlive a failed start.
            self.stop()
            raise
        return self

    # -- PostgreSQL and the settlement ledger ---------------------------

    def start_postgres(self):
        """Starts a PostgreSQL cluster in the service's directory (made on
        first start) as PG_USER, on a unix socket only (no TCP), and sets
        HB_LEDGER_PG for the ledgers to come."""
        pgdir = os.path.join(self.dir, "pg")
        data = os.path.join(pgdir, "data")
        bindir = pg_bindir()
        user = ["setpriv", "--reuid", PG_USER, "--regid", PG_USER
                if PG_USER != "nobody" else "nogroup", "--clear-groups",
                "--"]
        if not os.path.exists(data):
            # The service's directory is root's (0700): PG_USER may pass
            # through it, not list it, and owns its own directory in it.
            os.chmod(self.dir, 0o711)
            os.makedirs(pgdir, exist_ok=True)
            shutil.chown(pgdir, PG_USER)
            os.chmod(pgdir, 0o700)
            p = subprocess.run(user + [
                os.path.join(bindir, "initdb"), "-D", data, "-U", "postgres",
                "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                capture_output=True, text=True, cwd=pgdir, timeout=120)
            assert p.returncode == 0, "initdb: " + p.stdout + p.stderr
        self.pg_sock = pgdir
        # fsync off: only an operating-system crash would lose commits,
        # which no test makes; synchronous_commit stays on, so a commit a
        # killed server acknowledged survives its restart.
        self._spawn("postgres", user + [
            os.path.join(bindir, "postgres"), "-D", data, "-k", pgdir,
            "-c", "listen_addresses=", "-c", "fsync=off",
            "-c", "max_connections=40", "-c", "shared_buffers=32MB"],
            "postgres.log")
        self.env["HB_LEDGER_PG"] = "host=%s dbname=postgres user=postgres" \
            % pgdir
        wait_for("postgres", lambda: self.psql(
            "SELECT 1", check=False) == "1", timeout=60)

    def stop_postgres(self, sig=signal.SIGINT):
        """Stops PostgreSQL: SIGINT is its fast shutdown, SIGKILL a crash."""
        self._stop("postgres", sig, timeout=60)

    def psql(self, sql, *params, check=True):
        """Runs sql with psql; returns its unaligned output ("|" between
        columns). params fill :'p1', :'p2', ... as quoted literals."""
        argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", self.pg_sock, "-U", "postgres", "-d", "postgres"]
        for i, v in enumerate(params):
            argv += ["-v", "p%d=%s" % (i + 1, v)]
        env = dict(os.environ, PGTZ="UTC")
        p = subprocess.run(argv, input=sql, capture_output=True, text=True,
                           timeout=60, env=env)
        if check and p.returncode != 0:
            raise AssertionError("psql: %s: %s" % (sql, p.stderr))
        return p.stdout.strip()

    def ledger_argv(self, *args):
        """The command line of heartbeat-ledger with args, under valgrind
        when HB_VALGRIND=1 (as the workers are)."""
        return self.under_valgrind([LEDGER] + list(args))

    def start_ledger(self, name="ledger", env=None):
        """Starts a heartbeat-ledger (the daemon) called name; env adds
        settings. Returns its Popen."""
        e = dict(self.env)
        e.update(env or {})
        return self._spawn(name, self.ledger_argv("run"), name + ".log", e)

    def stop_ledger(self, name="ledger", sig=signal.SIGTERM):
        """Stops a ledger; returns its exit status."""
        p = self.procs.get(name)
        self._stop(name, sig, timeout=60 if VALGRIND else 20)
        return p.returncode if p is not None else None

    def ledger_log(self, name="ledger"):
        try:
            with open(os.path.join(self.dir, name + ".log"),
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def run_ledger(self, *args, env=None, timeout=60):
        """Runs heartbeat-ledger with args to its end (report, a refused
        start); returns the CompletedProcess."""
        e = dict(self.env)
        e.update(env or {})
        return subprocess.run(self.ledger_argv(*args), env=e,
                              capture_output=True, text=True,
                              timeout=timeout * (10 if VALGRIND else 1))

    def stop(self):
        """Stops everything by PID and removes the directory. Raises
        AssertionError when valgrind or a sanitizer reported anything."""
        ledgers = [k for k in self.procs if k.startswith("ledger")]
        for key in ledgers + ["web", "workers", "redis", "postgres"]:
            self._stop(key, timeout=60 if VALGRIND else 10)
        reports = self.memory_reports()
        if os.environ.get("HB_KEEP_TMP"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if reports:
            raise AssertionError("memory errors:\n" + reports[-6000:])

    def memory_reports(self):
        """What valgrind and the sanitizers wrote into the directory."""
        out = ""
        for name in sorted(os.listdir(self.dir)):
            if name.startswith(("valgrind-", "asan.", "ubsan.")):
                with open(os.path.join(self.dir, name),
                          errors="replace") as f:
                    text = f.read().strip()
                if text:
                    out += "== %s\n%s\n" % (name, text)
        return out

    def worker_pids(self):
        """The PIDs of the worker processes (children of the --workers
        parent), sorted."""
        return children_of(self.procs["workers"].pid)

    def worker_log(self):
        return self.log("worker.log")

    def log(self, name):
        """The text of a log in the service's directory ("" if none)."""
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- talking to it -------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=10,
                host="127.0.0.1"):
        """One HTTP request; a dict or list body is sent as JSON. host
        "::1" needs a Service made with ipv6=True."""
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection(host, self.port, timeout=timeout)
        try:
            conn.request(method, self.prefix + path, body=body, headers=hdrs)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in
                                       r.getheaders()}, r.read())
        finally:
            conn.close()

    def ctl(self, *args, check=True, env=None):
        """Runs heartbeatctl; returns the CompletedProcess."""
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run([CTL] + [str(a) for a in args], env=e,
                           capture_output=True, text=True, timeout=30)
        if check and p.returncode != 0:
            raise AssertionError("heartbeatctl %s: exit %d: %s" % (
                " ".join(map(str, args)), p.returncode, p.stderr))
        return p

    def redis(self, *args):
        """Runs one Redis command; returns redis-cli's raw output."""
        return redis_cli(["-s", self.redis_sock], *args)

    def cli(self, port, *args):
        """Runs one command on the Redis (or sentinel, or cluster node) at
        127.0.0.1:port; returns redis-cli's raw output."""
        return redis_cli(["-h", "127.0.0.1", "-p", str(port)], *args)

    def shards(self):
        """How many shards the service has (HB_SHARDS)."""
        return int(self.env.get("HB_SHARDS", "1"))

    def key(self, name, shard=0):
        """The full Redis name of a key of the service in shard."""
        tag = self.env.get("HB_KEY_TAG", "core")
        if shard:
            tag += ".%d" % shard
        return "%s{%s}:%s" % (self.env["HB_KEY_PREFIX"], tag, name)

    def shard_of_owner(self, owner):
        """The shard of a venue or a device user (src/shard.c)."""
        return crc16(owner.encode()) % self.shards()

    def shard_of_id(self, ident, prefix="gs_"):
        """The shard an id names: the four hex digits after its prefix."""
        home = ident[len(prefix):len(prefix) + 4]
        if self.shards() == 1 or not ident.startswith(prefix) or \
                not re.fullmatch(r"[0-9a-f]{4}", home):
            return 0
        return int(home, 16) % self.shards()

    def live_ids(self):
        """The ids of the live game sessions, from every shard's index."""
        ids = []
        for i in range(self.shards()):
            ids += self.redis("ZRANGE", self.key("deadlines", i), 0,
                              -1).split()
        return ids

    def session(self, gs):
        """A game session as heartbeatctl session show reads it (a live
        record spelled out, or a tombstone), or None."""
        p = self.ctl("session", "show", gs, check=False)
        if p.returncode != 0:
            assert "no such game session" in p.stderr, p.stderr
            return None
        return json.loads(p.stdout)

    def bucket(self, gs):
        """The Redis name of the hash that holds live session gs."""
        return self.key("gsb:" + gs[-3:], self.shard_of_id(gs))

    def stream(self):
        """Every entry of the event log (endings and wallet movements), as
        dicts, oldest first."""
        p = self.ctl("events", "--count", "100000")
        return [json.loads(line) for line in p.stdout.splitlines() if line]

    def events(self):
        """Every settlement entry (an ending: no "type"), as dicts, oldest
        first."""
        return [e for e in self.stream() if "type" not in e]


# -- the PlayWave flow ----------------------------------------------------

class Venue:
    """A game, its API key and a venue with coins, made with heartbeatctl."""

    def __init__(self, svc, name="v1", game="g1", rate=3600, coins=100,
                 cidr="127.0.0.0/8,::1/128", billing="on"):
        self.svc = svc
        self.id = name
        self.game = game
        self.secret = "secret-" + name
        if svc.ctl("game", "list").stdout.split().count(game) == 0:
            svc.ctl("game", "add", game, "--name", "Game " + game,
                    "--rate", rate)
        self.key = svc.ctl("key", "create", game).stdout.strip()
        svc.ctl("venue", "add", name, "--cidr", cidr, "--secret", self.secret,
                "--billing", billing)
        if coins:
            svc.ctl("wallet", "topup", name, coins)

    def sign(self, method, path, body, ts=None):
        ts = str(int(time.time()) if ts is None else ts)
        msg = "%s\n%s\n%s\n%s" % (method, self.svc.prefix + path, ts,
                                  hashlib.sha256(body).hexdigest())
        return ts, hmac.new(self.secret.encode(), msg.encode(),
                            hashlib.sha256).hexdigest()

    def launcher_start(self, pc="pc-1", ts=None, body=None, headers=None):
        if body is None:
            # A nonce in hardware: two starts in one second must not carry
            # the same signature (a replay).
            body = json.dumps({"pc_id": pc, "internal_ip": "192.168.0.10",
                               "hardware": {"cpu": "test",
                                            "boot": os.urandom(6).hex()}}
                              ).encode()
        ts, sig = self.sign("POST", "/v1/launcher/session", body, ts)
        h = {"Content-Type": "application/json", "X-Venue-Id": self.id,
             "X-Timestamp": ts, "X-Signature": sig}
        h.update(headers or {})
        return self.svc.request("POST", "/v1/launcher/session", body, h)

    def launcher(self, pc="pc-1"):
        r = self.launcher_start(pc)
        assert r.status == 200, r
        return r.data["launcher_token"]

    def ott(self, token, game=None):
        r = self.svc.request("POST", "/v1/launcher/ott",
                             {"game_id": game or self.game},
                             {"Authorization": "Bearer " + token})
        assert r.status == 200, r
        return r.data["ott"]

    def game_call(self, method, path, body, key=None):
        return self.svc.request(method, path, body,
                                {"X-Api-Key": key or self.key})

    def verify(self, ott, user="123456789", key=None):
        return self.game_call("POST", "/v1/game/session/verify",
                              {"ott": ott, "provider_user_id": user}, key)

    def heartbeat(self, gs, user="123456789", key=None):
        return self.game_call("PATCH", "/v1/game/session/heartbeat",
                              {"game_session_id": gs,
                               "provider_user_id": user}, key)

    def check(self, gs, user="123456789", key=None):
        return self.game_call("POST", "/v1/game/session/check",
                              {"game_session_id": gs,
                               "provider_user_id": user}, key)

    def bearer(self, method, path, token, body=None):
        """A launcher call with Authorization: Bearer token (None: no
        Authorization header)."""
        h = {} if token is None else {"Authorization": "Bearer " + token}
        return self.svc.request(method, path, body, h)

    def launcher_heartbeat(self, token):
        return self.bearer("PATCH", "/v1/launcher/heartbeat", token)

    def launcher_end(self, token):
        return self.bearer("DELETE", "/v1/launcher/session", token)

    def ott_request(self, token, game=None):
        return self.bearer("POST", "/v1/launcher/ott", token,
                           {"game_id": game or self.game})

    def end(self, gs, play=None, key=None):
        body = {"game_session_id": gs}
        if play is not None:
            body["play_duration_sec"] = play
        return self.game_call("DELETE", "/v1/game/session/end", body, key)

    def session(self, pc="pc-1", user="123456789"):
        """A launcher token and a verified game session on pc."""
        token = self.launcher(pc)
        r = self.verify(self.ott(token), user)
        assert r.status == 200 and r.data.get("is_valid") is True, r
        return token, r.data["game_session_id"]

    def wallet(self):
        return int(self.svc.redis("HGET", self.svc.key(
            "venue:" + self.id, self.svc.shard_of_owner(self.id)),
            "wallet") or 0)


# -- running tests ---------------------------------------------------------

def run_suite(name, tests, make_service):
    """Runs each test with a fresh service from make_service(); prints one
    line per test and a last line "N passed, N failed". Returns an exit
    status."""
    passed = failed = 0
    for test in tests:
        t0 = time.monotonic()
        svc = None
        try:
            svc = make_service(test)
            try:
                test(svc)
            except Exception:
                if os.path.exists(svc.dir):
                    print("--- worker log of %s ---\n%s" % (
                        test.__name__, svc.worker_log()[-3000:]))
                    print("--- web server's error log ---\n%s" % (
                        svc.log("nginx-error.log")[-2000:]))
                raise
            finally:
                # A memory error reported at stop fails the test too.
                s, svc = svc, None
                s.stop()
            passed += 1
            print("ok   %s.%s (%.1fs)" % (name, test.__name__,
                                         time.monotonic() - t0), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s.%s\n%s" % (name, test.__name__,
                                      traceback.format_exc()), flush=True)
            if svc is not None:
                svc.stop()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 0 if failed == 0 else 1


def suite_main(name, namespace, env=None):
    """The main of a suite module: runs its test_* functions (from namespace,
    the module's globals(), in the order defined), each with a service of its
    own made with env plus the test's own settings (see settings())."""
    tests = [v for k, v in namespace.items()
             if k.startswith("test_") and callable(v)]

    def make(test):
        e = dict(env or {})
        e.update(getattr(test, "env", {}))
        return Service(name, e, **getattr(test, "service_options", {})).start()
    only = sys.argv[1:]
    chosen = [t for t in tests if not only or t.__name__ in only]
    sys.exit(run_suite(name, chosen, make))


def service_options(**options):
    """Decorator: keyword arguments of Service() for one test's service,
    e.g. @service_options(ipv6=True)."""
    def wrap(fn):
        fn.service_options = dict(options)
        return fn
    return wrap


# -- checking answers --------------------------------------------------------

REQUEST_ID = re.compile(r"^req_[0-9a-zA-Z]+$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
JSON_TYPE = "application/json; charset=utf-8"


def _common_headers(r):
    assert r.header("Content-Type") == JSON_TYPE, (r.headers, r)
    assert isinstance(r.json, dict), r
    rid = r.json.get("request_id")
    assert isinstance(rid, str) and REQUEST_ID.match(rid), r
    assert r.header("X-Request-Id") == rid, (r.headers, r)


def expect_ok(r, keys=None):
    """Checks a PlayWave success envelope (200, exactly success, request_id
    and data, X-Request-Id = request_id) and, when keys is given, that data
    has exactly those keys. Returns data."""
    assert r.status == 200, r
    _common_headers(r)
    assert set(r.json) == {"success", "request_id", "data"}, r
    assert r.json["success"] is True, r
    assert isinstance(r.json["data"], dict), r
    if keys is not None:
        assert set(r.json["data"]) == set(keys), (sorted(r.json["data"]),
                                                  sorted(keys))
    return r.json["data"]


def expect_error(r, status, code, message_has=None):
    """Checks a PlayWave error envelope: status, exactly success,
    request_id and error {code, message, timestamp}. Returns the error."""
    assert r.status == status, "want %d %s, got %r" % (status, code, r)
    _common_headers(r)
    assert set(r.json) == {"success", "request_id", "error"}, r
    assert r.json["success"] is False, r
    err = r.json["error"]
    assert set(err) == {"code", "message", "timestamp"}, r
    assert err["code"] == code, "want %s, got %r" % (code, r)
    assert isinstance(err["message"], str) and err["message"], r
    assert TIMESTAMP.match(err["timestamp"]), r
    if message_has is not None:
        assert message_has in err["message"], (message_has, r)
    return err


EVENT_FIELDS = ("game_session_id", "reason", "game_id", "venue_id", "pc_id",
                "provider_user_id", "started_at", "ended_at",
                "play_duration_sec", "charged_millicoins")


def session_events(svc, gs):
    """The settlement entries of game session gs."""
    return [e for e in svc.events() if e.get("game_session_id") == gs]


def expect_one_event(svc, gs, reason, venue=None, pc="pc-1",
                     user="123456789"):
    """Checks that gs has exactly one settlement entry, with reason and the
    fields of the contract; returns it."""
    evs = session_events(svc, gs)
    assert len(evs) == 1, "want one entry for %s, got %r" % (gs, evs)
    ev = evs[0]
    for f in EVENT_FIELDS:
        assert f in ev, "entry lacks %s: %r" % (f, ev)
    assert ev["reason"] == reason, ev
    if venue is not None:
        assert ev["venue_id"] == venue.id, ev
        assert ev["game_id"] == venue.game, ev
    assert ev["pc_id"] == pc, ev
    assert ev["provider_user_id"] == user, ev
    assert TIMESTAMP.match(ev["started_at"]), ev
    assert TIMESTAMP.match(ev["ended_at"]), ev
    assert ev["ended_at"] >= ev["started_at"], ev
    assert int(ev["play_duration_sec"]) >= 0, ev
    assert int(ev["charged_millicoins"]) >= 0, ev
    return ev


def settings(**env):
    """Decorator: settings for one test's service (HB_* names)."""
    def wrap(fn):
        fn.env = {k: str(v) for k, v in env.items()}
        return fn
    return wrap


# -- device-API bearer tokens ----------------------------------------------

def b64url(data):
    """base64url without padding, of bytes or of a JSON-encoded object."""
    if not isinstance(data, bytes):
        data = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims, secret="integration-jwt-secret", alg="HS256",
             header=None, default_exp=True):
    """A JWT of claims; alg picks the signature (HS256, HS512 or none),
    header replaces the whole header, and exp defaults to an hour from now
    unless default_exp is false."""
    claims = dict(claims)
    if default_exp:
        claims.setdefault("exp", int(time.time()) + 3600)
    head = header if header is not None else {"alg": alg, "typ": "JWT"}
    signing = b64url(head) + "." + b64url(claims)
    digests = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}
    sig = ""
    if alg in digests:
        sig = b64url(hmac.new(secret.encode(), signing.encode(),
                              digests[alg]).digest())
    return signing + "." + sig


# -- Redis round trips -----------------------------------------------------

class Monitor:
    """A MONITOR connection to the service's Redis."""

    LINE = re.compile(r'^\+\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]*)"')

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(path)
        self.buf = b""
        self.sock.sendall(b"MONITOR\r\n")
        assert self.line() == "+OK"

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("MONITOR connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def command(self):
        """(source, command) of the next command Redis ran; source is
        "lua" for commands a script ran."""
        m = self.LINE.match(self.line())
        assert m, "unexpected MONITOR line"
        return m.group(1), m.group(2).lower()

    def close(self):
        self.sock.close()


def commandstats(svc):
    """Calls per command from INFO commandstats."""
    out = {}
    for line in svc.redis("INFO", "commandstats").splitlines():
        m = re.match(r"^cmdstat_([^:]+):calls=(\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def wait_workers_connected(svc, call):
    """Makes calls until every worker holds its Redis connection (and has
    loaded its scripts), so later counts see only the requests measured."""
    for _ in range(200):
        clients = [c for c in svc.redis("CLIENT", "LIST").splitlines()
                   if "cmd=client|list" not in c]
        if len(clients) >= svc.workers:
            return
        call()
    raise AssertionError("the workers did not all connect")


def assert_one_round_trip(svc, action):
    """Runs action (one API call) and asserts that the service sent Redis
    exactly one command, an FCALL or (a Redis without functions) an
    EVALSHA, by MONITOR and by INFO commandstats;
    whatever else was counted ran inside that script. Needs
    HB_SWEEP_INTERVAL_SEC=0 so no opportunistic sweep interferes."""
    mon = Monitor(svc.redis_sock)
    try:
        before = commandstats(svc)
        action()
        after = commandstats(svc)
        seen = []
        while True:
            src, cmd = mon.command()
            if src != "lua" and cmd == "info":
                break
        while True:
            src, cmd = mon.command()
            if src != "lua" and cmd == "info":
                break
            seen.append((src, cmd))
    finally:
        mon.close()
    from_client = [cmd for src, cmd in seen if src != "lua"]
    assert from_client in (["fcall"], ["evalsha"]), seen
    call = from_client[0]
    diff = {k: after.get(k, 0) - before.get(k, 0)
            for k in set(before) | set(after)}
    diff = {k: v for k, v in diff.items() if v}
    assert diff.pop(call, 0) == 1, diff
    assert diff.pop("info", 0) == 1, diff
    by_script = {}
    for src, cmd in seen:
        if src == "lua":
            by_script[cmd] = by_script.get(cmd, 0) + 1
    for k, v in diff.items():
        assert by_script.get(k.split("|")[0], 0) >= v, (k, v, seen)
