#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_game.py - the game-session API (PlayWave-compatible): verify,
heartbeat, check, end, billing, and the settlement of every ending.

Contract: docs/API.md, game-session API and settlement. Each test gets
its own Redis, workers and nginx; @settings gives one test short timings.
"""

import concurrent.futures
import datetime
import hashlib
import re
import subprocess
import time

from harness import (CTL, Venue, assert_one_round_trip, expect_error,
                     expect_ok, expect_one_event, session_events, settings,
                     suite_main, wait_for, wait_workers_connected)

GS_ID = re.compile(r"^gs_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}"
                   r"-[0-9a-f]{12}$")
KEEPALIVE_KEYS = {"result", "next_heartbeat_in", "play_duration_sec"}
END_KEYS = {"result", "play_duration_sec", "client_play_duration_sec"}
USER = "123456789"


def when(ts):
    """An RFC 3339 time with milliseconds as a datetime."""
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")


def refused(r, reason):
    data = expect_ok(r, {"is_valid", "reason"})
    assert data["is_valid"] is False, r
    assert data["reason"] == reason, "want %s, got %r" % (reason, r)


def keepalive(r, result, play=None):
    """Checks a heartbeat or check answer; returns its play time."""
    data = expect_ok(r, KEEPALIVE_KEYS)
    assert data["result"] == result, "want %s, got %r" % (result, r)
    assert isinstance(data["play_duration_sec"], int), r
    if play is not None:
        assert data["play_duration_sec"] == play, \
            "want play %d, got %r" % (play, r)
    return data["play_duration_sec"]


def gs_field(svc, gs, field):
    """A field of a live session's record in Redis (white-box: used only to
    check the billing arithmetic to the millicoin)."""
    return int(svc.session(gs).get(field, 0))


def due(rate_mc_per_hour, ms):
    return rate_mc_per_hour * ms // 3600000


# -- verify ------------------------------------------------------------------

def test_verify_valid_returns_game_session_id_and_pc_cafe(svc):
    v = Venue(svc)
    token = v.launcher()
    r = v.verify(v.ott(token))
    data = expect_ok(r, {"is_valid", "game_session_id", "is_pc_cafe"})
    assert data["is_valid"] is True and data["is_pc_cafe"] is True, r
    assert GS_ID.match(data["game_session_id"]), r
    # The session is live: a heartbeat answers OK.
    keepalive(v.heartbeat(data["game_session_id"]), "OK", 0)


def test_verify_ignores_unknown_fields(svc):
    v = Venue(svc)
    token = v.launcher()
    r = v.game_call("POST", "/v1/game/session/verify",
                    {"ott": v.ott(token), "provider_user_id": USER,
                     "extra": {"nested": [1, 2, 3]}, "n": 5})
    assert expect_ok(r)["is_valid"] is True, r


def test_verify_two_sessions_get_distinct_ids(svc):
    v = Venue(svc)
    _, a = v.session("pc-1")
    _, b = v.session("pc-2")
    assert a != b and GS_ID.match(a) and GS_ID.match(b)


@settings(HB_OTT_TTL_SEC=1)
def test_verify_ott_older_than_ott_ttl_is_ott_expired(svc):
    v = Venue(svc)
    token = v.launcher()
    ott = v.ott(token)
    time.sleep(1.3)
    refused(v.verify(ott), "OTT_EXPIRED")
    # It was consumed all the same.
    refused(v.verify(ott), "OTT_ALREADY_USED")
    # A fresh OTT from the same launcher still works.
    assert expect_ok(v.verify(v.ott(token)))["is_valid"] is True


def test_verify_second_use_is_ott_already_used(svc):
    v = Venue(svc)
    token = v.launcher()
    ott = v.ott(token)
    r = v.verify(ott)
    assert expect_ok(r)["is_valid"] is True, r
    refused(v.verify(ott), "OTT_ALREADY_USED")
    refused(v.verify(ott, user="someone-else"), "OTT_ALREADY_USED")


@settings(HB_OTT_RECORD_SEC=1)
def test_verify_used_ott_is_ott_expired_once_its_record_is_gone(svc):
    v = Venue(svc)
    token = v.launcher()
    ott = v.ott(token)
    assert expect_ok(v.verify(ott))["is_valid"] is True
    refused(v.verify(ott), "OTT_ALREADY_USED")
    time.sleep(1.3)
    refused(v.verify(ott), "OTT_EXPIRED")


def test_verify_unknown_ott_is_ott_expired(svc):
    v = Venue(svc)
    refused(v.verify("ott_00000000000000000000000000000000"), "OTT_EXPIRED")
    refused(v.verify("not-an-ott-at-all"), "OTT_EXPIRED")


def test_verify_ott_of_game_a_with_key_of_game_b_is_game_mismatch(svc):
    a = Venue(svc, name="va", game="ga")
    b = Venue(svc, name="vb", game="gb")
    ott = a.ott(a.launcher())
    refused(b.verify(ott), "GAME_MISMATCH")
    # Consumed by that first verify, whatever the answer.
    refused(a.verify(ott), "OTT_ALREADY_USED")


def test_verify_with_empty_wallet_is_not_chargeable(svc):
    v = Venue(svc, coins=0)
    refused(v.verify(v.ott(v.launcher())), "NOT_CHARGEABLE")
    assert svc.live_ids() == []


def test_verify_with_billing_off_is_not_chargeable(svc):
    v = Venue(svc, billing="off")
    refused(v.verify(v.ott(v.launcher())), "NOT_CHARGEABLE")
    svc.ctl("venue", "billing", v.id, "on")
    assert expect_ok(v.verify(v.ott(v.launcher())))["is_valid"] is True


def test_verify_without_api_key_is_invalid_api_key(svc):
    v = Venue(svc)
    ott = v.ott(v.launcher())
    r = svc.request("POST", "/v1/game/session/verify",
                    {"ott": ott, "provider_user_id": USER})
    expect_error(r, 401, "INVALID_API_KEY")
    r = svc.request("POST", "/v1/game/session/verify",
                    {"ott": ott, "provider_user_id": USER}, {"X-Api-Key": ""})
    expect_error(r, 401, "INVALID_API_KEY")
    # The refused call did not consume the OTT.
    assert expect_ok(v.verify(ott))["is_valid"] is True


def test_verify_with_unknown_api_key_is_invalid_api_key(svc):
    v = Venue(svc)
    ott = v.ott(v.launcher())
    expect_error(v.verify(ott, key="pk_unknown_key_0123456789"), 401,
                 "INVALID_API_KEY")
    assert expect_ok(v.verify(ott))["is_valid"] is True


def test_revoked_api_key_is_invalid_api_key(svc):
    v = Venue(svc)
    other = svc.ctl("key", "create", v.game).stdout.strip()
    token, gs = v.session()
    svc.ctl("key", "revoke", v.key)
    expect_error(v.verify(v.ott(token)), 401, "INVALID_API_KEY")
    expect_error(v.heartbeat(gs), 401, "INVALID_API_KEY")
    expect_error(v.check(gs), 401, "INVALID_API_KEY")
    expect_error(v.end(gs), 401, "INVALID_API_KEY")
    # The game's other key still works on the same session.
    keepalive(v.heartbeat(gs, key=other), "OK")


def test_deactivated_game_key_is_invalid_api_key(svc):
    v = Venue(svc)
    token, gs = v.session()
    ott = v.ott(token)
    svc.ctl("game", "deactivate", v.game)
    expect_error(v.verify(ott), 401, "INVALID_API_KEY")
    expect_error(v.heartbeat(gs), 401, "INVALID_API_KEY")
    expect_error(v.check(gs), 401, "INVALID_API_KEY")
    expect_error(v.end(gs), 401, "INVALID_API_KEY")
    svc.ctl("game", "activate", v.game)
    keepalive(v.heartbeat(gs), "OK")


def apikey_record(svc, key, shard=0):
    """The Redis name of an API key's record (in shard)."""
    return svc.key("apikey:" + hashlib.sha256(key.encode()).hexdigest(),
                   shard)


