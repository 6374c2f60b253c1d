#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_deploy.py - the service under each real web server, started from the
very files in deploy/ (placeholders filled in, nothing else changed): nginx
with spawn-fcgi workers (libfcgi, and the event loop behind
nginx-keepalive.conf), lighttpd starting the workers itself (bin-path) and
with spawn-fcgi, Apache with mod_fcgid, and a shared host's Apache running
the static build from a user directory's .htaccess, with mod_fcgid and as
plain CGI. Each runs the same end-to-end flow and is stopped by PID.

Each deployment also answers the web server's own errors (a body over its
limit, a request it cannot read, no worker answering) in the service's JSON
envelope.

Apache and lighttpd serve as www-data (they refuse root), so the temporary
directory, the Redis socket, the settings file and a copy of the worker
binary are opened up to that user: the clone itself may be in a directory
only root can enter. Before a server starts, heartbeat.fcgi --check-config
runs as www-data and names any file that user cannot reach.
"""

import os
import shutil
import signal
import socket
import stat
import subprocess
import time

from harness import (DEPLOY, Response, Service, Venue, children_of,
                     expect_error, fill_template, free_port, make_jwt,
                     suite_main, wait_for, WORKER)

# The user Apache and lighttpd run as.
WEB_USER = "www-data"

APACHE_MODULES = "/usr/lib/apache2/modules"
# The shared-hosting cases run this build (./configure --enable-static-deps);
# scripts/test makes it. Without it they run the ordinary build.
STATIC_WORKER = os.environ.get("HB_STATIC_WORKER", "")


class DeployService(Service):
    """A Service whose workers and web server are one of the deployments."""

    def __init__(self, kind):
        # The deployments' files are about the web server, and the
        # settings they pass name no HB_SHARDS: one shard, whatever the
        # run's (test_shards covers shards).
        super().__init__("deploy-" + kind, env={"HB_SHARDS": "1"})
        self.kind = kind
        os.chmod(self.dir, 0o755)
        self.config_file = os.path.join(self.dir, "heartbeat.conf")
        # The binary the web server runs (bin-path, mod_fcgid): a copy its
        # user can reach wherever the clone is.
        self.bindir = os.path.join(self.dir, "bin")
        os.makedirs(self.bindir)
        os.chmod(self.bindir, 0o755)
        self.worker_path = os.path.join(self.bindir, "heartbeat.fcgi")
        shutil.copy(WORKER, self.worker_path)
        os.chmod(self.worker_path, 0o755)

    def start_redis(self):
        super().start_redis()
        # The web server's user opens the socket too.
        os.chmod(self.redis_sock, 0o777)

    def write_config(self, path):
        """The suite's own settings (not those it inherited) as a
        heartbeat.conf (KEY=VALUE)."""
        with open(path, "w") as f:
            for k, v in sorted(self.env.items()):
                if k.startswith("HB_") and os.environ.get(k) != v:
                    f.write("%s=%s\n" % (k, v))
        os.chmod(path, 0o644)

    def deploy_file(self, rel, out, **values):
        """Fills deploy/rel into out in the state directory; returns out's
        path."""
        path = os.path.join(self.dir, out)
        with open(path, "w") as f:
            f.write(fill_template(os.path.join(DEPLOY, rel), values))
        return path

    def spawn_fcgi(self):
        """Workers under spawn-fcgi on the unix socket, as the systemd unit
        heartbeat-spawn-fcgi.service runs them."""
        env = dict(self.env, HB_CONFIG_FILE=self.config_file)
        self._spawn("workers", [
            "spawn-fcgi", "-n", "-s", self.worker_sock, "-M", "0666", "--"] +
            self.worker_argv("--workers", "2"), "worker.log", env=env)
        wait_for("worker socket", lambda: os.path.exists(self.worker_sock))

    def start(self):
        try:
            self.start_redis()
            self.write_config(self.config_file)
            getattr(self, "start_" + self.kind.replace("-", "_"))()
            try:
                wait_for(self.kind, lambda: self.request(
                    "GET", "/healthz").status == 200, timeout=60)
            except RuntimeError as e:
                raise RuntimeError("%s; the logs end:\n%s" % (
                    e, self.log_tails()))
        except BaseException:
            # Nothing started may outlive a failed start.
            self.stop()
            raise
        return self

    def log_tails(self):
        """The last lines of every log in the state directory."""
        out = ""
        for root, _, files in os.walk(self.dir):
            for name in sorted(files):
                if name.endswith(".log"):
                    with open(os.path.join(root, name), errors="replace") as f:
                        tail = f.read()[-1500:]
                    out += "== %s\n%s\n" % (name, tail)
        return out

    def check_reach(self, worker, config_file):
        """Runs worker --check-config as the web server's user with the
        settings file the server will hand it; raises with its message
        (which names the path) when that user cannot reach something."""
        p = subprocess.run(
            ["runuser", "-u", WEB_USER, "--", "env",
             "HB_CONFIG_FILE=" + config_file, worker, "--check-config"],
            capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("%s cannot run the worker: %s%s" % (
                WEB_USER, p.stdout, p.stderr))

    # -- the deployments -----------------------------------------------

    def start_nginx_spawn_fcgi(self):
        self.spawn_fcgi()
        self.start_web()

    def start_nginx_event_loop(self):
        """Event-loop workers under spawn-fcgi behind nginx-keepalive.conf."""
        self.event_loop = True
        self.start_nginx_spawn_fcgi()

    def _lighttpd(self, fastcgi_file, **values):
        """lighttpd drops to www-data before it opens its logs: its state
        directory is that user's."""
        self.port = free_port()
        fastcgi = self.deploy_file("lighttpd/" + fastcgi_file, fastcgi_file,
                                   **values)
        errors = os.path.join(self.dir, "errors.lua")
        shutil.copy(os.path.join(DEPLOY, "lighttpd", "errors.lua"), errors)
        os.chmod(errors, 0o644)
        conf = self.deploy_file("lighttpd/lighttpd.conf", "lighttpd.conf",
                                STATE=self.lighttpd_state(), PORT=self.port,
                                FASTCGI=fastcgi, USER=WEB_USER,
                                ERRORS=errors)
        self._spawn("web", ["lighttpd", "-D", "-f", conf], "lighttpd.log")

    def lighttpd_state(self):
        state = os.path.join(self.dir, "lighttpd")
        if not os.path.isdir(state):
            os.makedirs(state)
            shutil.chown(state, "www-data", "www-data")
        return state

    def start_lighttpd_bin_path(self):
        self.check_reach(self.worker_path, self.config_file)
        self._lighttpd("heartbeat-bin-path.conf", STATE=self.lighttpd_state(),
                       BINDIR=self.bindir, CONFIG_FILE=self.config_file)

    def start_lighttpd_spawn_fcgi(self):
        self.spawn_fcgi()
        self._lighttpd("heartbeat-spawn-fcgi.conf", SOCKET=self.worker_sock)

    def _apache(self, modules, body):
        """Apache in the foreground with the given modules and the rest of
        its configuration; what Debian's apache2.conf would hold."""
        self.port = self.port or free_port()
        run = os.path.join(self.dir, "apache-run")
        os.makedirs(run)
        fcgid = os.path.join(self.dir, "fcgid")
        os.makedirs(fcgid)
        shutil.chown(fcgid, "www-data", "www-data")
        lines = [
            "ServerName localhost",
            "Listen 127.0.0.1:%d" % self.port,
            "PidFile %s/apache.pid" % self.dir,
            "DefaultRuntimeDir " + run,
            "Mutex file:" + run,
            "ErrorLog %s/apache-error.log" % self.dir,
            "LogLevel warn",
            "User www-data",
            "Group www-data",
            "TypesConfig /etc/mime.types",
        ]
        for m in ["mpm_event", "authz_core", "alias", "mime", "rewrite",
                  "env", "dir", "headers", "unique_id"] + modules:
            lines.append("LoadModule %s_module %s/mod_%s.so"
                         % (m, APACHE_MODULES, m))
        if "fcgid" in modules:
            lines += ["FcgidIPCDir " + fcgid,
                      "FcgidProcessTableFile %s/shm" % fcgid]
        if "cgid" in modules:
            lines.append("ScriptSock %s/cgid.sock" % run)
        conf = os.path.join(self.dir, "apache.conf")
        with open(conf, "w") as f:
            f.write("\n".join(lines + body) + "\n")
        # Apache writes its own errors' time in its local time zone (see
        # deploy/apache/heartbeat.conf).
        self._spawn("web", ["apache2", "-f", conf, "-DFOREGROUND"],
                    "apache.log", env=dict(self.env, TZ="UTC"))

    def start_apache_fcgid(self):
        self.port = free_port()
        self.check_reach(self.worker_path, self.config_file)
        site = self.deploy_file(
            "apache/heartbeat.conf", "apache-site.conf",
            LISTEN="127.0.0.1:%d" % self.port,
            BINDIR=self.bindir, CONFIG_FILE=self.config_file,
            STATE=self.dir)
        self._apache(["fcgid"], ["Include " + site])

    def start_apache_proxy_fcgi(self):
        """Event-loop workers under spawn-fcgi behind Apache's
        mod_proxy_fcgi with kept connections."""
        self.event_loop = True
        self.spawn_fcgi()
        self.port = free_port()
        site = self.deploy_file(
            "apache/heartbeat-proxy-fcgi.conf", "apache-site.conf",
            LISTEN="127.0.0.1:%d" % self.port, SOCKET=self.worker_sock,
            STATE=self.dir)
        mpm = self.deploy_file("apache/mpm-event.conf", "mpm-event.conf")
        self._apache(["proxy", "proxy_fcgi"], ["Include " + mpm,
                                               "Include " + site])

    def _shared(self, modules):
        """A user's public_html with the API uploaded into api/: the
        static binary, the .htaccess and heartbeat.conf next to them."""
        root = os.path.join(self.dir, "public_html")
        api = os.path.join(root, "api")
        os.makedirs(api)
        os.chmod(root, 0o755)
        os.chmod(api, 0o755)
        self.worker_path = os.path.join(api, "heartbeat.fcgi")
        shutil.copy(STATIC_WORKER or WORKER, self.worker_path)
        shutil.copy(os.path.join(DEPLOY, "shared-hosting", ".htaccess"), api)
        self.write_config(os.path.join(api, "heartbeat.conf"))
        self.check_reach(self.worker_path, os.path.join(api,
                                                        "heartbeat.conf"))
        self.prefix = "/api"
        self._apache(modules, [
            "DocumentRoot " + root,
            "<Directory %s>" % root,
            "  Options SymLinksIfOwnerMatch",
            "  AllowOverride All",
            "  Require all granted",
            "</Directory>"])

    def start_shared_fcgid(self):
        self._shared(["fcgid"])

    def start_shared_cgi(self):
        self._shared(["cgid"])


