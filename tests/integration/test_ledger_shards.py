#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""test_ledger_shards.py - the settlement ledger with HB_SHARDS=4: each
shard's event log ("t:{core}:events", "t:{core.1}:events", ...) is read
through its own consumer group, trimmed by its own groups, and every entry
lands in PostgreSQL once, keyed by the shard with its entry id where the id
is the key.

Most tests append entries by hand to the shards' logs (with ids of their
choosing, so that two logs hold the same id); the last plays sessions of
venues that live on different shards through the HTTP API.
"""

import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Service, Venue, metrics_file, run_suite,  # noqa
                     settings, wait_for)
from test_ledger import (LEDGER_ENV, SCHEMA_VERSION, SLOW, Load,  # noqa
                         pg_int, rows)

SHARDS = 4


def make_service(test):
    env = dict(LEDGER_ENV)
    env["HB_SHARDS"] = str(SHARDS)
    env.update(getattr(test, "env", {}))
    svc = Service("ledger-shards", env).start()
    try:
        svc.start_postgres()
    except BaseException:
        svc.stop()
        raise
    return svc


# -- shards ----------------------------------------------------------------

def venue_names(svc):
    """One venue name per shard: {shard: name}."""
    out = {}
    i = 0
    while len(out) < SHARDS:
        out.setdefault(svc.shard_of_owner("cafe-%d" % i), "cafe-%d" % i)
        i += 1
    return out


def xlen(svc, shard):
    return int(svc.redis("XLEN", svc.key("events", shard)) or 0)


def xlens(svc):
    return [xlen(svc, i) for i in range(SHARDS)]


def groups(svc, shard):
    out = svc.redis("XINFO", "GROUPS", svc.key("events", shard))
    lines = out.split("\n")
    return [lines[i + 1] for i, v in enumerate(lines[:-1]) if v == "name"]


AT = "2026-03-06T12:00:00.000Z"


def topup(svc, shard, venue, amount, sid="*"):
    """Appends a top-up to shard's log; returns its entry id."""
    return svc.redis("XADD", svc.key("events", shard), sid, "type",
                     "topup", "venue_id", venue, "amount_millicoins", amount,
                     "balance_millicoins", amount, "at", AT)


def ending(svc, shard, gs, venue, charged=100, sid="*"):
    """Appends a session ending to shard's log; returns its entry id."""
    return svc.redis("XADD", svc.key("events", shard), sid,
                     "game_session_id", gs, "reason", "normal", "game_id",
                     "g1", "venue_id", venue, "pc_id", "pc-1",
                     "provider_user_id", "u1", "started_at", AT, "ended_at",
                     "2026-03-06T12:10:00.000Z", "play_duration_sec", "600",
                     "charged_millicoins", charged)


def xadd_many(svc, entries):
    """Appends entries, each (shard, [field, value, ...]) with no spaces,
    through one redis-cli; returns their entry ids."""
    text = "".join("XADD %s * %s\n" % (svc.key("events", shard),
                                         " ".join(map(str, fields)))
                   for shard, fields in entries)
    p = subprocess.run(["redis-cli", "-s", svc.redis_sock], input=text,
                       capture_output=True, text=True, timeout=30)
    ids = p.stdout.split()
    assert len(ids) == len(entries), p.stdout + p.stderr
    return ids


def metrics(path):
    return metrics_file(path)


def wait_empty(svc, timeout=60):
    """Waits until every shard's log is trimmed to nothing."""
    try:
        wait_for("every log trimmed", lambda: xlens(svc) == [0] * SHARDS,
                 timeout * SLOW)
    except RuntimeError:
        raise AssertionError("logs %r\n%s" % (xlens(svc), "\n".join(
            "--- %s\n%s" % (k, svc.ledger_log(k)[-2000:])
            for k in sorted(svc.procs) if k.startswith("ledger"))))


# -- the tests -------------------------------------------------------------

