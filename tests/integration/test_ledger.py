#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_ledger.py - the settlement ledger (heartbeat-ledger) against a real
redis-server, real workers behind nginx and a real PostgreSQL.

After every scenario, and after every fault under load, the books must
close: every session that ended (as many as Redis's own count of endings)
is a row of settlements exactly once, per venue the wallet's balance equals
its top-ups + adjustments - the charges of its settled sessions as
PostgreSQL holds them, and the event log holds only entries some group has
not acknowledged (with the ledger's group alone: none).
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (VALGRIND, Service, Venue, metrics_file,  # noqa: E402
                     run_suite, settings, wait_for)

# The ledger's schema version (LEDGER_SCHEMA_VERSION in src/ledger_pg.h).
SCHEMA_VERSION = 2
# Valgrind runs everything some times slower: every bound stretches.
SLOW = 6 if VALGRIND else 1
# Quick housekeeping and take-overs, small batches, so that faults land
# between a write and its acknowledgement.
LEDGER_ENV = {
    "HB_LEDGER_INTERVAL_MS": "200",
    "HB_LEDGER_BLOCK_MS": "200",
    "HB_LEDGER_CLAIM_IDLE_MS": "1500",
    "HB_LEDGER_BATCH": "20",
    "HB_LOG_LEVEL": "info",
    # One shard, whatever the run's: test_ledger_shards reads several.
    "HB_SHARDS": "1",
}


def make_service(test):
    env = dict(LEDGER_ENV)
    env.update(getattr(test, "env", {}))
    svc = Service("ledger", env).start()
    try:
        svc.start_postgres()
    except BaseException:
        svc.stop()
        raise
    return svc


# -- what the stores hold --------------------------------------------------

def settled_count(svc):
    """How many sessions Redis settled (its own count, by reason)."""
    flat = svc.redis("HGETALL", svc.key("stats")).split("\n")
    stats = dict(zip(flat[0::2], flat[1::2])) if flat != [""] else {}
    return sum(int(v) for k, v in stats.items() if k.startswith("ended:"))


def rows(svc, sql, *params):
    out = svc.psql(sql, *params)
    return [line.split("|") for line in out.splitlines() if line]


def pg_int(svc, sql, *params):
    out = svc.psql(sql, *params, check=False)
    return int(out) if out.isdigit() else 0


def xlen(svc):
    return int(svc.redis("XLEN", svc.key("events")) or 0)


def live_sessions(svc):
    return svc.redis("ZRANGE", svc.key("deadlines"), 0, -1).split()


def end_live_sessions(svc):
    """Revokes every live session, so that each venue's books can close."""
    for gs in live_sessions(svc):
        svc.ctl("session", "revoke", gs, check=False)


def wait_settled(svc, timeout=60):
    """Waits until PostgreSQL holds every settled session and every wallet
    movement, and the log is trimmed to nothing."""
    def done():
        want = settled_count(svc)
        return (pg_int(svc, "SELECT count(*) FROM settlements") == want and
                xlen(svc) == 0)
    try:
        wait_for("the ledger to settle everything", done, timeout * SLOW)
    except RuntimeError:
        raise AssertionError(
            "not settled: Redis settled %d, PostgreSQL holds %d, the log "
            "%d entries, pending %s\n%s" % (
                settled_count(svc),
                pg_int(svc, "SELECT count(*) FROM settlements"), xlen(svc),
                svc.redis("XPENDING", svc.key("events"), "ledger"),
                "\n".join("--- %s\n%s" % (k, svc.ledger_log(k)[-2000:])
                          for k in sorted(svc.procs)
                          if k.startswith("ledger"))))


def check_books(svc, venues, ended=()):
    """The invariants of the contract, once nothing is live."""
    assert live_sessions(svc) == [], live_sessions(svc)
    # Exactly once: as many rows as Redis settled sessions, none missing.
    assert pg_int(svc, "SELECT count(*) FROM settlements") == \
        settled_count(svc)
    have = set(r[0] for r in rows(svc, "SELECT game_session_id FROM "
                                       "settlements"))
    missing = set(ended) - have
    assert not missing, "not in PostgreSQL: %r" % sorted(missing)[:5]
    for v in venues:
        charged = pg_int(svc, "SELECT coalesce(sum(charged_millicoins), 0)"
                              " FROM settlements WHERE venue_id = :'p1'",
                         v.id)
        moved = pg_int(svc, "SELECT coalesce(sum(amount_millicoins), 0)"
                            " FROM wallet_movements WHERE venue_id = :'p1'",
                       v.id)
        assert moved - charged == v.wallet(), (v.id, moved, charged,
                                               v.wallet())
    # The log holds only what some group has not acknowledged: nothing.
    assert xlen(svc) == 0
    assert svc.redis("XPENDING", svc.key("events"), "ledger").split(
        "\n")[0] == "0"


# -- load ------------------------------------------------------------------

class Load:
    """Threads that play whole sessions (launcher start, OTT, verify,
    heartbeat, end) until stopped, tolerating the 503s of a fault. ended
    holds the sessions whose end answered 200."""

    def __init__(self, svc, venue, threads=3):
        self.svc = svc
        self.venue = venue
        self.ended = []
        self.errors = 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,),
                                         daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, i):
        v = self.venue
        pc = "pc-load-%d" % i
        while not self.stopping.is_set():
            try:
                r = v.launcher_start(pc)
                if r.status != 200:
                    raise OSError("launcher start %d" % r.status)
                token = r.data["launcher_token"]
                r = v.ott_request(token)
                if r.status != 200:
                    raise OSError("ott %d" % r.status)
                r = v.verify(r.data["ott"])
                if r.status != 200 or not r.data.get("is_valid"):
                    raise OSError("verify %r" % r)
                gs = r.data["game_session_id"]
                v.heartbeat(gs)
                r = v.end(gs)
                if r.status == 200:
                    with self.lock:
                        self.ended.append(gs)
            except (OSError, KeyError, ValueError):
                with self.lock:
                    self.errors += 1
                time.sleep(0.05)

    def count(self):
        with self.lock:
            return len(self.ended)

    def wait_more(self, n, timeout=60):
        """Waits until n more sessions ended than now."""
        start = self.count()
        wait_for("%d more sessions" % n, lambda: self.count() >= start + n,
                 timeout * SLOW)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(60 * SLOW)
        return list(self.ended)


