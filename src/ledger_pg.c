/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ledger_pg.c - the settlement ledger's PostgreSQL side (libpq).
 */
#include "ledger_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "util.h"

/* Room for the last error. */
#define LEDGER_PG_ERROR_BUF 512
/* Seconds libpq waits for a connection. */
#define LEDGER_PG_CONNECT_TIMEOUT "5"
/* The advisory lock ledgers take while they create or migrate the schema. */
#define LEDGER_PG_LOCK "7262011700"

/*
 * The migrations: entry i takes a schema of version i to version i + 1.
 * Static text only; values never reach SQL but as parameters.
 */
static const char *const ledger_migrations[LEDGER_SCHEMA_VERSION] = {
    /* 1: the tables, their indexes and the daily view. */
    "CREATE TABLE settlements ("
    " game_session_id text PRIMARY KEY,"
    " venue_id text NOT NULL,"
    " game_id text NOT NULL,"
    " pc_id text NOT NULL,"
    " provider_user_id text NOT NULL,"
    " reason text NOT NULL CHECK (reason IN ('normal', 'replaced',"
    "  'launcher_timeout', 'charge_exhausted', 'expired', 'revoked')),"
    " started_at timestamptz NOT NULL,"
    " ended_at timestamptz NOT NULL,"
    " play_duration_sec bigint NOT NULL CHECK (play_duration_sec >= 0),"
    " charged_millicoins bigint NOT NULL CHECK (charged_millicoins >= 0),"
    " rate_millicoins_per_hour bigint"
    "  CHECK (rate_millicoins_per_hour >= 0),"
    " stream_id text NOT NULL,"
    " recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " CHECK (ended_at >= started_at));"
    "CREATE INDEX settlements_venue_ended ON settlements"
    " (venue_id, ended_at);"
    "CREATE INDEX settlements_game_ended ON settlements (game_id, ended_at);"
    "CREATE TABLE wallet_movements ("
    " stream_id text PRIMARY KEY,"
    " venue_id text NOT NULL,"
    " type text NOT NULL CHECK (type IN ('topup', 'adjustment')),"
    " amount_millicoins bigint NOT NULL,"
    " balance_millicoins bigint NOT NULL,"
    " at timestamptz NOT NULL,"
    " actor text,"
    " note text,"
    " recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " CHECK (type <> 'topup' OR amount_millicoins > 0),"
    " CHECK (type <> 'adjustment' OR actor IS NOT NULL));"
    "CREATE INDEX wallet_movements_venue_at ON wallet_movements"
    " (venue_id, at);"
    "CREATE TABLE dead_letters ("
    " stream_id text PRIMARY KEY,"
    " reason text NOT NULL,"
    " fields jsonb NOT NULL,"
    " raw bytea NOT NULL,"
    " recorded_at timestamptz NOT NULL DEFAULT clock_timestamp());"
    "CREATE VIEW venue_daily_totals AS"
    " WITH s AS (SELECT venue_id, (ended_at AT TIME ZONE 'UTC')::date AS day,"
    "  count(*) AS sessions, sum(play_duration_sec) AS play_duration_sec,"
    "  sum(charged_millicoins) AS charged_millicoins"
    "  FROM settlements GROUP BY 1, 2),"
    " w AS (SELECT venue_id, (at AT TIME ZONE 'UTC')::date AS day,"
    "  coalesce(sum(amount_millicoins) FILTER (WHERE type = 'topup'), 0)"
    "   AS topup_millicoins,"
    "  coalesce(sum(amount_millicoins) FILTER (WHERE type = 'adjustment'),"
    "   0) AS adjustment_millicoins"
    "  FROM wallet_movements GROUP BY 1, 2)"
    " SELECT coalesce(s.venue_id, w.venue_id) AS venue_id,"
    "  coalesce(s.day, w.day) AS day,"
    "  coalesce(s.sessions, 0) AS sessions,"
    "  coalesce(s.play_duration_sec, 0) AS play_duration_sec,"
    "  coalesce(s.charged_millicoins, 0) AS charged_millicoins,"
    "  coalesce(w.topup_millicoins, 0) AS topup_millicoins,"
    "  coalesce(w.adjustment_millicoins, 0) AS adjustment_millicoins"
    " FROM s FULL JOIN w ON s.venue_id = w.venue_id AND s.day = w.day;",
    /*
     * 2: each row names the shard whose log it came from (HB_SHARDS), and
     * a stream entry id, unique within one log only, is a key with it.
     * Rows written before were all of the one log there was: shard 0.
     * Adding a column with a constant default rewrites no table.
     */
    "ALTER TABLE settlements ADD COLUMN shard integer NOT NULL DEFAULT 0"
    " CHECK (shard >= 0);"
    "ALTER TABLE wallet_movements ADD COLUMN shard integer NOT NULL"
    " DEFAULT 0 CHECK (shard >= 0);"
    "ALTER TABLE wallet_movements DROP CONSTRAINT wallet_movements_pkey,"
    " ADD PRIMARY KEY (shard, stream_id);"
    "ALTER TABLE dead_letters ADD COLUMN shard integer NOT NULL DEFAULT 0"
    " CHECK (shard >= 0);"
    "ALTER TABLE dead_letters DROP CONSTRAINT dead_letters_pkey,"
    " ADD PRIMARY KEY (shard, stream_id);"};