def test_api_key_serves_its_game_only_while_active_and_not_revoked(svc):
    """heartbeatctl keeps the key's copy of its game's state in step: a key
    made while its game is inactive opens nothing until the game is
    activated, and activating a game does not bring back a revoked key."""
    v = Venue(svc)
    revoked = svc.ctl("key", "create", v.game).stdout.strip()
    token, gs = v.session()
    svc.ctl("game", "deactivate", v.game)
    late = svc.ctl("key", "create", v.game).stdout.strip()
    expect_error(v.heartbeat(gs, key=late), 401, "INVALID_API_KEY")
    svc.ctl("key", "revoke", revoked)
    svc.ctl("game", "activate", v.game)
    keepalive(v.heartbeat(gs, key=late), "OK")
    keepalive(v.heartbeat(gs), "OK")
    expect_error(v.heartbeat(gs, key=revoked), 401, "INVALID_API_KEY")
    expect_error(v.check(gs, key=revoked), 401, "INVALID_API_KEY")
    assert svc.redis("HGET", apikey_record(svc, revoked), "serves") == ""
    assert svc.redis("HGET", apikey_record(svc, late), "serves") == v.game
    # Game commands about unknown games change nothing.
    assert svc.ctl("game", "deactivate", "nope", check=False).returncode == 1
    assert svc.ctl("key", "create", "nope", check=False).returncode == 1
    assert svc.redis("EXISTS", svc.key("game:nope")) == "0"


def test_api_key_record_without_serves_is_read_through_its_game(svc):
    """An API key's record written before it kept the game's state (no
    'serves') is read as before: its revoked flag and its game's active
    flag decide, as the previous heartbeatctl wrote them."""
    v = Venue(svc)
    token, gs = v.session()
    # Configuration lives in every shard: each copy is changed alike.
    recs = [apikey_record(svc, v.key, i) for i in range(svc.shards())]
    games = [svc.key("game:" + v.game, i) for i in range(svc.shards())]

    def every(names, command, *args):
        for name in names:
            svc.redis(command, name, *args)
    ott = v.ott(token)
    every(recs, "HDEL", "serves")
    keepalive(v.heartbeat(gs), "OK")
    every(games, "HSET", "active", "0")
    expect_error(v.heartbeat(gs), 401, "INVALID_API_KEY")
    expect_error(v.verify(ott), 401, "INVALID_API_KEY")
    every(games, "HSET", "active", "1")
    keepalive(v.check(gs), "OK")
    every(recs, "HSET", "revoked", "1")
    expect_error(v.heartbeat(gs), 401, "INVALID_API_KEY")
    expect_error(v.end(gs), 401, "INVALID_API_KEY")
    every(recs, "HSET", "revoked", "0")
    keepalive(v.heartbeat(gs), "OK")
    # heartbeatctl writes the field again on its next change of the key.
    svc.ctl("key", "revoke", v.key)
    for rec in recs:
        assert svc.redis("HGET", rec, "serves") == ""
    expect_error(v.heartbeat(gs), 401, "INVALID_API_KEY")


def test_verify_replaces_the_pcs_live_session(svc):
    v = Venue(svc)
    token, old = v.session()
    r = v.verify(v.ott(token), user="another-user")
    new = expect_ok(r)["game_session_id"]
    assert new != old
    keepalive(v.heartbeat(new, user="another-user"), "OK")
    # Launcher heartbeat names the new session.
    assert expect_ok(v.launcher_heartbeat(token))["game_session_id"] == new


def test_verify_same_ott_at_once_is_valid_exactly_once(svc):
    v = Venue(svc)
    ott = v.ott(v.launcher())
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: v.verify(ott), range(8)))
    datas = [expect_ok(r) for r in answers]
    valid = [d for d in datas if d["is_valid"]]
    assert len(valid) == 1, datas
    assert all(d == {"is_valid": False, "reason": "OTT_ALREADY_USED"}
               for d in datas if not d["is_valid"]), datas


def test_verify_two_otts_of_one_pc_at_once_leaves_one_live_session(svc):
    v = Venue(svc)
    token = v.launcher()
    otts = [v.ott(token) for _ in range(2)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(v.verify, otts))
    ids = [expect_ok(r)["game_session_id"] for r in answers]
    live = expect_ok(v.launcher_heartbeat(token))["game_session_id"]
    assert live in ids
    old = [gs for gs in ids if gs != live][0]
    expect_one_event(svc, old, "replaced", v)
    assert session_events(svc, live) == []
    keepalive(v.heartbeat(live), "OK")
    keepalive(v.heartbeat(old), "SESSION_REPLACED")


# -- heartbeat ---------------------------------------------------------------

def test_heartbeat_ok_counts_play_time(svc):
    v = Venue(svc)
    _, gs = v.session()
    keepalive(v.heartbeat(gs), "OK", 0)
    time.sleep(1.1)
    keepalive(v.heartbeat(gs), "OK", 1)
    time.sleep(1.0)
    keepalive(v.heartbeat(gs), "OK", 2)