def wait_rows(svc, n, timeout=60):
    wait_for("%d settlements in PostgreSQL" % n,
             lambda: pg_int(svc, "SELECT count(*) FROM settlements") >= n,
             timeout * SLOW)


def close_books(svc, venues, load=None):
    ended = load.stop() if load else []
    end_live_sessions(svc)
    wait_settled(svc)
    check_books(svc, venues, ended)
    return ended


# -- the tests -------------------------------------------------------------

@settings(HB_GAME_TTL_SEC=3)
def test_endings_and_wallet_movements_land_once(svc):
    """Endings of each kind, top-ups and an adjustment land as rows equal
    to their entries; a re-delivered entry is absorbed."""
    v = Venue(svc, coins=100)
    svc.ctl("wallet", "topup", v.id, "2.5")
    svc.ctl("wallet", "set", v.id, "90", "--actor", "alice", "--note",
            "refund, ticket 12")
    _, normal = v.session("pc-1")
    assert v.end(normal).status == 200
    _, first = v.session("pc-2")
    _, second = v.session("pc-2")             # replaces first
    svc.ctl("session", "revoke", second)
    token, via_launcher = v.session("pc-3")
    assert v.launcher_end(token).status == 200
    _, expiring = v.session("pc-4")

    def swept():
        svc.ctl("sweep")
        return live_sessions(svc) == []
    wait_for("the session's deadline", swept, 30 * SLOW)
    entries = svc.stream()
    svc.start_ledger()
    wait_settled(svc)
    check_books(svc, [v], [normal, first, second, via_launcher, expiring])
    by_id = {e["id"]: e for e in entries}
    got = rows(svc, "SELECT stream_id, game_session_id, reason, game_id,"
                    " venue_id, pc_id, provider_user_id,"
                    " to_char(started_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
                    " to_char(ended_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
                    " play_duration_sec, charged_millicoins,"
                    " rate_millicoins_per_hour FROM settlements")
    assert len(got) == 5
    for r in got:
        e = by_id[r[0]]
        assert r[1:] == [e["game_session_id"], e["reason"], e["game_id"],
                         e["venue_id"], e["pc_id"], e["provider_user_id"],
                         e["started_at"], e["ended_at"],
                         str(e["play_duration_sec"]),
                         str(e["charged_millicoins"]),
                         str(e["rate_millicoins_per_hour"])], (r, e)
    assert sorted(r[2] for r in got) == sorted(
        ["normal", "replaced", "revoked", "normal", "expired"])
    moves = rows(svc, "SELECT stream_id, type, amount_millicoins,"
                      " balance_millicoins, coalesce(actor, '-'),"
                      " coalesce(note, '-') FROM wallet_movements"
                      " ORDER BY stream_id")
    assert [m[1:] for m in moves] == [
        ["topup", "100000", "100000", "-", "-"],
        ["topup", "2500", "102500", "-", "-"],
        ["adjustment", "-12500", "90000", "alice", "refund, ticket 12"]]
    for m in moves:
        assert by_id[m[0]]["type"] == m[1]
    # The same ending appended again (as a crash before XACK would
    # re-deliver it): one row still.
    e = by_id[got[0][0]]
    args = []
    for k in ("game_session_id", "reason", "game_id", "venue_id", "pc_id",
              "provider_user_id", "started_at", "ended_at",
              "play_duration_sec", "charged_millicoins"):
        args += [k, e[k]]
    svc.redis("XADD", svc.key("events"), "*", *args)
    wait_for("the copy to be read and trimmed", lambda: xlen(svc) == 0,
             30 * SLOW)
    assert pg_int(svc, "SELECT count(*) FROM settlements") == 5
    assert pg_int(svc, "SELECT count(*) FROM dead_letters") == 0
    assert svc.stop_ledger() == 0
    assert "event=stopped" in svc.ledger_log()