/*
 * The statements a batch runs, prepared once per connection. Endings and
 * wallet movements go as one INSERT each per batch, every column one array
 * parameter (unnest), which costs PostgreSQL a fraction of a statement per
 * row; dead letters, rare, one row each.
 */
enum { LEDGER_STMT_SETTLEMENTS, LEDGER_STMT_MOVEMENTS, LEDGER_STMT_DEAD };

static const struct {
	const char *name;
	const char *sql;
	int nparams;
} ledger_statements[] = {
    {"hb_settlements",
     "INSERT INTO settlements (game_session_id, venue_id, game_id, pc_id,"
     " provider_user_id, reason, started_at, ended_at, play_duration_sec,"
     " charged_millicoins, rate_millicoins_per_hour, stream_id, shard)"
     " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
     " $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[],"
     " $9::bigint[], $10::bigint[], $11::bigint[], $12::text[],"
     " $13::integer[])"
     " ON CONFLICT (game_session_id) DO NOTHING",
     13},
    {"hb_movements",
     "INSERT INTO wallet_movements (stream_id, venue_id, type,"
     " amount_millicoins, balance_millicoins, at, actor, note, shard)"
     " SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
     " $4::bigint[], $5::bigint[], $6::timestamptz[], $7::text[],"
     " $8::text[], $9::integer[])"
     " ON CONFLICT (shard, stream_id) DO NOTHING RETURNING type",
     9},
    {"hb_dead_letter",
     "INSERT INTO dead_letters (stream_id, reason, fields, raw, shard)"
     " VALUES ($1, $2, $3::jsonb, $4::bytea, $5::integer)"
     " ON CONFLICT (shard, stream_id) DO NOTHING",
     5},
};

struct ledger_pg {
	char *conninfo; /* owned */
	PGconn *conn;	/* NULL: not connected */
	int prepared;	/* the statements are prepared on conn */
	int version;	/* the schema version last read */
	char error[LEDGER_PG_ERROR_BUF];
};

/* Records what, and libpq's message (its last line break dropped). */
static void ledger_pg_set_error(struct ledger_pg *pg, const char *what,
				const char *msg)
{
	size_t n;

	snprintf(pg->error, sizeof pg->error, "%s: %s", what,
		 msg && *msg ? msg : "unknown error");
	n = strlen(pg->error);
	while (n > 0 && (pg->error[n - 1] == '\n' || pg->error[n - 1] == ' '))
		pg->error[--n] = '\0';
	for (char *p = pg->error; *p; p++)
		if (*p == '\n' || *p == '"')
			*p = ' ';
}

struct ledger_pg *ledger_pg_new(const char *conninfo)
{
	struct ledger_pg *pg = calloc(1, sizeof *pg);

	if (pg == NULL || (pg->conninfo = strdup(conninfo)) == NULL) {
		free(pg);
		return NULL;
	}
	return pg;
}