def test_heartbeat_next_heartbeat_in_is_default_120(svc):
    v = Venue(svc)
    _, gs = v.session()
    assert expect_ok(v.heartbeat(gs))["next_heartbeat_in"] == 120
    assert expect_ok(v.check(gs))["next_heartbeat_in"] == 120


@settings(HB_HEARTBEAT_INTERVAL_SEC=7)
def test_heartbeat_next_heartbeat_in_reports_the_setting(svc):
    v = Venue(svc)
    _, gs = v.session()
    assert expect_ok(v.heartbeat(gs))["next_heartbeat_in"] == 7
    assert expect_ok(v.check(gs))["next_heartbeat_in"] == 7


@settings(HB_GAME_TTL_SEC=2)
def test_heartbeat_refreshes_ttl(svc):
    v = Venue(svc)
    _, gs = v.session()
    for _ in range(3):             # 3.6 s in all, past the 2 s TTL
        time.sleep(1.2)
        keepalive(v.heartbeat(gs), "OK")


@settings(HB_GAME_TTL_SEC=2, HB_SWEEP_INTERVAL_SEC=0)
def test_heartbeat_gap_counts_at_most_game_ttl(svc):
    # Checks keep the session live without counting; the heartbeat after
    # them finds a 3.4 s gap since the last counted instant and counts 2 s.
    v = Venue(svc)
    _, gs = v.session()
    time.sleep(1.2)
    keepalive(v.check(gs), "OK", 0)
    time.sleep(1.2)
    keepalive(v.check(gs), "OK", 0)
    time.sleep(1.0)
    keepalive(v.heartbeat(gs), "OK", 2)


def test_heartbeat_unknown_session_is_404(svc):
    v = Venue(svc)
    expect_error(v.heartbeat("gs_00000000-0000-4000-8000-000000000000"),
                 404, "SESSION_NOT_FOUND")
    expect_error(v.heartbeat("nonsense"), 404, "SESSION_NOT_FOUND")


def test_heartbeat_other_user_is_404(svc):
    v = Venue(svc)
    _, gs = v.session()
    expect_error(v.heartbeat(gs, user="987654321"), 404, "SESSION_NOT_FOUND")
    expect_error(v.check(gs, user="987654321"), 404, "SESSION_NOT_FOUND")
    keepalive(v.heartbeat(gs), "OK")


def test_other_games_key_gets_404_for_a_session(svc):
    a = Venue(svc, name="va", game="ga")
    b = Venue(svc, name="vb", game="gb")
    _, gs = a.session()
    expect_error(b.heartbeat(gs), 404, "SESSION_NOT_FOUND")
    expect_error(b.check(gs), 404, "SESSION_NOT_FOUND")
    expect_error(b.end(gs), 404, "SESSION_NOT_FOUND")
    # Game A's session is untouched: live, not ended, not settled.
    keepalive(a.heartbeat(gs), "OK")
    assert session_events(svc, gs) == []
    assert expect_ok(a.end(gs))["result"] == "SUCCESS"


def test_billing_wallet_decreases_by_floor_of_rate_times_billed_ms(svc):
    # 1000 coins/h = 1 000 000 millicoins/h: not a whole number per ms, so
    # the floor matters. The charge is computed on cumulative billed time.
    v = Venue(svc, rate=1000, coins=100)
    start = v.wallet()
    assert start == 100 * 1000
    _, gs = v.session()
    rate = 1000 * 1000
    for pause in (0.3, 0.45, 0.7):
        time.sleep(pause)
        keepalive(v.heartbeat(gs), "OK")
        billed = gs_field(svc, gs, "bms")
        assert billed > 0
        assert start - v.wallet() == due(rate, billed), \
            (start - v.wallet(), billed)
    time.sleep(0.2)
    r = v.end(gs)
    play = expect_ok(r)["play_duration_sec"]
    ev = expect_one_event(svc, gs, "normal", v)
    charged = int(ev["charged_millicoins"])
    assert start - v.wallet() == charged, (start - v.wallet(), ev)
    assert int(ev.get("rate_millicoins_per_hour", rate)) == rate, ev
    # The charge is that of the whole counted time (about play seconds).
    assert due(rate, play * 1000) <= charged <= due(rate, (play + 1) * 1000)
    assert charged > 0


def test_billing_charges_at_the_rate_fixed_at_verify(svc):
    v = Venue(svc, rate=3600, coins=100)
    _, gs = v.session()
    svc.ctl("game", "rate", v.game, 7200)
    start = v.wallet()
    time.sleep(0.5)
    keepalive(v.heartbeat(gs), "OK")
    billed = gs_field(svc, gs, "bms")
    total = 100 * 1000 - v.wallet()
    assert total == due(3600 * 1000, billed), (total, billed)
    assert start >= v.wallet()


def test_heartbeat_charge_exhausted_takes_the_rest_and_never_goes_below_zero(
        svc):
    # 3600 coins/h is one coin a second: a 1-coin wallet lasts 1 s.
    v = Venue(svc, rate=3600, coins=1)
    _, gs = v.session()
    time.sleep(1.3)
    keepalive(v.heartbeat(gs), "CHARGE_EXHAUSTED", 1)
    assert v.wallet() == 0
    # Grace: play time keeps counting, nothing is charged.
    time.sleep(1.1)
    keepalive(v.heartbeat(gs), "CHARGE_EXHAUSTED", 2)
    keepalive(v.check(gs), "CHARGE_EXHAUSTED", 2)
    assert v.wallet() == 0
    # A new session cannot start on an empty wallet.
    refused(v.verify(v.ott(v.launcher("pc-2"))), "NOT_CHARGEABLE")


def test_heartbeat_on_a_wallet_emptied_meanwhile_takes_nothing(svc):
    # The operator empties the wallet of a live session: the next charge
    # takes nothing (the wallet stays at zero, never below), the session
    # goes into grace, and what it was charged stays what it was.
    v = Venue(svc, rate=3600, coins=100)
    _, gs = v.session()
    time.sleep(0.5)
    keepalive(v.heartbeat(gs), "OK")
    charged = gs_field(svc, gs, "chg")
    assert v.wallet() == 100000 - charged
    svc.ctl("wallet", "set", v.id, "0")
    time.sleep(0.5)
    keepalive(v.heartbeat(gs), "CHARGE_EXHAUSTED")
    assert v.wallet() == 0
    assert gs_field(svc, gs, "chg") == charged
    end = expect_ok(v.end(gs))
    ev = expect_one_event(svc, gs, "normal", v)
    assert int(ev["charged_millicoins"]) == charged, (ev, charged)
    assert end["play_duration_sec"] == int(ev["play_duration_sec"])