def test_wallet_set_and_topup_entries(svc):
    """heartbeatctl wallet set: the balance, the signed difference, the
    actor (default: the invoking user) and the note, in one entry."""
    v = Venue(svc, coins=10)
    p = svc.ctl("wallet", "set", v.id, "4.5")
    assert p.stdout.strip().startswith("4.500 (-5.500 by "), p.stdout
    svc.ctl("wallet", "set", v.id, "7", "--actor", "bob", "--note", "why")
    assert v.wallet() == 7000
    adj = [e for e in svc.stream() if e.get("type") == "adjustment"]
    assert len(adj) == 2
    assert adj[0]["amount_millicoins"] == -5500
    assert adj[0]["balance_millicoins"] == 4500
    assert adj[0]["actor"] and adj[0]["note"] == ""
    assert (adj[1]["actor"], adj[1]["note"]) == ("bob", "why")
    assert adj[1]["amount_millicoins"] == 2500
    top = [e for e in svc.stream() if e.get("type") == "topup"]
    assert len(top) == 1 and top[0]["amount_millicoins"] == 10000
    assert top[0]["balance_millicoins"] == 10000
    for bad in (["wallet", "set", v.id, "-1"],
                ["wallet", "set", v.id, "1", "--actor", ""],
                ["wallet", "set", v.id, "1", "--note", "a\nb"]):
        assert svc.ctl(*bad, check=False).returncode == 2, bad
    p = svc.ctl("wallet", "set", "nowhere", "1", check=False)
    assert p.returncode == 1 and "not found" in p.stderr
    assert len(svc.stream()) == 3