void ledger_pg_disconnect(struct ledger_pg *pg)
{
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	pg->conn = NULL;
	pg->prepared = 0;
}

void ledger_pg_free(struct ledger_pg *pg)
{
	if (pg == NULL)
		return;
	ledger_pg_disconnect(pg);
	free(pg->conninfo);
	free(pg);
}

const char *ledger_pg_error(const struct ledger_pg *pg)
{
	return pg->error;
}

int ledger_pg_schema_version(const struct ledger_pg *pg)
{
	return pg->version;
}

/*
 * What a failed result means: a refused value (class 22 data exception or
 * 23 integrity violation) or anything else, which is worth trying again.
 * Drops the connection when it is gone.
 */
static enum ledger_pg_result
ledger_pg_failed(struct ledger_pg *pg, const char *what, const PGresult *res)
{
	const char *state =
	    res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	ledger_pg_set_error(pg, what,
			    res && *PQresultErrorMessage(res)
				? PQresultErrorMessage(res)
				: PQerrorMessage(pg->conn));
	if (PQstatus(pg->conn) == CONNECTION_BAD) {
		ledger_pg_disconnect(pg);
		return LEDGER_PG_UNAVAILABLE;
	}
	if (state != NULL &&
	    (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0))
		return LEDGER_PG_REJECTED;
	return LEDGER_PG_UNAVAILABLE;
}

/* Runs static SQL that returns no rows. Returns LEDGER_PG_OK or a failure. */
static enum ledger_pg_result ledger_pg_exec(struct ledger_pg *pg,
					    const char *sql)
{
	PGresult *res = PQexec(pg->conn, sql);
	enum ledger_pg_result rc = LEDGER_PG_OK;

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = ledger_pg_failed(pg, "postgres", res);
	PQclear(res);
	return rc;
}

/* Ends a failed transaction, if one is open; keeps pg's error. */
static void ledger_pg_rollback(struct ledger_pg *pg)
{
	PGresult *res;

	if (pg->conn == NULL || PQtransactionStatus(pg->conn) == PQTRANS_IDLE ||
	    PQtransactionStatus(pg->conn) == PQTRANS_UNKNOWN)
		return;
	res = PQexec(pg->conn, "ROLLBACK");
	PQclear(res);
	if (PQstatus(pg->conn) == CONNECTION_BAD)
		ledger_pg_disconnect(pg);
}

/* Reads the schema version (0 when there is no version table). */
static enum ledger_pg_result ledger_pg_read_version(struct ledger_pg *pg)
{
	PGresult *res = PQexec(
	    pg->conn, "SELECT CASE WHEN to_regclass('schema_version')"
		      " IS NULL THEN 0 ELSE (SELECT coalesce(max(version),"
		      " 0) FROM schema_version) END");
	enum ledger_pg_result rc = LEDGER_PG_OK;
	int64_t v;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    util_parse_int(PQgetvalue(res, 0, 0), 0, 1000000, &v) != 0)
		rc = ledger_pg_failed(pg, "schema_version", res);
	else
		pg->version = (int)v;
	PQclear(res);
	return rc;
}

/* Applies the migrations the database lacks, in one transaction. */
static enum ledger_pg_result ledger_pg_migrate(struct ledger_pg *pg)
{
	enum ledger_pg_result rc;

