#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_shards.py - a deployment split into shards (HB_SHARDS, on one
Redis): venues and device users on several shards run the whole API, each
owner's records only in its shard and every id carrying its owner's home;
sweeps and /metrics cover every shard; games and API keys live in every
shard, a revoked key is refused everywhere once heartbeatctl key revoke
returns; a configuration change cut short is refused until heartbeatctl
config sync; and heartbeatctl reshard moves a live service from 1 shard to
8 and from 8 to 3 with every session, wallet and token going on, the
ledger exact (entries read and acknowledged through a consumer group, as
heartbeat-ledger does), or refuses, changing nothing, when ids lack homes,
the service is not paused or the ledger has not caught up; on a Redis
Cluster of three masters it spreads 1 shard into 8 over the masters with
the sessions going on.

The contract is docs/operations.md, "Shards".

    test_shards.py [TEST_NAME ...]
"""

import hashlib
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (Service, Venue, crc16, make_jwt,  # noqa: E402
                     redis_cli, run_suite, settings, wait_for)
from test_cluster import ClusterService  # noqa: E402

RATE_COINS = 3600  # coins per hour: one millicoin per ms of play
USER = "123456789"


# -- where things live -------------------------------------------------------

def shard_of(name, shards):
    """The shard of an owner (a venue, a device user) under shards."""
    return crc16(name.encode()) % shards


def home_of(name):
    """The home an owner's ids carry: four lowercase hex digits."""
    return "%04x" % crc16(name.encode())


def owners(prefix, shards, count, also=None):
    """count owner names starting with prefix, on count different shards
    under shards (and, with also, on different shards under also as far
    as it has them)."""
    chosen, used, used_also = [], set(), set()
    for i in range(10000):
        name = "%s%d" % (prefix, i)
        s = shard_of(name, shards)
        if s in used:
            continue
        if also and shard_of(name, also) in used_also and \
                len(used_also) < also:
            continue
        chosen.append(name)
        used.add(s)
        if also:
            used_also.add(shard_of(name, also))
        if len(chosen) == count:
            return chosen
    raise AssertionError("no %d owners on distinct shards" % count)


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


def keys_of(svc, shard, pattern="*"):
    """The names of shard's keys matching pattern (after the key base)."""
    base = svc.key("", shard)
    return sorted(k[len(base):] for k in
                  svc.redis("KEYS", glob_escape(base) + pattern).split())


def glob_escape(s):
    return re.sub(r"([*?\[\]\\])", r"\\\1", s)


def shards_holding(svc, name, shards=None):
    """The shards (of shards, default the service's) where key name is."""
    return [i for i in range(shards or svc.shards())
            if svc.redis("EXISTS", svc.key(name, i)) == "1"]


def restart_workers(svc, shards):
    """Stops the workers and starts them with HB_SHARDS=shards (the web
    server stays)."""
    svc._stop("workers")
    if os.path.exists(svc.worker_sock):
        os.unlink(svc.worker_sock)
    svc.env["HB_SHARDS"] = str(shards)
    svc.start_workers()
    wait_for("workers answering", lambda: svc.request(
        "GET", "/healthz").status == 200, timeout=60)


def metrics(svc):
    """The samples of /metrics: {name or name{labels}: value}."""
    r = svc.request("GET", "/metrics")
    assert r.status == 200, r
    out = {}
    for line in r.body.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def ended_total(m, reason=None):
    return sum(v for k, v in m.items()
               if k.startswith("heartbeat_game_sessions_ended_total") and
               (reason is None or 'reason="%s"' % reason in k))


# -- a Redis client that keeps replies' structure --------------------------