def test_dead_letters_never_block(svc):
    """Entries written by hand with missing or malformed fields go to
    dead_letters with their raw fields and reason; good entries around them
    land; all are acknowledged and trimmed."""
    v = Venue(svc)
    key = svc.key("events")
    good = ["game_session_id", "gs_hand-1", "reason", "normal", "game_id",
            "g1", "venue_id", v.id, "pc_id", "pc-9", "provider_user_id",
            "u", "started_at", "2026-03-06T12:00:00.000Z", "ended_at",
            "2026-03-06T12:10:00.000Z", "play_duration_sec", "600",
            "charged_millicoins", "0"]

    def variant(field, value):
        out = list(good)
        i = out.index(field)
        if value is None:
            del out[i:i + 2]
        else:
            out[i + 1] = value
        return out
    bad = {
        "missing field game_id": variant("game_id", None),
        "unknown reason": variant("reason", "crashed"),
        "field play_duration_sec is not an integer": variant(
            "play_duration_sec", "ten"),
        "field ended_at is not an RFC 3339 UTC time": variant(
            "ended_at", "yesterday"),
        "field pc_id is not UTF-8 text": variant("pc_id", "pc-\udcff"),
        "unknown type": ["type", "refund", "venue_id", v.id],
        "field amount_millicoins is not an integer": [
            "type", "topup", "venue_id", v.id, "amount_millicoins", "-5",
            "balance_millicoins", "0", "at", "2026-03-06T12:00:00.000Z"],
    }
    ids = {}
    for reason, fields in bad.items():
        ids[svc.redis("XADD", key, "*", *fields)] = reason
    svc.redis("XADD", key, "*", *good)
    # An entry the parser reads but PostgreSQL refuses (a constraint added
    # by hand): its batch is written entry by entry, and it alone becomes
    # a dead letter.
    svc.start_ledger()
    wait_for("the schema", lambda: xlen(svc) == 0, 30 * SLOW)
    svc.psql("ALTER TABLE settlements ADD CONSTRAINT no_pc_x"
             " CHECK (pc_id <> 'pc-x')")
    refused = variant("pc_id", "pc-x")
    refused[1] = "gs_hand-2"
    ids[svc.redis("XADD", key, "*", *refused)] = "refused by PostgreSQL"
    later = variant("game_session_id", "gs_hand-3")
    svc.redis("XADD", key, "*", *later)
    wait_for("everything read", lambda: xlen(svc) == 0, 30 * SLOW)
    got = rows(svc, "SELECT stream_id, reason, fields->>'pc_id',"
                    " encode(raw, 'escape') FROM dead_letters")
    assert len(got) == len(bad) + 1
    for sid, reason, pc, raw in got:
        assert reason.startswith(ids[sid]), (reason, ids[sid])
        if ids[sid].startswith("field pc_id"):
            assert pc == "pc-\ufffd"           # jsonb holds U+FFFD
            assert "\\377" in raw               # bytea the exact byte
    assert rows(svc, "SELECT game_session_id FROM settlements ORDER BY 1"
                ) == [["gs_hand-1"], ["gs_hand-3"]]
    assert "event=dead_letter" in svc.ledger_log()


def test_works_while_paused(svc):
    """heartbeatctl pause stops scripts; the ledger goes on with plain
    commands (its acknowledgements fall back to XACK)."""
    v = Venue(svc)
    svc.start_ledger()
    wait_settled(svc)
    svc.ctl("pause")
    svc.redis("XADD", svc.key("events"), "*", "type", "topup", "venue_id",
              v.id, "amount_millicoins", "5", "balance_millicoins", "5",
              "at", "2026-03-06T12:00:00.000Z")
    wait_for("the entry", lambda: xlen(svc) == 0, 30 * SLOW)
    assert pg_int(svc, "SELECT count(*) FROM wallet_movements") == 2
    svc.ctl("resume")
    assert "redis_unavailable" not in svc.ledger_log()
    assert svc.stop_ledger() == 0