	if ((rc = ledger_pg_exec(pg, "BEGIN")) != LEDGER_PG_OK)
		return rc;
	if ((rc = ledger_pg_exec(
		 pg, "SELECT pg_advisory_xact_lock(" LEDGER_PG_LOCK ")")) !=
		LEDGER_PG_OK ||
	    (rc = ledger_pg_exec(pg, "CREATE TABLE IF NOT EXISTS schema_version"
				     " (version integer PRIMARY KEY,"
				     " applied_at timestamptz NOT NULL"
				     " DEFAULT now())")) != LEDGER_PG_OK ||
	    (rc = ledger_pg_read_version(pg)) != LEDGER_PG_OK)
		goto fail;
	if (pg->version > LEDGER_SCHEMA_VERSION) {
		snprintf(pg->error, sizeof pg->error,
			 "the database's schema is version %d, newer than "
			 "this ledger's %d: refusing to write to it",
			 pg->version, LEDGER_SCHEMA_VERSION);
		rc = LEDGER_PG_NEWER_SCHEMA;
		goto fail;
	}
	while (pg->version < LEDGER_SCHEMA_VERSION) {
		char v[16];
		const char *params[1] = {v};
		PGresult *res;

		if ((rc = ledger_pg_exec(pg, ledger_migrations[pg->version])) !=
		    LEDGER_PG_OK)
			goto fail;
		snprintf(v, sizeof v, "%d", pg->version + 1);
		res = PQexecParams(pg->conn,
				   "INSERT INTO schema_version (version)"
				   " VALUES ($1::integer)",
				   1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			rc = ledger_pg_failed(pg, "schema_version", res);
			PQclear(res);
			goto fail;
		}
		PQclear(res);
		pg->version++;
	}
	if ((rc = ledger_pg_exec(pg, "COMMIT")) == LEDGER_PG_OK)
		return LEDGER_PG_OK;
fail:
	ledger_pg_rollback(pg);
	return rc;
}

/* Prepares the batch's statements on the connection. */
static enum ledger_pg_result ledger_pg_prepare(struct ledger_pg *pg)
{
	for (size_t i = 0;
	     i < sizeof ledger_statements / sizeof ledger_statements[0]; i++) {
		PGresult *res = PQprepare(pg->conn, ledger_statements[i].name,
					  ledger_statements[i].sql,
					  ledger_statements[i].nparams, NULL);

		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			enum ledger_pg_result rc =
			    ledger_pg_failed(pg, "prepare", res);

			PQclear(res);
			return rc == LEDGER_PG_REJECTED ? LEDGER_PG_UNAVAILABLE
							: rc;
		}
		PQclear(res);
	}
	pg->prepared = 1;
	return LEDGER_PG_OK;
}

enum ledger_pg_result ledger_pg_connect(struct ledger_pg *pg, int migrate)
{
	const char *keys[5], *values[5];
	enum ledger_pg_result rc;
	int n = 0;

	if (pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK &&
	    (pg->prepared || !migrate))
		return LEDGER_PG_OK;
	ledger_pg_disconnect(pg);
	/* Later entries win: the conninfo's own settings override these. */
	keys[n] = "connect_timeout";
	values[n++] = LEDGER_PG_CONNECT_TIMEOUT;
	keys[n] = "application_name";
	values[n++] = "heartbeat-ledger";
	if (pg->conninfo[0] != '\0') {
		keys[n] = "dbname";
		values[n++] = pg->conninfo;
	}
	keys[n] = NULL;
	values[n] = NULL;
	pg->conn = PQconnectdbParams(keys, values, 1);
	if (pg->conn == NULL) {
		ledger_pg_set_error(pg, "postgres", "out of memory");
		return LEDGER_PG_UNAVAILABLE;
	}
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		ledger_pg_set_error(pg, "postgres connect",
				    PQerrorMessage(pg->conn));
		ledger_pg_disconnect(pg);
		return LEDGER_PG_UNAVAILABLE;
	}
	/* Times go in and come out as UTC whatever the server's default. */
	if ((rc = ledger_pg_exec(pg, "SET TIME ZONE 'UTC'")) != LEDGER_PG_OK)
		goto fail;
	if (!migrate) {
		if ((rc = ledger_pg_read_version(pg)) != LEDGER_PG_OK)
			goto fail;
		if (pg->version == 0) {
			snprintf(pg->error, sizeof pg->error,
				 "no ledger schema in this database (run "
				 "heartbeat-ledger once to create it)");
			return LEDGER_PG_NO_SCHEMA;
		}
		if (pg->version > LEDGER_SCHEMA_VERSION) {
			snprintf(pg->error, sizeof pg->error,
				 "the database's schema is version %d, newer "
				 "than this ledger's %d",
				 pg->version, LEDGER_SCHEMA_VERSION);
			return LEDGER_PG_NEWER_SCHEMA;
		}
		return LEDGER_PG_OK;
	}
	if ((rc = ledger_pg_migrate(pg)) != LEDGER_PG_OK ||
	    (rc = ledger_pg_prepare(pg)) != LEDGER_PG_OK)
		goto fail;
	return LEDGER_PG_OK;