def test_heartbeat_recovers_to_ok_after_wallet_topup(svc):
    v = Venue(svc, rate=3600, coins=1)
    _, gs = v.session()
    time.sleep(1.2)
    keepalive(v.heartbeat(gs), "CHARGE_EXHAUSTED")
    assert v.wallet() == 0
    # The end of grace is kept while it lasts, and removed on recovery.
    assert "gend" in svc.session(gs)
    time.sleep(0.5)
    svc.ctl("wallet", "topup", v.id, 5)
    # The time spent in grace is not charged: the wallet is the top-up.
    keepalive(v.heartbeat(gs), "OK")
    assert v.wallet() == 5000
    assert "gend" not in svc.session(gs)
    time.sleep(0.5)
    keepalive(v.heartbeat(gs), "OK")
    spent = 5000 - v.wallet()
    assert 400 <= spent <= 2000, spent     # ~0.5 s at 1000 mc/s
    assert session_events(svc, gs) == []
    expect_ok(v.end(gs))
    ev = expect_one_event(svc, gs, "normal", v)
    # Charged: the first coin, then what was taken after the top-up.
    assert int(ev["charged_millicoins"]) == 1000 + 5000 - v.wallet(), ev


def test_check_recovers_to_ok_after_wallet_topup(svc):
    v = Venue(svc, rate=3600, coins=1)
    _, gs = v.session()
    time.sleep(1.2)
    keepalive(v.heartbeat(gs), "CHARGE_EXHAUSTED")
    svc.ctl("wallet", "topup", v.id, 5)
    keepalive(v.check(gs), "OK")
    assert v.wallet() == 5000


def test_heartbeat_charge_exhausted_when_billing_turned_off(svc):
    v = Venue(svc, rate=3600, coins=100)
    _, gs = v.session()
    svc.ctl("venue", "billing", v.id, "off")
    time.sleep(0.3)
    keepalive(v.heartbeat(gs), "CHARGE_EXHAUSTED")
    svc.ctl("venue", "billing", v.id, "on")
    keepalive(v.heartbeat(gs), "OK")


@settings(HB_GRACE_SEC=1)
def test_heartbeat_after_grace_is_410_session_ended(svc):
    v = Venue(svc, rate=3600, coins=1)
    token, gs = v.session()
    time.sleep(1.2)
    keepalive(v.heartbeat(gs), "CHARGE_EXHAUSTED")
    time.sleep(1.3)
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    expect_error(v.check(gs), 410, "SESSION_ENDED")
    expect_error(v.end(gs), 409, "ALREADY_ENDED")
    assert expect_ok(v.launcher_heartbeat(token))["game_session_id"] is None


def test_heartbeat_session_replaced_answered_once_then_410(svc):
    v = Venue(svc)
    token, old = v.session()
    time.sleep(1.1)
    new = expect_ok(v.verify(v.ott(token)))["game_session_id"]
    # The one answer carries the old session's final play time.
    keepalive(v.heartbeat(old), "SESSION_REPLACED", 1)
    expect_error(v.heartbeat(old), 410, "SESSION_ENDED")
    expect_error(v.check(old), 410, "SESSION_ENDED")
    expect_error(v.end(old), 409, "ALREADY_ENDED")
    keepalive(v.heartbeat(new), "OK")


def test_check_session_replaced_answered_once_then_410(svc):
    v = Venue(svc)
    token, old = v.session()
    v.verify(v.ott(token))
    keepalive(v.check(old), "SESSION_REPLACED")
    expect_error(v.check(old), 410, "SESSION_ENDED")
    expect_error(v.heartbeat(old), 410, "SESSION_ENDED")


def test_end_of_replaced_session_is_409(svc):
    v = Venue(svc)
    token, old = v.session()
    v.verify(v.ott(token))
    expect_error(v.end(old), 409, "ALREADY_ENDED")


def test_heartbeat_during_revoke_drain_is_410_session_ending(svc):
    v = Venue(svc)
    _, gs = v.session()
    svc.ctl("session", "revoke", gs, "--drain", 2)
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDING")
    expect_error(v.check(gs), 410, "SESSION_ENDING")
    expect_error(v.end(gs), 410, "SESSION_ENDING")
    assert session_events(svc, gs) == []
    time.sleep(2.2)
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    expect_error(v.end(gs), 409, "ALREADY_ENDED")
    expect_one_event(svc, gs, "revoked", v)


@settings(HB_LAUNCHER_TTL_SEC=1)
def test_heartbeat_after_launcher_silence_is_410_session_ended(svc):
    v = Venue(svc)
    _, gs = v.session()
    keepalive(v.heartbeat(gs), "OK")
    time.sleep(1.3)
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    expect_error(v.end(gs), 409, "ALREADY_ENDED")


@settings(HB_LAUNCHER_TTL_SEC=2)
def test_launcher_heartbeats_keep_the_game_session_alive(svc):
    v = Venue(svc)
    token, gs = v.session()
    for _ in range(3):             # 3.3 s in all, past the launcher TTL
        time.sleep(1.1)
        expect_ok(v.launcher_heartbeat(token))
        keepalive(v.heartbeat(gs), "OK")


def launcher_key(token):
    """The Redis key of a launcher session, by its token."""
    return "lt:" + hashlib.sha256(token.encode()).hexdigest()


@settings(HB_LAUNCHER_TTL_SEC=2)
def test_pc_record_copies_its_launchers_last_call(svc):
    v = Venue(svc)
    token, gs = v.session()
    pk = svc.key("pc:v1:pc-1", svc.shard_of_owner("v1"))
    lk = svc.key(launcher_key(token), svc.shard_of_id(token, "lt_"))
    assert svc.redis("HGET", pk, "ll") == svc.redis("HGET", lk, "last")
    time.sleep(0.2)
    expect_ok(v.launcher_heartbeat(token))
    last = svc.redis("HGET", lk, "last")
    assert svc.redis("HGET", pk, "ll") == last != "", last