def test_every_shard_lands_once(svc):
    """Endings and wallet movements of every shard's log land once, each
    row naming its shard; an entry id two logs share gives two rows; a row
    already written (a re-delivery) is absorbed in its shard only."""
    path = os.path.join(svc.dir, "ledger.prom")
    svc.start_ledger(env={"HB_LEDGER_METRICS_FILE": path})
    wait_for("the groups", lambda: all(
        "ledger" in groups(svc, i) for i in range(SHARDS)), 30 * SLOW)
    assert svc.stop_ledger() == 0
    assert "shards=4" in svc.ledger_log()
    want_gs = {}
    for i in range(SHARDS):
        for k in range(3):
            gs = "gs_s%d_%d" % (i, k)
            ending(svc, i, gs, "v%d" % i)
            want_gs[gs] = i
        topup(svc, i, "v%d" % i, 1000 + i)
        topup(svc, i, "v%d" % i, 2000 + i)
    # One id in three logs: a top-up in shards 1 and 2, already written
    # (committed, never acknowledged) in shard 3; a dead letter in shards
    # 1 and 3.
    for shard in (1, 2, 3):
        topup(svc, shard, "v%d" % shard, 7, "9999999999999-1")
    svc.psql("INSERT INTO wallet_movements (shard, stream_id, venue_id,"
             " type, amount_millicoins, balance_millicoins, at)"
             " VALUES (3, '9999999999999-1', 'v3', 'topup', 7, 7, now())")
    for shard in (1, 3):
        svc.redis("XADD", svc.key("events", shard), "9999999999999-2",
                  "type", "refund", "venue_id", "v%d" % shard)
    svc.start_ledger(env={"HB_LEDGER_METRICS_FILE": path})
    wait_empty(svc)
    got = rows(svc, "SELECT game_session_id, shard FROM settlements")
    assert sorted((gs, int(s)) for gs, s in got) == sorted(want_gs.items())
    assert pg_int(svc, "SELECT count(*) FROM wallet_movements") == \
        2 * SHARDS + 3
    assert rows(svc, "SELECT shard, venue_id FROM wallet_movements"
                     " WHERE stream_id = '9999999999999-1' ORDER BY 1") == \
        [["1", "v1"], ["2", "v2"], ["3", "v3"]]
    for i in range(SHARDS):
        assert pg_int(svc, "SELECT coalesce(sum(amount_millicoins), 0)"
                           " FROM wallet_movements WHERE shard = %d"
                           " AND venue_id = 'v%d' AND amount_millicoins > 7"
                           % (i, i)) == 3000 + 2 * i
    assert rows(svc, "SELECT shard FROM dead_letters"
                     " WHERE stream_id = '9999999999999-2' ORDER BY 1") == \
        [["1"], ["3"]]
    for i in range(SHARDS):
        out = svc.redis("XPENDING", svc.key("events", i), "ledger")
        assert out.split("\n")[0] == "0", (i, out)

    def settled():
        m = metrics(path)
        return m.get('heartbeat_ledger_entries_written_total'
                     '{type="settlement"}') == 3 * SHARDS and \
            m.get("heartbeat_ledger_stream_length") == 0
    wait_for("the metrics", settled, 30 * SLOW)
    m = metrics(path)
    assert m['heartbeat_ledger_entries_written_total{type="topup"}'] == \
        2 * SHARDS + 2
    assert m["heartbeat_ledger_entries_duplicate_total"] == 1
    assert m["heartbeat_ledger_dead_letters_total"] == 2
    assert m["heartbeat_ledger_trimmed_total"] == 5 * SHARDS + 5
    assert m["heartbeat_ledger_lag_entries"] == 0
    assert svc.stop_ledger() == 0
    # The lag sums over the logs: a group nobody else reads.
    topup(svc, 1, "v1", 5)
    topup(svc, 3, "v3", 5)
    svc.start_ledger(env={"HB_LEDGER_METRICS_FILE": path,
                          "HB_LEDGER_GROUP": "other",
                          "HB_LEDGER_TRIM_GROUPS": "other,ledger"})
    wait_for("the other group", lambda: metrics(path).get(
        'heartbeat_ledger_entries_duplicate_total') == 0 and metrics(
        path).get("heartbeat_ledger_stream_length") == 2, 30 * SLOW)
    assert svc.stop_ledger() == 0


