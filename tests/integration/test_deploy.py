#!/usr/bin/env python3
"""test_deploy.py - the service under each real web server, started from the
very files in deploy/ (placeholders filled in, nothing else changed): nginx
with spawn-fcgi workers (libfcgi, and the event loop behind
nginx-keepalive.conf), lighttpd starting the workers itself (bin-path) and
with spawn-fcgi, Apache with mod_fcgid, and a shared host's Apache running
the static build from a user directory's .htaccess, with mod_fcgid and as
plain CGI. Each runs the same end-to-end flow and is stopped by PID.

Apache serves as www-data (it refuses root), so the temporary directory,
the Redis socket and the settings file are opened up to that user.
"""

import os
import shutil
import subprocess
import time

from harness import (BUILD, DEPLOY, Service, Venue, fill_template, free_port,
                     make_jwt, suite_main, wait_for, WORKER)

APACHE_MODULES = "/usr/lib/apache2/modules"
# The shared-hosting cases run this build (./configure --enable-static-deps);
# scripts/test makes it. Without it they run the ordinary build.
STATIC_WORKER = os.environ.get("HB_STATIC_WORKER", "")


class DeployService(Service):
    """A Service whose workers and web server are one of the deployments."""

    def __init__(self, kind):
        super().__init__("deploy-" + kind)
        self.kind = kind
        os.chmod(self.dir, 0o755)
        self.config_file = os.path.join(self.dir, "heartbeat.conf")

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
            wait_for(self.kind, lambda: self.request("GET", "/healthz").status
                     == 200, timeout=20)
        except BaseException:
            # Nothing started may outlive a failed start.
            self.stop()
            raise
        return self

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
        conf = self.deploy_file("lighttpd/lighttpd.conf", "lighttpd.conf",
                                STATE=self.lighttpd_state(), PORT=self.port,
                                FASTCGI=fastcgi, USER="www-data")
        self._spawn("web", ["lighttpd", "-D", "-f", conf], "lighttpd.log")

    def lighttpd_state(self):
        state = os.path.join(self.dir, "lighttpd")
        if not os.path.isdir(state):
            os.makedirs(state)
            shutil.chown(state, "www-data", "www-data")
        return state

    def start_lighttpd_bin_path(self):
        self._lighttpd("heartbeat-bin-path.conf", STATE=self.lighttpd_state(),
                       BINDIR=os.path.dirname(WORKER),
                       CONFIG_FILE=self.config_file)

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
                  "env", "dir"] + modules:
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
        self._spawn("web", ["apache2", "-f", conf, "-DFOREGROUND"],
                    "apache.log")

    def start_apache_fcgid(self):
        self.port = free_port()
        site = self.deploy_file(
            "apache/heartbeat.conf", "apache-site.conf",
            LISTEN="127.0.0.1:%d" % self.port,
            BINDIR=os.path.dirname(WORKER), CONFIG_FILE=self.config_file,
            STATE=self.dir)
        self._apache(["fcgid"], ["Include " + site])

    def _shared(self, modules):
        """A user's public_html with the API uploaded into api/: the
        static binary, the .htaccess and heartbeat.conf next to them."""
        root = os.path.join(self.dir, "public_html")
        api = os.path.join(root, "api")
        os.makedirs(api)
        os.chmod(root, 0o755)
        os.chmod(api, 0o755)
        shutil.copy(STATIC_WORKER or WORKER, os.path.join(api,
                                                          "heartbeat.fcgi"))
        shutil.copy(os.path.join(DEPLOY, "shared-hosting", ".htaccess"), api)
        self.write_config(os.path.join(api, "heartbeat.conf"))
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


def make_test(kind):
    def test(svc):
        end_to_end(svc)
    test.__name__ = "test_" + kind.replace("-", "_")
    test.kind = kind
    return test


KINDS = ["nginx-spawn-fcgi", "nginx-event-loop", "lighttpd-bin-path", "lighttpd-spawn-fcgi",
         "apache-fcgid", "shared-fcgid", "shared-cgi"]
TESTS = [make_test(k) for k in KINDS]


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
    tests = TESTS + [test_static_build_needs_only_libc]
    only = sys.argv[1:]
    sys.exit(run_suite("deploy", [t for t in tests if not only or
                                  t.__name__ in only],
                       lambda t: DeployService(t.kind).start()))