fail:
	if (rc == LEDGER_PG_REJECTED)
		rc = LEDGER_PG_UNAVAILABLE;
	if (rc != LEDGER_PG_NEWER_SCHEMA)
		ledger_pg_disconnect(pg);
	return rc;
}

/* ---- Writing a batch ------------------------------------------------------
 */

/* One array parameter, as PostgreSQL's array text: {"a","b",NULL}. */
struct ledger_array {
	char *buf; /* owned */
	size_t len, cap;
	int failed; /* out of memory */
};

static void ledger_array_put(struct ledger_array *a, const char *s, size_t n)
{
	if (a->failed)
		return;
	if (a->len + n + 2 > a->cap) {
		size_t cap = (a->len + n + 2) * 2;
		char *b = realloc(a->buf, cap);

		if (b == NULL) {
			a->failed = 1;
			return;
		}
		a->buf = b;
		a->cap = cap;
	}
	memcpy(a->buf + a->len, s, n);
	a->len += n;
	a->buf[a->len] = '\0';
}

/* Appends ',' unless the array is empty, or '{' when it is. */
static void ledger_array_next(struct ledger_array *a)
{
	ledger_array_put(a, a->len == 0 ? "{" : ",", 1);
}

/* Appends a quoted element: '"' and '\' escaped with '\'. */
static void ledger_array_text(struct ledger_array *a, const char *s, size_t n)
{
	size_t start = 0;

	ledger_array_next(a);
	ledger_array_put(a, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		ledger_array_put(a, s + start, i - start);
		ledger_array_put(a, "\\", 1);
		start = i;
	}
	ledger_array_put(a, s + start, n - start);
	ledger_array_put(a, "\"", 1);
}

static void ledger_array_str(struct ledger_array *a, struct ledger_text t)
{
	ledger_array_text(a, t.p, t.len);
}

static void ledger_array_int(struct ledger_array *a, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof num, "%lld", (long long)v);

	ledger_array_next(a);
	ledger_array_put(a, num, (size_t)n);
}

static void ledger_array_null(struct ledger_array *a)
{
	ledger_array_next(a);
	ledger_array_put(a, "NULL", 4);
}

/* The columns of one batch's two INSERTs. */
#define LEDGER_SETTLEMENT_COLS 13
#define LEDGER_MOVEMENT_COLS 9

struct ledger_columns {
	struct ledger_array s[LEDGER_SETTLEMENT_COLS];
	struct ledger_array m[LEDGER_MOVEMENT_COLS];
	size_t settlements, movements, dead;
};

static void ledger_columns_free(struct ledger_columns *c)
{
	for (int i = 0; i < LEDGER_SETTLEMENT_COLS; i++)
		free(c->s[i].buf);
	for (int i = 0; i < LEDGER_MOVEMENT_COLS; i++)
		free(c->m[i].buf);
}