@settings(HB_LEDGER_TRIM_GROUPS="ledger,audit")
def test_trim_per_shard(svc):
    """Each log is trimmed by its own groups: a configured group missing
    from one log keeps that log whole, and only that one."""
    svc.start_ledger()
    for i in range(SHARDS):
        topup(svc, i, "v%d" % i, 10)
        topup(svc, i, "v%d" % i, 20)
    wait_for("the rows", lambda: pg_int(
        svc, "SELECT count(*) FROM wallet_movements") == 2 * SHARDS,
        30 * SLOW)
    time.sleep(0.5 * SLOW)
    assert xlens(svc) == [2] * SHARDS          # audit is nowhere
    key1 = svc.key("events", 1)
    svc.redis("XGROUP", "CREATE", key1, "audit", "$")
    wait_for("shard 1's trim", lambda: xlen(svc, 1) == 0, 30 * SLOW)
    assert xlens(svc) == [2, 0, 2, 2]
    sid = topup(svc, 1, "v1", 30)
    wait_for("the row", lambda: pg_int(
        svc, "SELECT count(*) FROM wallet_movements") == 2 * SHARDS + 1,
        30 * SLOW)
    time.sleep(0.5 * SLOW)
    assert xlens(svc) == [2, 1, 2, 2]          # audit has not read it
    svc.redis("XREADGROUP", "GROUP", "audit", "a1", "STREAMS", key1, ">")
    svc.redis("XACK", key1, "audit", sid)
    wait_for("shard 1's trim", lambda: xlen(svc, 1) == 0, 30 * SLOW)
    for i in (0, 2, 3):
        svc.redis("XGROUP", "CREATE", svc.key("events", i), "audit", "$")
    wait_empty(svc)
    assert svc.stop_ledger() == 0


def test_sigkill_mid_batch_every_shard(svc):
    """Entries arrive in every log while the ledger is killed with SIGKILL
    again and again: each lands once; another ledger takes over what a
    dead one held."""
    written = {}                                # (shard, id) -> gs or None
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n):
        rnd = random.Random(n)
        k = 0
        while not stop.is_set():
            batch = []
            for _ in range(10):
                shard = rnd.randrange(SHARDS)
                venue = "v%d" % shard
                if k % 3 == 0:
                    gs = None
                    fields = ["type", "topup", "venue_id", venue,
                              "amount_millicoins", 1 + k,
                              "balance_millicoins", 1 + k, "at", AT]
                else:
                    gs = "gs_w%d_%d" % (n, k)
                    fields = ["game_session_id", gs, "reason", "normal",
                              "game_id", "g1", "venue_id", venue, "pc_id",
                              "pc-1", "provider_user_id", "u1",
                              "started_at", AT, "ended_at", AT,
                              "play_duration_sec", 0,
                              "charged_millicoins", k]
                batch.append((shard, fields, gs))
                k += 1
            ids = xadd_many(svc, [(sh, f) for sh, f, _ in batch])
            with lock:
                for (shard, _, gs), sid in zip(batch, ids):
                    written[(shard, sid)] = gs
            time.sleep(0.01)
    # Entries a consumer read and died with, before any ledger ran, in
    # two of the logs: a ledger takes them over there.
    for shard in (2, 3):
        key = svc.key("events", shard)
        svc.redis("XGROUP", "CREATE", key, "ledger", "0", "MKSTREAM")
        for k in range(3):
            sid = topup(svc, shard, "v%d" % shard, 5 + k)
            written[(shard, sid)] = None
        svc.redis("XREADGROUP", "GROUP", "ledger", "ghost", "STREAMS", key,
                  ">")
    threads = [threading.Thread(target=writer, args=(n,), daemon=True)
               for n in range(2)]
    for t in threads:
        t.start()
    svc.start_ledger("ledger-0")

    def count():
        return pg_int(svc, "SELECT (SELECT count(*) FROM settlements)"
                           " + (SELECT count(*) FROM wallet_movements)")
    for i in range(3):
        base = count()
        wait_for("more rows", lambda: count() >= base + 300, 60 * SLOW)
        svc.stop_ledger("ledger-%d" % i, signal.SIGKILL)
        time.sleep(0.3)
        svc.start_ledger("ledger-%d" % (i + 1))
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join(30)
    wait_empty(svc, 90)
    got = set((int(s), sid) for s, sid in rows(
        svc, "SELECT shard, stream_id FROM settlements UNION ALL"
             " SELECT shard, stream_id FROM wallet_movements"))
    assert pg_int(svc, "SELECT (SELECT count(*) FROM settlements)"
                       " + (SELECT count(*) FROM wallet_movements)") == \
        len(written)
    assert got == set(written), (len(got), len(written))
    assert sorted(r[0] for r in rows(
        svc, "SELECT game_session_id FROM settlements")) == sorted(
        gs for gs in written.values() if gs)
    assert pg_int(svc, "SELECT count(*) FROM dead_letters") == 0
    logs = "".join(svc.ledger_log("ledger-%d" % i) for i in range(4))
    assert "event=claimed shard=2" in logs and \
        "event=claimed shard=3" in logs, logs[-3000:]
    print("    %d entries, %s in shards" % (len(written), [
        sum(1 for s, _ in written if s == i) for i in range(SHARDS)]))
    assert svc.stop_ledger("ledger-3") == 0


