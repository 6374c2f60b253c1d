#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_launcher.py - the launcher API of the PC side: the HMAC-signed start
(signature, window, replay, venue ranges over IPv4 and IPv6, trusted
proxies), launcher heartbeat, OTT issue, launcher end and bearer tokens.

Contract: docs/API.md, "Launcher API".
"""

import hashlib
import json
import re
import time

from harness import (Venue, commandstats, expect_error, expect_ok,
                     expect_one_event, service_options, session_events,
                     settings, suite_main, wait_workers_connected)

START_KEYS = {"launcher_token", "next_heartbeat_in", "games"}
HEARTBEAT_KEYS = {"result", "next_heartbeat_in", "game_session_id"}
PATH = "/v1/launcher/session"


def start_body(pc="pc-1", **extra):
    body = {"pc_id": pc, "internal_ip": "192.168.0.10",
            "hardware": {"cpu": "test", "n": time.time()}}
    body.update(extra)
    return json.dumps(body).encode()


def signed(v, body, ts=None, path=PATH, secret=None, venue=None,
           method="POST"):
    """Headers of a start signed for path (what the client sends)."""
    if secret is not None:
        saved, v.secret = v.secret, secret
        try:
            ts, sig = v.sign(method, path, body, ts)
        finally:
            v.secret = saved
    else:
        ts, sig = v.sign(method, path, body, ts)
    return {"Content-Type": "application/json",
            "X-Venue-Id": venue or v.id, "X-Timestamp": ts,
            "X-Signature": sig}


def started(r):
    data = expect_ok(r, START_KEYS)
    assert re.match(r"^lt_[0-9a-zA-Z]+$", data["launcher_token"]), r
    return data


# -- start -------------------------------------------------------------------

def test_start_returns_token_interval_and_games(svc):
    v = Venue(svc)
    data = started(v.launcher_start())
    assert data["next_heartbeat_in"] == 60, data
    assert data["games"] == [{"game_id": "g1", "name": "Game g1"}], data


@settings(HB_LAUNCHER_INTERVAL_SEC=17)
def test_start_next_heartbeat_in_reports_the_setting(svc):
    v = Venue(svc)
    assert started(v.launcher_start())["next_heartbeat_in"] == 17
    token = v.launcher("pc-2")
    assert expect_ok(v.launcher_heartbeat(token))["next_heartbeat_in"] == 17


def test_start_lists_active_games_only_with_string_ids(svc):
    v = Venue(svc, game="g1")
    svc.ctl("game", "add", "g2", "--name", "Second Game", "--rate", 60)
    svc.ctl("game", "add", "12345", "--name", "Numeric Id", "--rate", 60)
    svc.ctl("game", "add", "g3", "--name", "Gone", "--rate", 60)
    svc.ctl("game", "deactivate", "g3")
    games = started(v.launcher_start())["games"]
    for g in games:
        assert set(g) == {"game_id", "name"}, g
        assert isinstance(g["game_id"], str), g
    by_id = {g["game_id"]: g["name"] for g in games}
    assert by_id == {"g1": "Game g1", "g2": "Second Game",
                     "12345": "Numeric Id"}, games
    svc.ctl("game", "activate", "g3")
    ids = [g["game_id"] for g in started(v.launcher_start("pc-2"))["games"]]
    assert "g3" in ids


def test_start_bad_signature_is_401_invalid_signature(svc):
    v = Venue(svc)
    body = start_body()
    h = signed(v, body)
    good = h["X-Signature"]
    h["X-Signature"] = ("0" if good[0] != "0" else "1") + good[1:]
    expect_error(svc.request("POST", PATH, body, h), 401,
                 "INVALID_SIGNATURE")
    h["X-Signature"] = good.upper()
    expect_error(svc.request("POST", PATH, body, h), 401,
                 "INVALID_SIGNATURE")
    h["X-Signature"] = ""
    expect_error(svc.request("POST", PATH, body, h), 401,
                 "INVALID_SIGNATURE")


def test_start_signed_with_wrong_secret_is_401(svc):
    v = Venue(svc)
    body = start_body()
    expect_error(svc.request("POST", PATH, body,
                             signed(v, body, secret="not-the-secret")),
                 401, "INVALID_SIGNATURE")


def test_start_signature_covers_the_body(svc):
    v = Venue(svc)
    h = signed(v, start_body("pc-1"))
    expect_error(svc.request("POST", PATH, start_body("pc-2"), h), 401,
                 "INVALID_SIGNATURE")


def test_start_signature_covers_method_and_path(svc):
    v = Venue(svc)
    body = start_body()
    expect_error(svc.request("POST", PATH, body,
                             signed(v, body, path="/v1/launcher/other")),
                 401, "INVALID_SIGNATURE")
    expect_error(svc.request("POST", PATH, body,
                             signed(v, body, method="PUT")),
                 401, "INVALID_SIGNATURE")


def test_start_signature_path_excludes_the_query(svc):
    v = Venue(svc)
    body = start_body()
    r = svc.request("POST", PATH + "?lang=en", body, signed(v, body))
    started(r)


@settings(HB_BASE_PATH="/hb")
def test_start_under_base_path_signs_the_path_as_sent(svc):
    v = Venue(svc)
    body = start_body()
    r = svc.request("POST", "/hb" + PATH, body,
                    signed(v, body, path="/hb" + PATH))
    token = started(r)["launcher_token"]
    # Signed over the path without the prefix: refused.
    body = start_body("pc-2")
    expect_error(svc.request("POST", "/hb" + PATH, body, signed(v, body)),
                 401, "INVALID_SIGNATURE")
    # The rest of the API is under the prefix too.
    r = svc.request("PATCH", "/hb/v1/launcher/heartbeat", None,
                    {"Authorization": "Bearer " + token})
    expect_ok(r)
    r = svc.request("POST", "/hb/v1/launcher/ott", {"game_id": v.game},
                    {"Authorization": "Bearer " + token})
    ott = expect_ok(r)["ott"]
    r = svc.request("POST", "/hb/v1/game/session/verify",
                    {"ott": ott, "provider_user_id": "1"},
                    {"X-Api-Key": v.key})
    assert expect_ok(r)["is_valid"] is True, r


def test_start_missing_signature_headers_is_401(svc):
    v = Venue(svc)
    body = start_body()
    for drop in ("X-Venue-Id", "X-Timestamp", "X-Signature"):
        h = signed(v, body)
        del h[drop]
        expect_error(svc.request("POST", PATH, body, h), 401,
                     "INVALID_SIGNATURE")
    h = signed(v, body)
    h["X-Timestamp"] = "yesterday"
    expect_error(svc.request("POST", PATH, body, h), 401, "INVALID_SIGNATURE")


@settings(HB_SIGNATURE_WINDOW_SEC=5)
def test_start_timestamp_outside_window_is_401(svc):
    v = Venue(svc)
    now = int(time.time())
    for ts in (now - 10, now + 10, 0):
        body = start_body()
        expect_error(svc.request("POST", PATH, body, signed(v, body, ts)),
                     401, "INVALID_SIGNATURE")
    # Inside the window, either side of now.
    for ts in (now - 3, now + 3):
        body = start_body()
        started(svc.request("POST", PATH, body, signed(v, body, ts)))


def test_start_timestamp_within_default_300s_window_is_accepted(svc):
    v = Venue(svc)
    body = start_body()
    started(svc.request("POST", PATH, body,
                        signed(v, body, int(time.time()) - 250)))
    body = start_body()
    expect_error(svc.request("POST", PATH, body,
                             signed(v, body, int(time.time()) - 400)),
                 401, "INVALID_SIGNATURE")


def test_start_replayed_signature_is_401(svc):
    v = Venue(svc)
    body = start_body()
    h = signed(v, body)
    first = started(svc.request("POST", PATH, body, h))
    expect_error(svc.request("POST", PATH, body, h), 401, "INVALID_SIGNATURE")
    # The replay did not replace the first launcher session.
    expect_ok(v.launcher_heartbeat(first["launcher_token"]))


def test_start_unknown_venue_is_401_invalid_signature(svc):
    v = Venue(svc)
    body = start_body()
    expect_error(svc.request("POST", PATH, body,
                             signed(v, body, venue="no-such-venue")),
                 401, "INVALID_SIGNATURE")


def test_start_from_outside_venue_cidr_is_403(svc):
    v = Venue(svc, cidr="10.0.0.0/8")
    expect_error(v.launcher_start(), 403, "VENUE_NOT_ALLOWED")


def test_start_from_inside_one_of_several_cidrs_is_accepted(svc):
    v = Venue(svc, cidr="10.0.0.0/8,192.168.0.0/16,127.0.0.1/32")
    started(v.launcher_start())


@service_options(ipv6=True)
def test_start_over_ipv6_inside_an_ipv6_cidr_is_accepted(svc):
    v = Venue(svc, cidr="10.0.0.0/8,::1/128")
    body = start_body()
    r = svc.request("POST", PATH, body, signed(v, body), host="::1")
    token = started(r)["launcher_token"]
    # The same venue over IPv4 is outside its ranges.
    expect_error(v.launcher_start("pc-2"), 403, "VENUE_NOT_ALLOWED")
    expect_ok(v.launcher_heartbeat(token))


@service_options(ipv6=True)
def test_start_over_ipv6_outside_the_ranges_is_403(svc):
    v = Venue(svc, cidr="127.0.0.0/8,2001:db8::/32")
    body = start_body()
    expect_error(svc.request("POST", PATH, body, signed(v, body), host="::1"),
                 403, "VENUE_NOT_ALLOWED")


@settings(HB_TRUSTED_PROXIES="127.0.0.1/32")
def test_start_ipv6_client_through_trusted_proxy_is_accepted(svc):
    v = Venue(svc, cidr="2001:db8::/32")
    h = {"X-Forwarded-For": "2001:db8::7"}
    started(v.launcher_start(headers=h))
    # The right-most untrusted address decides.
    expect_error(v.launcher_start(
        "pc-2", headers={"X-Forwarded-For": "2001:db8::7, 10.9.9.9"}),
        403, "VENUE_NOT_ALLOWED")
    started(v.launcher_start(
        "pc-3", headers={"X-Forwarded-For": "10.9.9.9, 2001:db8:1::1"}))
    expect_error(v.launcher_start(
        "pc-4", headers={"X-Forwarded-For": "2001:db9::1"}),
        403, "VENUE_NOT_ALLOWED")


def test_start_forwarded_for_is_ignored_without_trusted_proxies(svc):
    v = Venue(svc, cidr="2001:db8::/32")
    expect_error(v.launcher_start(headers={"X-Forwarded-For": "2001:db8::7"}),
                 403, "VENUE_NOT_ALLOWED")
    w = Venue(svc, name="v2", cidr="127.0.0.0/8")
    started(w.launcher_start(headers={"X-Forwarded-For": "10.1.1.1"}))


def test_start_missing_pc_id_is_400(svc):
    v = Venue(svc)
    for body, field in (({"internal_ip": "1.2.3.4"}, "pc_id"),
                        ({"pc_id": "pc-1"}, "internal_ip"),
                        ({"pc_id": 7, "internal_ip": "1.2.3.4"}, "pc_id"),
                        ({"pc_id": "pc-1", "internal_ip": "1.2.3.4",
                          "hardware": "fast"}, "hardware")):
        raw = json.dumps(body).encode()
        expect_error(svc.request("POST", PATH, raw, signed(v, raw)), 400,
                     "BAD_REQUEST", field)


def test_start_without_hardware_is_accepted(svc):
    v = Venue(svc)
    raw = json.dumps({"pc_id": "pc-1", "internal_ip": "10.0.0.5"}).encode()
    started(svc.request("POST", PATH, raw, signed(v, raw)))


def test_second_start_on_same_pc_replaces_the_token(svc):
    v = Venue(svc)
    old = v.launcher("pc-1")
    other = v.launcher("pc-2")
    new = v.launcher("pc-1")
    assert new != old
    expect_error(v.launcher_heartbeat(old), 401, "UNAUTHORIZED")
    expect_error(v.ott_request(old), 401, "UNAUTHORIZED")
    expect_error(v.launcher_end(old), 401, "UNAUTHORIZED")
    expect_ok(v.launcher_heartbeat(new))
    # Another PC of the venue is not affected.
    expect_ok(v.launcher_heartbeat(other))


def test_starts_on_one_pc_at_once_leave_one_valid_token(svc):
    import concurrent.futures
    v = Venue(svc)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: v.launcher_start("pc-1"), range(4)))
    tokens = [started(r)["launcher_token"] for r in answers]
    ok = [t for t in tokens if v.launcher_heartbeat(t).status == 200]
    assert len(ok) == 1, [v.launcher_heartbeat(t) for t in tokens]
    for t in tokens:
        if t not in ok:
            expect_error(v.launcher_heartbeat(t), 401, "UNAUTHORIZED")


def test_second_start_keeps_the_pcs_game_session(svc):
    v = Venue(svc)
    old, gs = v.session("pc-1")
    new = v.launcher("pc-1")
    data = expect_ok(v.launcher_heartbeat(new), HEARTBEAT_KEYS)
    assert data["game_session_id"] == gs, data
    assert expect_ok(v.heartbeat(gs))["result"] == "OK"
    assert session_events(svc, gs) == []


@settings(HB_LAUNCHER_TTL_SEC=2)
def test_game_session_is_watched_through_the_new_launcher(svc):
    v = Venue(svc)
    _, gs = v.session("pc-1")
    time.sleep(1.0)
    new = v.launcher("pc-1")
    time.sleep(1.0)
    expect_ok(v.launcher_heartbeat(new))
    time.sleep(0.8)
    # The first launcher would be silent for 2.8 s by now: past its TTL.
    assert expect_ok(v.heartbeat(gs))["result"] == "OK"
    time.sleep(2.2)
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    expect_one_event(svc, gs, "launcher_timeout", v)


# -- heartbeat -------------------------------------------------------------

def test_launcher_heartbeat_ok_names_the_game_session(svc):
    v = Venue(svc)
    token = v.launcher()
    data = expect_ok(v.launcher_heartbeat(token), HEARTBEAT_KEYS)
    assert data == {"result": "OK", "next_heartbeat_in": 60,
                    "game_session_id": None}, data
    gs = expect_ok(v.verify(v.ott(token)))["game_session_id"]
    data = expect_ok(v.launcher_heartbeat(token), HEARTBEAT_KEYS)
    assert data["game_session_id"] == gs, data
    expect_ok(v.end(gs))
    data = expect_ok(v.launcher_heartbeat(token), HEARTBEAT_KEYS)
    assert data["game_session_id"] is None, data


def test_launcher_heartbeat_with_empty_json_body_is_accepted(svc):
    v = Venue(svc)
    token = v.launcher()
    r = svc.request("PATCH", "/v1/launcher/heartbeat", {},
                    {"Authorization": "Bearer " + token})
    expect_ok(r, HEARTBEAT_KEYS)


@settings(HB_SWEEP_INTERVAL_SEC=0, HB_LAUNCHER_TTL_SEC=200)
def test_launcher_heartbeat_runs_eight_redis_commands(svc):
    # A PC cafe's session brings a launcher heartbeat every minute, so its
    # cost in Redis counts (docs/performance.md): the anchor, the time, the
    # token's record read and written once, its expiry, the PC's record
    # read and its copy of the launcher's last call written, and the state
    # of the PC's game session.
    v = Venue(svc)
    token, gs = v.session()
    wait_workers_connected(svc, lambda: expect_ok(v.launcher_heartbeat(token)))
    before = commandstats(svc)
    data = expect_ok(v.launcher_heartbeat(token), HEARTBEAT_KEYS)
    after = commandstats(svc)
    ran = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    ran = {k: n for k, n in ran.items() if n and k not in ("info", "fcall",
                                                         "evalsha")}
    assert ran == {"get": 1, "time": 1, "hmget": 2, "hset": 2, "pexpire": 1,
                   "hget": 1}, ran
    assert data["game_session_id"] == gs, data
    lk = svc.key("lt:" + hashlib.sha256(token.encode()).hexdigest(),
                 svc.shard_of_id(token, "lt_"))
    # The launcher TTL (200 s, not the default 240), less the time since.
    assert 190000 < int(svc.redis("PTTL", lk)) <= 200000


@settings(HB_LAUNCHER_TTL_SEC=2)
def test_launcher_heartbeat_keeps_the_token_alive(svc):
    v = Venue(svc)
    token = v.launcher()
    for _ in range(3):
        time.sleep(1.1)
        expect_ok(v.launcher_heartbeat(token))


@settings(HB_LAUNCHER_TTL_SEC=1)
def test_silent_launcher_token_is_401(svc):
    v = Venue(svc)
    token = v.launcher()
    time.sleep(1.3)
    expect_error(v.launcher_heartbeat(token), 401, "UNAUTHORIZED")
    expect_error(v.ott_request(token), 401, "UNAUTHORIZED")
    expect_error(v.launcher_end(token), 401, "UNAUTHORIZED")


@settings(HB_LAUNCHER_TTL_SEC=1)
def test_ott_of_a_silent_launcher_is_ott_expired(svc):
    v = Venue(svc)
    token = v.launcher()
    ott = v.ott(token)
    time.sleep(1.3)
    r = v.verify(ott)
    data = expect_ok(r, {"is_valid", "reason"})
    assert data == {"is_valid": False, "reason": "OTT_EXPIRED"}, r


# -- bearer ------------------------------------------------------------------

def test_bearer_missing_is_401_unauthorized(svc):
    v = Venue(svc)
    v.launcher()
    expect_error(v.launcher_heartbeat(None), 401, "UNAUTHORIZED")
    expect_error(v.ott_request(None), 401, "UNAUTHORIZED")
    expect_error(v.launcher_end(None), 401, "UNAUTHORIZED")
    for auth in ("", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz"):
        r = svc.request("PATCH", "/v1/launcher/heartbeat", None,
                        {"Authorization": auth})
        expect_error(r, 401, "UNAUTHORIZED")


def test_bearer_unknown_is_401_unauthorized(svc):
    v = Venue(svc)
    token = v.launcher()
    for bad in ("lt_unknown", token + "x", token[:-1]):
        expect_error(v.launcher_heartbeat(bad), 401, "UNAUTHORIZED")
        expect_error(v.ott_request(bad), 401, "UNAUTHORIZED")
        expect_error(v.launcher_end(bad), 401, "UNAUTHORIZED")
    expect_ok(v.launcher_heartbeat(token))


# -- OTT -----------------------------------------------------------------------

def test_ott_is_issued_with_expires_in(svc):
    v = Venue(svc)
    token = v.launcher()
    data = expect_ok(v.ott_request(token), {"ott", "expires_in"})
    assert re.match(r"^ott_[0-9a-zA-Z]+$", data["ott"]), data
    assert data["expires_in"] == 60, data
    other = expect_ok(v.ott_request(token))["ott"]
    assert other != data["ott"]


@settings(HB_OTT_TTL_SEC=45)
def test_ott_expires_in_reports_the_setting(svc):
    v = Venue(svc)
    assert expect_ok(v.ott_request(v.launcher()))["expires_in"] == 45


def test_ott_for_unknown_game_is_404_game_not_found(svc):
    v = Venue(svc)
    expect_error(v.ott_request(v.launcher(), game="no-such-game"), 404,
                 "GAME_NOT_FOUND")


def test_ott_for_inactive_game_is_404_game_not_found(svc):
    v = Venue(svc)
    token = v.launcher()
    svc.ctl("game", "deactivate", v.game)
    expect_error(v.ott_request(token), 404, "GAME_NOT_FOUND")
    svc.ctl("game", "activate", v.game)
    expect_ok(v.ott_request(token))


def test_ott_bad_body_is_400(svc):
    v = Venue(svc)
    token = v.launcher()
    for body in ({}, {"game_id": 5}, {"game_id": None}, {"game_id": ""}):
        r = svc.request("POST", "/v1/launcher/ott", body,
                        {"Authorization": "Bearer " + token})
        expect_error(r, 400, "BAD_REQUEST", "game_id")


# -- end -----------------------------------------------------------------------

def test_launcher_end_ends_the_pcs_game_session(svc):
    v = Venue(svc)
    token, gs = v.session()
    time.sleep(1.1)
    data = expect_ok(v.launcher_end(token), {"result", "game_session_id"})
    assert data == {"result": "SUCCESS", "game_session_id": gs}, data
    ev = expect_one_event(svc, gs, "normal", v)
    assert int(ev["play_duration_sec"]) == 1, ev
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    expect_error(v.end(gs), 409, "ALREADY_ENDED")
    expect_error(v.launcher_heartbeat(token), 401, "UNAUTHORIZED")
    expect_error(v.launcher_end(token), 401, "UNAUTHORIZED")
    expect_one_event(svc, gs, "normal", v)


def test_launcher_end_without_game_session_answers_null(svc):
    v = Venue(svc)
    token = v.launcher()
    data = expect_ok(v.launcher_end(token), {"result", "game_session_id"})
    assert data == {"result": "SUCCESS", "game_session_id": None}, data
    assert svc.events() == []


def test_launcher_end_leaves_other_pcs_alone(svc):
    v = Venue(svc)
    t1, gs1 = v.session("pc-1")
    t2, gs2 = v.session("pc-2")
    expect_ok(v.launcher_end(t1))
    assert expect_ok(v.heartbeat(gs2))["result"] == "OK"
    expect_ok(v.launcher_heartbeat(t2))
    assert session_events(svc, gs2) == []


def test_launcher_token_of_one_venue_cannot_touch_another_venues_pc(svc):
    a = Venue(svc, name="va", game="g1")
    b = Venue(svc, name="vb", game="g1")
    ta, gsa = a.session("pc-1")
    tb, gsb = b.session("pc-1")
    # Venue A's launcher on its pc-1 ends only its own session, however
    # venue B names its PC.
    expect_ok(a.launcher_end(ta))
    assert expect_ok(b.heartbeat(gsb))["result"] == "OK"
    expect_ok(b.launcher_heartbeat(tb))
    assert session_events(svc, gsb) == []
    # A's token is gone once its launcher ended.
    expect_error(a.launcher_heartbeat(ta), 401, "UNAUTHORIZED")


def test_launcher_can_start_again_after_end(svc):
    v = Venue(svc)
    token, _ = v.session()
    expect_ok(v.launcher_end(token))
    token2, gs2 = v.session()
    assert token2 != token
    assert expect_ok(v.heartbeat(gs2))["result"] == "OK"


if __name__ == "__main__":
    suite_main("launcher", globals())