def test_sigkill_mid_batch_under_load(svc):
    """The ledger killed with SIGKILL again and again while sessions end:
    another ledger takes over what it left pending."""
    v = Venue(svc, coins=1000)
    # Entries a consumer read and died with, before any ledger ran: they
    # stay pending until a ledger takes them over.
    for pc in ("pc-1", "pc-2", "pc-3"):
        _, gs = v.session(pc)
        v.end(gs)
    key = svc.key("events")
    svc.redis("XGROUP", "CREATE", key, "ledger", "0")
    svc.redis("XREADGROUP", "GROUP", "ledger", "ghost", "STREAMS", key, ">")
    load = Load(svc, v)
    svc.start_ledger("ledger-a")
    wait_rows(svc, 5)
    for i in range(3):
        load.wait_more(5)
        svc.stop_ledger("ledger-a" if i == 0 else "ledger-%d" % i,
                        signal.SIGKILL)
        load.wait_more(5)
        svc.start_ledger("ledger-%d" % (i + 1))
    load.wait_more(10)
    close_books(svc, [v], load)
    assert "event=claimed" in svc.ledger_log("ledger-a") + \
        svc.ledger_log("ledger-1") + svc.ledger_log("ledger-2") + \
        svc.ledger_log("ledger-3")
    assert svc.stop_ledger("ledger-3") == 0


def test_postgres_stopped_and_restarted_under_load(svc):
    """PostgreSQL stopped (fast shutdown, then a crash) and restarted: the
    ledger waits, reconnects by itself and logs each outage once."""
    v = Venue(svc, coins=1000)
    load = Load(svc, v)
    svc.start_ledger()
    wait_rows(svc, 5)
    for sig in (signal.SIGINT, signal.SIGKILL):
        svc.stop_postgres(sig)
        load.wait_more(10)
        wait_for("the ledger to notice", lambda: "event=postgres_unavailable"
                 in svc.ledger_log(), 30 * SLOW)
        svc.start_postgres()
        try:
            wait_for("the ledger to recover", lambda: svc.ledger_log().count(
                "event=postgres_recovered") >= (1 if sig == signal.SIGINT
                                               else 2), 60 * SLOW)
        except RuntimeError:
            raise AssertionError("no recovery:\n" + svc.ledger_log()[-3000:])
    load.wait_more(5)
    close_books(svc, [v], load)
    log = svc.ledger_log()
    assert log.count("event=postgres_unavailable") == 2, log[-3000:]
    assert svc.stop_ledger() == 0


def test_redis_restarted_from_aof_under_load(svc):
    """Redis killed and restarted from its append-only file: the group and
    its pending entries come back with it, and the ledger goes on."""
    v = Venue(svc, coins=1000)
    load = Load(svc, v)
    svc.start_ledger()
    wait_rows(svc, 5)
    svc.stop_redis(signal.SIGKILL)
    svc.start_redis()
    load.wait_more(10)
    close_books(svc, [v], load)
    assert "event=redis_unavailable" in svc.ledger_log()
    assert svc.stop_ledger() == 0


def test_two_ledgers_one_killed(svc):
    """Two ledgers share the group; one is killed; the other takes over its
    pending entries and the books still close."""
    v = Venue(svc, coins=1000)
    w = Venue(svc, name="v2", coins=1000)
    load = Load(svc, v, threads=2)
    load2 = Load(svc, w, threads=2)
    svc.start_ledger("ledger-a")
    svc.start_ledger("ledger-b")
    wait_rows(svc, 10)
    load.wait_more(5)
    svc.stop_ledger("ledger-a", signal.SIGKILL)
    load.wait_more(10)
    ended = load2.stop()
    close_books(svc, [v, w], load)
    check_books(svc, [v, w], ended)
    assert svc.stop_ledger("ledger-b") == 0


