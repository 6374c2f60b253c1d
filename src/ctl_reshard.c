/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_reshard.c - heartbeatctl reshard --to N: moves the service's state
 * from the layout of HB_SHARDS shards to the layout of N (shard.h), offline:
 * with every shard paused (or, --force, every worker stopped).
 *
 * It first checks, changing nothing, and refuses when
 *   - a shard is not paused (unless --force);
 *   - the event log of a shard that goes away still holds entries the
 *     ledger's groups (HB_LEDGER_TRIM_GROUPS, else HB_LEDGER_GROUP) have
 *     not acknowledged: the ledger keys wallet movements by shard and entry
 *     id, so entries are never moved; it must catch up first;
 *   - under N shards, a record would sit in one shard and its calls look in
 *     another: a live game session, launcher session, unused one-time token
 *     or active device token whose id (token) does not carry its owner's
 *     home (made before ids carried one). Each is listed with how to end it.
 * Then it moves each key of each shard to where N shards place it, with
 * DUMP, PTTL and RESTORE ... REPLACE into the new shard and DEL from the old
 * one (never a command across two shards' keys, so it works on a Redis
 * Cluster): what belongs to a venue or a device user to its owner's shard;
 * what calls find by id (game sessions, tombstones, one-time tokens) to the
 * shard the id names, which is its owner's; the live sessions of the
 * per-shard buckets and deadline index field by field; the configuration
 * (games, API keys) into every shard; the replay guards into every shard;
 * the counters of a shard that goes away added to shard 0's. Rate-limit
 * counters are dropped. A key is written into its new shard before it
 * leaves its old one, so a run cut short can be run again.
 *
 * Every shard is left paused: the workers must be restarted with the new
 * HB_SHARDS before heartbeatctl resume (docs/operations.md#shards).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "ledger_entry.h"
#include "shard.h"
#include "util.h"

/* How many records that cannot be routed are listed. */
#define RS_LIST_MAX 50
/* The most consumer groups of one event log that are looked at. */
#define RS_GROUPS_MAX 64
/* The game sessions one session_get call reads. */
#define RS_GET_BATCH STORE_SCRIPT_ARGS_MAX
/* The elements one ZSCAN step asks for. */
#define RS_ZSCAN_COUNT "1000"
/* The anchor's value while paused (common.lua). */
#define RS_PAUSED "paused"

/* A key family's counts. */
struct rs_count {
	size_t moved, kept;
};

/* One run of reshard. */
struct rs {
	int from, to;	    /* shards now (HB_SHARDS), and wanted (--to) */
	int s;		    /* the shard being walked */
	const char *groups; /* the ledger's groups, comma-separated */
	size_t unroutable;  /* records that cannot be routed under to */
	struct rs_count fam[KEYS_COUNT];
	struct rs_count sessions;	     /* live sessions: fields of gsb: */
	struct rs_count deadlines;	     /* entries of deadlines */
	size_t venues_moved;		     /* members of venues */
	size_t sigs;			     /* replay guards copied */
	size_t rl_dropped;		     /* rate-limit counters */
	size_t stale_dropped;		     /* du: keys that name nothing */
	size_t unknown;			     /* keys of no family */
	char ids[RS_GET_BATCH][CTL_KEY_MAX]; /* a batch for session_get */
	size_t nids;
};

/* ---- Where things go ----------------------------------------------------- */

/* The shard of home under rs->to shards. */
static int rs_of_home(const struct rs *rs, unsigned home)
{
	return rs->to > 1 ? (int)(home % (unsigned)rs->to) : 0;
}

/* The shard of an owner (a venue id, a user id) under rs->to shards. */
static int rs_of_owner(const struct rs *rs, const char *owner)
{
	return rs_of_home(rs, shard_home(owner, strlen(owner)));
}

/*
 * The shard where calls will look for id under rs->to shards: the home it
 * carries after prefix, else shard 0 (as shard_of_id).
 */
static int rs_of_id(const struct rs *rs, const char *prefix, const char *id)
{
	size_t plen = strlen(prefix);
	unsigned home;

	if (strncmp(id, prefix, plen) != 0 ||
	    shard_id_home(id + plen, strlen(id + plen), &home) != 0)
		return 0;
	return rs_of_home(rs, home);
}

/* Whether name belongs to key family k ("game:" a prefix, "games" exact). */
static int rs_is(const char *name, enum keys_key k)
{
	const char *f = keys_defs[k].name;
	size_t len = strlen(f);

	return f[len - 1] == ':' ? strncmp(name, f, len) == 0
				 : strcmp(name, f) == 0;
}

/* The family of name, or KEYS_COUNT when it has none. */
static enum keys_key rs_family(const char *name)
{
	for (int k = 0; k < KEYS_COUNT; k++)
		if (rs_is(name, (enum keys_key)k))
			return (enum keys_key)k;
	return KEYS_COUNT;
}

/*
 * Reads field of the hash name in the current shard into buf ("" when the
 * hash or the field is missing). Returns 0 or an exit status.
 */
static int rs_hget(struct ctl *c, const char *name, const char *field,
		   char *buf, size_t size)
{
	const char *const fields[] = {field, NULL};
	struct ctl_row row;
	char key[CTL_KEY_MAX];
	int rc;

	ctl_key(c, key, sizeof key, "%s", name);
	if ((rc = ctl_hmget(c, key, fields, &row)) == 0)
		snprintf(buf, size, "%s", row.v[0]);
	return rc;
}

/* ---- Checking ------------------------------------------------------------ */

/* Says that a record cannot be routed, with how to end it. */
static void rs_unroutable(struct rs *rs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void rs_unroutable(struct rs *rs, const char *fmt, ...)
{
	va_list ap;

	if (rs->unroutable++ >= RS_LIST_MAX)
		return;
	fputs("  ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Checks a launcher session: its record keeps the home its token carries. */
static int rs_check_lt(struct ctl *c, struct rs *rs, const char *name)
{
	const char *f[] = {KEYS_FIELD(LT, VENUE), KEYS_FIELD(LT, HOME), "pc",
			   NULL};
	char key[CTL_KEY_MAX];
	struct ctl_row row;
	unsigned home;
	int rc;

	ctl_key(c, key, sizeof key, "%s", name);
	if ((rc = ctl_hmget(c, key, f, &row)) != 0 || row.v[0][0] == '\0')
		return rc;
	if (shard_id_home(row.v[1], strlen(row.v[1]), &home) == 0 &&
	    rs_of_home(rs, home) == rs_of_owner(rs, row.v[0]))
		return 0;
	rs_unroutable(rs,
		      "launcher session of venue %s, PC %s: heartbeatctl "
		      "launcher revoke %s %s (the launcher starts a new one)",
		      row.v[0], row.v[2], row.v[0], row.v[2]);
	return 0;
}

/* Checks an unused one-time token: its id carries its venue's home. */
static int rs_check_ott(struct ctl *c, struct rs *rs, const char *name)
{
	const char *id = name + strlen(KEYS_NAME(OTT));
	const char *f[] = {KEYS_FIELD(OTT, VENUE), KEYS_FIELD(OTT, USED), NULL};
	char key[CTL_KEY_MAX];
	struct ctl_row row;
	int rc;

	ctl_key(c, key, sizeof key, "%s", name);
	if ((rc = ctl_hmget(c, key, f, &row)) != 0 || row.v[0][0] == '\0' ||
	    strcmp(row.v[1], "1") == 0)
		return rc;
	if (rs_of_id(rs, "ott_", id) != rs_of_owner(rs, row.v[0]))
		rs_unroutable(rs,
			      "one-time token %s of venue %s: it expires "
			      "within HB_OTT_RECORD_SEC; run reshard again "
			      "then",
			      id, row.v[0]);
	return 0;
}

/*
 * Checks an active device token: its calls look in the shard of the home
 * its record keeps, or shard 0 for a token made before tokens carried one.
 */
static int rs_check_dtok(struct ctl *c, struct rs *rs, const char *name)
{
	const char *hash = name + strlen(KEYS_NAME(DTOK));
	const char *f[] = {KEYS_FIELD(DTOK, USER), KEYS_FIELD(DTOK, REVOKED),
			   KEYS_FIELD(DTOK, HOME), NULL};
	char key[CTL_KEY_MAX];
	struct ctl_row row;
	unsigned home;
	int rc, calls;

	ctl_key(c, key, sizeof key, "%s", name);
	if ((rc = ctl_hmget(c, key, f, &row)) != 0 || row.v[0][0] == '\0' ||
	    strcmp(row.v[1], "1") == 0)
		return rc;
	calls = shard_id_home(row.v[2], strlen(row.v[2]), &home) == 0
		    ? rs_of_home(rs, home)
		    : 0;
	if (calls != rs_of_owner(rs, row.v[0]))
		rs_unroutable(rs,
			      "device token %.12s of user %s: heartbeatctl "
			      "token revoke %.12s, then heartbeatctl token "
			      "create --user %s",
			      hash, row.v[0], hash, row.v[0]);
	return 0;
}

/* Checks the live game sessions of rs->ids with session_get. */
static int rs_check_sessions(struct ctl *c, struct rs *rs)
{
	const char *argv[RS_GET_BATCH + 1];
	struct store_reply *r;
	int rc;

	if (rs->nids == 0)
		return 0;
	for (size_t i = 0; i < rs->nids; i++)
		argv[i] = rs->ids[i];
	argv[rs->nids] = NULL;
	if ((rc = ctl_script(c, SCRIPT_SESSION_GET, "session", argv, &r)) != 0)
		return rc;
	for (size_t i = 0; i < rs->nids; i++) {
		const struct store_reply *pairs = store_reply_at(r, i + 1);
		char venue[CTL_ID_MAX + 1] = "", st[16] = "";

		for (size_t k = 0; k + 1 < store_reply_count(pairs); k += 2) {
			size_t kl, vl;
			const char *n =
			    store_reply_str(store_reply_at(pairs, k), &kl);
			const char *v =
			    store_reply_str(store_reply_at(pairs, k + 1), &vl);

			if (n == NULL || v == NULL)
				continue;
			if (kl == 5 && memcmp(n, "venue", 5) == 0)
				snprintf(venue, sizeof venue, "%.*s", (int)vl,
					 v);
			else if (kl == 2 && memcmp(n, "st", 2) == 0)
				snprintf(st, sizeof st, "%.*s", (int)vl, v);
		}
		if (venue[0] == '\0' || strcmp(st, "ended") == 0)
			continue;
		if (rs_of_id(rs, "gs_", rs->ids[i]) != rs_of_owner(rs, venue))
			rs_unroutable(rs,
				      "game session %s of venue %s: "
				      "heartbeatctl session revoke %s (or let "
				      "it end)",
				      rs->ids[i], venue, rs->ids[i]);
	}
	store_reply_free(r);
	rs->nids = 0;
	return 0;
}

/*
 * Walks a sorted set of the current shard (ZSCAN), calling fn with each
 * member and its score, until fn fails.
 */
typedef int (*rs_member_fn)(struct ctl *c, struct rs *rs, const char *member,
			    const char *score);

static int rs_zscan(struct ctl *c, struct rs *rs, const char *name,
		    rs_member_fn fn)
{
	char key[CTL_KEY_MAX], cursor[32] = "0";
	int shard = c->shard, rc = 0;

	do {
		struct store_reply *r;
		const struct store_reply *els;
		const char *next;
		size_t len;

		ctl_use_shard(c, shard);
		ctl_key(c, key, sizeof key, "%s", name);
		rc = ctl_redis(c, &r, "ZSCAN", key, cursor, "COUNT",
			       RS_ZSCAN_COUNT, NULL);
		if (rc != 0)
			break;
		next = store_reply_str(store_reply_at(r, 0), &len);
		snprintf(cursor, sizeof cursor, "%.*s", next ? (int)len : 1,
			 next ? next : "0");
		els = store_reply_at(r, 1);
		for (size_t i = 0; rc == 0 && i + 1 < store_reply_count(els);
		     i += 2) {
			char member[CTL_KEY_MAX], score[64];
			size_t ml, sl;
			const char *m =
			    store_reply_str(store_reply_at(els, i), &ml);
			const char *s =
			    store_reply_str(store_reply_at(els, i + 1), &sl);

			if (m == NULL || s == NULL || ml >= sizeof member ||
			    sl >= sizeof score)
				continue;
			memcpy(member, m, ml);
			member[ml] = '\0';
			memcpy(score, s, sl);
			score[sl] = '\0';
			rc = fn(c, rs, member, score);
		}
		store_reply_free(r);
	} while (rc == 0 && strcmp(cursor, "0") != 0);
	ctl_use_shard(c, shard);
	return rc;
}

/* Adds a live session to the batch session_get checks. */
static int rs_check_deadline(struct ctl *c, struct rs *rs, const char *id,
			     const char *score)
{
	(void)score;
	snprintf(rs->ids[rs->nids++], sizeof rs->ids[0], "%s", id);
	return rs->nids == RS_GET_BATCH ? rs_check_sessions(c, rs) : 0;
}

/* Checks one key of the shard being walked (ctl_key_fn). */
static int rs_check_key(struct ctl *c, const char *name, void *ctx)
{
	struct rs *rs = ctx;

	switch (rs_family(name)) {
	case KEYS_LT:
		return rs_check_lt(c, rs, name);
	case KEYS_OTT:
		return rs_check_ott(c, rs, name);
	case KEYS_DTOK:
		return rs_check_dtok(c, rs, name);
	default:
		return 0;
	}
}

/*
 * Whether the event log of shard s may go: it is empty, or each of the
 * ledger's groups exists and has acknowledged every entry. *entries gets
 * its length.
 */
static int rs_events_done(struct ctl *c, struct rs *rs, int s,
			  long long *entries, int *done)
{
	struct ledger_group g[RS_GROUPS_MAX];
	struct ledger_id minid, last = {0, 0};
	struct store_reply *r;
	char key[CTL_KEY_MAX];
	size_t n = 0, len;
	const char *id;
	int rc;

	*done = 0;
	ctl_use_shard(c, s);
	ctl_key(c, key, sizeof key, "%s", KEYS_NAME(EVENTS));
	if ((rc = ctl_redis(c, &r, "XLEN", key, NULL)) != 0)
		return rc;
	*entries = store_reply_int(r);
	store_reply_free(r);
	if (*entries == 0) {
		*done = 1;
		return 0;
	}
	if ((rc = ctl_redis(c, &r, "XREVRANGE", key, "+", "-", "COUNT", "1",
			    NULL)) != 0)
		return rc;
	id = store_reply_str(store_reply_at(store_reply_at(r, 0), 0), &len);
	if (id == NULL || ledger_id_parse(id, len, &last) != 0)
		last.ms = last.seq = UINT64_MAX;
	store_reply_free(r);
	if ((rc = ctl_redis(c, &r, "XINFO", "GROUPS", key, NULL)) != 0)
		return rc;
	for (size_t i = 0; i < store_reply_count(r) && n < RS_GROUPS_MAX; i++) {
		const struct store_reply *info = store_reply_at(r, i);
		struct ledger_group *gr = &g[n++];

		memset(gr, 0, sizeof *gr);
		for (size_t k = 0; k + 1 < store_reply_count(info); k += 2) {
			const char *f =
			    store_reply_str(store_reply_at(info, k), &len);
			const struct store_reply *v =
			    store_reply_at(info, k + 1);
			size_t vl;
			const char *vs = store_reply_str(v, &vl);

			if (f == NULL)
				continue;
			if (len == 4 && memcmp(f, "name", 4) == 0 && vs)
				snprintf(gr->name, sizeof gr->name, "%.*s",
					 (int)vl, vs);
			else if (len == 7 && memcmp(f, "pending", 7) == 0)
				gr->pending = store_reply_int(v);
			else if (len == 17 &&
				 memcmp(f, "last-delivered-id", 17) == 0 &&
				 (vs == NULL ||
				  ledger_id_parse(vs, vl,
						  &gr->last_delivered) != 0))
				gr->last_delivered.ms = 0;
		}
		/* Pending entries: below the last, so never done. */
	}
	store_reply_free(r);
	*done =
	    ledger_trim_floor(rs->groups, g, n, &minid) == LEDGER_TRIM_BELOW &&
	    ledger_id_cmp(minid, last) > 0;
	return 0;
}

/*
 * Checks every shard, changing nothing. Returns 0 when the move may go on,
 * else an exit status after saying why.
 */
static int rs_check(struct ctl *c, struct rs *rs, int force)
{
	char key[CTL_KEY_MAX], busy[256] = "";
	size_t nbusy = 0;
	int rc = 0;

	for (int s = 0; rc == 0 && s < rs->from; s++) {
		struct store_reply *r;
		const char *v;
		size_t len;

		ctl_use_shard(c, s);
		ctl_key(c, key, sizeof key, "%s", KEYS_NAME(ANCHOR));
		if ((rc = ctl_redis(c, &r, "GET", key, NULL)) != 0)
			break;
		v = store_reply_str(r, &len);
		if (v == NULL || len != strlen(RS_PAUSED) ||
		    memcmp(v, RS_PAUSED, len) != 0) {
			size_t at = strlen(busy);

			if (at + 16 < sizeof busy)
				snprintf(busy + at, sizeof busy - at, "%s%d",
					 nbusy ? ", " : "", s);
			nbusy++;
		}
		store_reply_free(r);
	}
	if (rc != 0)
		return rc;
	if (nbusy > 0 && !force)
		return ctl_fail(CTL_EXIT_REFUSED,
				"reshard refused: shard%s %s %s not paused: "
				"run heartbeatctl pause first (or, with every "
				"worker stopped, reshard --force)",
				nbusy == 1 ? "" : "s", busy,
				nbusy == 1 ? "is" : "are");
	for (int s = rs->to; rc == 0 && s < rs->from; s++) {
		long long entries = 0;
		int done = 0;

		rc = rs_events_done(c, rs, s, &entries, &done);
		if (rc == 0 && !done)
			rc = ctl_fail(
			    CTL_EXIT_REFUSED,
			    "reshard refused: the event log of shard %d, which "
			    "goes away, holds %lld entries not all "
			    "acknowledged by consumer group %s: with the "
			    "service paused, let heartbeat-ledger catch up, "
			    "then run reshard again",
			    s, entries, rs->groups);
	}
	if (rc != 0 || rs->to == 1)
		return rc;
	for (int s = 0; rc == 0 && s < rs->from; s++) {
		ctl_use_shard(c, s);
		rs->s = s;
		rc = ctl_scan_each(c, "", rs_check_key, rs);
		if (rc == 0)
			rc = rs_zscan(c, rs, KEYS_NAME(DEADLINES),
				      rs_check_deadline);
		if (rc == 0)
			rc = rs_check_sessions(c, rs);
	}
	if (rc == 0 && rs->unroutable > 0) {
		if (rs->unroutable > RS_LIST_MAX)
			fprintf(stderr, "  and %zu more\n",
				rs->unroutable - RS_LIST_MAX);
		rc = ctl_fail(CTL_EXIT_REFUSED,
			      "reshard refused: the %zu records above were "
			      "made before ids carried their owner's home, and "
			      "under %d shards their calls would look in "
			      "another shard than their owner's: end them as "
			      "said, then run reshard again",
			      rs->unroutable, rs->to);
	}
	return rc;
}

/* ---- Moving -------------------------------------------------------------- */

/* Moves key name of the walked shard to shard t (if elsewhere), counted. */
static int rs_move(struct ctl *c, struct rs *rs, const char *name, int t)
{
	enum keys_key k = rs_family(name);
	int rc;

	if (t == rs->s) {
		rs->fam[k].kept++;
		return 0;
	}
	rc = ctl_copy_key(c, rs->s, t, name, 1);
	if (rc == 0)
		rs->fam[k].moved++;
	return rc == CTL_EXIT_REFUSED ? 0 : rc; /* gone meanwhile */
}

/* Moves the members of venues, each to its venue's shard. */
static int rs_move_venues(struct ctl *c, struct rs *rs, const char *name)
{
	struct ctl_names names;
	int rc = ctl_members(c, name, &names);

	for (size_t i = 0; rc == 0 && i < names.count; i++) {
		char key[CTL_KEY_MAX];
		int t = rs_of_owner(rs, names.v[i]);

		if (t == rs->s)
			continue;
		ctl_use_shard(c, t);
		ctl_key(c, key, sizeof key, "%s", name);
		rc = ctl_redis(c, NULL, "SADD", key, names.v[i], NULL);
		ctl_use_shard(c, rs->s);
		ctl_key(c, key, sizeof key, "%s", name);
		if (rc == 0)
			rc = ctl_redis(c, NULL, "SREM", key, names.v[i], NULL);
		if (rc == 0)
			rs->venues_moved++;
	}
	ctl_names_free(&names);
	return rc;
}

/* Moves the live sessions of a bucket, each to the shard its id names. */
static int rs_move_bucket(struct ctl *c, struct rs *rs, const char *name)
{
	char key[CTL_KEY_MAX];
	struct store_reply *r;
	int rc;

	ctl_key(c, key, sizeof key, "%s", name);
	if ((rc = ctl_redis(c, &r, "HGETALL", key, NULL)) != 0)
		return rc;
	for (size_t i = 0; rc == 0 && i + 1 < store_reply_count(r); i += 2) {
		size_t il, vl;
		const char *id = store_reply_str(store_reply_at(r, i), &il);
		const char *rec =
		    store_reply_str(store_reply_at(r, i + 1), &vl);
		char gs[CTL_KEY_MAX];
		int t;

		if (id == NULL || rec == NULL || il >= sizeof gs)
			continue;
		memcpy(gs, id, il);
		gs[il] = '\0';
		t = rs_of_id(rs, "gs_", gs);
		if (t == rs->s) {
			rs->sessions.kept++;
			continue;
		}
		ctl_use_shard(c, t);
		ctl_key(c, key, sizeof key, "%s", name);
		{
			const char *argv[] = {"HSET", key, gs, rec};
			const size_t lens[] = {4, strlen(key), il, vl};

			rc = ctl_redis_bin(c, NULL, 4, argv, lens);
		}
		ctl_use_shard(c, rs->s);
		ctl_key(c, key, sizeof key, "%s", name);
		if (rc == 0)
			rc = ctl_redis(c, NULL, "HDEL", key, gs, NULL);
		if (rc == 0)
			rs->sessions.moved++;
	}
	store_reply_free(r);
	return rc;
}

/* Moves one entry of deadlines to the shard its id names. */
static int rs_move_deadline(struct ctl *c, struct rs *rs, const char *id,
			    const char *score)
{
	char key[CTL_KEY_MAX];
	int t = rs_of_id(rs, "gs_", id), rc;

	if (t == rs->s) {
		rs->deadlines.kept++;
		return 0;
	}
	ctl_use_shard(c, t);
	ctl_key(c, key, sizeof key, "%s", KEYS_NAME(DEADLINES));
	rc = ctl_redis(c, NULL, "ZADD", key, score, id, NULL);
	ctl_use_shard(c, rs->s);
	ctl_key(c, key, sizeof key, "%s", KEYS_NAME(DEADLINES));
	if (rc == 0)
		rc = ctl_redis(c, NULL, "ZREM", key, id, NULL);
	if (rc == 0)
		rs->deadlines.moved++;
	return rc;
}

/*
 * Copies a replay guard into every shard (its venue is unknown), and drops
 * it from a shard that goes away.
 */
static int rs_copy_sig(struct ctl *c, struct rs *rs, const char *name)
{
	char key[CTL_KEY_MAX];
	int rc = 0;

	for (int t = 0; rc == 0 && t < rs->to; t++) {
		int found = 0;

		if (t == rs->s)
			continue;
		ctl_use_shard(c, t);
		ctl_key(c, key, sizeof key, "%s", name);
		rc = ctl_exists(c, key, &found);
		ctl_use_shard(c, rs->s);
		if (rc == 0 && !found &&
		    (rc = ctl_copy_key(c, rs->s, t, name, 0)) == 0)
			rs->sigs++;
	}
	if (rc == CTL_EXIT_REFUSED)
		return 0; /* expired meanwhile */
	if (rc == 0 && rs->s >= rs->to) {
		ctl_key(c, key, sizeof key, "%s", name);
		rc = ctl_redis(c, NULL, "DEL", key, NULL);
	}
	return rc;
}

/*
 * The user of a device (fam KEYS_DD) or device session (KEYS_DS) id: in
 * the walked shard, else in a shard of the new layout it moved to already.
 * "" when there is none.
 */
static int rs_user_of(struct ctl *c, struct rs *rs, enum keys_key fam,
		      const char *id, char *user, size_t size)
{
	const char *field =
	    fam == KEYS_DD ? KEYS_FIELD(DD, USER) : KEYS_FIELD(DS, USER);
	char name[CTL_KEY_MAX];
	int rc = 0;

	snprintf(name, sizeof name, "%s%s", keys_defs[fam].name, id);
	user[0] = '\0';
	for (int t = -1; rc == 0 && user[0] == '\0' && t < rs->to; t++) {
		if (t == rs->s)
			continue;
		ctl_use_shard(c, t < 0 ? rs->s : t);
		rc = rs_hget(c, name, field, user, size);
	}
	ctl_use_shard(c, rs->s);
	return rc;
}

/*
 * The shard of a device user's key du:<sha1 of the user>:...: the user is
 * named only by a hash, so it is found through the records the key names
 * (a set of devices, a sorted set of sessions, or a fingerprint's device).
 * *t is -1 when none of them is left (the key names nothing live).
 */
static int rs_du_shard(struct ctl *c, struct rs *rs, const char *name, int *t)
{
	char key[CTL_KEY_MAX], user[CTL_FIELD_MAX];
	struct store_reply *r;
	const char *type;
	enum keys_key fam = KEYS_DD;
	struct ctl_names ids = {NULL, 0};
	size_t len;
	int rc;

	*t = -1;
	ctl_key(c, key, sizeof key, "%s", name);
	if ((rc = ctl_redis(c, &r, "TYPE", key, NULL)) != 0)
		return rc;
	type = store_reply_str(r, &len);
	if (type != NULL && len == 3 && memcmp(type, "set", 3) == 0) {
		const char *argv[] = {"SMEMBERS", key, NULL};

		rc = ctl_names_of(c, argv, 0, &ids);
	} else if (type != NULL && len == 4 && memcmp(type, "zset", 4) == 0) {
		const char *argv[] = {"ZRANGE", key, "0", "-1", NULL};

		fam = KEYS_DS;
		rc = ctl_names_of(c, argv, 0, &ids);
	} else if (type != NULL && len == 6 && memcmp(type, "string", 6) == 0) {
		/* A fingerprint's device: MGET answers it as a list of one. */
		const char *argv[] = {"MGET", key, NULL};

		rc = ctl_names_of(c, argv, 0, &ids);
	}
	store_reply_free(r);
	for (size_t i = 0; rc == 0 && *t < 0 && i < ids.count; i++) {
		rc = rs_user_of(c, rs, fam, ids.v[i], user, sizeof user);
		if (rc == 0 && user[0] != '\0')
			*t = rs_of_owner(rs, user);
	}
	ctl_names_free(&ids);
	return rc;
}

/* Moves one key of the shard being walked where it belongs (ctl_key_fn). */
static int rs_move_key(struct ctl *c, const char *name, void *ctx)
{
	struct rs *rs = ctx;
	enum keys_key k = rs_family(name);
	char owner[CTL_FIELD_MAX], key[CTL_KEY_MAX];
	const char *rest =
	    k < KEYS_COUNT ? name + strlen(keys_defs[k].name) : name;
	int rc, t;

	if (ctl_config_key(name))
		return 0; /* written into every shard at the end */
	switch (k) {
	case KEYS_ANCHOR:
	case KEYS_CONFIG_VERSION:
	case KEYS_EVENTS:
	case KEYS_STATS:
		return 0; /* per shard: dealt with at the end */
	case KEYS_VENUES:
		return rs_move_venues(c, rs, name);
	case KEYS_GSB:
		return rs_move_bucket(c, rs, name);
	case KEYS_DEADLINES:
		return rs_zscan(c, rs, name, rs_move_deadline);
	case KEYS_SIG:
		return rs_copy_sig(c, rs, name);
	case KEYS_RL:
		ctl_key(c, key, sizeof key, "%s", name);
		rc = ctl_redis(c, NULL, "DEL", key, NULL);
		if (rc == 0)
			rs->rl_dropped++;
		return rc;
	case KEYS_VENUE:
	case KEYS_DTOKENS:
		return rs_move(c, rs, name, rs_of_owner(rs, rest));
	case KEYS_PC:
		snprintf(owner, sizeof owner, "%.*s", (int)strcspn(rest, ":"),
			 rest);
		return rs_move(c, rs, name, rs_of_owner(rs, owner));
	case KEYS_OTT:
		return rs_move(c, rs, name, rs_of_id(rs, "ott_", rest));
	case KEYS_GS:
		return rs_move(c, rs, name, rs_of_id(rs, "gs_", rest));
	case KEYS_LT:
	case KEYS_DTOK:
	case KEYS_DD:
	case KEYS_DS:
		rc = rs_hget(c, name,
			     k == KEYS_LT     ? KEYS_FIELD(LT, VENUE)
			     : k == KEYS_DTOK ? KEYS_FIELD(DTOK, USER)
			     : k == KEYS_DD   ? KEYS_FIELD(DD, USER)
					      : KEYS_FIELD(DS, USER),
			     owner, sizeof owner);
		if (rc != 0 || owner[0] == '\0')
			return rc; /* gone meanwhile */
		return rs_move(c, rs, name, rs_of_owner(rs, owner));
	case KEYS_DU:
		if ((rc = rs_du_shard(c, rs, name, &t)) != 0)
			return rc;
		if (t >= 0)
			return rs_move(c, rs, name, t);
		ctl_key(c, key, sizeof key, "%s", name);
		rc = ctl_redis(c, NULL, "DEL", key, NULL);
		if (rc == 0)
			rs->stale_dropped++;
		return rc;
	default:
		rs->unknown++;
		return 0;
	}
}

/* Adds the counters of shard s to shard 0's, then deletes them. */
static int rs_merge_stats(struct ctl *c, int s)
{
	char key[CTL_KEY_MAX], to[CTL_KEY_MAX];
	struct store_reply *r;
	int rc;

	ctl_use_shard(c, s);
	ctl_key(c, key, sizeof key, "%s", KEYS_NAME(STATS));
	if ((rc = ctl_redis(c, &r, "HGETALL", key, NULL)) != 0)
		return rc;
	ctl_use_shard(c, 0);
	ctl_key(c, to, sizeof to, "%s", KEYS_NAME(STATS));
	for (size_t i = 0; rc == 0 && i + 1 < store_reply_count(r); i += 2) {
		char field[CTL_KEY_MAX], value[32];
		size_t fl, vl;
		const char *f = store_reply_str(store_reply_at(r, i), &fl);
		const char *v = store_reply_str(store_reply_at(r, i + 1), &vl);
		int64_t n;

		if (f == NULL || v == NULL || fl >= sizeof field ||
		    util_parse_int64(v, vl, INT64_MIN, INT64_MAX, &n) != 0)
			continue;
		snprintf(field, sizeof field, "%.*s", (int)fl, f);
		ctl_itoa(n, value, sizeof value);
		rc = ctl_redis(c, NULL, "HINCRBY", to, field, value, NULL);
	}
	store_reply_free(r);
	ctl_use_shard(c, s);
	if (rc == 0)
		rc = ctl_redis(c, NULL, "DEL", key, NULL);
	return rc;
}

/* Sets the anchor of every shard of both layouts to paused. */
static int rs_pause_all(struct ctl *c, int shards)
{
	char key[CTL_KEY_MAX];
	int rc = 0;

	for (int s = 0; rc == 0 && s < shards; s++) {
		ctl_use_shard(c, s);
		ctl_key(c, key, sizeof key, "%s", KEYS_NAME(ANCHOR));
		rc = ctl_redis(c, NULL, "SET", key, RS_PAUSED, NULL);
	}
	return rc;
}

/* Prints the counts of one family, when it had any key. */
static void rs_say_count(const char *what, const struct rs_count *n)
{
	if (n->moved + n->kept > 0)
		printf("%s\t%zu moved\t%zu in place\n", what, n->moved,
		       n->kept);
}

/* Moves everything (rs_check has passed), then reports. */
static int rs_run(struct ctl *c, struct rs *rs)
{
	int most = rs->from > rs->to ? rs->from : rs->to, rc;
	size_t written = 0, deleted = 0, dropped = 0;
	char span[64];

	if ((rc = rs_pause_all(c, most)) != 0)
		return rc;
	for (int s = 0; rc == 0 && s < rs->from; s++) {
		ctl_use_shard(c, s);
		rs->s = s;
		rc = ctl_scan_each(c, "", rs_move_key, rs);
	}
	for (int t = 1; rc == 0 && t < rs->to; t++)
		rc = ctl_config_copy(c, t, &written, &deleted);
	for (int s = rs->to; rc == 0 && s < rs->from; s++) {
		char key[CTL_KEY_MAX];
		long long entries = 0;
		int done = 0;

		if ((rc = rs_merge_stats(c, s)) != 0 ||
		    (rc = ctl_config_drop(c, s, &dropped)) != 0 ||
		    (rc = rs_events_done(c, rs, s, &entries, &done)) != 0)
			break;
		if (!done) {
			rc = ctl_fail(CTL_EXIT_REFUSED,
				      "the event log of shard %d took new "
				      "entries meanwhile: it is kept; let "
				      "heartbeat-ledger catch up and run "
				      "reshard again",
				      s);
			break;
		}
		ctl_use_shard(c, s);
		ctl_key(c, key, sizeof key, "%s", KEYS_NAME(EVENTS));
		rc = ctl_redis(c, NULL, "DEL", key, NULL);
	}
	if (rc != 0)
		return rc;
	for (int k = 0; k < KEYS_COUNT; k++)
		rs_say_count(keys_defs[k].name, &rs->fam[k]);
	rs_say_count("live game sessions (gsb:)", &rs->sessions);
	rs_say_count("deadline entries (deadlines)", &rs->deadlines);
	if (rs->venues_moved > 0)
		printf("venues index (venues)\t%zu moved\n", rs->venues_moved);
	if (rs->sigs > 0)
		printf("replay guards (sig:)\t%zu copies made: each is in "
		       "every shard\n",
		       rs->sigs);
	printf("rate-limit counters (rl:)\t%zu dropped: they count from "
	       "zero again\n",
	       rs->rl_dropped);
	if (rs->stale_dropped > 0)
		printf("device-user keys (du:) naming nothing live\t%zu "
		       "dropped\n",
		       rs->stale_dropped);
	if (rs->to > 1)
		printf("configuration (games, API keys)\tshard 0's in shards 1 "
		       "to %d: %zu keys written, %zu deleted\n",
		       rs->to - 1, written, deleted);
	if (rs->from > rs->to) {
		snprintf(span, sizeof span,
			 rs->from - rs->to == 1 ? "shard %d"
						: "shards %d to %d",
			 rs->to, rs->from - 1);
		printf("configuration (games, API keys) of %s\t%zu keys "
		       "deleted\n",
		       span, dropped);
		printf("counters (stats) of %s\tadded to shard 0's\n", span);
		printf("event logs (events) of %s\tdeleted: empty or "
		       "acknowledged\n",
		       span);
	}
	if (rs->unknown > 0)
		printf("keys of no known family\t%zu left in place\n",
		       rs->unknown);
	printf("resharded from %d shard%s to %d: every shard is paused; "
	       "restart the workers and heartbeat-ledger with HB_SHARDS=%d, "
	       "then run HB_SHARDS=%d heartbeatctl resume\n",
	       rs->from, rs->from == 1 ? "" : "s", rs->to, rs->to, rs->to);
	return 0;
}

int ctl_reshard(struct ctl *c, const char *const *pos, const char *const *opt)
{
	struct config *cfg;
	struct ctl big;
	struct rs *rs;
	int64_t to;
	int rc;

	(void)pos;
	if (opt[0] == NULL)
		return ctl_fail(CTL_EXIT_USAGE, "--to N is required");
	if ((rc = ctl_parse_count("--to", opt[0], 1, SHARD_MAX, 1, &to)) != 0)
		return rc;
	if (to == store_shards(c->store))
		return ctl_fail(CTL_EXIT_REFUSED,
				"HB_SHARDS is %lld already: run reshard with "
				"HB_SHARDS set to the shards the service has "
				"now and --to the shards it shall have",
				(long long)to);
	rs = calloc(1, sizeof *rs);
	cfg = malloc(sizeof *cfg);
	if (rs == NULL || cfg == NULL) {
		free(rs);
		free(cfg);
		return ctl_fail(CTL_EXIT_UNAVAILABLE, "out of memory");
	}
	rs->from = store_shards(c->store);
	rs->to = (int)to;
	rs->groups = c->cfg->ledger_trim_groups[0] ? c->cfg->ledger_trim_groups
						   : c->cfg->ledger_group;
	/* A store that reaches the shards of both layouts. */
	*cfg = *c->cfg;
	cfg->shards = rs->from > rs->to ? rs->from : rs->to;
	memset(&big, 0, sizeof big);
	big.cfg = cfg;
	big.store = store_new(cfg);
	if (big.store == NULL) {
		rc = ctl_fail(CTL_EXIT_UNAVAILABLE, "out of memory");
	} else {
		rc = rs_check(&big, rs, opt[1] != NULL);
		if (rc == 0)
			rc = rs_run(&big, rs);
	}
	store_free(big.store);
	free(cfg);
	free(rs);
	return rc;
}