@settings(HB_LAUNCHER_TTL_SEC=2)
def test_launcher_record_decides_when_the_pc_copy_is_missing_or_old(svc):
    # A PC record without the copy (written before it existed), or with a
    # copy older than the launcher's own last call, is judged by the
    # launcher's record: live while it is, ended once it falls silent.
    v = Venue(svc)
    token, gs = v.session()
    pk = svc.key("pc:v1:pc-1", svc.shard_of_owner("v1"))
    svc.redis("HDEL", pk, "ll")
    keepalive(v.heartbeat(gs), "OK")
    time.sleep(1.2)
    expect_ok(v.launcher_heartbeat(token))
    svc.redis("HSET", pk, "ll", "1")
    time.sleep(1.2)             # 1.2 s since the launcher's call
    keepalive(v.heartbeat(gs), "OK")
    time.sleep(1.0)             # 2.2 s since the launcher's call
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    expect_one_event(svc, gs, "launcher_timeout", v)


@settings(HB_GAME_TTL_SEC=100, HB_LAUNCHER_TTL_SEC=10,
          HB_SETTLE_MARGIN_SEC=20)
def test_pc_record_outlives_the_deadline_by_a_margin_to_one_and_a_half(svc):
    # The launcher keeps its PC 10 + 20 (+ 10) s; the session needs
    # 100 + 20 s from now and gets 10 s more, so the heartbeats of the next
    # 10 s find it long enough and leave the expiry alone.
    v = Venue(svc)
    _, gs = v.session()
    pk = svc.key("pc:v1:pc-1", svc.shard_of_owner("v1"))
    first = int(svc.redis("PTTL", pk))
    assert 120000 - 2000 < first <= 130000, first
    time.sleep(1.0)
    keepalive(v.heartbeat(gs), "OK")
    second = int(svc.redis("PTTL", pk))
    assert 120000 - 2000 < second <= first - 900, (first, second)


def redis_now_ms(svc):
    sec, usec = svc.redis("TIME").split()
    return int(sec) * 1000 + int(usec) // 1000


def pc_kept(svc, pk):
    """The PC record's expiry as Redis has it and as its 'ex' says (ms)."""
    now = redis_now_ms(svc)
    ex = svc.redis("HGET", pk, "ex")
    return now + int(svc.redis("PTTL", pk)), int(ex) * 1000 if ex else None


def pttl_calls(svc):
    m = re.search(r"cmdstat_pttl:calls=(\d+)", svc.redis("INFO",
                                                        "commandstats"))
    return int(m.group(1)) if m else 0


@settings(HB_GAME_TTL_SEC=100, HB_LAUNCHER_TTL_SEC=10,
          HB_SETTLE_MARGIN_SEC=20)
def test_pc_record_says_until_when_it_is_kept(svc):
    # 'ex' is at most the record's expiry and at most 2 s short of it; it
    # is read with the launcher's copy, so heartbeats run no PTTL.
    v = Venue(svc)
    token, gs = v.session()
    pk = svc.key("pc:v1:pc-1", svc.shard_of_owner("v1"))
    expiry, ex = pc_kept(svc, pk)
    assert expiry - 2000 <= ex <= expiry, (expiry, ex)
    before = pttl_calls(svc)
    keepalive(v.heartbeat(gs), "OK")
    keepalive(v.check(gs), "OK")
    expect_ok(v.launcher_heartbeat(token))
    assert pttl_calls(svc) == before
    # A record from before 'ex': its PTTL is asked once, and an expiry long
    # enough is kept as it is.
    svc.redis("HDEL", pk, "ex")
    svc.redis("PEXPIRE", pk, "125000")
    before = pttl_calls(svc)
    keepalive(v.heartbeat(gs), "OK")
    keepalive(v.heartbeat(gs), "OK")
    assert pttl_calls(svc) == before + 1
    expiry, ex = pc_kept(svc, pk)
    assert int(svc.redis("PTTL", pk)) <= 125000
    assert expiry - 2000 <= ex <= expiry, (expiry, ex)
    # One too short is extended to 100 + 20 + 10 s.
    svc.redis("HDEL", pk, "ex")
    svc.redis("PEXPIRE", pk, "50000")
    keepalive(v.heartbeat(gs), "OK")
    assert 128000 < int(svc.redis("PTTL", pk)) <= 130000
    expiry, ex = pc_kept(svc, pk)
    assert expiry - 2000 <= ex <= expiry, (expiry, ex)


@settings(HB_GAME_TTL_SEC=6, HB_LAUNCHER_TTL_SEC=3, HB_SETTLE_MARGIN_SEC=2)
def test_pc_record_lives_while_its_game_session_does(svc):
    # The session's deadline lies past what the launcher keeps its PC for:
    # each heartbeat that needs it extends the record, the record's 'ex'
    # follows, and the record always outlives the deadline by the margin.
    v = Venue(svc)
    token, gs = v.session()
    pk = svc.key("pc:v1:pc-1", svc.shard_of_owner("v1"))
    for _ in range(8):
        time.sleep(0.5)
        expect_ok(v.launcher_heartbeat(token))
        deadline = redis_now_ms(svc) + 6000   # at most the session's
        keepalive(v.heartbeat(gs), "OK")
        expiry, ex = pc_kept(svc, pk)
        assert expiry >= deadline + 2000, (expiry, deadline)
        assert deadline + 1000 <= ex <= expiry, (ex, expiry)
    time.sleep(7.2)
    svc.ctl("sweep")
    ev = expect_one_event(svc, gs, "expired", v)
    assert svc.redis("HGET", pk, "gs") == ""


@settings(HB_GAME_TTL_SEC=2, HB_SWEEP_INTERVAL_SEC=0)
def test_heartbeat_past_deadline_is_404_and_leaves_no_tombstone(svc):
    v = Venue(svc)
    _, gs = v.session()
    time.sleep(2.3)
    expect_error(v.heartbeat(gs), 404, "SESSION_NOT_FOUND")
    expect_error(v.check(gs), 404, "SESSION_NOT_FOUND")
    expect_error(v.end(gs), 404, "SESSION_NOT_FOUND")


# -- check ---------------------------------------------------------------------

def test_check_confirms_without_counting(svc):
    v = Venue(svc)
    _, gs = v.session()
    time.sleep(1.2)
    keepalive(v.check(gs), "OK", 0)
    # The heartbeat counts from the last counted instant (verify).
    keepalive(v.heartbeat(gs), "OK", 1)


def test_check_does_not_charge(svc):
    v = Venue(svc, rate=3600, coins=100)
    _, gs = v.session()
    keepalive(v.heartbeat(gs), "OK")
    before = v.wallet()
    time.sleep(0.6)
    keepalive(v.check(gs), "OK")
    assert v.wallet() == before


def test_check_unknown_session_is_404(svc):
    v = Venue(svc)
    expect_error(v.check("gs_00000000-0000-4000-8000-000000000000"), 404,
                 "SESSION_NOT_FOUND")