@settings(HB_LEDGER_TRIM_GROUPS="ledger,audit")
def test_trim_waits_for_every_configured_group(svc):
    """A configured group that does not exist keeps everything; one created
    later keeps what it has not acknowledged, however long."""
    v = Venue(svc)
    key = svc.key("events")
    svc.start_ledger()
    for _ in range(3):
        _, gs = v.session()
        v.end(gs)
    wait_rows(svc, 3)
    assert xlen(svc) == 4                       # + the top-up: untrimmed
    svc.redis("XGROUP", "CREATE", key, "audit", "$")
    for _ in range(2):
        _, gs = v.session()
        v.end(gs)
    wait_rows(svc, 5)
    # What audit never read stays; what came before it goes.
    wait_for("the trim", lambda: xlen(svc) == 2, 30 * SLOW)
    assert svc.redis("XPENDING", key, "ledger").split("\n")[0] == "0"
    out = svc.redis("XREADGROUP", "GROUP", "audit", "a1", "COUNT", "10",
                    "STREAMS", key, ">")
    ids = [line for line in out.split("\n")
           if re.match(r"^\d+-\d+$", line)]
    assert len(ids) == 2
    # Another ending, written and trimmed after: audit's pending entries
    # stay.
    _, gs = v.session()
    v.end(gs)
    wait_rows(svc, 6)
    wait_for("the trim", lambda: xlen(svc) == 3, 30 * SLOW)
    assert svc.redis("XRANGE", key, ids[0], ids[1]).count("game_session_id") == 2
    svc.redis("XACK", key, "audit", *ids)
    wait_for("the trim", lambda: xlen(svc) == 1, 30 * SLOW)


def test_schema_newer_refused(svc):
    """A database whose schema is newer than the ledger's is refused, by
    the daemon and by the report, with the versions named."""
    svc.start_ledger()
    wait_for("the schema", lambda: svc.psql(
        "SELECT coalesce(max(version), 0) FROM schema_version",
        check=False) == str(SCHEMA_VERSION), 30 * SLOW)
    assert svc.stop_ledger() == 0
    svc.psql("INSERT INTO schema_version (version) VALUES (%d)"
             % (SCHEMA_VERSION + 1))
    p = svc.run_ledger("run")
    assert p.returncode == 78, (p.returncode, p.stderr)
    assert "version %d, newer than this ledger's %d" % (
        SCHEMA_VERSION + 1, SCHEMA_VERSION) in p.stderr, p.stderr
    p = svc.run_ledger("report", "--venue", "v1", "--from", "2026-01-01",
                       "--to", "2026-01-31")
    assert p.returncode == 78 and "newer" in p.stderr, p.stderr