class Resp:
    """One RESP connection to the service's Redis: call() returns bytes,
    ints, lists or None, and raises on an error reply."""

    def __init__(self, svc):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(svc.redis_sock)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("Redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("Redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._bytes(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError("unexpected reply %r" % line)

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._reply()


# -- the ledger, as heartbeat-ledger reads it ------------------------------

class GroupLedger:
    """Reads every shard's event log through the consumer group "ledger"
    (the default HB_LEDGER_GROUP) and acknowledges what it read, as
    heartbeat-ledger does; keeps endings by game session id and wallet
    movements by stream and entry id. check() asserts per venue:
    wallet = top-ups + adjustments - charges of settled sessions - charges
    of live ones, exactly."""

    GROUP = "ledger"

    def __init__(self):
        self.endings = {}
        self.movements = {}

    def drain(self, svc):
        """Reads and acknowledges everything every shard's log holds."""
        r = Resp(svc)
        try:
            for i in range(svc.shards()):
                key = svc.key("events", i)
                try:
                    r.call("XGROUP", "CREATE", key, self.GROUP, "0",
                           "MKSTREAM")
                except RuntimeError as e:
                    assert "BUSYGROUP" in str(e), e
                while True:
                    got = r.call("XREADGROUP", "GROUP", self.GROUP, "test",
                                 "COUNT", 1000, "STREAMS", key, ">")
                    if not got or not got[0][1]:
                        break
                    ids = []
                    for eid, flat in got[0][1]:
                        f = {flat[k].decode(): flat[k + 1].decode()
                             for k in range(0, len(flat), 2)}
                        if "type" in f:
                            self.movements[(key, eid)] = f
                        else:
                            assert f["game_session_id"] not in \
                                self.endings, ("settled twice", f)
                            self.endings[f["game_session_id"]] = f
                        ids.append(eid)
                    r.call("XACK", key, self.GROUP, *ids)
        finally:
            r.close()

    def check(self, svc, venues):
        self.drain(svc)
        live = {}
        for gs in svc.live_ids():
            s = svc.session(gs)
            if s is not None and s["st"] != "ended":
                live.setdefault(s["venue"], []).append(int(s["chg"]))
        for v in venues:
            moved = sum(int(m["amount_millicoins"])
                        for m in self.movements.values()
                        if m["venue_id"] == v.id)
            charged = sum(int(e["charged_millicoins"])
                          for e in self.endings.values()
                          if e["venue_id"] == v.id)
            charged += sum(live.get(v.id, []))
            assert v.wallet() == moved - charged, (
                v.id, v.wallet(), moved, charged)
        print("     ledger: %d endings, %d wallet movements, %d live "
              "sessions; %d wallets exact" % (
                  len(self.endings), len(self.movements),
                  sum(len(x) for x in live.values()), len(venues)),
              flush=True)


# -- the device API ------------------------------------------------------------

def device_call(svc, token, method, path, body=None):
    return svc.request(method, path, body,
                       {"Authorization": "Bearer " + token})


def jwt_for(user):
    now = int(time.time())
    return make_jwt({"sub": user, "iat": now, "exp": now + 3600})


def device_session(svc, token, fp="fp-1"):
    r = device_call(svc, token, "POST", "/sessions",
                    {"fingerprint": fp, "deviceInfo": {
                        "userAgent": "test", "deviceType": "desktop",
                        "os": "Linux", "browser": "Firefox"},
                     "loginMethod": "password"})
    assert r.status == 200 and r.json["success"] is True, r
    return r.json["session"]["id"]


def device_session_ids(svc, token):
    r = device_call(svc, token, "GET", "/sessions")
    assert r.status == 200, r
    return sorted(s["id"] for s in r.json["sessions"])


# == Owners on many shards =====================================================

def test_venues_on_several_shards_run_the_full_flow_in_their_shard(svc):
    names = owners("cafe-", 8, 4)
    assert len({shard_of(n, 8) for n in names}) == 4
    venues = [Venue(svc, name=n, rate=RATE_COINS, coins=100) for n in names]
    for v in venues:
        s = svc.shard_of_owner(v.id)
        home = home_of(v.id)
        r = v.launcher_start("pc-1")
        assert r.status == 200, r
        token = r.data["launcher_token"]
        assert token.startswith("lt_" + home), (token, home)
        ott = v.ott(token)
        assert ott.startswith("ott_" + home), (ott, home)
        r = v.verify(ott)
        assert r.status == 200 and r.data["is_valid"] is True, r
        gs = r.data["game_session_id"]
        assert gs.startswith("gs_" + home), (gs, home)
        assert svc.shard_of_id(gs) == s
        time.sleep(1.1)
        r = v.heartbeat(gs)
        assert r.status == 200 and r.data["result"] == "OK", r
        assert r.data["play_duration_sec"] >= 1, r
        assert v.check(gs).status == 200
        assert v.launcher_heartbeat(token).status == 200
        # Records only in the venue's shard.
        assert shards_holding(svc, "venue:" + v.id) == [s]
        assert shards_holding(svc, "pc:%s:pc-1" % v.id) == [s]
        assert shards_holding(svc, "lt:" + sha256(token)) == [s]
        assert shards_holding(svc, "ott:" + ott) == [s]
        assert [i for i in range(8) if svc.redis(
            "HEXISTS", svc.key("gsb:" + gs[-3:], i), gs) == "1"] == [s]
        assert [i for i in range(8) if svc.redis(
            "ZSCORE", svc.key("deadlines", i), gs)] == [s]
        # Replacement: a new session on the PC ends this one.
        r = v.verify(v.ott(token))
        assert r.status == 200 and r.data["is_valid"] is True, r
        gs2 = r.data["game_session_id"]
        r = v.heartbeat(gs)
        assert r.status == 200 and r.data["result"] == "SESSION_REPLACED", r
        assert shards_holding(svc, "gs:" + gs) == [s]
        r = v.end(gs2)
        assert r.status == 200 and r.data["result"] == "SUCCESS", r
        assert v.end(gs2).status == 409
        assert v.launcher_end(token).status == 200
        events = [e for e in svc.events() if e["venue_id"] == v.id]
        assert sorted(e["reason"] for e in events) == ["normal",
                                                       "replaced"], events
    # The venues index of each shard lists its own venues.
    for v in venues:
        s = svc.shard_of_owner(v.id)
        assert svc.redis("SISMEMBER", svc.key("venues", s), v.id) == "1"
    assert sorted(line.split("\t")[0] for line in svc.ctl(
        "venue", "list").stdout.splitlines()) == sorted(names)


def test_device_users_on_several_shards_keep_their_data_in_their_shard(svc):
    users = owners("user-", 8, 4)
    for i, u in enumerate(users):
        s = shard_of(u, 8)
        if i % 2:
            token = svc.ctl("token", "create", "--user", u).stdout.strip()
            assert len(token) == 56 and token.startswith(
                "dvt_" + home_of(u)), token
            assert shards_holding(svc, "dtok:" + sha256(token)) == [s]
            assert shards_holding(svc, "dtokens:" + u) == [s]
        else:
            token = jwt_for(u)
        sid = device_session(svc, token)
        assert device_session_ids(svc, token) == [sid]
        r = device_call(svc, token, "POST", "/sessions/%s/heartbeat" % sid)
        assert r.status == 200, r
        r = device_call(svc, token, "GET", "/devices")
        assert r.status == 200 and len(r.json["devices"]) == 1, r
        assert shards_holding(svc, "du:%s:sessions" % sha1(u)) == [s]
        assert shards_holding(svc, "du:%s:devices" % sha1(u)) == [s]
        assert shards_holding(svc, "ds:" + sid) == [s]
        assert shards_holding(svc, "dd:" + r.json["devices"][0]["id"]) == [s]
        # Another user's token does not see this one's sessions.
        other = jwt_for(users[(i + 1) % len(users)])
        assert device_call(svc, other, "POST",
                           "/sessions/%s/heartbeat" % sid).status == 404


# == Sweeps and /metrics =======================================================

@settings(HB_GAME_TTL_SEC=2, HB_SWEEP_INTERVAL_SEC=1)
def test_worker_sweeps_settle_expired_sessions_in_every_shard(svc):
    venues = [Venue(svc, name=n, rate=RATE_COINS, coins=100)
              for n in owners("cafe-", 8, 3)]
    ids = [v.session()[1] for v in venues]
    assert len({svc.shard_of_id(gs) for gs in ids}) == 3

    def settled():
        svc.request("GET", "/healthz")  # a worker sweeps after answering
        return all(len([e for e in svc.events()
                        if e["game_session_id"] == gs]) == 1 for gs in ids)
    wait_for("every shard's sessions settled", settled, timeout=90)
    for gs in ids:
        (e,) = [e for e in svc.events() if e["game_session_id"] == gs]
        assert e["reason"] == "expired", e
    assert svc.live_ids() == []
    m = metrics(svc)
    assert m["heartbeat_live_game_sessions"] == 0, m
    assert ended_total(m, "expired") == 3, m


@settings(HB_GAME_TTL_SEC=2, HB_SWEEP_INTERVAL_SEC=0)
def test_heartbeatctl_sweep_settles_expired_sessions_in_every_shard(svc):
    venues = [Venue(svc, name=n, rate=RATE_COINS, coins=100)
              for n in owners("cafe-", 8, 3)]
    ids = [v.session()[1] for v in venues]
    assert sorted(svc.live_ids()) == sorted(ids)
    time.sleep(2.5)
    out = svc.ctl("sweep").stdout
    assert out.strip() == "settled 3", out
    assert svc.live_ids() == []
    assert sorted(e["game_session_id"] for e in svc.events()
                  if e["reason"] == "expired") == sorted(ids)


def test_metrics_sum_live_and_ended_sessions_over_shards(svc):
    venues = [Venue(svc, name=n, rate=RATE_COINS, coins=100)
              for n in owners("cafe-", 8, 4)]
    ids = [v.session()[1] for v in venues]
    m = metrics(svc)
    assert m["heartbeat_live_game_sessions"] == 4, m
    assert m["heartbeat_game_sessions_started_total"] == 4, m
    assert ended_total(m) == 0, m
    for v, gs in zip(venues[:3], ids[:3]):
        assert v.end(gs).status == 200
    m = metrics(svc)
    assert m["heartbeat_live_game_sessions"] == 1, m
    assert m["heartbeat_game_sessions_started_total"] == 4, m
    assert ended_total(m, "normal") == 3, m


# == The configuration in every shard ============================================

def test_games_and_api_keys_are_in_every_shard(svc):
    v = Venue(svc, name=owners("cafe-", 8, 1)[0], rate=RATE_COINS)
    h = sha256(v.key)
    assert shards_holding(svc, "game:" + v.game) == list(range(8))
    assert shards_holding(svc, "apikey:" + h) == list(range(8))
    for i in range(8):
        assert svc.redis("SISMEMBER", svc.key("games", i), v.game) == "1"
        assert svc.redis("SISMEMBER", svc.key("gamekeys:" + v.game, i),
                         h) == "1"
    versions = {svc.redis("GET", svc.key("config_version", i))
                for i in range(8)}
    assert len(versions) == 1 and versions != {""}, versions
    out = svc.ctl("config", "status").stdout
    assert "8 shards at version" in out, out


def test_revoked_api_key_is_refused_on_every_shard_once_revoke_returns(svc):
    venues = [Venue(svc, name=n, rate=RATE_COINS, coins=100)
              for n in owners("cafe-", 8, 4)]
    key = venues[0].key
    live = [(v, v.session()[1]) for v in venues]
    for v, gs in live:
        assert v.heartbeat(gs, key=key).status == 200
    t0 = time.monotonic()
    svc.ctl("key", "revoke", key)
    took = time.monotonic() - t0
    # Right after the command returns: refused on every shard.
    for v, gs in live:
        r = v.heartbeat(gs, key=key)
        assert r.status == 401 and \
            r.json["error"]["code"] == "INVALID_API_KEY", (v.id, r)
    for i in range(8):
        assert svc.redis("HGET", svc.key("apikey:" + sha256(key), i),
                         "revoked") == "1", i
    print("     key revoke took %.3f s for 8 shards: the bound on a "
          "revoked key being accepted" % took, flush=True)
    assert took < 10, took
    # The other venues' own keys still work.
    for v, gs in live[1:]:
        assert v.heartbeat(gs).status == 200


def test_config_change_cut_short_is_refused_until_config_sync(svc):
    names = owners("cafe-", 8, 8)
    by_shard = {shard_of(n, 8): n for n in names}
    venues = {s: Venue(svc, name=by_shard[s], rate=RATE_COINS, coins=100)
              for s in (3, 5, 6)}
    key = venues[3].key
    # Cut short: shard 5 at another version, shard 6 without a key, shard
    # 3 with a game changed.
    svc.redis("SET", svc.key("config_version", 5), "99")
    svc.redis("DEL", svc.key("apikey:" + sha256(key), 6))
    svc.redis("HSET", svc.key("game:g1", 3), "rate", "1")
    p = svc.ctl("game", "add", "g2", "--name", "Two", "--rate", "1",
                check=False)
    assert p.returncode == 1, p
    assert "heartbeatctl config sync repairs them" in p.stderr, p.stderr
    assert shards_holding(svc, "game:g2") == []
    p = svc.ctl("config", "status", check=False)
    assert p.returncode == 1, p
    lines = p.stdout.splitlines()
    assert [int(re.match(r"shard (\d+):", x).group(1))
            for x in lines[:-1]] == [3, 5, 6], lines
    assert "version 99" in lines[1] and "apikey:" in lines[2], lines
    assert "3 of 8 shards differ from shard 0" in lines[-1], lines
    p = svc.ctl("config", "sync")
    assert "3 shards synced" in p.stdout, p.stdout
    assert svc.ctl("config", "status").returncode == 0
    assert svc.ctl("config", "sync").stdout.strip().endswith(
        "0 shards synced to shard 0's (version %s), 7 already equal" %
        svc.redis("GET", svc.key("config_version"))), "idempotent"
    assert svc.redis("HGET", svc.key("game:g1", 3), "rate") == \
        svc.redis("HGET", svc.key("game:g1", 0), "rate")
    # The key works again on shard 6's venue, and changes go through.
    _, gs = venues[6].session()
    assert venues[6].heartbeat(gs, key=key).status == 200
    svc.ctl("game", "add", "g2", "--name", "Two", "--rate", "1")
    assert shards_holding(svc, "game:g2") == list(range(8))
    assert svc.ctl("config", "status").returncode == 0


# == Resharding ================================================================

def snapshot_sessions(venues, live):
    """Heartbeats every live session; returns {gs: play seconds}."""
    out = {}
    for v, gs in live:
        r = v.heartbeat(gs)
        assert r.status == 200 and r.data["result"] == "OK", r
        out[gs] = r.data["play_duration_sec"]
    return out


def assert_everything_goes_on(svc, venues, live, launchers, users, played,
                              wallets):
    """After a reshard and a restart with the new HB_SHARDS: wallets as
    they were, every live session heartbeating with its play time going
    on, launcher tokens and device tokens working."""
    for v in venues:
        assert v.wallet() == wallets[v.id], (v.id, v.wallet(),
                                            wallets[v.id])
    for v, gs in live:
        r = v.heartbeat(gs)
        assert r.status == 200 and r.data["result"] == "OK", (gs, r)
        assert r.data["play_duration_sec"] >= played[gs], (gs, r)
        assert svc.redis("HEXISTS", svc.bucket(gs), gs) == "1", gs
    for v, token in launchers:
        r = v.launcher_heartbeat(token)
        assert r.status == 200, (v.id, r)
    for token, sids in users:
        assert device_session_ids(svc, token) == sids, token
        for sid in sids:
            r = device_call(svc, token, "POST",
                            "/sessions/%s/heartbeat" % sid)
            assert r.status == 200, r


def assert_old_layout_empty_of(svc, old, venues, live, launchers, users):
    """Nothing of a moved owner is left in the shard it had under old."""
    new = svc.shards()
    for v in venues:
        s_old, s_new = shard_of(v.id, old), shard_of(v.id, new)
        if s_old == s_new:
            continue
        left = keys_of(svc, s_old, "*%s*" % glob_escape(v.id))
        assert left == [], (v.id, s_old, left)
    for v, gs in live:
        s_old = int(gs[3:7], 16) % old if old > 1 else 0
        if s_old != svc.shard_of_id(gs):
            assert svc.redis("HEXISTS", svc.key("gsb:" + gs[-3:], s_old),
                             gs) == "0"
            assert svc.redis("ZSCORE", svc.key("deadlines", s_old),
                             gs) == ""
    for v, token in launchers:
        s_old, s_new = shard_of(v.id, old), shard_of(v.id, new)
        if s_old != s_new:
            assert svc.redis("EXISTS", svc.key("lt:" + sha256(token),
                                               s_old)) == "0"
    for token, sids in users:
        user = token_user(token)
        s_old, s_new = shard_of(user, old), shard_of(user, new)
        if s_old != s_new:
            assert keys_of(svc, s_old, "du:%s:*" % sha1(user)) == []
            for sid in sids:
                assert svc.redis("EXISTS", svc.key("ds:" + sid,
                                                   s_old)) == "0"


TOKEN_USERS = {}


def token_user(token):
    return TOKEN_USERS[token]


def reshard(svc, to, ledger, venues):
    """Pauses, lets the ledger catch up, reshards to to shards, restarts
    the workers with HB_SHARDS=to and resumes; returns the reshard's
    output."""
    svc.ctl("pause")
    ledger.check(svc, venues)
    t0 = time.monotonic()
    p = svc.ctl("reshard", "--to", to)
    print("     reshard %d -> %d took %.2f s:\n%s" % (
        svc.shards(), to, time.monotonic() - t0,
        "".join("       " + x + "\n" for x in p.stdout.splitlines())),
        flush=True)
    assert "every shard is paused" in p.stdout, p.stdout
    for i in range(max(svc.shards(), to)):
        assert svc.redis("GET", svc.key("anchor", i)) == "paused", i
    restart_workers(svc, to)
    # Still paused until resume: the new workers answer 503.
    v = venues[0]
    assert v.launcher_start("pc-9").status == 503
    svc.ctl("resume")
    return p.stdout


@settings(HB_SHARDS=1)
def test_reshard_1_to_8_to_3_keeps_sessions_wallets_and_tokens(svc):
    names = owners("cafe-", 8, 5, also=3)
    assert len({shard_of(n, 8) for n in names}) == 5
    assert len({shard_of(n, 3) for n in names}) == 3
    venues = [Venue(svc, name=n, rate=RATE_COINS, coins=50) for n in names]
    ledger = GroupLedger()
    live, launchers = [], []
    for i, v in enumerate(venues):
        svc.ctl("wallet", "topup", v.id, 10)
        if i % 2:
            svc.ctl("wallet", "set", v.id, 55, "--actor", "ops",
                    "--note", "correction")
        token, gs = v.session("pc-1")
        live.append((v, gs))
        t2, ended = v.session("pc-2")
        assert v.end(ended).status == 200  # a tombstone
        launchers.append((v, token))
        launchers.append((v, t2))
    users = []
    for i, u in enumerate(owners("user-", 8, 4, also=3)):
        token = svc.ctl("token", "create", "--user", u).stdout.strip() \
            if i % 2 else jwt_for(u)
        TOKEN_USERS[token] = u
        sids = sorted([device_session(svc, token, "fp-a"),
                       device_session(svc, token, "fp-b")])
        users.append((token, sids))
    time.sleep(1.1)
    snapshot_sessions(venues, live)
    ledger.check(svc, venues)
    before = metrics(svc)

    # -- 1 -> 8 ---------------------------------------------------------
    played = snapshot_sessions(venues, live)
    wallets = {v.id: v.wallet() for v in venues}
    out = reshard(svc, 8, ledger, venues)
    moving = len([v for v in venues if shard_of(v.id, 8) != 0])
    assert re.search(r"^venue:\t%d moved\t%d in place$" % (
        moving, len(venues) - moving), out, re.M), out
    assert re.search(r"^live game sessions \(gsb:\)\t%d moved" % moving,
                     out, re.M), out
    assert "rate-limit counters (rl:)" in out, out
    assert_everything_goes_on(svc, venues, live, launchers, users, played,
                              wallets)
    assert_old_layout_empty_of(svc, 1, venues, live, launchers, users)
    after = metrics(svc)
    assert after["heartbeat_game_sessions_started_total"] == \
        before["heartbeat_game_sessions_started_total"], (before, after)
    assert after["heartbeat_live_game_sessions"] == len(live), after
    assert svc.ctl("config", "status").returncode == 0
    for v, gs in live:
        assert svc.shard_of_id(gs) == svc.shard_of_owner(v.id)
    # A launcher token of before asks for an OTT that starts a session in
    # the venue's new shard.
    v, token = launchers[3]
    r = v.verify(v.ott(token))
    assert r.status == 200 and r.data["is_valid"] is True, r
    ended = r.data["game_session_id"]
    assert v.end(ended).status == 200
    # Activity on the shards that the next reshard takes away.
    for v in venues:
        svc.ctl("wallet", "topup", v.id, 1)
    time.sleep(1.1)
    played = snapshot_sessions(venues, live)
    wallets = {v.id: v.wallet() for v in venues}
    ledger.check(svc, venues)
    before = metrics(svc)

    # -- 8 -> 3: refused while the ledger is behind -----------------------
    svc.ctl("pause")
    for v in venues:
        if shard_of(v.id, 8) >= 3:
            svc.redis("XADD", svc.key("events", shard_of(v.id, 8)), "*",
                      "type", "topup", "venue_id", v.id,
                      "amount_millicoins", "0", "balance_millicoins",
                      str(v.wallet()), "at", "2026-01-01T00:00:00.000Z")
            break
    p = svc.ctl("reshard", "--to", 3, check=False)
    assert p.returncode == 1, p
    assert "not all acknowledged by consumer group ledger" in p.stderr, \
        p.stderr
    assert keys_of(svc, 0, "venue:*") == sorted(
        "venue:" + v.id for v in venues if shard_of(v.id, 8) == 0), \
        "nothing moved"
    out = reshard(svc, 3, ledger, venues)
    assert "event logs (events) of shards 3 to 7\tdeleted" in out, out
    assert_everything_goes_on(svc, venues, live, launchers, users, played,
                              wallets)
    assert_old_layout_empty_of(svc, 8, venues, live, launchers, users)
    for s in range(3, 8):
        assert keys_of(svc, s) == ["anchor"], (s, keys_of(svc, s))
    after = metrics(svc)
    for name in ("heartbeat_game_sessions_started_total",):
        assert after[name] == before[name], (name, before, after)
    assert ended_total(after) == ended_total(before), (before, after)
    assert svc.ctl("config", "status").returncode == 0
    for v, gs in live:
        assert v.end(gs).status == 200
    ledger.check(svc, venues)
    m = metrics(svc)
    assert m["heartbeat_live_game_sessions"] == 0, m


@settings(HB_SHARDS=1, HB_OTT_RECORD_SEC=3)
def test_reshard_refused_when_ids_lack_their_owners_home(svc):
    # Owners whose shard under 8 is not 0, and ids made to lack the home.
    v = Venue(svc, name=[n for n in owners("cafe-", 8, 8)
                         if shard_of(n, 8) != 0][0], rate=RATE_COINS,
              coins=100)
    vs = shard_of(v.id, 8)
    token, gs = v.session("pc-1")
    wrong = "%04x" % next(h for h in range(65536) if h % 8 != vs)
    old_gs, gs = gs, "gs_" + wrong + gs[7:]
    svc.redis("EVAL",
              "local r = redis.call('HGET', KEYS[1], ARGV[1]) "
              "redis.call('HDEL', KEYS[1], ARGV[1]) "
              "redis.call('HSET', KEYS[1], ARGV[2], r) "
              "local d = redis.call('ZSCORE', KEYS[2], ARGV[1]) "
              "redis.call('ZREM', KEYS[2], ARGV[1]) "
              "redis.call('ZADD', KEYS[2], d, ARGV[2]) "
              "redis.call('HSET', KEYS[3], 'gs', ARGV[2]) return 1", 3,
              svc.key("gsb:" + old_gs[-3:]), svc.key("deadlines"),
              svc.key("pc:%s:pc-1" % v.id), old_gs, gs)
    assert svc.live_ids() == [gs]
    t2 = v.launcher("pc-2")
    svc.redis("HDEL", svc.key("lt:" + sha256(t2)), "home")
    ott = v.ott(token)
    bad_ott = "ott_" + wrong + ott[8:]
    svc.redis("RENAME", svc.key("ott:" + ott), svc.key("ott:" + bad_ott))
    user = [u for u in owners("user-", 8, 8) if shard_of(u, 8) != 0][0]
    legacy = "dvt_" + os.urandom(24).hex()  # 52 characters: no home
    h = sha256(legacy)
    svc.redis("HSET", svc.key("dtok:" + h), "user", user, "revoked", "0",
              "created", str(int(time.time() * 1000)))
    svc.redis("SADD", svc.key("dtokens:" + user), h)
    assert device_session_ids(svc, legacy) == []

    p = svc.ctl("reshard", "--to", 8, check=False)
    assert p.returncode == 1 and "shard 0 is not paused" in p.stderr, p
    svc.ctl("pause")
    p = svc.ctl("reshard", "--to", 8, check=False)
    print("     refused:\n" + p.stderr, flush=True)
    assert p.returncode == 1, p
    err = p.stderr
    assert "game session %s of venue %s: heartbeatctl session revoke %s" % (
        gs, v.id, gs) in err, err
    assert "launcher session of venue %s, PC pc-2: heartbeatctl launcher " \
        "revoke %s pc-2" % (v.id, v.id) in err, err
    assert "one-time token %s of venue %s" % (bad_ott, v.id) in err, err
    assert "device token %s of user %s: heartbeatctl token revoke %s, then "\
        "heartbeatctl token create --user %s" % (h[:12], user, h[:12],
                                                  user) in err, err
    assert "the 4 records above" in err, err
    # Nothing was written: no key of any other shard.
    assert svc.redis("KEYS", "t:{core.*") == "", \
        "refused, yet something was written"
    # End them as the message says; the OTT's record expires.
    svc.ctl("resume")
    svc.ctl("session", "revoke", gs)
    svc.ctl("launcher", "revoke", v.id, "pc-2")
    svc.ctl("token", "revoke", h[:12])
    wait_for("the OTT's record to expire", lambda: svc.redis(
        "EXISTS", svc.key("ott:" + bad_ott)) == "0", timeout=30)
    svc.ctl("pause")
    svc.ctl("reshard", "--to", 8)
    restart_workers(svc, 8)
    svc.ctl("resume")
    assert v.launcher_heartbeat(token).status == 200
    r = v.verify(v.ott(token))
    assert r.status == 200 and r.data["is_valid"] is True, r
    assert svc.shard_of_id(r.data["game_session_id"]) == vs


class ShardedCluster(ClusterService):
    """A Redis Cluster of three masters (and a replica each) whose
    redis() follows redirects, so a key of any shard can be read."""

    def redis(self, *args):
        return redis_cli(["-c", "-h", "127.0.0.1", "-p",
                          str(self.live_ports()[0])], *args)

    def master_of(self, key):
        """The port of the master serving key's slot."""
        slot = int(self.cli(self.live_ports()[0], "CLUSTER", "KEYSLOT", key))
        for port, _, ranges in self.up_masters():
            for r in ranges:
                lo, _, hi = r.partition("-")
                if not r.startswith("[") and int(lo) <= slot <= int(hi or lo):
                    return port
        raise AssertionError("no master serves slot %d" % slot)


def on_cluster(fn):
    """Decorator: the test runs against a ShardedCluster."""
    fn.cluster = True
    return fn


@on_cluster
@settings(HB_SHARDS=1, HB_SWEEP_INTERVAL_SEC=0)
def test_reshard_on_a_redis_cluster_spreads_shards_over_its_masters(svc):
    names = owners("cafe-", 8, 4)
    venues = [Venue(svc, name=n, rate=RATE_COINS, coins=50) for n in names]
    live, launchers = [], []
    for v in venues:
        token, gs = v.session("pc-1")
        live.append((v, gs))
        launchers.append((v, token))
    users = []
    for i, u in enumerate(owners("user-", 8, 2)):
        token = svc.ctl("token", "create", "--user", u).stdout.strip() \
            if i % 2 else jwt_for(u)
        TOKEN_USERS[token] = u
        users.append((token, [device_session(svc, token)]))
    time.sleep(1.1)
    played = snapshot_sessions(venues, live)
    wallets = {v.id: v.wallet() for v in venues}
    svc.ctl("pause")
    p = svc.ctl("reshard", "--to", 8)
    assert "every shard is paused" in p.stdout, p.stdout
    restart_workers(svc, 8)
    svc.ctl("resume")
    masters = {svc.master_of(svc.key("anchor", i)) for i in range(8)}
    print("     8 shards on %d of %d masters" % (len(masters),
                                                len(svc.masters())),
          flush=True)
    assert len(masters) >= 2, masters
    for v in venues:
        s = svc.shard_of_owner(v.id)
        port = svc.master_of(svc.key("anchor", s))
        assert svc.cli(port, "EXISTS", svc.key("venue:" + v.id, s)) == "1"
    assert_everything_goes_on(svc, venues, live, launchers, users, played,
                              wallets)
    assert svc.ctl("config", "status").returncode == 0
    for v, gs in live:
        assert v.end(gs).status == 200


if __name__ == "__main__":
    chosen = [v for k, v in list(globals().items())
              if k.startswith("test_") and callable(v) and
              (not sys.argv[1:] or k in sys.argv[1:])]

    def make(test):
        env = {"HB_SHARDS": "8"}
        env.update(getattr(test, "env", {}))
        if getattr(test, "cluster", False):
            return ShardedCluster("shards-cluster", env).start()
        return Service("test_shards", env).start()
    sys.exit(run_suite("test_shards", chosen, make))