@settings(HB_LEDGER_BLOCK_MS="300")
def test_quiet_logs_bounded_wait(svc):
    """With every log empty the ledger sleeps between passes (it does not
    spin), and an entry in any log lands within about HB_LEDGER_BLOCK_MS."""
    p = svc.start_ledger()
    wait_for("the groups", lambda: all(
        "ledger" in groups(svc, i) for i in range(SHARDS)), 30 * SLOW)

    def cpu():
        with open("/proc/%d/stat" % p.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf(
            "SC_CLK_TCK")
    c0, t0 = cpu(), time.monotonic()
    time.sleep(3)
    used = cpu() - c0
    assert used < 0.5 * SLOW * (time.monotonic() - t0), used
    for i in range(SHARDS):
        t0 = time.monotonic()
        topup(svc, i, "v%d" % i, 10)
        wait_for("the row", lambda: pg_int(
            svc, "SELECT count(*) FROM wallet_movements") == i + 1,
            30 * SLOW)
        took = time.monotonic() - t0
        assert took < 3 * SLOW, took
    assert svc.stop_ledger() == 0


def test_schema_1_migrated(svc):
    """A database of schema 1 (rows of the one log there was) is migrated:
    its rows become shard 0's, and a re-delivered entry of shard 0 finds
    its row while the same id in another shard's log is a row of its own."""
    key0 = svc.key("events", 0)
    svc.start_ledger()
    first = topup(svc, 0, "v0", 100)
    wait_for("the row", lambda: pg_int(
        svc, "SELECT count(*) FROM wallet_movements") == 1, 30 * SLOW)
    assert svc.stop_ledger() == 0
    # Back to schema 1, as a ledger of before shards left it.
    svc.psql("ALTER TABLE wallet_movements DROP CONSTRAINT"
             " wallet_movements_pkey;"
             "ALTER TABLE wallet_movements DROP COLUMN shard;"
             "ALTER TABLE wallet_movements ADD PRIMARY KEY (stream_id);"
             "ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_pkey;"
             "ALTER TABLE dead_letters DROP COLUMN shard;"
             "ALTER TABLE dead_letters ADD PRIMARY KEY (stream_id);"
             "ALTER TABLE settlements DROP COLUMN shard;"
             "DELETE FROM schema_version WHERE version > 1")
    # A schema-1 ledger wrote an entry and died before acknowledging it.
    second = topup(svc, 0, "v0", 200)
    svc.redis("XREADGROUP", "GROUP", "ledger", "ghost", "STREAMS", key0, ">")
    svc.psql("INSERT INTO wallet_movements (stream_id, venue_id, type,"
             " amount_millicoins, balance_millicoins, at)"
             " VALUES (:'p1', 'v0', 'topup', 200, 200, now())", second)
    # The same id in shard 2's log is another entry.
    topup(svc, 2, "v2", 300, second)
    path = os.path.join(svc.dir, "ledger.prom")
    svc.start_ledger(env={"HB_LEDGER_METRICS_FILE": path})
    wait_empty(svc)
    assert svc.psql("SELECT max(version) FROM schema_version") == \
        str(SCHEMA_VERSION)
    assert rows(svc, "SELECT shard, stream_id, amount_millicoins FROM"
                     " wallet_movements ORDER BY 1, 2") == [
        ["0", first, "100"], ["0", second, "200"], ["2", second, "300"]]
    wait_for("the metrics", lambda: metrics(path).get(
        "heartbeat_ledger_entries_duplicate_total") == 1, 30 * SLOW)
    assert "event=claimed shard=0 entries=1" in svc.ledger_log()
    assert svc.stop_ledger() == 0


# -- venues on every shard, through the API -------------------------------

def settled_count(svc):
    """How many sessions Redis settled, over every shard."""
    total = 0
    for i in range(SHARDS):
        flat = svc.redis("HGETALL", svc.key("stats", i)).split("\n")
        stats = dict(zip(flat[0::2], flat[1::2])) if flat != [""] else {}
        total += sum(int(v) for k, v in stats.items()
                     if k.startswith("ended:"))
    return total


def test_venues_on_every_shard_books_close(svc):
    """Venues on every shard play sessions through the API while the
    ledger is killed once; afterwards every settled session is one row,
    and each venue's wallet equals its top-ups - charges in PostgreSQL."""
    names = venue_names(svc)
    venues = [Venue(svc, name=names[i], coins=1000) for i in range(SHARDS)]
    for v in venues:
        svc.ctl("wallet", "topup", v.id, "2.5")
    # Each venue's records are in its own shard.
    for i, v in enumerate(venues):
        assert svc.redis("EXISTS", svc.key("venue:" + v.id, i)) == "1"
    loads = [Load(svc, v, threads=1) for v in venues]
    svc.start_ledger("ledger-a")
    for load in loads:
        load.wait_more(5)
    svc.stop_ledger("ledger-a", signal.SIGKILL)
    svc.start_ledger("ledger-b")
    for load in loads:
        load.wait_more(5)
    ended = []
    for load in loads:
        ended += load.stop()
    for gs in svc.live_ids():
        svc.ctl("session", "revoke", gs, check=False)
    assert svc.live_ids() == []

    def done():
        return pg_int(svc, "SELECT count(*) FROM settlements") == \
            settled_count(svc) and xlens(svc) == [0] * SHARDS
    wait_for("the books", done, 90 * SLOW)
    have = set(r[0] for r in rows(svc, "SELECT game_session_id FROM"
                                       " settlements"))
    assert not set(ended) - have
    for i, v in enumerate(venues):
        assert rows(svc, "SELECT DISTINCT shard FROM settlements"
                         " WHERE venue_id = :'p1'", v.id) == [[str(i)]]
        charged = pg_int(svc, "SELECT coalesce(sum(charged_millicoins), 0)"
                              " FROM settlements WHERE venue_id = :'p1'",
                         v.id)
        moved = pg_int(svc, "SELECT coalesce(sum(amount_millicoins), 0)"
                            " FROM wallet_movements WHERE venue_id = :'p1'",
                       v.id)
        assert moved - charged == v.wallet(), (v.id, moved, charged,
                                               v.wallet())
    assert svc.stop_ledger("ledger-b") == 0


if __name__ == "__main__":
    random.seed()
    names = sys.argv[1:]
    tests = [v for k, v in list(globals().items())
             if k.startswith("test_") and callable(v)
             and (not names or k in names)]
    sys.exit(run_suite("ledger_shards", tests, make_service))