def test_report_csv_and_json(svc):
    """The report: sessions, play time and coins of a venue by game, over
    inclusive UTC days, in CSV and JSON; other venues and days excluded."""
    v = Venue(svc, coins=100)
    Venue(svc, name="v2", game="g2", coins=100)
    g2 = Venue(svc, name="v1", game="g2", coins=0)
    for venue, n in ((v, 2), (g2, 1)):
        for _ in range(n):
            _, gs = venue.session()
            assert venue.end(gs).status == 200
    w = Venue(svc, name="v2", game="g1", coins=0)
    _, gs = w.session()
    w.end(gs)
    svc.start_ledger()
    wait_settled(svc)
    today = svc.psql("SELECT to_char(now() AT TIME ZONE 'UTC', "
                     "'YYYY-MM-DD')")
    want = rows(svc, "SELECT game_id, count(*), sum(play_duration_sec),"
                     " sum(charged_millicoins) FROM settlements"
                     " WHERE venue_id = 'v1' GROUP BY 1 ORDER BY 1")
    assert [r[:2] for r in want] == [["g1", "2"], ["g2", "1"]]
    p = svc.run_ledger("report", "--venue", "v1", "--from", today, "--to",
                       today, "--format", "csv")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "game_id,sessions,play_duration_sec," \
                       "charged_millicoins"
    assert [line.split(",") for line in lines[1:]] == want
    p = svc.run_ledger("report", "--venue", "v1", "--from", today, "--to",
                       today, "--format", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["venue_id"] == "v1" and doc["from"] == today
    assert [[g["game_id"], str(g["sessions"]), str(g["play_duration_sec"]),
             str(g["charged_millicoins"])] for g in doc["games"]] == want
    assert doc["totals"]["sessions"] == 3
    assert doc["totals"]["charged_millicoins"] == sum(int(r[3])
                                                      for r in want)
    assert doc["wallet"]["topups"] == 1
    assert doc["wallet"]["topup_millicoins"] == 100000
    # Days without settlements: no rows.
    p = svc.run_ledger("report", "--venue", "v1", "--from", "2020-01-01",
                       "--to", "2020-01-31")
    assert p.stdout.splitlines() == [lines[0]], p.stdout
    for bad in (["--venue", "v1", "--from", "2020-02-30", "--to",
                 "2020-03-01"],
                ["--venue", "v1", "--from", "2020-01-01"],
                ["--venue", "v1", "--from", "2020-01-01", "--to",
                 "2020-01-02", "--format", "xml"]):
        assert svc.run_ledger("report", *bad).returncode == 2, bad
    daily = rows(svc, "SELECT sessions, topup_millicoins FROM"
                      " venue_daily_totals WHERE venue_id = 'v1'")
    assert daily == [["3", "100000"]]
    svc.stop_ledger()


def test_metrics_textfile(svc):
    """The metrics file: written atomically, accepted by promtool, with the
    log's length, the lag and the rows written."""
    path = os.path.join(svc.dir, "ledger.prom")
    v = Venue(svc)
    _, gs = v.session()
    v.end(gs)
    svc.start_ledger(env={"HB_LEDGER_METRICS_FILE": path})

    def metrics():
        return metrics_file(path)
    wait_for("the metrics", lambda: metrics().get(
        'heartbeat_ledger_entries_written_total{type="settlement"}') == 1
        and metrics().get("heartbeat_ledger_stream_length") == 0,
        30 * SLOW)
    m = metrics()
    assert m['heartbeat_ledger_entries_written_total{type="topup"}'] == 1
    assert m["heartbeat_ledger_lag_entries"] == 0
    assert m["heartbeat_ledger_lag_seconds"] == 0
    assert m['heartbeat_ledger_up{store="redis"}'] == 1
    assert m['heartbeat_ledger_up{store="postgres"}'] == 1
    assert m["heartbeat_ledger_trimmed_total"] == 2
    with open(path, "rb") as f:
        p = subprocess.run(["promtool", "check", "metrics"], stdin=f,
                           capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert not [n for n in os.listdir(svc.dir) if n.endswith(".tmp")]
    # Unacknowledged entries show as lag: a group's entries nobody reads.
    assert svc.stop_ledger() == 0
    svc.redis("XADD", svc.key("events"), "*", "type", "topup")
    svc.start_ledger(env={"HB_LEDGER_METRICS_FILE": path,
                          "HB_LEDGER_GROUP": "other",
                          "HB_LEDGER_TRIM_GROUPS": "other,ledger"})
    wait_for("the other group's lag", lambda: metrics().get(
        "heartbeat_ledger_stream_length") == 1 and metrics().get(
        'heartbeat_ledger_dead_letters_total') == 1, 30 * SLOW)
    svc.stop_ledger()


def test_sigterm_and_settings(svc):
    """--check-config names a bad setting; SIGTERM ends a waiting ledger
    at once with status 0."""
    p = svc.run_ledger("--check-config")
    assert p.returncode == 0 and "configuration ok" in p.stdout
    p = svc.run_ledger("--check-config", env={"HB_LEDGER_BLOCK_MS": "950"})
    assert p.returncode == 78 and "HB_LEDGER_BLOCK_MS" in p.stderr
    p = svc.run_ledger("--check-config", env={"HB_LEDGER_GROUP": "a b"})
    assert p.returncode == 78 and "HB_LEDGER_GROUP" in p.stderr
    p = svc.run_ledger("--check-config", env={"HB_LEDGER_BATCH": "0"})
    assert p.returncode == 78 and "HB_LEDGER_BATCH" in p.stderr
    assert svc.run_ledger("bogus").returncode == 2
    svc.start_ledger()
    wait_for("the ledger to start", lambda: "event=started" in
             svc.ledger_log(), 30 * SLOW)
    t0 = time.monotonic()
    assert svc.stop_ledger() == 0
    assert time.monotonic() - t0 < 10 * SLOW
    assert "event=stopped" in svc.ledger_log()


if __name__ == "__main__":
    random.seed()
    names = sys.argv[1:]
    tests = [v for k, v in list(globals().items())
             if k.startswith("test_") and callable(v)
             and (not names or k in names)]
    sys.exit(run_suite("ledger", tests, make_service))
