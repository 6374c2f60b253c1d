#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_faults.py - the error answers of the game-session and launcher APIs:
unknown paths and methods, malformed bodies, sizes and content types, rate
limits, and Redis going away and coming back under the same workers.

Contract: docs/API.md, "Envelope", the error codes of the game-session and
launcher APIs, and "Rate limits".
"""

import json
import socket
import subprocess
import time

from harness import (CTL, Venue, expect_error, expect_ok, make_jwt,
                     service_options, settings, suite_main, wait_for)

VERIFY = "/v1/game/session/verify"
HEARTBEAT = "/v1/game/session/heartbeat"
CHECK = "/v1/game/session/check"
END = "/v1/game/session/end"
USER = "123456789"


def raw(svc, method, path, body, headers):
    """A request whose body is sent as given (bytes), JSON or not."""
    return svc.request(method, path, body, headers)


def json_headers(v):
    return {"X-Api-Key": v.key, "Content-Type": "application/json"}


def allow_set(r):
    return {m.strip() for m in (r.header("Allow") or "").split(",") if m}


# -- paths and methods -------------------------------------------------------

def test_unknown_path_is_404_not_found(svc):
    Venue(svc)
    for method, path in (("GET", "/"), ("GET", "/v1/nothing"),
                         ("POST", "/v1/game/session/verify/extra"),
                         ("POST", "/v1/game/session"),
                         ("PATCH", "/v1/launcher/heartbeat/x")):
        expect_error(svc.request(method, path), 404, "NOT_FOUND")


def test_wrong_method_is_405_with_allow(svc):
    v = Venue(svc)
    cases = ((VERIFY, "GET", {"POST"}), (HEARTBEAT, "POST", {"PATCH"}),
             (CHECK, "PUT", {"POST"}), (END, "POST", {"DELETE"}),
             ("/v1/launcher/session", "GET", {"POST", "DELETE"}),
             ("/v1/launcher/heartbeat", "POST", {"PATCH"}),
             ("/v1/launcher/ott", "GET", {"POST"}))
    for path, method, allowed in cases:
        r = svc.request(method, path, None, {"X-Api-Key": v.key})
        expect_error(r, 405, "METHOD_NOT_ALLOWED")
        assert allow_set(r) == allowed, (path, method, r.headers)


def test_405_comes_before_credentials_and_body(svc):
    Venue(svc)
    r = svc.request("GET", VERIFY, b"not json", {"Content-Type": "text/plain"})
    expect_error(r, 405, "METHOD_NOT_ALLOWED")
    assert allow_set(r) == {"POST"}


# -- credentials before the body ---------------------------------------------

def test_missing_api_key_is_401_before_body_checks(svc):
    Venue(svc)
    for path, method in ((VERIFY, "POST"), (HEARTBEAT, "PATCH"),
                         (CHECK, "POST"), (END, "DELETE")):
        expect_error(svc.request(method, path, b"{oops",
                                 {"Content-Type": "text/plain"}),
                     401, "INVALID_API_KEY")
        expect_error(svc.request(method, path, b"x" * 70000,
                                 {"Content-Type": "application/json"}),
                     401, "INVALID_API_KEY")


# -- bodies --------------------------------------------------------------------

def test_body_not_json_is_400(svc):
    v = Venue(svc)
    for body in (b"{", b"not json", b"{'ott': 'x'}", b'{"ott": "a",}',
                 b'{"ott":"a","provider_user_id":"b"} trailing',
                 b'{"ott":"a","provider_user_id":"b"}{}'):
        expect_error(raw(svc, "POST", VERIFY, body, json_headers(v)), 400,
                     "BAD_REQUEST")


def test_body_not_an_object_is_400(svc):
    v = Venue(svc)
    for body in (b"[]", b'["ott"]', b'"ott"', b"42", b"null", b"true"):
        expect_error(raw(svc, "POST", VERIFY, body, json_headers(v)), 400,
                     "BAD_REQUEST")


def test_empty_body_is_400(svc):
    v = Venue(svc)
    for path, method in ((VERIFY, "POST"), (HEARTBEAT, "PATCH"),
                         (CHECK, "POST"), (END, "DELETE")):
        expect_error(raw(svc, method, path, b"", json_headers(v)), 400,
                     "BAD_REQUEST")
        expect_error(svc.request(method, path, None, {"X-Api-Key": v.key}),
                     400, "BAD_REQUEST")


def test_invalid_utf8_and_nul_bytes_are_400(svc):
    v = Venue(svc)
    for body in (b'{"ott":"\xff\xfe","provider_user_id":"1"}',
                 b'{"ott":"\xc0\xaf","provider_user_id":"1"}',
                 b'{"ott":"\xed\xa0\x80","provider_user_id":"1"}',
                 b'{"ott":"a\x00b","provider_user_id":"1"}',
                 b'{"ott":"a","provider_user_id":"1"}\x00'):
        expect_error(raw(svc, "POST", VERIFY, body, json_headers(v)), 400,
                     "BAD_REQUEST")


def test_deeply_nested_body_is_400(svc):
    v = Venue(svc)
    body = ('{"ott":"a","provider_user_id":"1","x":' + "[" * 40 + "]" * 40 +
            "}").encode()
    expect_error(raw(svc, "POST", VERIFY, body, json_headers(v)), 400,
                 "BAD_REQUEST")


def test_missing_fields_are_400_naming_the_field(svc):
    v = Venue(svc)
    cases = ((VERIFY, "POST", {"provider_user_id": USER}, "ott"),
             (VERIFY, "POST", {"ott": "ott_x"}, "provider_user_id"),
             (HEARTBEAT, "PATCH", {"provider_user_id": USER},
              "game_session_id"),
             (HEARTBEAT, "PATCH", {"game_session_id": "gs_x"},
              "provider_user_id"),
             (CHECK, "POST", {"provider_user_id": USER}, "game_session_id"),
             (CHECK, "POST", {"game_session_id": "gs_x"}, "provider_user_id"),
             (END, "DELETE", {"play_duration_sec": 3}, "game_session_id"))
    for path, method, body, field in cases:
        expect_error(v.game_call(method, path, body), 400, "BAD_REQUEST",
                     field)


def test_wrong_types_are_400_naming_the_field(svc):
    v = Venue(svc)
    cases = ((VERIFY, "POST", {"ott": 123, "provider_user_id": USER}, "ott"),
             (VERIFY, "POST", {"ott": "ott_x", "provider_user_id": 123456789},
              "provider_user_id"),
             (VERIFY, "POST", {"ott": None, "provider_user_id": USER}, "ott"),
             (VERIFY, "POST", {"ott": ["a"], "provider_user_id": USER}, "ott"),
             (HEARTBEAT, "PATCH", {"game_session_id": {"id": 1},
                                   "provider_user_id": USER},
              "game_session_id"),
             (CHECK, "POST", {"game_session_id": "gs_x",
                              "provider_user_id": True}, "provider_user_id"),
             (END, "DELETE", {"game_session_id": 5}, "game_session_id"),
             (END, "DELETE", {"game_session_id": "gs_x",
                              "play_duration_sec": "10"},
              "play_duration_sec"))
    for path, method, body, field in cases:
        expect_error(v.game_call(method, path, body), 400, "BAD_REQUEST",
                     field)


def raw_json(v, method, path, text):
    """A game-API call with text sent as the JSON body, byte for byte."""
    return v.svc.request(method, path, text, {
        "X-Api-Key": v.key, "Content-Type": "application/json"})


def test_numbers_out_of_range_are_400(svc):
    v = Venue(svc)
    _, gs = v.session()
    # A number no double holds (1e400) is not JSON the service takes at
    # all; the others are refused naming the field.
    for n, named in (("-1", True), ("2147483648", True),
                     ("9223372036854775808", True), ("1.5", True),
                     ("-9223372036854775809", True), ("1e400", False)):
        body = '{"game_session_id": "%s", "play_duration_sec": %s}' % (gs, n)
        expect_error(raw_json(v, "DELETE", END, body), 400, "BAD_REQUEST",
                     "play_duration_sec" if named else None)
    # The session is untouched by the refused ends.
    assert expect_ok(v.end(gs, play=10))["client_play_duration_sec"] == 10


def test_duplicate_keys_count_once_the_last_value(svc):
    v = Venue(svc)
    _, gs = v.session()
    body = ('{"game_session_id": "gs_unknown", "game_session_id": "%s", '
            '"play_duration_sec": 5, "play_duration_sec": 7}' % gs)
    data = expect_ok(raw_json(v, "DELETE", END, body))
    assert data["client_play_duration_sec"] == 7, data


def test_overlong_string_field_is_400(svc):
    v = Venue(svc)
    r = v.game_call("POST", VERIFY, {"ott": "o" * 129,
                                     "provider_user_id": USER})
    expect_error(r, 400, "BAD_REQUEST", "ott")


def test_refused_bodies_leave_no_trace(svc):
    # A malformed call must not consume the OTT or touch the session.
    v = Venue(svc)
    token = v.launcher()
    ott = v.ott(token)
    raw(svc, "POST", VERIFY, b'{"ott":"%s"' % ott.encode(), json_headers(v))
    v.game_call("POST", VERIFY, {"ott": ott, "provider_user_id": 1})
    assert expect_ok(v.verify(ott))["is_valid"] is True


# -- sizes and content types ------------------------------------------------

def test_body_over_default_limit_is_413(svc):
    v = Venue(svc)
    body = json.dumps({"ott": "a", "provider_user_id": USER,
                       "pad": "x" * 70000}).encode()
    expect_error(raw(svc, "POST", VERIFY, body, json_headers(v)), 413,
                 "PAYLOAD_TOO_LARGE")


@settings(HB_BODY_LIMIT=1024)
def test_body_over_configured_limit_is_413_and_at_limit_is_accepted(svc):
    v = Venue(svc)
    token = v.launcher()
    ott = v.ott(token)
    base = {"ott": ott, "provider_user_id": USER, "pad": ""}
    size = len(json.dumps(base).encode())
    base["pad"] = "x" * (1024 - size)
    at = json.dumps(base).encode()
    assert len(at) == 1024
    over = json.dumps(dict(base, pad=base["pad"] + "x")).encode()
    expect_error(raw(svc, "POST", VERIFY, over, json_headers(v)), 413,
                 "PAYLOAD_TOO_LARGE")
    r = raw(svc, "POST", VERIFY, at, json_headers(v))
    assert expect_ok(r)["is_valid"] is True, r


@settings(HB_BODY_LIMIT=1024)
def test_launcher_start_over_limit_is_413(svc):
    v = Venue(svc)
    body = json.dumps({"pc_id": "pc-1", "internal_ip": "1.2.3.4",
                       "hardware": {"blob": "x" * 2000}}).encode()
    expect_error(v.launcher_start(body=body), 413, "PAYLOAD_TOO_LARGE")


def test_body_without_json_content_type_is_415(svc):
    v = Venue(svc)
    body = json.dumps({"ott": "a", "provider_user_id": USER}).encode()
    for ctype in ("text/plain", "application/x-www-form-urlencoded",
                  "application/jsonx", "application/json-patch+json"):
        r = raw(svc, "POST", VERIFY, body, {"X-Api-Key": v.key,
                                            "Content-Type": ctype})
        expect_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    r = raw(svc, "POST", VERIFY, body, {"X-Api-Key": v.key})
    expect_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_json_content_type_with_parameters_is_accepted(svc):
    v = Venue(svc)
    body = json.dumps({"ott": "ott_unknown", "provider_user_id": USER})
    for ctype in ("application/json; charset=utf-8", "Application/JSON",
                  "application/json;charset=UTF-8"):
        r = raw(svc, "POST", VERIFY, body, {"X-Api-Key": v.key,
                                            "Content-Type": ctype})
        data = expect_ok(r)
        assert data == {"is_valid": False, "reason": "OTT_EXPIRED"}, r


def test_bodiless_launcher_calls_need_no_content_type(svc):
    v = Venue(svc)
    token = v.launcher()
    r = svc.request("PATCH", "/v1/launcher/heartbeat", None,
                    {"Authorization": "Bearer " + token})
    expect_ok(r)
    r = svc.request("DELETE", "/v1/launcher/session", None,
                    {"Authorization": "Bearer " + token})
    expect_ok(r)


def test_bodyless_launcher_call_with_non_json_body_is_415(svc):
    v = Venue(svc)
    token = v.launcher()
    r = svc.request("PATCH", "/v1/launcher/heartbeat", b"hello",
                    {"Authorization": "Bearer " + token,
                     "Content-Type": "text/plain"})
    expect_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_every_answer_carries_request_id_header(svc):
    v = Venue(svc)
    _, gs = v.session()
    answers = [svc.request("GET", "/nope"), svc.request("GET", VERIFY),
               v.heartbeat(gs), v.heartbeat("gs_unknown"),
               v.game_call("POST", VERIFY, {"ott": 1})]
    ids = set()
    for r in answers:
        rid = r.header("X-Request-Id")
        assert rid and rid == r.json["request_id"], r
        ids.add(rid)
    assert len(ids) == len(answers)
    r = svc.request("GET", "/healthz")
    assert r.status == 200 and r.json["status"] == "ok" and r.json[
        "redis"] == {"mode": "standalone", "role": "master"}, r
    assert r.header("X-Request-Id"), r.headers


def test_truncated_body_does_not_hang_the_service(svc):
    # Content-Length larger than what is sent, then the client half-closes.
    v = Venue(svc)
    s = socket.create_connection(("127.0.0.1", svc.port), timeout=10)
    try:
        body = b'{"ott":"a","provider_user_id":"1"}'
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n"
                "Connection: close\r\n\r\n" % (VERIFY, v.key, len(body) + 50))
        s.sendall(head.encode() + body)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    # nginx may refuse the short body itself (400) or pass it on; either way
    # the answer is a 4xx and the service keeps serving.
    status = int(data.split(b" ", 2)[1]) if data else 0
    assert status in (0, 400, 408), data[:200]
    assert expect_ok(v.verify("ott_unknown"))["is_valid"] is False


# -- rate limits -------------------------------------------------------------

@settings(HB_RATE_KEY_PER_SEC=3)
def test_per_key_rate_limit_is_429_with_retry_after(svc):
    v = Venue(svc)
    answers = [v.verify("ott_unknown") for _ in range(10)]
    statuses = [r.status for r in answers]
    assert statuses[0] == 200, statuses
    assert 429 in statuses and statuses.count(200) <= 6, statuses
    r = answers[statuses.index(429)]
    expect_error(r, 429, "RATE_LIMITED")
    assert r.header("Retry-After") is not None, r.headers
    assert r.header("Retry-After") == "1", r.headers     # a 1 s window
    # Another game's key has its own count.
    w = Venue(svc, name="v2", game="g2")
    assert w.verify("ott_unknown").status == 200
    time.sleep(1.1)
    assert v.verify("ott_unknown").status == 200


@settings(HB_RATE_SESSION_PER_MIN=3)
def test_per_session_rate_limit_is_429_with_retry_after(svc):
    v = Venue(svc)
    _, gs = v.session()
    _, other = v.session("pc-2")
    answers = [v.heartbeat(gs) for _ in range(7)]
    statuses = [r.status for r in answers]
    assert statuses[:3] == [200, 200, 200] and 429 in statuses, statuses
    r = answers[statuses.index(429)]
    expect_error(r, 429, "RATE_LIMITED")
    assert 1 <= int(r.header("Retry-After")) <= 60, r.headers
    expect_error(v.check(gs), 429, "RATE_LIMITED")
    # Another session is not limited by this one's calls.
    assert v.heartbeat(other).status == 200


def early_in_a_minute():
    """Waits, when the minute is nearly over, for the next one, so that a
    few calls fall into one per-minute window."""
    into = time.time() % 60
    if into > 50:
        time.sleep(60.2 - into)


@settings(HB_RATE_SESSION_PER_MIN=3)
def test_per_session_limit_counts_live_draining_and_ended_sessions(svc):
    v = Venue(svc)
    _, live = v.session()
    _, draining = v.session("pc-2")
    _, ended = v.session("pc-3")
    svc.ctl("session", "revoke", draining, "--drain", 60)
    expect_ok(v.end(ended))
    early_in_a_minute()
    assert [v.heartbeat(live).status for _ in range(4)] == \
        [200, 200, 200, 429]
    # A live session counts in its own record: no counter key.
    assert svc.redis("KEYS", svc.key("rl:gs:*", svc.shard_of_owner("v1"))) == ""
    # A draining one too: its answers (410 SESSION_ENDING) are counted.
    assert [v.heartbeat(draining).status for _ in range(4)] == \
        [410, 410, 410, 429]
    assert svc.redis("KEYS", svc.key("rl:gs:*", svc.shard_of_owner("v1"))) == ""
    # An ended one counts in a key that expires with the minute (the end
    # itself was counted in the record that the end removed).
    assert [v.heartbeat(ended).status for _ in range(4)] == \
        [410, 410, 410, 429]
    k = svc.redis("KEYS", svc.key("rl:gs:*", svc.shard_of_owner("v1"))).split()
    assert len(k) == 1 and ended in k[0], k
    assert 0 < int(svc.redis("PTTL", k[0])) <= 60000


@settings(HB_RATE_LAUNCHER_PER_MIN=3)
def test_per_launcher_rate_limit_is_429_with_retry_after(svc):
    v = Venue(svc)
    token = v.launcher()
    early_in_a_minute()
    answers = [v.launcher_heartbeat(token) for _ in range(2)] + \
        [v.ott_request(token)] + [v.launcher_heartbeat(token) for _ in range(4)]
    statuses = [r.status for r in answers]
    assert statuses == [200, 200, 200, 429, 429, 429, 429], statuses
    r = answers[3]
    expect_error(r, 429, "RATE_LIMITED")
    assert 1 <= int(r.header("Retry-After")) <= 60, r.headers
    # The OTT and end calls share the count, kept in the launcher's record.
    expect_error(v.ott_request(token), 429, "RATE_LIMITED")
    expect_error(v.launcher_end(token), 429, "RATE_LIMITED")
    assert svc.redis("KEYS", svc.key("rl:*", svc.shard_of_owner("v1"))) == ""
    assert v.launcher_heartbeat(v.launcher("pc-2")).status == 200


# -- Redis away ----------------------------------------------------------------

def test_redis_down_is_503_with_retry_after(svc):
    v = Venue(svc)
    token, gs = v.session()
    svc.stop_redis()
    calls = (lambda: v.verify("ott_unknown"), lambda: v.heartbeat(gs),
             lambda: v.check(gs), lambda: v.end(gs),
             lambda: v.launcher_start("pc-2"),
             lambda: v.launcher_heartbeat(token),
             lambda: v.ott_request(token))
    for call in calls:
        r = call()
        expect_error(r, 503, "SERVICE_UNAVAILABLE")
        assert r.header("Retry-After") == "1", r.headers
    r = svc.request("GET", "/healthz")
    assert r.status == 503 and r.header("Retry-After") == "1", r
    assert r.json["status"] == "unavailable" and r.json["redis"] == {
        "mode": "standalone", "role": None}, r


@settings(HB_RETRY_AFTER_SEC=7)
def test_redis_down_retry_after_reports_the_setting(svc):
    v = Venue(svc)
    svc.stop_redis()
    r = v.verify("ott_unknown")
    expect_error(r, 503, "SERVICE_UNAVAILABLE")
    assert r.header("Retry-After") == "7", r.headers


def test_redis_restart_recovers_with_the_same_workers(svc):
    v = Venue(svc)
    token, gs = v.session()
    pids = svc.worker_pids()
    assert len(pids) == 2, pids
    svc.stop_redis()
    for _ in range(6):          # both workers see the failure
        expect_error(v.heartbeat(gs), 503, "SERVICE_UNAVAILABLE")
    svc.start_redis()
    # Every call succeeds from the first one on, on every worker.
    for _ in range(6):
        r = v.heartbeat(gs)
        assert expect_ok(r)["result"] == "OK", r
    assert svc.request("GET", "/healthz").status == 200
    expect_ok(v.launcher_heartbeat(token))
    gs2 = expect_ok(v.verify(v.ott(v.launcher("pc-2"))))["game_session_id"]
    assert expect_ok(v.end(gs2))["result"] == "SUCCESS"
    assert svc.worker_pids() == pids
    assert "workers" in svc.procs and svc.procs["workers"].poll() is None


def test_redis_killed_recovers_with_the_same_workers(svc):
    import signal
    v = Venue(svc)
    _, gs = v.session()
    pids = svc.worker_pids()
    svc.stop_redis(signal.SIGKILL)
    expect_error(v.heartbeat(gs), 503, "SERVICE_UNAVAILABLE")
    svc.start_redis()
    wait_for("recovery", lambda: v.heartbeat(gs).status == 200, timeout=5)
    for _ in range(4):
        assert v.heartbeat(gs).status == 200
    assert svc.worker_pids() == pids


@settings(HB_REDIS_TIMEOUT_MS=300)
def test_redis_timeout_is_503_then_recovers(svc):
    # Redis stops answering (SIGSTOP) without closing its socket: the call
    # is bounded by HB_REDIS_TIMEOUT_MS, answers 503, and once Redis answers
    # again the same workers serve normally (no stale reply is read).
    import signal
    v = Venue(svc)
    _, gs = v.session()
    _, gs2 = v.session("pc-2")
    pids = svc.worker_pids()
    redis = svc.procs["redis"]
    redis.send_signal(signal.SIGSTOP)
    try:
        for _ in range(3):
            t0 = time.monotonic()
            r = v.heartbeat(gs)
            took = time.monotonic() - t0
            expect_error(r, 503, "SERVICE_UNAVAILABLE")
            assert r.header("Retry-After") == "1", r.headers
            assert took < 3.0, took
    finally:
        redis.send_signal(signal.SIGCONT)
    # Each answer is for its own request: the session ids never cross.
    for _ in range(6):
        for g in (gs, gs2):
            r = v.check(g)
            assert expect_ok(r)["result"] == "OK", r
    assert expect_ok(v.end(gs))["result"] == "SUCCESS"
    expect_error(v.end(gs), 409, "ALREADY_ENDED")
    assert svc.worker_pids() == pids


@settings(HB_REDIS_TIMEOUT_MS=300)
def test_heartbeatctl_waits_for_a_slow_redis_past_the_workers_bound(svc):
    # An operator's command may take longer than a request's: heartbeatctl
    # waits at least 10 s for a reply, whatever HB_REDIS_TIMEOUT_MS says.
    import signal
    v = Venue(svc)
    _, gs = v.session()
    redis = svc.procs["redis"]
    redis.send_signal(signal.SIGSTOP)
    try:
        p = subprocess.Popen([CTL, "session", "show", gs], env=svc.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        time.sleep(1.5)
        assert p.poll() is None, p.communicate()
    finally:
        redis.send_signal(signal.SIGCONT)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    assert json.loads(out)["st"] == "live", out


def test_store_error_is_500_internal_error_logged_with_request_id(svc):
    # A record that is not one makes the script fail: 500 in the
    # envelope, and the worker logs the request id.
    v = Venue(svc)
    _, gs = v.session()
    svc.redis("HSET", svc.bucket(gs), gs, "not a record")
    r = v.heartbeat(gs)
    expect_error(r, 500, "INTERNAL_ERROR")
    rid = r.json["request_id"]
    wait_for("the log line", lambda: rid in svc.worker_log(), timeout=3)
    # The worker keeps serving.
    _, other = v.session("pc-2")
    assert expect_ok(v.heartbeat(other))["result"] == "OK"


def test_script_cache_flush_is_survived(svc):
    # Redis forgets loaded scripts (SCRIPT FLUSH, as after a restart without
    # persistence of its cache): the workers reload them transparently.
    v = Venue(svc)
    _, gs = v.session()
    svc.redis("SCRIPT", "FLUSH")
    for _ in range(4):
        assert expect_ok(v.heartbeat(gs))["result"] == "OK"


def test_function_flush_is_survived(svc):
    # Redis forgets the function library (FUNCTION FLUSH, as a new empty
    # Redis after a failover or restart without persistence): the workers
    # load it again ("Function not found") transparently.
    v = Venue(svc)
    _, gs = v.session()
    assert svc.redis("FUNCTION", "LIST"), "no library loaded"
    svc.redis("FUNCTION", "FLUSH")
    for _ in range(4):
        assert expect_ok(v.heartbeat(gs))["result"] == "OK"
    assert svc.redis("FUNCTION", "LIST"), "the library was not loaded again"


@service_options(redis_args=["--rename-command", "FUNCTION", ""])
def test_redis_without_functions_runs_the_scripts_by_sha(svc):
    # A Redis without FUNCTION (Redis 6; here renamed away): the workers
    # load each script with SCRIPT LOAD and call it by EVALSHA, one command
    # per call, and still reload it after SCRIPT FLUSH.
    v = Venue(svc)
    token, gs = v.session()
    assert expect_ok(v.heartbeat(gs))["result"] == "OK"
    stats = svc.redis("INFO", "commandstats")
    assert "cmdstat_evalsha:" in stats and "cmdstat_fcall:" not in stats, \
        stats
    svc.redis("SCRIPT", "FLUSH")
    for _ in range(4):
        assert expect_ok(v.heartbeat(gs))["result"] == "OK"
    assert expect_ok(v.end(gs))



@settings(HB_LOG_LEVEL="debug")
def test_no_secret_reaches_the_log(svc):
    """Every request is logged at debug level; none of the secrets a
    request carries (API key, launcher token, venue secret and signature,
    OTT, bearer tokens) may appear in the log, even when refused."""
    v = Venue(svc)
    token, gs = v.session()
    ott = v.ott(token)
    expect_ok(v.heartbeat(gs))
    v.verify(ott, key="hbk_" + "0" * 48)          # refused: unknown key
    v.launcher_start("pc-2", ts=1)                 # refused: old timestamp
    jwt = make_jwt({"sub": "alice"})
    svc.request("GET", "/sessions", None, {"Authorization": "Bearer " + jwt})
    svc.request("GET", "/sessions", None,
                {"Authorization": "Bearer " + jwt + "x"})  # refused
    expect_ok(v.end(gs))
    log = svc.worker_log()
    assert "event=" in log, "nothing was logged"
    for secret in (v.key, token, v.secret, ott, jwt, "0" * 48):
        assert secret not in log, "a secret is in the log: %s" % secret[:8]
    assert jwt.split(".")[2] not in log


@service_options(event_loop=True)
@settings(HB_FCGI_STALL_SEC=1)
def test_event_loop_closes_a_peer_that_stalls_midway_not_an_idle_one(svc):
    stalled = socket.socket(socket.AF_UNIX)
    idle = socket.socket(socket.AF_UNIX)
    try:
        stalled.connect(svc.worker_sock)
        idle.connect(svc.worker_sock)
        # Three bytes of an eight-byte record header, then nothing.
        stalled.sendall(b"\x01\x01\x00")
        stalled.settimeout(10)
        t0 = time.monotonic()
        assert stalled.recv(1) == b"", "the stalled peer was answered"
        waited = time.monotonic() - t0
        assert 0.9 <= waited < 8, waited
        # A connection kept open with nothing owed stays open.
        idle.settimeout(1.5)
        try:
            data = idle.recv(1)
            raise AssertionError("the idle connection ended: %r" % data)
        except socket.timeout:
            pass
    finally:
        stalled.close()
        idle.close()
    assert "event=fcgi_stalled" in svc.worker_log()
    v = Venue(svc)
    _, gs = v.session()
    assert v.heartbeat(gs).status == 200


if __name__ == "__main__":
    suite_main("faults", globals())