def end_to_end(svc):
    """The flow every deployment must carry: launcher start, OTT, verify,
    heartbeats, end and its settlement, a device-session heartbeat, an
    error case, /healthz."""
    r = svc.request("GET", "/healthz")
    assert r.status == 200 and r.json["status"] == "ok", r

    v = Venue(svc, coins=10)
    token, gs = v.session("pc-7")
    for _ in range(2):
        r = v.heartbeat(gs)
        assert r.status == 200 and r.data["result"] == "OK", r
    time.sleep(1.1)
    r = v.end(gs, play=999)
    assert r.status == 200, r
    assert r.data["play_duration_sec"] >= 1, r
    events = svc.events()
    assert [e["reason"] for e in events] == ["normal"], events
    assert events[0]["game_session_id"] == gs, events

    # The bearer token must reach the worker through the server.
    r = v.launcher_heartbeat(token)
    assert r.status == 200, r

    jwt = make_jwt({"sub": "user-1"})
    auth = {"Authorization": "Bearer " + jwt}
    r = svc.request("POST", "/sessions", {"fingerprint": "fp-1"}, auth)
    assert r.status == 200 and r.json["success"] is True, r
    sid = r.json["session"]["id"]
    assert r.json["session"]["ipAddress"] == "127.0.0.1", r
    r = svc.request("POST", "/sessions/%s/heartbeat" % sid, None, auth)
    assert r.status == 200 and "newExpiry" in r.json, r

    r = svc.request("POST", "/sessions", {"fingerprint": "fp-1"})
    assert r.status == 401 and r.json["error_code"] == "UNAUTHORIZED", r
    assert r.header("WWW-Authenticate") is not None, r
    r = v.game_call("POST", "/v1/game/session/heartbeat", {})
    assert r.status == 405 and "PATCH" in (r.header("Allow") or ""), r
    r = svc.request("GET", "/no/such/path")
    assert r.status == 404 and r.json["success"] is False, r