/* Adds one item's row to the columns of its table. */
static void ledger_columns_add(struct ledger_columns *c,
			       const struct ledger_item *it)
{
	const struct ledger_entry *e = &it->entry;
	struct ledger_array *a;

	if (e->kind == LEDGER_SETTLEMENT) {
		a = c->s;
		ledger_array_str(&a[0], e->game_session_id);
		ledger_array_str(&a[1], e->venue_id);
		ledger_array_str(&a[2], e->game_id);
		ledger_array_str(&a[3], e->pc_id);
		ledger_array_str(&a[4], e->provider_user_id);
		ledger_array_str(&a[5], e->reason);
		ledger_array_str(&a[6], e->started_at);
		ledger_array_str(&a[7], e->ended_at);
		ledger_array_int(&a[8], e->play_duration_sec);
		ledger_array_int(&a[9], e->charged_millicoins);
		if (e->rate_millicoins_per_hour >= 0)
			ledger_array_int(&a[10], e->rate_millicoins_per_hour);
		else
			ledger_array_null(&a[10]);
		ledger_array_text(&a[11], e->stream_id, strlen(e->stream_id));
		ledger_array_int(&a[12], it->shard);
		c->settlements++;
		return;
	}
	a = c->m;
	ledger_array_text(&a[0], e->stream_id, strlen(e->stream_id));
	ledger_array_str(&a[1], e->venue_id);
	if (e->kind == LEDGER_TOPUP)
		ledger_array_text(&a[2], "topup", 5);
	else
		ledger_array_text(&a[2], "adjustment", 10);
	ledger_array_int(&a[3], e->amount_millicoins);
	ledger_array_int(&a[4], e->balance_millicoins);
	ledger_array_str(&a[5], e->at);
	if (e->kind == LEDGER_ADJUSTMENT) {
		ledger_array_str(&a[6], e->actor);
		ledger_array_str(&a[7], e->note);
	} else {
		ledger_array_null(&a[6]);
		ledger_array_null(&a[7]);
	}
	ledger_array_int(&a[8], it->shard);
	c->movements++;
}

/* Sends one of the two INSERTs with its n columns. Returns 1 when sent. */
static int ledger_pg_send_columns(struct ledger_pg *pg, int stmt,
				  struct ledger_array *cols, int n)
{
	const char *v[LEDGER_SETTLEMENT_COLS];

	for (int i = 0; i < n; i++) {
		ledger_array_put(&cols[i], "}", 1);
		if (cols[i].failed)
			return 0;
		v[i] = cols[i].buf;
	}
	return PQsendQueryPrepared(pg->conn, ledger_statements[stmt].name, n, v,
				   NULL, NULL, 0);
}

/* Sends the INSERT of one dead letter. Returns 1 when sent. */
static int ledger_pg_send_dead(struct ledger_pg *pg,
			       const struct ledger_item *it)
{
	size_t raw_len = 0;
	char shard[16];
	char *json = ledger_fields_json(it->fields, it->nfields);
	char *raw = ledger_fields_raw(it->fields, it->nfields, &raw_len);
	const char *v[5] = {it->entry.stream_id, it->entry.dead_reason, json,
			    raw, shard};
	int len[5] = {0, 0, 0, (int)raw_len, 0};
	int format[5] = {0, 0, 0, 1, 0}; /* raw as binary bytea: exact bytes */
	int ok;

	snprintf(shard, sizeof shard, "%d", it->shard);
	ok = json != NULL && raw != NULL &&
	     PQsendQueryPrepared(pg->conn,
				 ledger_statements[LEDGER_STMT_DEAD].name, 5, v,
				 len, format, 0);

	free(json);
	free(raw);
	return ok;
}

/* Sends BEGIN, the batch's INSERTs and COMMIT. Returns 1 when all sent. */
static int ledger_pg_send_batch(struct ledger_pg *pg,
				const struct ledger_item *items, size_t n,
				struct ledger_columns *c)
{
	int ok =
	    PQsendQueryParams(pg->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);

	for (size_t i = 0; i < n; i++)
		if (!items[i].deleted && items[i].entry.kind != LEDGER_DEAD)
			ledger_columns_add(c, &items[i]);
	if (ok && c->settlements > 0)
		ok = ledger_pg_send_columns(pg, LEDGER_STMT_SETTLEMENTS, c->s,
					    LEDGER_SETTLEMENT_COLS);
	if (ok && c->movements > 0)
		ok = ledger_pg_send_columns(pg, LEDGER_STMT_MOVEMENTS, c->m,
					    LEDGER_MOVEMENT_COLS);
	for (size_t i = 0; ok && i < n; i++) {
		if (items[i].deleted || items[i].entry.kind != LEDGER_DEAD)
			continue;
		ok = ledger_pg_send_dead(pg, &items[i]);
		c->dead++;
	}
	return ok &&
	       PQsendQueryParams(pg->conn, "COMMIT", 0, NULL, NULL, NULL, NULL,
				 0) &&
	       PQpipelineSync(pg->conn);
}