def test_check_of_ended_session_is_410(svc):
    v = Venue(svc)
    _, gs = v.session()
    expect_ok(v.end(gs))
    expect_error(v.check(gs), 410, "SESSION_ENDED")


# -- end -----------------------------------------------------------------------

def test_end_answers_server_play_time_and_echoes_client_value(svc):
    v = Venue(svc)
    _, gs = v.session()
    time.sleep(1.2)
    data = expect_ok(v.end(gs, play=999), END_KEYS)
    assert data["result"] == "SUCCESS"
    assert data["play_duration_sec"] == 1, data
    assert data["client_play_duration_sec"] == 999, data
    ev = expect_one_event(svc, gs, "normal", v)
    assert int(ev["play_duration_sec"]) == data["play_duration_sec"], ev


def test_end_without_client_value_echoes_null(svc):
    v = Venue(svc)
    _, gs = v.session()
    data = expect_ok(v.end(gs), END_KEYS)
    assert data["client_play_duration_sec"] is None, data
    _, gs2 = v.session("pc-2")
    r = v.game_call("DELETE", "/v1/game/session/end",
                    {"game_session_id": gs2, "play_duration_sec": None})
    assert expect_ok(r, END_KEYS)["client_play_duration_sec"] is None, r


def test_end_unknown_session_is_404(svc):
    v = Venue(svc)
    expect_error(v.end("gs_00000000-0000-4000-8000-000000000000"), 404,
                 "SESSION_NOT_FOUND")


def test_end_after_end_is_409_every_time(svc):
    v = Venue(svc)
    _, gs = v.session()
    expect_ok(v.end(gs))
    expect_error(v.end(gs), 409, "ALREADY_ENDED")
    expect_error(v.end(gs, play=5), 409, "ALREADY_ENDED")
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    assert len(session_events(svc, gs)) == 1


def test_end_at_once_succeeds_once_and_settles_once(svc):
    v = Venue(svc)
    _, gs = v.session()
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: v.end(gs), range(6)))
    statuses = sorted(r.status for r in answers)
    assert statuses == [200, 409, 409, 409, 409, 409], answers
    for r in answers:
        if r.status == 409:
            expect_error(r, 409, "ALREADY_ENDED")
    expect_one_event(svc, gs, "normal", v)


def test_end_bad_client_play_duration_is_400(svc):
    v = Venue(svc)
    _, gs = v.session()
    for bad in ("12", -1, 1.5, True, [1], {"a": 1}):
        r = v.game_call("DELETE", "/v1/game/session/end",
                        {"game_session_id": gs, "play_duration_sec": bad})
        expect_error(r, 400, "BAD_REQUEST", "play_duration_sec")
    # Nothing was ended by the refused calls.
    keepalive(v.heartbeat(gs), "OK")


@settings(HB_TOMBSTONE_SEC=1)
def test_ended_session_answers_410_409_until_tombstone_expires_then_404(svc):
    v = Venue(svc)
    _, gs = v.session()
    expect_ok(v.end(gs))
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    expect_error(v.end(gs), 409, "ALREADY_ENDED")
    time.sleep(1.2)
    expect_error(v.heartbeat(gs), 404, "SESSION_NOT_FOUND")
    expect_error(v.check(gs), 404, "SESSION_NOT_FOUND")
    expect_error(v.end(gs), 404, "SESSION_NOT_FOUND")
    assert len(session_events(svc, gs)) == 1


def test_live_session_is_a_field_of_its_bucket_and_leaves_a_tombstone(svc):
    # A live session is a field of a shared hash (no key, no Redis expiry of
    # its own); ending it moves it to a tombstone hash that expires.
    v = Venue(svc)
    _, gs = v.session()
    assert svc.bucket(gs) == svc.key("gsb:" + gs[-3:], svc.shard_of_id(gs))
    assert svc.redis("HEXISTS", svc.bucket(gs), gs) == "1"
    assert svc.redis("PTTL", svc.bucket(gs)) == "-1"
    assert svc.redis("EXISTS", svc.key("gs:" + gs, svc.shard_of_id(gs))) == "0"
    s = svc.session(gs)
    assert (s["st"], s["game"], s["venue"], s["pc"], s["user"]) == \
        ("live", v.game, v.id, "pc-1", USER), s
    assert s["last"] == s["seen"] == s["t0"] and s["play"] == 0, s
    expect_ok(v.end(gs))
    assert svc.redis("HEXISTS", svc.bucket(gs), gs) == "0"
    assert svc.redis("HGET", svc.key("gs:" + gs, svc.shard_of_id(gs)), "st") == "ended"
    assert 0 < int(svc.redis("PTTL", svc.key("gs:" + gs, svc.shard_of_id(gs)))) <= 86400000
    assert svc.session(gs)["reason"] == "normal"


def old_layout(svc, gs):
    """Rewrites live session gs as a hash gs:<id> of its own, the layout of
    live sessions before buckets (with its Redis expiry)."""
    s = svc.session(gs)
    pairs = []
    for k, val in s.items():
        if k != "id":
            pairs += [k, str(val)]
    svc.redis("HSET", svc.key("gs:" + gs, svc.shard_of_id(gs)), *pairs)
    svc.redis("PEXPIRE", svc.key("gs:" + gs, svc.shard_of_id(gs)), 3600000)
    svc.redis("HDEL", svc.bucket(gs), gs)
    assert svc.session(gs) == s


def test_live_session_in_its_own_hash_is_kept_and_moves_into_its_bucket(svc):
    # Sessions live when the service was upgraded are counted, charged and
    # settled as before; the first save moves each into its bucket.
    v = Venue(svc, rate=3600, coins=100)
    before = v.wallet()
    token = v.launcher()
    ott = v.ott(token)
    t0 = time.monotonic()       # before verify: play cannot exceed the wall
    gs = expect_ok(v.verify(ott))["game_session_id"]
    time.sleep(1.1)
    play = keepalive(v.heartbeat(gs), "OK")
    assert 1 <= play <= time.monotonic() - t0, play
    old_layout(svc, gs)
    play = keepalive(v.check(gs), "OK")
    assert 1 <= play <= time.monotonic() - t0, play
    assert svc.redis("EXISTS", svc.key("gs:" + gs, svc.shard_of_id(gs))) == "0"
    assert svc.redis("HEXISTS", svc.bucket(gs), gs) == "1"
    time.sleep(1.0)
    old_layout(svc, gs)
    play = keepalive(v.heartbeat(gs), "OK")
    assert 2 <= play <= time.monotonic() - t0, play
    expect_ok(v.end(gs))
    ev = expect_one_event(svc, gs, "normal", v)
    assert play <= int(ev["play_duration_sec"]) <= time.monotonic() - t0, ev
    assert int(ev["charged_millicoins"]) == before - v.wallet() > 0, ev
    assert svc.redis("HEXISTS", svc.bucket(gs), gs) == "0"
    assert svc.redis("HGET", svc.key("gs:" + gs, svc.shard_of_id(gs)), "st") == "ended"


