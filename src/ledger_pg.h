/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ledger_pg.h - the settlement ledger's PostgreSQL side: the connection, the
 * schema (created and migrated here), one batch of entries written in one
 * transaction, and the report's queries. The only module that includes
 * libpq-fe.h; libpq's errors become the results below, and its text goes
 * to the log only.
 */
#ifndef HB_LEDGER_PG_H
#define HB_LEDGER_PG_H

#include <stddef.h>
#include <stdint.h>

#include "ledger_entry.h"

/* The schema version this ledger writes; it refuses a newer database. */
#define LEDGER_SCHEMA_VERSION 2

enum ledger_pg_result {
	LEDGER_PG_OK,
	LEDGER_PG_UNAVAILABLE,	/* unreachable, dropped, or a transient error */
	LEDGER_PG_REJECTED,	/* a value refused (SQLSTATE class 22 or 23) */
	LEDGER_PG_NEWER_SCHEMA, /* the database is ahead of this ledger */
	LEDGER_PG_NO_SCHEMA	/* the report found no ledger tables */
};

/*
 * One entry of a batch. A stream entry id is unique within one shard's log
 * only: the rows of wallet movements and dead letters are keyed by the
 * shard and the id.
 */
struct ledger_item {
	struct ledger_entry entry;
	int shard; /* the shard whose log the entry is of (shard.h) */
	const struct ledger_field *fields; /* borrowed: the raw fields */
	size_t nfields;
	int deleted; /* the entry is gone from the log: acknowledge only */
};

/* What a batch did, added to by ledger_pg_write. */
struct ledger_pg_counts {
	uint64_t
	    written[3]; /* rows inserted, by LEDGER_SETTLEMENT..ADJUSTMENT */
	uint64_t duplicates; /* entries already in the tables (re-deliveries) */
	uint64_t dead;	     /* dead letters inserted */
};

struct ledger_pg;

/*
 * A connection by conninfo (a libpq connection string or URI; "" uses the
 * PG* environment variables), not opened yet. conninfo is copied. Returns
 * NULL when out of memory.
 */
struct ledger_pg *ledger_pg_new(const char *conninfo);

/* Closes and frees. Accepts NULL. */
void ledger_pg_free(struct ledger_pg *pg);

/*
 * Connects unless connected. With migrate, creates or migrates the schema
 * to LEDGER_SCHEMA_VERSION (under an advisory lock, so ledgers starting at
 * once take turns) and prepares the batch's statements; without, only
 * checks the schema (LEDGER_PG_NO_SCHEMA when there is none).
 */
enum ledger_pg_result ledger_pg_connect(struct ledger_pg *pg, int migrate);

/* The database's schema version as last read (0: none). */
int ledger_pg_schema_version(const struct ledger_pg *pg);

/*
 * Writes the n items (those not deleted) in one transaction: each with
 * INSERT ... ON CONFLICT DO NOTHING on its unique key, all sent at once in
 * pipeline mode. Returns LEDGER_PG_OK once COMMIT succeeded (counts added
 * to), or LEDGER_PG_REJECTED / LEDGER_PG_UNAVAILABLE with nothing written.
 */
enum ledger_pg_result ledger_pg_write(struct ledger_pg *pg,
				      const struct ledger_item *items, size_t n,
				      struct ledger_pg_counts *counts);

/* The last error, for the log. Never NULL. */
const char *ledger_pg_error(const struct ledger_pg *pg);

/* Drops the connection (the next call reconnects). */
void ledger_pg_disconnect(struct ledger_pg *pg);

/* ---- The report ------------------------------------------------------- */

struct ledger_report_row {
	char *game_id; /* owned */
	int64_t sessions, play_duration_sec, charged_millicoins;
};

struct ledger_report {
	struct ledger_report_row *rows; /* owned; by game_id */
	size_t count;
	int64_t topups, topup_millicoins;
	int64_t adjustments, adjustment_millicoins;
};

/*
 * Fills out with the sessions, play time and coins of venue's settlements
 * that ended from day from to day to (both "YYYY-MM-DD", inclusive, UTC),
 * by game, and the wallet movements of those days. Free with
 * ledger_report_free.
 */
enum ledger_pg_result ledger_pg_report(struct ledger_pg *pg, const char *venue,
				       const char *from, const char *to,
				       struct ledger_report *out);

/* Frees what ledger_pg_report filled in. */
void ledger_report_free(struct ledger_report *r);

/* The version of the libpq linked, as PQlibVersion gives it (150003). */
int ledger_pg_lib_version(void);

#endif