/*
 * Reads the results of one query sent in pipeline mode (the results, then
 * NULL). Returns its last result (caller clears), or NULL when none came.
 */
static PGresult *ledger_pg_next_result(struct ledger_pg *pg)
{
	PGresult *last = NULL, *res;

	while ((res = PQgetResult(pg->conn)) != NULL) {
		PQclear(last);
		last = res;
	}
	return last;
}

/* Counts what one successful INSERT (the q-th query of the batch) did. */
static void ledger_pg_count(const PGresult *res, size_t q,
			    const struct ledger_columns *c,
			    struct ledger_pg_counts *add)
{
	size_t done, sent;
	int tuples = PQntuples(res);

	if (q == 1 && c->settlements > 0) {
		sent = c->settlements;
		done = (size_t)strtoull(PQcmdTuples((PGresult *)res), NULL, 10);
		add->written[LEDGER_SETTLEMENT] += done;
	} else if (c->movements > 0 && q == 1 + (c->settlements > 0)) {
		sent = c->movements;
		done = (size_t)tuples;
		for (int i = 0; i < tuples; i++)
			add->written[strcmp(PQgetvalue(res, i, 0), "topup") == 0
					 ? LEDGER_TOPUP
					 : LEDGER_ADJUSTMENT]++;
	} else {
		sent = 1;
		done = strcmp(PQcmdTuples((PGresult *)res), "1") == 0;
		add->dead += done;
	}
	add->duplicates += sent - done;
}

enum ledger_pg_result ledger_pg_write(struct ledger_pg *pg,
				      const struct ledger_item *items, size_t n,
				      struct ledger_pg_counts *counts)
{
	struct ledger_pg_counts add;
	struct ledger_columns c;
	enum ledger_pg_result rc = LEDGER_PG_OK;
	size_t queries;
	PGresult *res;

	memset(&add, 0, sizeof add);
	memset(&c, 0, sizeof c);
	if (pg->conn == NULL || !pg->prepared) {
		ledger_pg_set_error(pg, "postgres", "not connected");
		return LEDGER_PG_UNAVAILABLE;
	}
	if (PQenterPipelineMode(pg->conn) != 1) {
		ledger_pg_set_error(pg, "pipeline", PQerrorMessage(pg->conn));
		ledger_pg_disconnect(pg);
		return LEDGER_PG_UNAVAILABLE;
	}
	if (!ledger_pg_send_batch(pg, items, n, &c)) {
		ledger_pg_set_error(pg, "postgres send",
				    PQerrorMessage(pg->conn));
		ledger_columns_free(&c);
		ledger_pg_disconnect(pg);
		return LEDGER_PG_UNAVAILABLE;
	}
	ledger_columns_free(&c);
	/* BEGIN, the INSERTs, COMMIT: the first failure decides. */
	queries = 2 + (c.settlements > 0) + (c.movements > 0) + c.dead;
	for (size_t q = 0; q < queries; q++) {
		ExecStatusType st;

		res = ledger_pg_next_result(pg);
		if (res == NULL) {
			ledger_pg_set_error(pg, "postgres",
					    PQerrorMessage(pg->conn));
			ledger_pg_disconnect(pg);
			return LEDGER_PG_UNAVAILABLE;
		}
		st = PQresultStatus(res);
		if (rc == LEDGER_PG_OK && st != PGRES_COMMAND_OK &&
		    st != PGRES_TUPLES_OK) {
			rc = ledger_pg_failed(pg, "postgres write", res);
			if (pg->conn == NULL) {
				PQclear(res);
				return rc;
			}
		} else if (rc == LEDGER_PG_OK && q > 0 && q + 1 < queries) {
			ledger_pg_count(res, q, &c, &add);
		}
		PQclear(res);
	}
	/* The Sync's result closes the pipeline. */
	res = PQgetResult(pg->conn);
	if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
		ledger_pg_set_error(pg, "postgres", "pipeline out of step");
		PQclear(res);
		ledger_pg_disconnect(pg);
		return LEDGER_PG_UNAVAILABLE;
	}
	PQclear(res);
	if (PQexitPipelineMode(pg->conn) != 1) {
		ledger_pg_set_error(pg, "pipeline", PQerrorMessage(pg->conn));
		ledger_pg_disconnect(pg);
		return LEDGER_PG_UNAVAILABLE;
	}
	if (rc != LEDGER_PG_OK) {
		ledger_pg_rollback(pg);
		return rc;
	}
	for (int k = 0; k < 3; k++)
		counts->written[k] += add.written[k];
	counts->duplicates += add.duplicates;
	counts->dead += add.dead;
	return LEDGER_PG_OK;
}