# -- the web server's own errors ------------------------------------------

# The code of the service's envelope for each status a web server may answer
# by itself.
SERVER_ERROR_CODES = {400: "BAD_REQUEST", 413: "PAYLOAD_TOO_LARGE",
                      414: "URI_TOO_LONG", 431: "BAD_REQUEST",
                      500: "INTERNAL_ERROR", 502: "BAD_GATEWAY",
                      503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT"}


def raw_exchange(svc, head, body=b""):
    """Sends head (and then as much of body as the server reads) straight
    to the web server, reads its answer to the end and returns it as a
    Response: for requests no HTTP library would send."""
    s = socket.create_connection(("127.0.0.1", svc.port), timeout=60)
    try:
        s.sendall(head)
        try:
            s.sendall(body)
        except OSError:
            pass        # answered and closed before reading it all
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head_part, _, rest = data.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    assert lines and lines[0].startswith("HTTP/"), data[:300]
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding") == "chunked":
        out = b""
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size.split(b";")[0], 16)
            if n == 0:
                break
            out += rest[:n]
            rest = rest[n + 2:]
        rest = out
    return Response(status, headers, rest)


def expect_server_error(r, statuses):
    """r is one of statuses, in the service's error envelope with the code
    of its status (and Retry-After when no worker answered)."""
    assert r.status in statuses, r
    expect_error(r, r.status, SERVER_ERROR_CODES[r.status])
    if r.status in (502, 503, 504):
        assert r.header("Retry-After") is not None, r.headers