@settings(HB_GRACE_SEC=5)
def test_launcher_heartbeat_names_a_live_or_grace_session_not_an_ending_one(
        svc):
    # The launcher heartbeat reads only the state of its PC's session: from
    # the session's record in its bucket or, for a session from before
    # buckets, its own hash.
    v = Venue(svc, rate=3600, coins=1)
    token, gs = v.session()
    name = lambda: expect_ok(v.launcher_heartbeat(token))["game_session_id"]
    assert name() == gs
    time.sleep(1.2)
    keepalive(v.heartbeat(gs), "CHARGE_EXHAUSTED")
    assert name() == gs
    old_layout(svc, gs)
    assert name() == gs
    svc.ctl("session", "revoke", gs, "--drain", 5)
    assert name() is None


@settings(HB_GAME_TTL_SEC=2, HB_SWEEP_INTERVAL_SEC=0)
def test_live_session_in_its_own_hash_is_settled_by_a_sweep(svc):
    v = Venue(svc)
    _, gs = v.session()
    old_layout(svc, gs)
    time.sleep(2.2)
    svc.ctl("sweep")
    ev = expect_one_event(svc, gs, "expired", v)
    assert int(ev["play_duration_sec"]) == 0, ev
    assert svc.redis("EXISTS", svc.key("gs:" + gs, svc.shard_of_id(gs))) == "0"
    assert svc.session(gs) is None


@settings(HB_GAME_TTL_SEC=1, HB_SETTLE_MARGIN_SEC=1, HB_SWEEP_INTERVAL_SEC=0)
def test_session_unswept_long_past_its_deadline_is_still_settled(svc):
    # Nothing of a live session expires in Redis: a sweep that comes late
    # (here well past the settle margin) still settles it, play and charge.
    v = Venue(svc, rate=3600, coins=100)
    before = v.wallet()
    _, gs = v.session()
    time.sleep(0.6)
    keepalive(v.heartbeat(gs), "OK", 0)
    time.sleep(3.5)
    assert session_events(svc, gs) == []
    svc.ctl("sweep")
    ev = expect_one_event(svc, gs, "expired", v)
    assert int(ev["charged_millicoins"]) == before - v.wallet() > 0, ev
    assert svc.redis("HEXISTS", svc.bucket(gs), gs) == "0"


def test_session_list_and_show_read_the_records(svc):
    v = Venue(svc, rate=3600, coins=100)
    _, a = v.session("pc-1", user="user-a")
    _, b = v.session("pc-2", user="user-b")
    expect_ok(v.end(b))
    rows = [line.split("\t") for line in
            svc.ctl("session", "list").stdout.splitlines()]
    assert rows == [[a, v.game, v.id, "pc-1", "user-a", "live", "0",
                     "0.000"]], rows
    # More sessions than one script call reads take several calls.
    more = {v.session("pc-m%d" % i, user="u%d" % i)[1]: "u%d" % i
            for i in range(24)}
    rows = [line.split("\t") for line in
            svc.ctl("session", "list").stdout.splitlines()]
    assert {r[0]: r[4] for r in rows} == dict(more, **{a: "user-a"}), rows
    assert svc.session(b)["st"] == "ended"
    p = svc.ctl("session", "show", "gs_nope", check=False)
    assert p.returncode != 0 and "no such game session" in p.stderr, p


# -- settlement ----------------------------------------------------------------

def test_settle_normal_end_appends_one_entry_with_all_fields(svc):
    v = Venue(svc, rate=3600, coins=100)
    before = v.wallet()
    _, gs = v.session(pc="pc-7", user="user-42")
    time.sleep(1.1)
    keepalive(v.heartbeat(gs, user="user-42"), "OK", 1)
    data = expect_ok(v.end(gs, play=3))
    ev = expect_one_event(svc, gs, "normal", v, pc="pc-7", user="user-42")
    assert int(ev["play_duration_sec"]) == data["play_duration_sec"] == 1
    assert int(ev["charged_millicoins"]) == before - v.wallet() > 0, ev
    span = (when(ev["ended_at"]) - when(ev["started_at"])).total_seconds()
    assert 1.0 <= span < 3.0, ev
    assert len(svc.events()) == 1


def test_settle_replaced_appends_one_entry(svc):
    v = Venue(svc)
    token, old = v.session()
    new = expect_ok(v.verify(v.ott(token)))["game_session_id"]
    expect_one_event(svc, old, "replaced", v)
    keepalive(v.heartbeat(old), "SESSION_REPLACED")
    expect_error(v.heartbeat(old), 410, "SESSION_ENDED")
    expect_one_event(svc, old, "replaced", v)
    assert session_events(svc, new) == []


@settings(HB_GAME_TTL_SEC=2, HB_SWEEP_INTERVAL_SEC=1)
def test_settle_expired_by_worker_sweep(svc):
    v = Venue(svc)
    _, gs = v.session()
    t0 = time.monotonic()
    time.sleep(2.2)
    # Any request gives the workers a chance to sweep; the session itself is
    # not touched.

    def settled():
        svc.request("GET", "/healthz")
        return session_events(svc, gs)
    wait_for("the worker's sweep", settled, timeout=5)
    assert time.monotonic() - t0 < 6
    ev = expect_one_event(svc, gs, "expired", v)
    assert int(ev["play_duration_sec"]) == 0, ev
    span = (when(ev["ended_at"]) - when(ev["started_at"])).total_seconds()
    assert abs(span - 2.0) < 0.05, ev     # ended at its deadline
    expect_error(v.heartbeat(gs), 404, "SESSION_NOT_FOUND")
    expect_error(v.end(gs), 404, "SESSION_NOT_FOUND")
    expect_one_event(svc, gs, "expired", v)


