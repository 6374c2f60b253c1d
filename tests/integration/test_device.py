#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_device.py - the device-session API (Flashback-compatible) against
real servers: the ten endpoints' bodies, expiry, revocation, trust, devices,
client addresses, bearer tokens (HS256 JWTs made here with the standard
library, and opaque tokens made with heartbeatctl), isolation between users,
and one Redis round trip per heartbeat.

The contract is docs/API.md, "Device-session API".

    test_device.py [TEST_NAME ...]
"""

import datetime
import hashlib
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (assert_one_round_trip, b64url,  # noqa: E402
                     settings, suite_main, wait_workers_connected)
from harness import make_jwt as harness_jwt  # noqa: E402


def user_key(user):
    """How the service names a user in keys: the SHA-1 of the id."""
    return hashlib.sha1(user.encode()).hexdigest()


ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SESSION_FIELDS = {"id", "deviceName", "ipAddress", "location", "startedAt",
                  "lastActivity", "expiresAt", "loginMethod"}
DEVICE_FIELDS = {"id", "deviceName", "deviceType", "os", "browser",
                 "ipAddress", "country", "city", "isTrusted", "trustLevel",
                 "lastSeen", "createdAt", "trustExpiresAt"}
NOT_FOUND_SESSION = "Session not found or expired"
NOT_FOUND_DEVICE = "Device not found"
BAD_TOKEN = "Invalid or expired token"
NO_TOKEN = "Authentication required"


# -- tokens ------------------------------------------------------------------

def make_jwt(claims, **options):
    """A JWT of exactly these claims (no default exp); see harness."""
    return harness_jwt(claims, default_exp=False, **options)


def jwt_for(user, ttl=3600, **claims):
    """A good HS256 JWT for user, expiring in ttl seconds."""
    now = int(time.time())
    body = {"sub": user, "iat": now, "exp": now + ttl}
    body.update(claims)
    return make_jwt(body)


def bearer(token):
    return {"Authorization": "Bearer " + token}


# -- checks ------------------------------------------------------------------

def ms_of(text):
    """Milliseconds since the epoch of an RFC 3339 time with milliseconds."""
    assert isinstance(text, str) and ISO.match(text), text
    t = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    t = t.replace(tzinfo=datetime.timezone.utc)
    return int(round(t.timestamp() * 1000))


def now_ms():
    return int(time.time() * 1000)


def assert_near_now(text, slack_ms=5000):
    assert abs(ms_of(text) - now_ms()) <= slack_ms, text


def assert_envelope(r):
    """What every answer carries: JSON content type and a request id."""
    assert r.header("Content-Type") == "application/json; charset=utf-8", \
        r.headers
    assert re.match(r"^req_[0-9a-f]+$", r.header("X-Request-Id") or ""), \
        r.headers
    assert r.json is not None, r


def ok(r, status=200):
    """The JSON of a Flashback success answer."""
    assert r.status == status, r
    assert_envelope(r)
    assert r.json.get("success") is True, r
    return r.json


def assert_error(r, status, code, message=None):
    """A Flashback error: exactly {success: false, error, error_code}."""
    assert r.status == status, r
    assert_envelope(r)
    assert set(r.json) == {"success", "error", "error_code"}, r
    assert r.json["success"] is False, r
    assert r.json["error_code"] == code, r
    assert isinstance(r.json["error"], str) and r.json["error"], r
    if message is not None:
        assert r.json["error"] == message, r
    if status == 401:
        assert r.header("WWW-Authenticate") == "Bearer", r.headers
    return r.json


def assert_message(r, message):
    body = ok(r)
    assert body["message"] == message, r
    return body


def check_session(s, ip="127.0.0.1"):
    """A SESSION object: the contract's fields with their types."""
    assert SESSION_FIELDS <= set(s), s
    assert isinstance(s["id"], str) and s["id"], s
    assert isinstance(s["deviceName"], str) and s["deviceName"], s
    assert s["ipAddress"] == ip, s
    assert s["location"] is None, s
    for f in ("startedAt", "lastActivity", "expiresAt"):
        ms_of(s[f])
    assert ms_of(s["startedAt"]) <= ms_of(s["lastActivity"]) < \
        ms_of(s["expiresAt"]), s
    assert s["loginMethod"] is None or isinstance(s["loginMethod"], str), s
    return s


def check_device(d, ip="127.0.0.1"):
    """A DEVICE object: the contract's fields with their types."""
    assert DEVICE_FIELDS <= set(d), d
    assert isinstance(d["id"], str) and d["id"], d
    assert isinstance(d["deviceName"], str) and d["deviceName"], d
    for f in ("deviceType", "os", "browser"):
        assert d[f] is None or isinstance(d[f], str), (f, d)
    assert d["ipAddress"] == ip, d
    assert d["country"] is None and d["city"] is None, d
    assert isinstance(d["isTrusted"], bool), d
    assert d["trustLevel"] == ("trusted" if d["isTrusted"] else "untrusted"), d
    ms_of(d["lastSeen"])
    ms_of(d["createdAt"])
    if d["isTrusted"]:
        ms_of(d["trustExpiresAt"])
    else:
        assert d["trustExpiresAt"] is None, d
    return d


# -- a user's client -----------------------------------------------------------