def web_server_errors(svc):
    """A body over the web server's limit, a request it cannot read and no
    worker answering each get the JSON envelope, whichever answers."""
    path = svc.prefix + "/v1/game/session/heartbeat"
    big = 1100000
    r = raw_exchange(svc, (
        "PATCH %s HTTP/1.1\r\nHost: localhost\r\nX-Api-Key: x\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n"
        "Connection: close\r\n\r\n" % (path, big)).encode(), b"{" * big)
    expect_server_error(r, {413})
    r = raw_exchange(svc, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                     b"No colon here\r\nConnection: close\r\n\r\n")
    if svc.kind.startswith("shared-"):
        # Apache answers a request it cannot parse before it reads any
        # .htaccess: a shared host's 400 is the host's own.
        assert r.status == 400, r
    else:
        expect_server_error(r, {400})

    # No worker: the program the server runs now fails at once, and the
    # workers running are killed: those the suite started itself, and
    # those the web server started from this service's own copy of the
    # binary (never the build's, which other suites run at the same time).
    failing = os.path.join(svc.dir, "failing.fcgi")
    with open(failing, "w") as f:
        f.write("#!/bin/sh\nexit 1\n")
    os.chmod(failing, 0o755)
    os.replace(failing, svc.worker_path)
    svc._stop("workers", signal.SIGKILL)
    for pid in pids_running(svc.worker_path):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    answers = []

    def failed():
        answers.append(svc.request("GET", "/healthz", timeout=120))
        return answers[-1].status >= 500
    wait_for("an answer with no worker", failed, timeout=180)
    expect_server_error(answers[-1], {500, 502, 503, 504})


