/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_session.c - heartbeatctl session, sweep and events: the game sessions
 * (read with the session_get script: live ones are fields of bucket hashes,
 * indexed by deadline in the sorted set deadlines; ended ones are hashes
 * gs:<id>) and the settlement stream events their endings append to.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "util.h"

/* The longest drain of a revoke, in seconds. */
#define CTL_DRAIN_MAX_SEC 86400
/* The most events one call prints. */
#define CTL_EVENTS_MAX 1000000
/* The default number of events printed. */
#define CTL_EVENTS_DEFAULT 10
/* The largest sweep batch (HB_SWEEP_BATCH's own bound). */
#define CTL_SWEEP_MAX 100000

/* The most sessions one session_get call reads: what store_script passes. */
#define CTL_SESSION_BATCH STORE_SCRIPT_ARGS_MAX

/*
 * Copies the value of name in pairs (a flat list of names and values, as
 * session_get answers) into buf, "" when absent.
 */
static const char *ctl_pair(const struct store_reply *pairs, const char *name,
			    char *buf, size_t size)
{
	size_t want = strlen(name);

	buf[0] = '\0';
	for (size_t i = 0; i + 1 < store_reply_count(pairs); i += 2) {
		size_t klen, vlen;
		const char *k =
		    store_reply_str(store_reply_at(pairs, i), &klen);
		const char *v =
		    store_reply_str(store_reply_at(pairs, i + 1), &vlen);

		if (k != NULL && v != NULL && klen == want &&
		    memcmp(k, name, want) == 0) {
			snprintf(buf, size, "%.*s", (int)vlen, v);
			break;
		}
	}
	return buf;
}

/* Prints one session: id, game, venue, PC, user, state, play s, charged. */
static void ctl_session_print(const char *id, const struct store_reply *pairs)
{
	static const char *const text[] = {"game", "venue", "pc",
					   "user", "st",    NULL};
	char buf[CTL_FIELD_MAX], charged[CTL_COINS_BUF];
	int64_t play = 0;

	printf("%s", id);
	for (size_t i = 0; text[i] != NULL; i++)
		printf("\t%s", ctl_pair(pairs, text[i], buf, sizeof buf));
	util_parse_int(ctl_pair(pairs, "play", buf, sizeof buf), 0, INT64_MAX,
		       &play);
	ctl_coins_text(ctl_pair(pairs, "chg", buf, sizeof buf), charged,
		       sizeof charged);
	printf("\t%lld\t%s\n", (long long)(play / 1000), charged);
}

/*
 * Reads the sessions ids[0..n) with session_get; *out holds one element per
 * id after the leading OK: its names and values, or nil.
 */
static int ctl_session_get(struct ctl *c, char *const *ids, size_t n,
			   struct store_reply **out)
{
	const char *argv[CTL_SESSION_BATCH + 1];

	for (size_t i = 0; i < n; i++)
		argv[i] = ids[i];
	argv[n] = NULL;
	return ctl_script(c, SCRIPT_SESSION_GET, "session", argv, out);
}

int ctl_session_list(struct ctl *c, const char *const *pos,
		     const char *const *opt)
{
	char key[CTL_KEY_MAX];
	const char *argv[] = {"ZRANGE", key, "0", "-1", NULL};
	struct ctl_names ids;
	int rc;

	(void)pos;
	(void)opt;
	ctl_key(c, key, sizeof key, "%s", KEYS_NAME(DEADLINES));
	rc = ctl_names_of(c, argv, 0, &ids);
	for (size_t at = 0; rc == 0 && at < ids.count;
	     at += CTL_SESSION_BATCH) {
		size_t n = ids.count - at;
		struct store_reply *r;

		if (n > CTL_SESSION_BATCH)
			n = CTL_SESSION_BATCH;
		rc = ctl_session_get(c, ids.v + at, n, &r);
		if (rc != 0)
			break;
		for (size_t i = 0; i < n; i++) {
			const struct store_reply *pairs =
			    store_reply_at(r, i + 1);

			/* Settled since ZRANGE read the index: not listed. */
			if (store_reply_count(pairs) > 0)
				ctl_session_print(ids.v[at + i], pairs);
		}
		store_reply_free(r);
	}
	ctl_names_free(&ids);
	return rc;
}

int ctl_session_show(struct ctl *c, const char *const *pos,
		     const char *const *opt)
{
	static const char *const numeric[] = {"t0",   "t1",   "last", "seen",
					      "play", "bms",  "chg",  "rate",
					      "gend", "eend", NULL};
	struct store_reply *r;
	char *id = (char *)pos[0];
	int rc = ctl_check_id("GS_ID", pos[0], CTL_ID_ANY);

	(void)opt;
	ctl_use_id(c, "gs_", pos[0]);
	if (rc != 0 || (rc = ctl_session_get(c, &id, 1, &r)) != 0)
		return rc;
	if (store_reply_count(store_reply_at(r, 1)) == 0)
		rc = ctl_fail(CTL_EXIT_REFUSED, "no such game session: %s",
			      pos[0]);
	else
		ctl_print_json(pos[0], strlen(pos[0]), store_reply_at(r, 1),
			       numeric);
	store_reply_free(r);
	return rc;
}