INFO = {"userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "deviceType": "desktop", "os": "Linux", "browser": "Firefox"}


class User:
    """The calls of Flashback's client, with one bearer token."""

    def __init__(self, svc, name="alice", token=None, headers=None):
        self.svc = svc
        self.name = name
        self.token = token or jwt_for(name)
        self.extra = dict(headers or {})

    def headers(self, more=None):
        h = bearer(self.token)
        h.update(self.extra)
        h.update(more or {})
        return h

    def call(self, method, path, body=None, headers=None):
        return self.svc.request(method, path, body, self.headers(headers))

    def create(self, fingerprint="fp-1", info=None, login="password",
               headers=None):
        body = {"fingerprint": fingerprint}
        if info is not False:
            body["deviceInfo"] = dict(INFO) if info is None else info
        if login is not None:
            body["loginMethod"] = login
        return self.call("POST", "/sessions", body, headers)

    def session(self, fingerprint="fp-1", **kw):
        """Creates a session; returns its SESSION object."""
        r = self.create(fingerprint, **kw)
        return ok(r)["session"]

    def sessions(self):
        return self.call("GET", "/sessions")

    def session_ids(self):
        return sorted(s["id"] for s in ok(self.sessions())["sessions"])

    def heartbeat(self, sid):
        return self.call("POST", "/sessions/%s/heartbeat" % sid)

    def revoke(self, sid):
        return self.call("POST", "/sessions/%s/revoke" % sid)

    def revoke_all(self):
        return self.call("POST", "/sessions/revoke-all")

    def devices(self):
        return self.call("GET", "/devices")

    def device_ids(self):
        return sorted(d["id"] for d in ok(self.devices())["devices"])

    def device(self, did):
        return self.call("GET", "/devices/%s" % did)

    def trust(self, fingerprint):
        return self.call("POST", "/devices/trust", {"fingerprint": fingerprint})

    def untrust(self, did):
        return self.call("POST", "/devices/%s/untrust" % did)

    def delete(self, did):
        return self.call("DELETE", "/devices/%s" % did)

    def every_endpoint(self, sid="s-unknown", did="d-unknown", fp="fp-1"):
        """The answers of all ten endpoints."""
        return [
            ("create", self.create(fp)),
            ("list", self.sessions()),
            ("heartbeat", self.heartbeat(sid)),
            ("revoke", self.revoke(sid)),
            ("revoke-all", self.revoke_all()),
            ("devices", self.devices()),
            ("device", self.device(did)),
            ("trust", self.trust(fp)),
            ("untrust", self.untrust(did)),
            ("delete", self.delete(did)),
        ]


def assert_all_unauthorized(svc, headers, message=BAD_TOKEN):
    """All ten endpoints answer 401 UNAUTHORIZED to these headers, and
    nothing was created."""
    u = User(svc, "nobody")
    u.headers = lambda more=None: dict(headers, **(more or {}))
    keys = sorted(svc.redis("KEYS", "t:{core}:d[sdu]:*").split())
    for name, r in u.every_endpoint():
        try:
            assert_error(r, 401, "UNAUTHORIZED", message)
        except AssertionError as e:
            raise AssertionError("%s: %s" % (name, e))
    # KEYS answers in no set order.
    assert sorted(svc.redis("KEYS", "t:{core}:d[sdu]:*").split()) == keys


def assert_same_answer(a, b):
    """Two answers a client cannot tell apart (status, body, auth header)."""
    assert (a.status, a.body, a.header("WWW-Authenticate")) == \
        (b.status, b.body, b.header("WWW-Authenticate")), (a, b)


def heartbeatctl_ready(svc):
    p = svc.ctl("help", check=False)
    assert p.returncode == 0, \
        "heartbeatctl help exits %d: %s" % (p.returncode, p.stderr)


def opaque_token(svc, user):
    heartbeatctl_ready(svc)
    p = svc.ctl("token", "create", "--user", user)
    tok = p.stdout.strip()
    assert tok and len(tok.split()) == 1 and "." not in tok, p.stdout
    return tok


# == POST /sessions =============================================================

def test_create_session_returns_flashback_session_with_iso_times(svc):
    u = User(svc)
    r = u.create("fp-1", info=dict(INFO, deviceName="Alice's laptop"),
                 login="password")
    body = ok(r)
    assert set(body) == {"success", "session"}, body
    s = check_session(body["session"])
    assert s["deviceName"] == "Alice's laptop", s
    assert s["loginMethod"] == "password", s
    assert isinstance(s["deviceId"], str) and s["deviceId"], s
    assert_near_now(s["startedAt"])
    assert s["lastActivity"] == s["startedAt"], s
    # The default idle period: 30 minutes.
    assert ms_of(s["expiresAt"]) - ms_of(s["startedAt"]) == 1800 * 1000, s


def test_create_session_without_device_info_or_login_method(svc):
    u = User(svc)
    s = check_session(u.session("fp-bare", info=False, login=None))
    assert s["loginMethod"] is None, s
    assert s["deviceName"] == "Unknown device", s
    d = check_device(ok(u.device(s["deviceId"]))["device"])
    for f in ("deviceType", "os", "browser", "userAgent"):
        assert d[f] is None, (f, d)
    # Without a name the device is named from its browser and OS.
    s2 = u.session("fp-named", info={"os": "Linux", "browser": "Firefox"})
    assert s2["deviceName"] == "Firefox on Linux", s2


def test_create_session_finds_device_by_fingerprint_or_creates_it(svc):
    u = User(svc)
    a1 = u.session("fp-a")
    a2 = u.session("fp-a", info={"os": "Linux 6.9"})
    b = u.session("fp-b")
    assert a1["id"] != a2["id"], (a1, a2)
    assert a1["deviceId"] == a2["deviceId"], (a1, a2)
    assert b["deviceId"] != a1["deviceId"], (a1, b)
    assert u.device_ids() == sorted([a1["deviceId"], b["deviceId"]])
    d = ok(u.device(a1["deviceId"]))["device"]
    assert d["deviceFingerprint"] == "fp-a", d
    # deviceInfo updates what is known; what it leaves out stays.
    assert d["os"] == "Linux 6.9" and d["browser"] == "Firefox", d
    assert sorted(s["id"] for s in d["sessions"]) == \
        sorted([a1["id"], a2["id"]]), d


def test_create_session_rejects_bad_bodies_with_flashback_400(svc):
    u = User(svc)
    h = u.headers()
    cases = [
        ({}, "fingerprint is required"),
        ({"fingerprint": 7}, "fingerprint must be a string"),
        ({"fingerprint": None}, "fingerprint must be a string"),
        ({"fingerprint": ""}, "fingerprint must be 1 to 128 bytes"),
        ({"fingerprint": "f" * 129}, "fingerprint must be 1 to 128 bytes"),
        ({"fingerprint": "fp", "deviceInfo": "laptop"},
         "deviceInfo must be an object"),
        ({"fingerprint": "fp", "deviceInfo": {"userAgent": "x" * 5000}},
         "deviceInfo is too large"),
        ({"fingerprint": "fp", "loginMethod": 3},
         "loginMethod must be a string of 1 to 128 bytes"),
    ]
    for body, message in cases:
        assert_error(svc.request("POST", "/sessions", body, h), 400,
                     "BAD_REQUEST", message)
    assert_error(svc.request("POST", "/sessions", None, h), 400,
                 "BAD_REQUEST", "a JSON object body is required")
    for raw in ('{"fingerprint":', "[1,2]", "\"fp\"", '{"fingerprint":"a\x00"}'):
        assert_error(svc.request("POST", "/sessions", raw, dict(
            h, **{"Content-Type": "application/json"})), 400, "BAD_REQUEST")
    assert_error(svc.request("POST", "/sessions", b'{"fingerprint":"\xff"}',
                             dict(h, **{"Content-Type": "application/json"})),
                 400, "BAD_REQUEST")
    assert_error(svc.request("POST", "/sessions", '{"fingerprint":"fp"}',
                             dict(h, **{"Content-Type": "text/plain"})),
                 415, "UNSUPPORTED_MEDIA_TYPE")
    big = json.dumps({"fingerprint": "fp", "pad": "x" * 70000})
    assert_error(svc.request("POST", "/sessions", big, dict(
        h, **{"Content-Type": "application/json"})), 413, "PAYLOAD_TOO_LARGE")
    # Unknown fields are ignored.
    ok(u.create("fp", info=dict(INFO, screen="1920x1080")))
    assert svc.redis("EXISTS", svc.key("du:%s:fp:fp" % user_key("alice"),
                                       svc.shard_of_owner("alice"))) == "1"
    assert len(u.session_ids()) == 1


# == GET /sessions ==============================================================

@settings(HB_DEVICE_IDLE_SEC=1)
def test_list_sessions_shows_only_live_sessions(svc):
    u = User(svc)
    old = u.session("fp-1")
    time.sleep(1.15)
    a = u.session("fp-1")
    b = u.session("fp-2")
    gone = u.session("fp-2")
    assert_message(u.revoke(gone["id"]), "Session revoked successfully")
    body = ok(u.sessions())
    assert set(body) == {"success", "sessions"}, body
    listed = {s["id"]: s for s in body["sessions"]}
    assert sorted(listed) == sorted([a["id"], b["id"]]), (old, listed)
    for s in listed.values():
        check_session(s)
    assert listed[a["id"]] == a, (listed[a["id"]], a)


def test_empty_lists_are_json_arrays(svc):
    u = User(svc)
    assert ok(u.sessions()) == {"success": True, "sessions": []}
    assert ok(u.devices()) == {"success": True, "devices": []}
    s = u.session()
    assert_message(u.revoke(s["id"]), "Session revoked successfully")
    assert ok(u.sessions())["sessions"] == []
    assert ok(u.device(s["deviceId"]))["device"]["sessions"] == []
    assert b'"sessions":[]' in u.device(s["deviceId"]).body


# == POST /sessions/{id}/heartbeat ================================================

def test_heartbeat_returns_message_and_new_expiry(svc):
    u = User(svc)
    s = u.session()
    body = assert_message(u.heartbeat(s["id"]), "Session updated successfully")
    assert set(body) == {"success", "message", "newExpiry"}, body
    assert isinstance(body["newExpiry"], str) and ISO.match(body["newExpiry"])
    listed = ok(u.sessions())["sessions"][0]
    assert listed["expiresAt"] == body["newExpiry"], (listed, body)
    assert ms_of(body["newExpiry"]) - ms_of(listed["lastActivity"]) == \
        1800 * 1000, (listed, body)


@settings(HB_DEVICE_IDLE_SEC=2, HB_DEVICE_MAX_SEC=3)
def test_heartbeat_new_expiry_is_min_of_now_plus_idle_and_max_lifetime(svc):
    u = User(svc)
    s = u.session()
    started = ms_of(s["startedAt"])
    assert ms_of(s["expiresAt"]) == started + 2000, s
    # Early on, now + idle is sooner than the end of the lifetime.
    time.sleep(0.3)
    t0 = now_ms()
    body = assert_message(u.heartbeat(s["id"]), "Session updated successfully")
    listed = ok(u.sessions())["sessions"][0]
    assert ms_of(body["newExpiry"]) == ms_of(listed["lastActivity"]) + 2000, \
        (body, listed)
    assert abs(ms_of(body["newExpiry"]) - (t0 + 2000)) < 1000, body
    assert ms_of(body["newExpiry"]) < started + 3000, body
    # Later, the lifetime caps it: startedAt + 3 s exactly.
    time.sleep(1.5)
    body = assert_message(u.heartbeat(s["id"]), "Session updated successfully")
    assert ms_of(body["newExpiry"]) == started + 3000, (body, s)
    listed = ok(u.sessions())["sessions"][0]
    assert listed["expiresAt"] == body["newExpiry"], listed
    # Past the lifetime, heartbeats cannot keep it alive.
    time.sleep(max(0, (started + 3000 - now_ms()) / 1000) + 0.2)
    assert_error(u.heartbeat(s["id"]), 404, "NOT_FOUND", NOT_FOUND_SESSION)
    assert ok(u.sessions())["sessions"] == []


@settings(HB_DEVICE_IDLE_SEC=60, HB_DEVICE_MAX_SEC=1)
def test_create_session_expiry_is_capped_by_max_lifetime(svc):
    u = User(svc)
    s = u.session()
    assert ms_of(s["expiresAt"]) == ms_of(s["startedAt"]) + 1000, s
    body = assert_message(u.heartbeat(s["id"]), "Session updated successfully")
    assert body["newExpiry"] == s["expiresAt"], (body, s)


@settings(HB_DEVICE_IDLE_SEC=31536000)
def test_max_lifetime_is_30_days_by_default(svc):
    u = User(svc)
    s = u.session()
    day = 86400 * 1000
    assert ms_of(s["expiresAt"]) - ms_of(s["startedAt"]) == 30 * day, s
    body = assert_message(u.heartbeat(s["id"]), "Session updated successfully")
    assert body["newExpiry"] == s["expiresAt"], (body, s)


@settings(HB_DEVICE_IDLE_SEC=1)
def test_expired_session_answers_404_and_vanishes_from_lists(svc):
    u = User(svc)
    s = u.session("fp-1")
    kept = u.session("fp-1")
    time.sleep(0.6)
    assert_message(u.heartbeat(kept["id"]), "Session updated successfully")
    time.sleep(0.6)
    assert_message(u.heartbeat(kept["id"]), "Session updated successfully")
    # s had no heartbeat for 1.2 s: gone; kept lives on.
    assert_error(u.heartbeat(s["id"]), 404, "NOT_FOUND", NOT_FOUND_SESSION)
    assert_error(u.revoke(s["id"]), 404, "NOT_FOUND", NOT_FOUND_SESSION)
    assert u.session_ids() == [kept["id"]]
    d = ok(u.device(s["deviceId"]))["device"]
    assert [x["id"] for x in d["sessions"]] == [kept["id"]], d
    time.sleep(1.2)
    assert_error(u.heartbeat(kept["id"]), 404, "NOT_FOUND", NOT_FOUND_SESSION)
    assert ok(u.sessions())["sessions"] == []
    # The device outlives its sessions.
    assert u.device_ids() == [s["deviceId"]]


def test_heartbeat_unknown_or_malformed_session_id_answers_404(svc):
    u = User(svc)
    u.session()
    for sid in ("s-unknown", "0f8fad5b-d9cb-469f-a165-70867728950e",
                "x" * 65, "a.b", "%20", "a%2Fb"):
        assert_error(u.heartbeat(sid), 404, "NOT_FOUND", NOT_FOUND_SESSION)
        assert_error(u.revoke(sid), 404, "NOT_FOUND", NOT_FOUND_SESSION)


# == revoke, revoke-all =========================================================

def test_revoke_session_ends_it_for_heartbeat_and_lists(svc):
    u = User(svc)
    s = u.session("fp-1")
    other = u.session("fp-1")
    body = assert_message(u.revoke(s["id"]), "Session revoked successfully")
    assert set(body) == {"success", "message"}, body
    assert_error(u.heartbeat(s["id"]), 404, "NOT_FOUND", NOT_FOUND_SESSION)
    assert_error(u.revoke(s["id"]), 404, "NOT_FOUND", NOT_FOUND_SESSION)
    assert u.session_ids() == [other["id"]]
    d = ok(u.device(s["deviceId"]))["device"]
    assert [x["id"] for x in d["sessions"]] == [other["id"]], d
    assert_message(u.heartbeat(other["id"]), "Session updated successfully")


def test_revoke_all_ends_every_session_of_the_user(svc):
    u = User(svc)
    ids = [u.session(fp)["id"] for fp in ("fp-1", "fp-1", "fp-2")]
    body = assert_message(u.revoke_all(), "All sessions revoked successfully")
    assert set(body) == {"success", "message"}, body
    for sid in ids:
        assert_error(u.heartbeat(sid), 404, "NOT_FOUND", NOT_FOUND_SESSION)
    assert ok(u.sessions())["sessions"] == []
    # Devices stay; new sessions can start; revoke-all with none is fine.
    assert len(u.device_ids()) == 2
    assert_message(u.revoke_all(), "All sessions revoked successfully")
    s = u.session("fp-1")
    assert u.session_ids() == [s["id"]]


# == devices ===================================================================

def test_list_devices_returns_flashback_device_fields(svc):
    u = User(svc)
    s1 = u.session("fp-1", info=dict(INFO, deviceName="Laptop"))
    s2 = u.session("fp-2", info={"deviceType": "mobile", "os": "Android",
                                 "browser": "Chrome"})
    u.session("fp-2", info=False)
    body = ok(u.devices())
    assert set(body) == {"success", "devices"}, body
    devs = {d["id"]: check_device(d) for d in body["devices"]}
    assert sorted(devs) == sorted([s1["deviceId"], s2["deviceId"]]), devs
    d1, d2 = devs[s1["deviceId"]], devs[s2["deviceId"]]
    assert (d1["deviceName"], d1["deviceType"], d1["os"], d1["browser"]) == \
        ("Laptop", "desktop", "Linux", "Firefox"), d1
    assert (d2["deviceName"], d2["deviceType"], d2["os"], d2["browser"]) == \
        ("Chrome on Android", "mobile", "Android", "Chrome"), d2
    assert d1["isTrusted"] is False and d1["trustLevel"] == "untrusted", d1
    assert d1["createdAt"] == s1["startedAt"], (d1, s1)
    assert_near_now(d1["lastSeen"])
    # The device list carries no fingerprints or sessions.
    assert "deviceFingerprint" not in d1 and "sessions" not in d1, d1


def test_device_details_include_user_agent_fingerprint_and_its_sessions(svc):
    u = User(svc)
    a1 = u.session("fp-1")
    a2 = u.session("fp-1", login="sso")
    b = u.session("fp-2")
    gone = u.session("fp-1")
    assert_message(u.revoke(gone["id"]), "Session revoked successfully")
    body = ok(u.device(a1["deviceId"]))
    assert set(body) == {"success", "device"}, body
    d = check_device(body["device"])
    assert d["id"] == a1["deviceId"], d
    assert d["userAgent"] == INFO["userAgent"], d
    assert d["deviceFingerprint"] == "fp-1", d
    assert isinstance(d["sessions"], list), d
    got = {s["id"]: check_session(s) for s in d["sessions"]}
    assert sorted(got) == sorted([a1["id"], a2["id"]]), got
    assert b["id"] not in got
    assert got[a2["id"]]["loginMethod"] == "sso", got
    # The device as listed is the same, less the detail fields.
    listed = [x for x in ok(u.devices())["devices"] if x["id"] == d["id"]][0]
    for k, v in listed.items():
        assert d[k] == v, (k, d, listed)


def test_device_unknown_or_malformed_id_answers_404(svc):
    u = User(svc)
    u.session()
    for did in ("d-unknown", "x" * 65, "a.b", "%2E%2E"):
        assert_error(u.device(did), 404, "NOT_FOUND", NOT_FOUND_DEVICE)
        assert_error(u.untrust(did), 404, "NOT_FOUND", NOT_FOUND_DEVICE)
        assert_error(u.delete(did), 404, "NOT_FOUND", NOT_FOUND_DEVICE)


@settings(HB_DEVICE_TRUST_SEC=3600)
def test_trust_returns_trust_expires_at_and_marks_device_trusted(svc):
    u = User(svc)
    s = u.session("fp-1")
    other = u.session("fp-2")
    t0 = now_ms()
    body = assert_message(u.trust("fp-1"), "Device trusted successfully")
    assert set(body) == {"success", "message", "trustExpiresAt"}, body
    until = ms_of(body["trustExpiresAt"])
    assert abs(until - (t0 + 3600 * 1000)) < 2000, body
    d = check_device(ok(u.device(s["deviceId"]))["device"])
    assert d["isTrusted"] is True and d["trustLevel"] == "trusted", d
    assert d["trustExpiresAt"] == body["trustExpiresAt"], d
    devs = {x["id"]: x for x in ok(u.devices())["devices"]}
    assert devs[s["deviceId"]]["trustExpiresAt"] == body["trustExpiresAt"]
    assert devs[other["deviceId"]]["isTrusted"] is False, devs
    assert devs[other["deviceId"]]["trustExpiresAt"] is None, devs
    # Trusting does not touch sessions.
    assert u.session_ids() == sorted([s["id"], other["id"]])


def test_trust_lasts_30_days_by_default(svc):
    u = User(svc)
    u.session("fp-1")
    t0 = now_ms()
    body = assert_message(u.trust("fp-1"), "Device trusted successfully")
    assert abs(ms_of(body["trustExpiresAt"]) - (t0 + 30 * 86400 * 1000)) \
        < 2000, body


def test_trust_unknown_fingerprint_or_bad_body_is_refused(svc):
    u = User(svc)
    u.session("fp-1")
    assert_error(u.trust("fp-unknown"), 404, "NOT_FOUND", NOT_FOUND_DEVICE)
    h = u.headers()
    assert_error(svc.request("POST", "/devices/trust", {}, h), 400,
                 "BAD_REQUEST", "fingerprint is required")
    assert_error(svc.request("POST", "/devices/trust", {"fingerprint": 1}, h),
                 400, "BAD_REQUEST", "fingerprint must be a string")
    assert_error(svc.request("POST", "/devices/trust", None, h), 400,
                 "BAD_REQUEST", "a JSON object body is required")
    assert_error(svc.request("POST", "/devices/trust", "{", dict(
        h, **{"Content-Type": "application/json"})), 400, "BAD_REQUEST")


@settings(HB_DEVICE_TRUST_SEC=1)
def test_trust_lapses_after_the_trust_period(svc):
    u = User(svc)
    s = u.session("fp-1")
    body = assert_message(u.trust("fp-1"), "Device trusted successfully")
    assert ok(u.device(s["deviceId"]))["device"]["isTrusted"] is True
    time.sleep(max(0, (ms_of(body["trustExpiresAt"]) - now_ms()) / 1000) + 0.2)
    d = check_device(ok(u.device(s["deviceId"]))["device"])
    assert d["isTrusted"] is False and d["trustExpiresAt"] is None, d
    assert d["trustLevel"] == "untrusted", d


def test_untrust_untrusts_device_and_revokes_its_sessions(svc):
    u = User(svc)
    a1 = u.session("fp-1")
    a2 = u.session("fp-1")
    b = u.session("fp-2")
    assert_message(u.trust("fp-1"), "Device trusted successfully")
    assert_message(u.trust("fp-2"), "Device trusted successfully")
    body = assert_message(u.untrust(a1["deviceId"]),
                          "Device untrusted successfully")
    assert set(body) == {"success", "message"}, body
    for s in (a1, a2):
        assert_error(u.heartbeat(s["id"]), 404, "NOT_FOUND", NOT_FOUND_SESSION)
    assert u.session_ids() == [b["id"]]
    d = check_device(ok(u.device(a1["deviceId"]))["device"])
    assert d["isTrusted"] is False and d["trustExpiresAt"] is None, d
    assert d["sessions"] == [], d
    # The other device keeps its trust and its session.
    other = ok(u.device(b["deviceId"]))["device"]
    assert other["isTrusted"] is True, other
    assert_message(u.heartbeat(b["id"]), "Session updated successfully")
    # Untrusting an untrusted device is fine; the device remains.
    assert_message(u.untrust(a1["deviceId"]), "Device untrusted successfully")
    assert sorted(u.device_ids()) == sorted([a1["deviceId"], b["deviceId"]])


def test_delete_device_removes_it_and_its_sessions(svc):
    u = User(svc)
    a1 = u.session("fp-1")
    a2 = u.session("fp-1")
    b = u.session("fp-2")
    body = assert_message(u.delete(a1["deviceId"]),
                          "Device removed successfully")
    assert set(body) == {"success", "message"}, body
    assert_error(u.device(a1["deviceId"]), 404, "NOT_FOUND", NOT_FOUND_DEVICE)
    assert_error(u.delete(a1["deviceId"]), 404, "NOT_FOUND", NOT_FOUND_DEVICE)
    assert_error(u.untrust(a1["deviceId"]), 404, "NOT_FOUND",
                 NOT_FOUND_DEVICE)
    assert_error(u.trust("fp-1"), 404, "NOT_FOUND", NOT_FOUND_DEVICE)
    for s in (a1, a2):
        assert_error(u.heartbeat(s["id"]), 404, "NOT_FOUND", NOT_FOUND_SESSION)
    assert u.device_ids() == [b["deviceId"]]
    assert u.session_ids() == [b["id"]]
    home = svc.shard_of_owner("alice")
    assert svc.redis("EXISTS", svc.key("dd:" + a1["deviceId"], home)) == "0"
    assert svc.redis("EXISTS", svc.key("ds:" + a1["id"], home)) == "0"
    assert svc.redis("EXISTS", svc.key("du:%s:fp:fp-1" % user_key("alice"),
                                       home)) == "0"
    # The fingerprint comes back as a new device.
    again = u.session("fp-1")
    assert again["deviceId"] not in (a1["deviceId"], b["deviceId"]), again


def test_last_activity_and_last_seen_move_with_heartbeats(svc):
    u = User(svc)
    s = u.session()
    d0 = ok(u.device(s["deviceId"]))["device"]
    assert d0["lastSeen"] == s["lastActivity"], (d0, s)
    time.sleep(0.25)
    assert_message(u.heartbeat(s["id"]), "Session updated successfully")
    s1 = ok(u.sessions())["sessions"][0]
    d1 = ok(u.device(s["deviceId"]))["device"]
    assert s1["startedAt"] == s["startedAt"], (s1, s)
    assert ms_of(s1["lastActivity"]) >= ms_of(s["lastActivity"]) + 200, s1
    assert d1["lastSeen"] == s1["lastActivity"], (d1, s1)
    assert d1["createdAt"] == d0["createdAt"], (d0, d1)
    time.sleep(0.25)
    assert_message(u.heartbeat(s["id"]), "Session updated successfully")
    s2 = ok(u.sessions())["sessions"][0]
    d2 = ok(u.device(s["deviceId"]))["device"]
    assert ms_of(s2["lastActivity"]) >= ms_of(s1["lastActivity"]) + 200, s2
    assert d2["lastSeen"] == s2["lastActivity"], (d2, s2)
    # Reading does not count as activity.
    assert ok(u.sessions())["sessions"][0]["lastActivity"] == \
        s2["lastActivity"]


def test_ip_address_is_the_client_address_not_forwarded_for(svc):
    u = User(svc, headers={"X-Forwarded-For": "198.51.100.7"})
    s = u.session()
    assert s["ipAddress"] == "127.0.0.1", s
    check_session(ok(u.sessions())["sessions"][0])
    check_device(ok(u.device(s["deviceId"]))["device"])


@settings(HB_TRUSTED_PROXIES="127.0.0.1/32")
def test_ip_address_is_forwarded_for_address_behind_trusted_proxy(svc):
    u = User(svc, headers={"X-Forwarded-For": "198.51.100.7"})
    s = u.session()
    assert s["ipAddress"] == "198.51.100.7", s
    check_session(ok(u.sessions())["sessions"][0], ip="198.51.100.7")
    check_device(ok(u.device(s["deviceId"]))["device"], ip="198.51.100.7")
    check_device(ok(u.devices())["devices"][0], ip="198.51.100.7")
    # The rightmost address that is not a trusted proxy counts.
    u.extra["X-Forwarded-For"] = "10.9.9.9, 203.0.113.5, 127.0.0.1"
    s2 = u.session("fp-2")
    assert s2["ipAddress"] == "203.0.113.5", s2


# == bearer tokens ================================================================

def test_missing_authorization_header_is_401_on_every_endpoint(svc):
    assert_all_unauthorized(svc, {}, NO_TOKEN)


def test_non_bearer_authorization_is_401(svc):
    good = jwt_for("alice")
    for value in ("Basic YWxpY2U6cGFzcw==", "Token " + good, good,
                  "Bearer", "Bearer" + good):
        assert_all_unauthorized(svc, {"Authorization": value}, NO_TOKEN)
    # (The web server may trim the trailing space: either message.)
    assert_all_unauthorized(svc, {"Authorization": "Bearer "}, None)


def test_bearer_scheme_is_case_insensitive(svc):
    r = svc.request("GET", "/sessions",
                    headers={"Authorization": "bearer " + jwt_for("alice")})
    assert ok(r)["sessions"] == []


def test_malformed_jwt_is_401(svc):
    good = jwt_for("alice")
    head, payload, sig = good.split(".")
    for token in ("not.a.jwt", "abc.def", ".", "..", head + "." + payload,
                  good + ".extra", head + "." + payload + ".!!",
                  "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24." + sig,
                  b64url(b"[1]") + "." + payload + "." + sig,
                  "x" * 5000 + "." + payload + "." + sig):
        assert_all_unauthorized(svc, bearer(token))


def test_jwt_with_bad_signature_is_401(svc):
    assert_all_unauthorized(svc, bearer(make_jwt(
        {"sub": "alice", "exp": int(time.time()) + 600},
        secret="another-secret")))
    good = jwt_for("alice")
    head, payload, sig = good.split(".")
    forged = b64url(json.dumps({"sub": "mallory",
                              "exp": int(time.time()) + 600}).encode())
    assert_all_unauthorized(svc, bearer(head + "." + forged + "." + sig))


def test_jwt_with_alg_none_is_401(svc):
    claims = {"sub": "alice", "exp": int(time.time()) + 600}
    assert_all_unauthorized(svc, bearer(make_jwt(claims, alg="none")))
    # alg none with a real HS256 signature attached is refused all the same.
    good = make_jwt(claims)
    none_head = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    assert_all_unauthorized(svc, bearer(
        none_head + "." + good.split(".", 1)[1]))


def test_jwt_with_alg_hs512_is_401(svc):
    assert_all_unauthorized(svc, bearer(make_jwt(
        {"sub": "alice", "exp": int(time.time()) + 600}, alg="HS512")))


def test_jwt_expired_beyond_leeway_is_401(svc):
    # Default leeway: 30 s.
    assert_all_unauthorized(svc, bearer(jwt_for("alice", ttl=-45)))


def test_jwt_expired_within_leeway_is_accepted(svc):
    u = User(svc, token=jwt_for("alice", ttl=-15))
    s = u.session()
    assert_message(u.heartbeat(s["id"]), "Session updated successfully")


@settings(HB_JWT_LEEWAY_SEC=6)
def test_jwt_leeway_follows_its_setting(svc):
    # Expired a second ago: within the leeway even on a slow machine.
    ok(User(svc, token=jwt_for("alice", ttl=-1)).sessions())
    assert_all_unauthorized(svc, bearer(jwt_for("alice", ttl=-10)))


def test_jwt_not_before_in_the_future_is_401(svc):
    now = int(time.time())
    assert_all_unauthorized(svc, bearer(jwt_for("alice", nbf=now + 120)))
    # An nbf now or just past (or within leeway) is fine.
    ok(User(svc, token=jwt_for("alice", nbf=now - 5)).sessions())
    ok(User(svc, token=jwt_for("alice", nbf=now + 5)).sessions())


def test_jwt_with_numeric_sub_is_401(svc):
    now = int(time.time())
    assert_all_unauthorized(svc, bearer(make_jwt(
        {"sub": 12345, "exp": now + 600})))


def test_jwt_without_sub_is_401(svc):
    now = int(time.time())
    assert_all_unauthorized(svc, bearer(make_jwt({"exp": now + 600})))
    assert_all_unauthorized(svc, bearer(make_jwt({"sub": None,
                                                  "exp": now + 600})))
    assert_all_unauthorized(svc, bearer(make_jwt({"sub": "",
                                                  "exp": now + 600})))


def test_jwt_without_exp_is_401(svc):
    assert_all_unauthorized(svc, bearer(make_jwt({"sub": "alice"})))
    assert_all_unauthorized(svc, bearer(make_jwt(
        {"sub": "alice", "exp": str(int(time.time()) + 600)})))


def test_jwt_with_sid_is_valid_only_while_its_session_lives(svc):
    u = User(svc)
    s = u.session()
    other = u.session()
    bound = User(svc, token=jwt_for("alice", sid=s["id"]))
    assert sorted([x["id"] for x in ok(bound.sessions())["sessions"]]) == \
        sorted([s["id"], other["id"]])
    assert_message(bound.heartbeat(s["id"]), "Session updated successfully")
    assert_message(u.revoke(s["id"]), "Session revoked successfully")
    assert_error(bound.sessions(), 401, "UNAUTHORIZED", BAD_TOKEN)
    assert_error(bound.heartbeat(other["id"]), 401, "UNAUTHORIZED", BAD_TOKEN)
    # A sid that never existed, or is another user's, never works.
    assert_error(User(svc, token=jwt_for("alice", sid="nope")).sessions(),
                 401, "UNAUTHORIZED", BAD_TOKEN)
    assert_error(User(svc, token=jwt_for("bob", sid=other["id"])).sessions(),
                 401, "UNAUTHORIZED", BAD_TOKEN)
    # The user's unbound token still works.
    assert u.session_ids() == [other["id"]]


# == opaque tokens (heartbeatctl token) =============================================

def test_opaque_token_is_accepted_as_its_user(svc):
    tok = opaque_token(svc, "carol")
    u = User(svc, "carol", token=tok)
    s = u.session("fp-c")
    assert_message(u.heartbeat(s["id"]), "Session updated successfully")
    assert u.session_ids() == [s["id"]]
    assert u.device_ids() == [s["deviceId"]]
    # It is the same user as a JWT whose sub is carol, and no one else.
    assert User(svc, "carol").session_ids() == [s["id"]]
    assert User(svc, "dave").session_ids() == []
    # Only the token's SHA-256 is stored.
    assert svc.redis("EXISTS", svc.key("dtok:" + hashlib.sha256(
        tok.encode()).hexdigest(), svc.shard_of_owner("carol"))) == "1"
    assert tok not in svc.redis("KEYS", "*")


def test_unknown_opaque_token_is_401(svc):
    heartbeatctl_ready(svc)
    opaque_token(svc, "carol")
    assert_all_unauthorized(svc, bearer("hb_" + "0" * 40))
    assert_all_unauthorized(svc, bearer("some-random-opaque-token"))


def test_revoked_opaque_token_is_401(svc):
    tok = opaque_token(svc, "carol")
    u = User(svc, "carol", token=tok)
    s = u.session()
    other = opaque_token(svc, "carol")
    svc.ctl("token", "revoke", tok)
    assert_all_unauthorized(svc, bearer(tok))
    # The user's data and other tokens are untouched.
    assert User(svc, "carol", token=other).session_ids() == [s["id"]]


# == isolation between users =========================================================

def test_other_users_session_heartbeat_and_revoke_answer_404_as_unknown(svc):
    a, b = User(svc, "alice"), User(svc, "bob")
    s = a.session("fp-shared")
    b.session("fp-shared")
    for call in ("heartbeat", "revoke"):
        theirs = getattr(b, call)(s["id"])
        unknown = getattr(b, call)("0f8fad5b-d9cb-469f-a165-70867728950e")
        assert_error(theirs, 404, "NOT_FOUND", NOT_FOUND_SESSION)
        assert_same_answer(theirs, unknown)
    # Alice's session is untouched.
    assert_message(a.heartbeat(s["id"]), "Session updated successfully")
    assert a.session_ids() == [s["id"]]


def test_other_users_device_get_delete_untrust_answer_404_as_unknown(svc):
    a, b = User(svc, "alice"), User(svc, "bob")
    s = a.session("fp-1")
    assert_message(a.trust("fp-1"), "Device trusted successfully")
    b.session("fp-1")
    for call in ("device", "untrust", "delete"):
        theirs = getattr(b, call)(s["deviceId"])
        unknown = getattr(b, call)("0f8fad5b-d9cb-469f-a165-70867728950e")
        assert_error(theirs, 404, "NOT_FOUND", NOT_FOUND_DEVICE)
        assert_same_answer(theirs, unknown)
    d = ok(a.device(s["deviceId"]))["device"]
    assert d["isTrusted"] is True, d
    assert [x["id"] for x in d["sessions"]] == [s["id"]], d
    assert_message(a.heartbeat(s["id"]), "Session updated successfully")


def test_other_users_items_do_not_appear_in_lists(svc):
    a, b = User(svc, "alice"), User(svc, "bob")
    sa = a.session("fp-1")
    a.session("fp-2")
    assert ok(b.sessions())["sessions"] == []
    assert ok(b.devices())["devices"] == []
    sb = b.session("fp-1")
    assert sb["deviceId"] != sa["deviceId"], (sa, sb)
    assert b.session_ids() == [sb["id"]]
    assert b.device_ids() == [sb["deviceId"]]
    assert len(a.session_ids()) == 2 and sb["id"] not in a.session_ids()
    assert sb["deviceId"] not in a.device_ids()
    d = ok(b.device(sb["deviceId"]))["device"]
    assert [x["id"] for x in d["sessions"]] == [sb["id"]], d


def test_trust_and_revoke_all_touch_only_own_items(svc):
    a, b = User(svc, "alice"), User(svc, "bob")
    sa = a.session("fp-a")
    assert_error(b.trust("fp-a"), 404, "NOT_FOUND", NOT_FOUND_DEVICE)
    assert ok(a.device(sa["deviceId"]))["device"]["isTrusted"] is False
    b.session("fp-b")
    assert_message(b.revoke_all(), "All sessions revoked successfully")
    assert b.session_ids() == []
    assert a.session_ids() == [sa["id"]]
    assert_message(a.heartbeat(sa["id"]), "Session updated successfully")


def test_user_id_with_key_separators_gets_its_own_empty_lists(svc):
    # The JWT issuer picks user ids; one with ':' must still be a user of
    # its own ("a user sees and touches only their own devices").
    a, b = User(svc, "alice"), User(svc, "alice:fp:x")
    a.session("x:sessions")
    a.session("x:devices")
    assert ok(b.sessions())["sessions"] == []
    assert ok(b.devices())["devices"] == []
    sb = b.session("fp-b")
    assert b.session_ids() == [sb["id"]]
    assert len(a.session_ids()) == 2


def test_user_id_with_key_separators_cannot_touch_anothers_fingerprint(svc):
    a, b = User(svc, "alice"), User(svc, "alice:fp:x")
    sa = a.session("x:fp:F")
    sb = b.session("F")
    assert sb["deviceId"] != sa["deviceId"], (sa, sb)
    # Alice's fingerprint still names Alice's device.
    assert_message(a.trust("x:fp:F"), "Device trusted successfully")
    assert ok(a.device(sa["deviceId"]))["device"]["isTrusted"] is True
    assert a.session("x:fp:F")["deviceId"] == sa["deviceId"]
    assert a.device_ids() == [sa["deviceId"]]
    assert b.device_ids() == [sb["deviceId"]]


# == one round trip, rate limits, Redis down, methods ================================

@settings(HB_SWEEP_INTERVAL_SEC=0)
def test_device_heartbeat_is_one_redis_round_trip(svc):
    u = User(svc)
    s = u.session()
    # Every worker connects (and loads its scripts) before counting starts.
    wait_workers_connected(svc, lambda: ok(u.sessions()))
    assert_one_round_trip(svc, lambda: assert_message(
        u.heartbeat(s["id"]), "Session updated successfully"))


@settings(HB_RATE_DEVICE_USER_PER_MIN=3)
def test_rate_limit_answers_429_in_flashback_shape(svc):
    u = User(svc)
    for _ in range(3):
        ok(u.sessions())
    # A minute's window may turn over once in between.
    for _ in range(4):
        r = u.sessions()
        if r.status == 429:
            break
    assert_error(r, 429, "RATE_LIMITED")
    assert 1 <= int(r.header("Retry-After")) <= 60, r.headers
    # Another user has a budget of their own.
    ok(User(svc, "bob").sessions())


def test_redis_down_answers_503_in_flashback_shape(svc):
    u = User(svc)
    ok(u.sessions())
    svc.stop_redis()
    r = u.sessions()
    assert_error(r, 503, "SERVICE_UNAVAILABLE")
    assert int(r.header("Retry-After")) >= 1, r.headers
    assert_error(u.heartbeat("s-1"), 503, "SERVICE_UNAVAILABLE")
    # Refusing a missing token needs no Redis.
    assert_error(svc.request("GET", "/sessions"), 401, "UNAUTHORIZED",
                 NO_TOKEN)


def test_wrong_method_answers_405_in_flashback_shape(svc):
    u = User(svc)
    r = u.call("GET", "/sessions/abc/heartbeat")
    assert_error(r, 405, "METHOD_NOT_ALLOWED")
    assert r.header("Allow") == "POST", r.headers
    r = u.call("PUT", "/devices/abc")
    assert_error(r, 405, "METHOD_NOT_ALLOWED")
    assert set(r.header("Allow").split(", ")) == {"GET", "DELETE"}, r.headers


def test_bodyless_calls_work_without_body_or_content_type(svc):
    u = User(svc)
    s = u.session()
    did = s["deviceId"]
    assert_message(u.trust("fp-1"), "Device trusted successfully")
    for method, path in (("POST", "/sessions/%s/heartbeat" % s["id"]),
                         ("GET", "/sessions"), ("GET", "/devices"),
                         ("GET", "/devices/%s" % did),
                         ("POST", "/sessions/%s/revoke" % s["id"]),
                         ("POST", "/sessions/revoke-all"),
                         ("POST", "/devices/%s/untrust" % did),
                         ("DELETE", "/devices/%s" % did)):
        conn_headers = dict(bearer(u.token))
        r = svc.request(method, path, None, conn_headers)
        assert r.status == 200 and r.json["success"] is True, (path, r)


if __name__ == "__main__":
    suite_main("device", globals())