@settings(HB_GAME_TTL_SEC=2, HB_SWEEP_INTERVAL_SEC=0)
def test_settle_expired_by_heartbeatctl_sweep(svc):
    v = Venue(svc)
    _, gs = v.session()
    time.sleep(1.1)
    keepalive(v.heartbeat(gs), "OK", 1)
    time.sleep(2.2)
    svc.request("GET", "/healthz")
    assert session_events(svc, gs) == []      # no worker sweep: it is off
    svc.ctl("sweep")
    ev = expect_one_event(svc, gs, "expired", v)
    assert int(ev["play_duration_sec"]) == 1, ev
    svc.ctl("sweep")
    expect_one_event(svc, gs, "expired", v)
    expect_error(v.heartbeat(gs), 404, "SESSION_NOT_FOUND")


@settings(HB_GAME_TTL_SEC=2, HB_SWEEP_INTERVAL_SEC=0)
def test_settle_expired_on_the_spot_by_a_late_heartbeat(svc):
    v = Venue(svc)
    _, gs = v.session()
    time.sleep(2.2)
    expect_error(v.heartbeat(gs), 404, "SESSION_NOT_FOUND")
    expect_one_event(svc, gs, "expired", v)
    svc.ctl("sweep")
    expect_one_event(svc, gs, "expired", v)


@settings(HB_GAME_TTL_SEC=2, HB_SWEEP_INTERVAL_SEC=1)
def test_settle_concurrent_sweeps_settle_each_session_once(svc):
    v = Venue(svc)
    ids = [v.session("pc-%d" % i)[1] for i in range(12)]
    time.sleep(2.2)
    # Four heartbeatctl sweeps, the workers' own sweeps and late heartbeats,
    # all at once.
    env = dict(svc.env)
    sweeps = [subprocess.Popen([CTL, "sweep"], env=env,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) for _ in range(4)]
    for gs in ids[:4]:
        expect_error(v.heartbeat(gs), 404, "SESSION_NOT_FOUND")
    for p in sweeps:
        assert p.wait(30) == 0
    svc.ctl("sweep")
    events = svc.events()
    for gs in ids:
        mine = [e for e in events if e["game_session_id"] == gs]
        assert len(mine) == 1, (gs, mine)
        assert mine[0]["reason"] == "expired", mine
    assert len(events) == len(ids)


@settings(HB_GRACE_SEC=1)
def test_settle_charge_exhausted_counts_play_to_end_of_grace(svc):
    v = Venue(svc, rate=3600, coins=1)
    _, gs = v.session()
    time.sleep(1.2)
    keepalive(v.heartbeat(gs), "CHARGE_EXHAUSTED", 1)
    time.sleep(1.5)
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    ev = expect_one_event(svc, gs, "charge_exhausted", v)
    assert int(ev["charged_millicoins"]) == 1000, ev
    # Play counts up to the end of grace (1.2 s + 1 s), not to now (2.7 s).
    assert int(ev["play_duration_sec"]) == 2, ev
    span = (when(ev["ended_at"]) - when(ev["started_at"])).total_seconds()
    assert 2.0 <= span < 2.6, ev
    assert v.wallet() == 0


@settings(HB_GRACE_SEC=1, HB_SWEEP_INTERVAL_SEC=0)
def test_settle_charge_exhausted_by_sweep(svc):
    v = Venue(svc, rate=3600, coins=1)
    _, gs = v.session()
    time.sleep(1.2)
    keepalive(v.heartbeat(gs), "CHARGE_EXHAUSTED")
    time.sleep(1.3)
    svc.ctl("sweep")
    expect_one_event(svc, gs, "charge_exhausted", v)
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    expect_error(v.end(gs), 409, "ALREADY_ENDED")
    expect_one_event(svc, gs, "charge_exhausted", v)


@settings(HB_LAUNCHER_TTL_SEC=1)
def test_settle_launcher_timeout_appends_one_entry(svc):
    v = Venue(svc)
    _, gs = v.session()
    time.sleep(1.3)
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    ev = expect_one_event(svc, gs, "launcher_timeout", v)
    assert int(ev["play_duration_sec"]) == 1, ev
    expect_error(v.check(gs), 410, "SESSION_ENDED")
    expect_one_event(svc, gs, "launcher_timeout", v)


def test_settle_revoked_at_once_appends_one_entry(svc):
    v = Venue(svc)
    token, gs = v.session()
    svc.ctl("session", "revoke", gs)
    ev = expect_one_event(svc, gs, "revoked", v)
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    expect_error(v.end(gs), 409, "ALREADY_ENDED")
    assert expect_ok(v.launcher_heartbeat(token))["game_session_id"] is None
    # A second revoke is refused and settles nothing.
    assert svc.ctl("session", "revoke", gs, check=False).returncode != 0
    assert session_events(svc, gs) == [ev]


@settings(HB_SWEEP_INTERVAL_SEC=0)
def test_settle_revoked_after_drain_by_sweep(svc):
    v = Venue(svc)
    _, gs = v.session()
    svc.ctl("session", "revoke", gs, "--drain", 1)
    assert session_events(svc, gs) == []
    time.sleep(1.2)
    svc.ctl("sweep")
    expect_one_event(svc, gs, "revoked", v)
    expect_error(v.heartbeat(gs), 410, "SESSION_ENDED")
    expect_one_event(svc, gs, "revoked", v)


def test_settle_launcher_end_appends_one_normal_entry(svc):
    v = Venue(svc)
    token, gs = v.session()
    expect_ok(v.launcher_end(token))
    expect_one_event(svc, gs, "normal", v)
    expect_error(v.end(gs), 409, "ALREADY_ENDED")
    expect_one_event(svc, gs, "normal", v)


@settings(HB_SWEEP_INTERVAL_SEC=0)
def test_hot_path_calls_are_one_redis_round_trip_each(svc):
    """Verify, heartbeat, check, end and the launcher heartbeat each send
    Redis one EVALSHA and nothing else."""
    v = Venue(svc)
    token, gs = v.session()
    wait_workers_connected(svc, lambda: expect_ok(v.heartbeat(gs)))
    ott = v.ott(token)
    assert_one_round_trip(svc, lambda: expect_ok(v.verify(ott)))
    gs = session_of_pc(svc)
    assert_one_round_trip(svc, lambda: expect_ok(v.heartbeat(gs)))
    assert_one_round_trip(svc, lambda: expect_ok(v.check(gs)))
    assert_one_round_trip(svc, lambda: expect_ok(v.launcher_heartbeat(token)))
    assert_one_round_trip(svc, lambda: expect_ok(v.end(gs)))


def session_of_pc(svc, venue="v1", pc="pc-1"):
    """The game session a PC is playing, from Redis."""
    return svc.redis("HGET", svc.key("pc:%s:%s" % (venue, pc),
                                     svc.shard_of_owner(venue)), "gs")


if __name__ == "__main__":
    suite_main("game", globals())