def pids_running(*programs):
    """The PIDs of the processes running any of programs."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(a.decode(errors="replace") in programs for a in argv[:12]):
            pids.append(int(name))
    return pids


def apache_children(svc):
    """The PIDs of the processes the Apache parent has started."""
    with open(os.path.join(svc.dir, "apache.pid")) as f:
        return children_of(int(f.read()))


def make_test(kind):
    def test(svc):
        end_to_end(svc)
        if kind == "apache-proxy-fcgi":
            # mpm-event.conf: one child serves every connection.
            kids = apache_children(svc)
            assert len(kids) == 1, kids
    test.__name__ = "test_" + kind.replace("-", "_")
    test.kind = kind
    return test


def make_errors_test(kind):
    def test(svc):
        web_server_errors(svc)
    test.__name__ = "test_%s_answers_its_own_errors_in_json" % (
        kind.replace("-", "_"))
    test.kind = kind
    return test


KINDS = ["nginx-spawn-fcgi", "nginx-event-loop", "lighttpd-bin-path",
         "lighttpd-spawn-fcgi", "apache-fcgid", "apache-proxy-fcgi",
         "shared-fcgid", "shared-cgi"]
TESTS = [make_test(k) for k in KINDS] + [make_errors_test(k) for k in KINDS]


def test_check_config_names_what_the_web_user_cannot_reach(svc):
    """heartbeat.fcgi --check-config, run as the web server's user, names
    the settings file or Redis socket that user cannot reach."""
    private = os.path.join(svc.dir, "private")
    os.makedirs(private)
    os.chmod(private, 0o700)
    conf = os.path.join(private, "heartbeat.conf")
    with open(conf, "w") as f:
        f.write("HB_KEY_PREFIX=t:\n")
    try:
        svc.check_reach(svc.worker_path, conf)
    except AssertionError as e:
        assert conf in str(e) and "Permission denied" in str(e), e
    else:
        raise AssertionError("--check-config passed an unreadable file")
    open_conf = os.path.join(svc.dir, "open.conf")
    sock = os.path.join(private, "redis.sock")
    with open(open_conf, "w") as f:
        f.write("HB_REDIS_SOCKET=%s\n" % sock)
    os.chmod(open_conf, 0o644)
    try:
        svc.check_reach(svc.worker_path, open_conf)
    except AssertionError as e:
        assert "HB_REDIS_SOCKET" in str(e) and sock in str(e), e
    else:
        raise AssertionError("--check-config passed an unreachable socket")
    # What the deployments hand the worker passes.
    svc.check_reach(svc.worker_path, svc.config_file)
    assert stat.S_IMODE(os.stat(svc.dir).st_mode) == 0o755


test_check_config_names_what_the_web_user_cannot_reach.kind = \
    "nginx-spawn-fcgi"


def test_static_build_needs_only_libc(svc):
    """The shared-hosting build links libfcgi, hiredis and json-c in."""
    if not STATIC_WORKER:
        raise AssertionError("HB_STATIC_WORKER is not set (scripts/test "
                             "builds it with --enable-static-deps)")
    assert os.access(STATIC_WORKER, os.X_OK), STATIC_WORKER
    out = subprocess.run(["ldd", STATIC_WORKER], capture_output=True,
                         text=True).stdout
    assert "libc.so" in out, out
    for lib in ("libfcgi", "libhiredis", "libjson-c", "libcrypto"):
        assert lib not in out, out


test_static_build_needs_only_libc.kind = "nginx-spawn-fcgi"

if __name__ == "__main__":
    import sys

    from harness import run_suite
    tests = TESTS + [test_static_build_needs_only_libc,
                     test_check_config_names_what_the_web_user_cannot_reach]
    only = sys.argv[1:]
    sys.exit(run_suite("deploy", [t for t in tests if not only or
                                  t.__name__ in only],
                       lambda t: DeployService(t.kind).start()))