/* ---- The report ------------------------------------------------------- */

void ledger_report_free(struct ledger_report *r)
{
	for (size_t i = 0; i < r->count; i++)
		free(r->rows[i].game_id);
	free(r->rows);
	memset(r, 0, sizeof *r);
}

/* Reads column c of row i as an integer (0 when NULL). */
static int64_t ledger_pg_int(const PGresult *res, int i, int c)
{
	int64_t v = 0;

	if (!PQgetisnull(res, i, c))
		util_parse_int(PQgetvalue(res, i, c), INT64_MIN, INT64_MAX, &v);
	return v;
}

enum ledger_pg_result ledger_pg_report(struct ledger_pg *pg, const char *venue,
				       const char *from, const char *to,
				       struct ledger_report *out)
{
	static const char *const by_game =
	    "SELECT game_id, count(*), sum(play_duration_sec),"
	    " sum(charged_millicoins) FROM settlements"
	    " WHERE venue_id = $1"
	    " AND ended_at >= $2::date::timestamp AT TIME ZONE 'UTC'"
	    " AND ended_at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'"
	    " GROUP BY game_id ORDER BY game_id";
	static const char *const movements =
	    "SELECT count(*) FILTER (WHERE type = 'topup'),"
	    " sum(amount_millicoins) FILTER (WHERE type = 'topup'),"
	    " count(*) FILTER (WHERE type = 'adjustment'),"
	    " sum(amount_millicoins) FILTER (WHERE type = 'adjustment')"
	    " FROM wallet_movements WHERE venue_id = $1"
	    " AND at >= $2::date::timestamp AT TIME ZONE 'UTC'"
	    " AND at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'";
	const char *params[3] = {venue, from, to};
	enum ledger_pg_result rc = LEDGER_PG_OK;
	PGresult *res;

	memset(out, 0, sizeof *out);
	res = PQexecParams(pg->conn, by_game, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = ledger_pg_failed(pg, "report", res);
		PQclear(res);
		return rc;
	}
	out->count = (size_t)PQntuples(res);
	out->rows = calloc(out->count ? out->count : 1, sizeof *out->rows);
	for (int i = 0; out->rows != NULL && i < (int)out->count; i++) {
		struct ledger_report_row *r = &out->rows[i];

		r->game_id = strdup(PQgetvalue(res, i, 0));
		r->sessions = ledger_pg_int(res, i, 1);
		r->play_duration_sec = ledger_pg_int(res, i, 2);
		r->charged_millicoins = ledger_pg_int(res, i, 3);
		if (r->game_id == NULL) {
			out->count = (size_t)i;
			rc = LEDGER_PG_UNAVAILABLE;
			ledger_pg_set_error(pg, "report", "out of memory");
			break;
		}
	}
	if (out->rows == NULL) {
		out->count = 0;
		rc = LEDGER_PG_UNAVAILABLE;
		ledger_pg_set_error(pg, "report", "out of memory");
	}
	PQclear(res);
	if (rc != LEDGER_PG_OK)
		return rc;
	res = PQexecParams(pg->conn, movements, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		rc = ledger_pg_failed(pg, "report", res);
		PQclear(res);
		return rc;
	}
	out->topups = ledger_pg_int(res, 0, 0);
	out->topup_millicoins = ledger_pg_int(res, 0, 1);
	out->adjustments = ledger_pg_int(res, 0, 2);
	out->adjustment_millicoins = ledger_pg_int(res, 0, 3);
	PQclear(res);
	return LEDGER_PG_OK;
}

int ledger_pg_lib_version(void)
{
	return PQlibVersion();
}
