#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_package.py - the Debian package, as an administrator meets it.

Builds session-heartbeat_*.deb with dpkg-buildpackage from a copy of the
tree (make distdir plus debian/, so the tree itself stays clean) and runs
lintian on it; installs it with apt-get install ./session-heartbeat_*.deb;
checks the heartbeat user, the conffile's mode and group, that no unit is
enabled or started, and that the installed worker accepts the installed
settings as the heartbeat user; runs the end-to-end flow of test_deploy
through the INSTALLED /usr/sbin/heartbeat.fcgi (and heartbeatctl) behind
nginx; then purges the package and checks that none of its files, no
/etc/heartbeat and no unit link are left. The heartbeat system user stays
after the purge, as Debian policy advises.

Needs root and a configured, built tree (scripts/test runs it after make).
The unit tests are not run inside the package build (DEB_BUILD_OPTIONS=
nocheck): make check runs them in the test command already.

    test_package.py
"""

import glob
import grp
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

import harness  # noqa: E402
from harness import Service  # noqa: E402
from test_deploy import end_to_end  # noqa: E402

PKG = "session-heartbeat"
WORKER = "/usr/sbin/heartbeat.fcgi"
CTL = "/usr/sbin/heartbeatctl"
CONF = "/etc/heartbeat/heartbeat.conf"
LEDGER = "/usr/sbin/heartbeat-ledger"
UNITS = ("heartbeat.socket", "heartbeat.service",
         "heartbeat-spawn-fcgi.service", "heartbeat-ledger.service")


def run(argv, timeout=600, check=True, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (
            " ".join(argv), p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def apt(*args):
    """apt-get, waiting (up to 5 minutes) while another dpkg holds the
    lock."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    end = time.monotonic() + 300
    while True:
        p = run(["apt-get", "-o", "DPkg::Lock::Timeout=60", "-y", "-q"] +
                list(args), check=False, env=env)
        if p.returncode == 0:
            return p
        if "lock" not in p.stderr or time.monotonic() > end:
            raise AssertionError("apt-get %s: exit %d\n%s%s" % (
                " ".join(args), p.returncode, p.stdout[-3000:],
                p.stderr[-3000:]))
        time.sleep(2)


def installed():
    p = run(["dpkg-query", "-W", "-f=${Status}", PKG], check=False)
    return p.returncode == 0 and "install ok installed" in p.stdout


def enabled_links():
    """Unit links under /etc/systemd/system that name the package's units."""
    return [p for p in glob.glob("/etc/systemd/system/**/*", recursive=True)
            if os.path.basename(p) in UNITS]


class State:
    work = None
    deb = None
    files = []


def test_build_with_lintian_clean_of_errors(st):
    st.work = tempfile.mkdtemp(prefix="hb-package-")
    src = os.path.join(st.work, "src")
    run(["make", "-C", TOP, "distdir", "distdir=" + src])
    shutil.copytree(os.path.join(TOP, "debian"), os.path.join(src, "debian"))
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=2")
    run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env,
        timeout=900)
    debs = glob.glob(os.path.join(st.work, PKG + "_*.deb"))
    assert len(debs) == 1, debs
    st.deb = debs[0]
    p = run(["lintian", "--fail-on", "error", "--info", st.deb],
            check=False)
    print("lintian %s:\n%s" % (os.path.basename(st.deb),
                                (p.stdout + p.stderr).strip() or "(nothing)"))
    assert p.returncode == 0, "lintian reports errors"


def test_install_gives_user_conffile_and_units_not_started(st):
    assert st.deb, "no package built"
    if installed():
        apt("purge", PKG)
    apt("install", "--no-install-recommends", os.path.abspath(st.deb))
    assert installed()
    st.files = run(["dpkg-query", "-L", PKG]).stdout.split()
    for path in (WORKER, CTL, LEDGER,
                 "/usr/share/man/man8/heartbeat.fcgi.8.gz",
                 "/usr/share/man/man8/heartbeatctl.8.gz",
                 "/usr/share/man/man8/heartbeat-ledger.8.gz",
                 "/usr/share/man/man5/heartbeat.conf.5.gz",
                 "/usr/share/doc/%s/copyright" % PKG):
        assert os.path.exists(path), path
    for unit in UNITS:
        assert os.path.exists("/lib/systemd/system/" + unit), unit
    version = run([WORKER, "--version"]).stdout
    print(version.strip())
    assert version.startswith("heartbeat.fcgi "), version
    version = run([LEDGER, "--version"]).stdout
    assert version.startswith("heartbeat-ledger ") and "libpq" in version, \
        version
    user = pwd.getpwnam("heartbeat")
    assert user.pw_uid < 1000, user  # a system user
    s = os.stat(CONF)
    assert stat.S_IMODE(s.st_mode) == 0o640, oct(s.st_mode)
    assert s.st_uid == 0 and grp.getgrgid(s.st_gid).gr_name == "heartbeat", s
    assert CONF in run(["dpkg-query", "-W", "-f=${Conffiles}", PKG]).stdout
    assert not enabled_links(), enabled_links()
    # The workers' user reads the settings; nobody else may.
    p = run(["runuser", "-u", "heartbeat", "--", "env",
             "HB_CONFIG_FILE=" + CONF, WORKER, "--check-config"])
    assert p.stdout.strip() == "configuration ok", p
    p = run(["runuser", "-u", "nobody", "--", "env", "HB_CONFIG_FILE=" + CONF,
             WORKER, "--check-config"], check=False)
    assert p.returncode == 78 and CONF in p.stderr, p


def test_flow_through_the_installed_worker_behind_nginx(st):
    assert installed(), "not installed"
    harness.WORKER, harness.CTL = WORKER, CTL
    svc = Service("package", {"HB_CONFIG_FILE": CONF}, event_loop=False)
    try:
        svc.start()
        end_to_end(svc)
        # The answers came from the installed worker.
        pid = svc.worker_pids()[0]
        assert os.readlink("/proc/%d/exe" % pid) == WORKER
    finally:
        svc.stop()


def test_purge_leaves_nothing_but_the_user(st):
    assert installed(), "not installed"
    apt("purge", PKG)
    assert not installed()
    left = [p for p in st.files
            if os.path.lexists(p) and not os.path.isdir(p)]
    assert not left, left
    assert not os.path.exists("/etc/heartbeat"), os.listdir("/etc/heartbeat")
    assert not enabled_links(), enabled_links()
    p = run(["dpkg-statoverride", "--list", CONF], check=False)
    assert p.returncode != 0, p.stdout
    # Debian policy: a system user is not removed with its package.
    pwd.getpwnam("heartbeat")


TESTS = [test_build_with_lintian_clean_of_errors,
         test_install_gives_user_conffile_and_units_not_started,
         test_flow_through_the_installed_worker_behind_nginx,
         test_purge_leaves_nothing_but_the_user]


def main():
    st = State()
    passed = failed = 0
    try:
        for test in TESTS:
            t0 = time.monotonic()
            try:
                test(st)
                passed += 1
                print("ok   package.%s (%.1fs)" % (
                    test.__name__, time.monotonic() - t0), flush=True)
            except Exception:
                failed += 1
                import traceback
                print("FAIL package.%s\n%s" % (test.__name__,
                                               traceback.format_exc()),
                      flush=True)
    finally:
        if installed():
            apt("purge", PKG)
        if st.work and not os.environ.get("HB_KEEP_TMP"):
            shutil.rmtree(st.work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