int ctl_session_revoke(struct ctl *c, const char *const *pos,
		       const char *const *opt)
{
	char drain_ms[24], what[CTL_ID_MAX + 16];
	struct store_reply *r;
	const char *state;
	size_t len;
	int64_t drain;
	int rc;

	if ((rc = ctl_check_id("GS_ID", pos[0], CTL_ID_ANY)) != 0 ||
	    (rc = ctl_parse_count("--drain", opt[0], 0, CTL_DRAIN_MAX_SEC, 0,
				  &drain)) != 0)
		return rc;
	ctl_itoa(drain * 1000, drain_ms, sizeof drain_ms);
	ctl_use_id(c, "gs_", pos[0]);
	snprintf(what, sizeof what, "session %s", pos[0]);
	{
		const char *argv[] = {pos[0], drain_ms, NULL};
		rc = ctl_script(c, SCRIPT_SESSION_REVOKE, what, argv, &r);
	}
	if (rc != 0)
		return rc;
	state = store_reply_str(store_reply_at(r, 1), &len);
	printf("session %s %.*s", pos[0], (int)len, state ? state : "");
	if (len == 6 && memcmp(state, "ending", 6) == 0)
		printf(" (drains for %lld s)", (long long)drain);
	putchar('\n');
	store_reply_free(r);
	return 0;
}

int ctl_sweep(struct ctl *c, const char *const *pos, const char *const *opt)
{
	char batch[24];
	const char *argv[] = {batch, NULL};
	int64_t limit, looked, settled = 0;
	int rc = ctl_parse_count("--limit", opt[0], 1, CTL_SWEEP_MAX,
				 c->cfg->sweep_batch, &limit);

	(void)pos;
	if (rc != 0)
		return rc;
	ctl_itoa(limit, batch, sizeof batch);
	/*
	 * Each batch settles, drops or reschedules past now every session it
	 * looks at, so a short batch means nothing due is left in the shard.
	 */
	for (int i = 0; i < store_shards(c->store); i++) {
		ctl_use_shard(c, i);
		do {
			struct store_reply *r;

			rc = ctl_script(c, SCRIPT_SWEEP, "sweep", argv, &r);
			if (rc != 0)
				return rc;
			settled += store_reply_int(store_reply_at(r, 1));
			looked = store_reply_int(store_reply_at(r, 2));
			store_reply_free(r);
		} while (looked >= limit);
	}
	printf("settled %lld\n", (long long)settled);
	return 0;
}

int ctl_events(struct ctl *c, const char *const *pos, const char *const *opt)
{
	static const char *const numeric[] = {
	    "play_duration_sec",	"charged_millicoins",
	    "rate_millicoins_per_hour", "amount_millicoins",
	    "balance_millicoins",	NULL};
	char key[CTL_KEY_MAX], count[24];
	struct store_reply *r;
	int64_t n;
	int rc = ctl_parse_count("--count", opt[0], 1, CTL_EVENTS_MAX,
				 CTL_EVENTS_DEFAULT, &n);

	(void)pos;
	if (rc != 0)
		return rc;
	ctl_key(c, key, sizeof key, "%s", KEYS_NAME(EVENTS));
	ctl_itoa(n, count, sizeof count);
	rc = ctl_redis(c, &r, "XREVRANGE", key, "+", "-", "COUNT", count, NULL);
	if (rc != 0)
		return rc;
	/* The newest come first: print them oldest first. */
	for (size_t i = store_reply_count(r); i-- > 0;) {
		const struct store_reply *e = store_reply_at(r, i);
		size_t len;
		const char *id = store_reply_str(store_reply_at(e, 0), &len);

		ctl_print_json(id, len, store_reply_at(e, 1), numeric);
	}
	store_reply_free(r);
	return 0;
}

/*
 * Sets the anchor's value, which every script reads first, on the shard
 * that shard names (NULL: on every shard).
 */
static int ctl_set_anchor(struct ctl *c, const char *shard, const char *value,
			  const char *said)
{
	int64_t one = -1;
	int rc = shard == NULL
		     ? 0
		     : ctl_parse_count("--shard", shard, 0,
				       store_shards(c->store) - 1, 0, &one);

	for (int i = 0; rc == 0 && i < store_shards(c->store); i++) {
		char key[CTL_KEY_MAX];

		if (one >= 0 && i != one)
			continue;
		ctl_use_shard(c, i);
		ctl_key(c, key, sizeof key, "%s", KEYS_NAME(ANCHOR));
		rc = ctl_redis(c, NULL, "SET", key, value, (const char *)NULL);
	}
	if (rc == 0 && one >= 0)
		printf("shard %lld %s\n", (long long)one, said);
	else if (rc == 0)
		printf("%s\n", said);
	return rc;
}

int ctl_pause(struct ctl *c, const char *const *pos, const char *const *opt)
{
	(void)pos;
	return ctl_set_anchor(c, opt[0], "paused",
			      "paused: every call that runs a script answers "
			      "503 until heartbeatctl resume");
}

int ctl_resume(struct ctl *c, const char *const *pos, const char *const *opt)
{
	(void)pos;
	return ctl_set_anchor(c, opt[0], "1", "resumed");
}
