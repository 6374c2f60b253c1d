/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ledger_entry.h - the event log as the settlement ledger reads it: stream
 * entry ids, one entry's fields in and a typed entry (or the reason it is a
 * dead letter) out, and the rule that says how far the log may be trimmed.
 * No I/O, so every rule here is unit tested and fuzzed.
 */
#ifndef HB_LEDGER_ENTRY_H
#define HB_LEDGER_ENTRY_H

#include <stddef.h>
#include <stdint.h>

/* The longest text value kept (ids, actor, note); longer is a dead letter. */
#define LEDGER_TEXT_MAX 1024
/* The most fields one entry may have; more is a dead letter. */
#define LEDGER_FIELDS_MAX 64
/* Room for a stream entry id, "ms-seq", and its NUL. */
#define LEDGER_STREAM_ID_BUF 48
/* Room for the reason an entry is a dead letter. */
#define LEDGER_REASON_BUF 160

/* ---- Stream entry ids ------------------------------------------------- */

struct ledger_id {
	uint64_t ms;
	uint64_t seq;
};

/* Parses "ms-seq" (len bytes). Returns 0, or -1 when it is not one. */
int ledger_id_parse(const char *s, size_t len, struct ledger_id *out);

/* Writes id as "ms-seq" into buf (LEDGER_STREAM_ID_BUF bytes). */
void ledger_id_format(struct ledger_id id, char *buf, size_t size);

/* -1, 0 or 1 as a is below, equal to or above b. */
int ledger_id_cmp(struct ledger_id a, struct ledger_id b);

/* The smallest id above id (id itself when it is the largest). */
struct ledger_id ledger_id_next(struct ledger_id id);

/* ---- Entries ------------------------------------------------------------ */

/* One field of an entry; both borrowed. */
struct ledger_field {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

enum ledger_kind {
	LEDGER_SETTLEMENT, /* a session ending: no "type" field */
	LEDGER_TOPUP,	   /* type topup */
	LEDGER_ADJUSTMENT, /* type adjustment (heartbeatctl wallet set) */
	LEDGER_DEAD	   /* unreadable: goes to the dead letters */
};

/* A text value: borrowed from the fields parsed; valid UTF-8, no NUL. */
struct ledger_text {
	const char *p;
	size_t len;
};

/*
 * One entry. Which members are set depends on kind; text members point into
 * the fields given to ledger_entry_parse and live as long as they do.
 */
struct ledger_entry {
	enum ledger_kind kind;
	char stream_id[LEDGER_STREAM_ID_BUF];
	struct ledger_id id;
	/* Settlements. */
	struct ledger_text game_session_id, reason, game_id, pc_id,
	    provider_user_id, started_at, ended_at;
	int64_t play_duration_sec, charged_millicoins;
	int64_t rate_millicoins_per_hour; /* -1: absent (older entries) */
	/* Settlements and wallet movements. */
	struct ledger_text venue_id;
	/* Wallet movements; actor and note only for adjustments. */
	struct ledger_text at, actor, note;
	int64_t amount_millicoins, balance_millicoins;
	/* LEDGER_DEAD: why, for the dead-letter table. */
	char dead_reason[LEDGER_REASON_BUF];
};

/* The ending reasons the scripts write, NULL-terminated. */
extern const char *const ledger_reasons[];

/*
 * Reads the entry with stream id (id_len bytes) and its n fields (borrowed)
 * into out. Every entry gives a result: one that lacks a field the contract
 * requires, holds a malformed one (a number, a time, text that is not UTF-8
 * or holds NUL, an unknown reason or type, a duplicate field, an ending
 * before its start) is LEDGER_DEAD with the reason set. Fields the contract
 * does not name are ignored. What is not LEDGER_DEAD fits the ledger's
 * tables exactly (every CHECK there holds).
 */
void ledger_entry_parse(const char *id, size_t id_len,
			const struct ledger_field *fields, size_t n,
			struct ledger_entry *out);

/*
 * Parses an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SS[.fff]Z" (1 to 3
 * fractional digits; years 1970 to 9999) into ms since the epoch. Returns 0,
 * or -1 when it is not one or names no real instant (February 30th).
 */
int ledger_parse_time(const char *s, size_t len, int64_t *ms);

/*
 * Writes the fields as one JSON object of strings, for the dead-letter
 * table's jsonb column: bytes that are not UTF-8, and NUL (which jsonb
 * refuses), become U+FFFD. Returns a NUL-terminated string the caller frees,
 * or NULL when out of memory.
 */
char *ledger_fields_json(const struct ledger_field *fields, size_t n);

/*
 * Writes the fields exactly, as netstrings ("4:type,5:topup,"), for the
 * dead-letter table's bytea column. Returns the bytes (caller frees; *len
 * set), or NULL when out of memory.
 */
char *ledger_fields_raw(const struct ledger_field *fields, size_t n,
			size_t *len);

/* ---- Trimming ------------------------------------------------------------ */

/* What Redis says of one consumer group (XINFO GROUPS, XPENDING). */
struct ledger_group {
	char name[256];
	struct ledger_id last_delivered; /* last-delivered-id */
	int64_t pending; /* entries delivered, not acknowledged */
	struct ledger_id oldest_pending; /* when pending > 0 */
};

enum ledger_trim {
	LEDGER_TRIM_BELOW, /* trim entries below *minid */
	LEDGER_TRIM_NONE   /* a configured group is missing: trim nothing */
};

/*
 * The trimming rule: for the configured groups (names, a comma-separated
 * list) among the n groups Redis has, the oldest entry some configured
 * group has not acknowledged: its oldest pending entry if it has one, else
 * the entry after the last it was given (so a group that never read keeps
 * everything past where it was created). Entries below *minid may go.
 * Returns LEDGER_TRIM_NONE when a configured group does not exist (it has
 * read nothing) or the list names none.
 */
enum ledger_trim ledger_trim_floor(const char *names,
				   const struct ledger_group *groups, size_t n,
				   struct ledger_id *minid);

#endif
