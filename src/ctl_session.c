/*
 * ctl_session.c - heartbeatctl session, sweep and events: the game sessions
 * (hashes gs:<id>, the live ones indexed by deadline in the sorted set
 * deadlines) and the settlement stream events their endings append to.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "util.h"

/* The longest drain of a revoke, in seconds. */
#define CTL_DRAIN_MAX_SEC 86400
/* The most events one call prints. */
#define CTL_EVENTS_MAX 1000000
/* The default number of events printed. */
#define CTL_EVENTS_DEFAULT 10
/* The largest sweep batch (HB_SWEEP_BATCH's own bound). */
#define CTL_SWEEP_MAX 100000

/* Prints one session: id, game, venue, PC, user, state, play s, charged. */
static int ctl_session_print(struct ctl *c, const char *id,
			     const struct ctl_row *row, void *ctx)
{
	char charged[CTL_COINS_BUF];
	int64_t play = 0;

	(void)c;
	(void)ctx;
	util_parse_int(row->v[5], 0, INT64_MAX, &play);
	ctl_coins_text(row->v[6], charged, sizeof charged);
	printf("%s\t%s\t%s\t%s\t%s\t%s\t%lld\t%s\n", id, row->v[0], row->v[1],
	       row->v[2], row->v[3], row->v[4], (long long)(play / 1000),
	       charged);
	return 0;
}

int ctl_session_list(struct ctl *c, const char *const *pos,
		     const char *const *opt)
{
	static const char *const fields[] = {"game", "venue", "pc",  "user",
					     "st",   "play",  "chg", NULL};
	char key[CTL_KEY_MAX];
	const char *argv[] = {"ZRANGE", key, "0", "-1", NULL};
	struct ctl_names ids;
	int rc;

	(void)pos;
	(void)opt;
	ctl_key(c, key, sizeof key, "deadlines");
	rc = ctl_names_of(c, argv, 0, &ids);
	if (rc != 0)
		return rc;
	return ctl_each_row(c, &ids, "gs:", fields, ctl_session_print, NULL);
}

int ctl_session_show(struct ctl *c, const char *const *pos,
		     const char *const *opt)
{
	static const char *const numeric[] = {"t0",   "t1",   "last", "seen",
					      "play", "bms",  "chg",  "rate",
					      "gend", "eend", NULL};
	char key[CTL_KEY_MAX];
	struct store_reply *r;
	int rc = ctl_check_id("GS_ID", pos[0], CTL_ID_ANY);

	(void)opt;
	if (rc != 0)
		return rc;
	ctl_key(c, key, sizeof key, "gs:%s", pos[0]);
	rc = ctl_redis(c, &r, "HGETALL", key, NULL);
	if (rc != 0)
		return rc;
	if (store_reply_count(r) == 0)
		rc = ctl_fail(CTL_EXIT_REFUSED, "no such game session: %s",
			      pos[0]);
	else
		ctl_print_json(pos[0], strlen(pos[0]), r, numeric);
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
	 * looks at, so a short batch means nothing due is left.
	 */
	do {
		struct store_reply *r;

		rc = ctl_script(c, SCRIPT_SWEEP, "sweep", argv, &r);
		if (rc != 0)
			return rc;
		settled += store_reply_int(store_reply_at(r, 1));
		looked = store_reply_int(store_reply_at(r, 2));
		store_reply_free(r);
	} while (looked >= limit);
	printf("settled %lld\n", (long long)settled);
	return 0;
}

int ctl_events(struct ctl *c, const char *const *pos, const char *const *opt)
{
	static const char *const numeric[] = {"play_duration_sec",
					      "charged_millicoins",
					      "rate_millicoins_per_hour", NULL};
	char key[CTL_KEY_MAX], count[24];
	struct store_reply *r;
	int64_t n;
	int rc = ctl_parse_count("--count", opt[0], 1, CTL_EVENTS_MAX,
				 CTL_EVENTS_DEFAULT, &n);

	(void)pos;
	if (rc != 0)
		return rc;
	ctl_key(c, key, sizeof key, "events");
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

/* Sets the anchor's value, which every script reads first. */
static int ctl_set_anchor(struct ctl *c, const char *value, const char *said)
{
	char key[CTL_KEY_MAX];
	int rc;

	ctl_key(c, key, sizeof key, "anchor");
	rc = ctl_redis(c, NULL, "SET", key, value, (const char *)NULL);
	if (rc == 0)
		printf("%s\n", said);
	return rc;
}

int ctl_pause(struct ctl *c, const char *const *pos, const char *const *opt)
{
	(void)pos;
	(void)opt;
	return ctl_set_anchor(c, "paused",
			      "paused: every call that runs a script answers "
			      "503 until heartbeatctl resume");
}

int ctl_resume(struct ctl *c, const char *const *pos, const char *const *opt)
{
	(void)pos;
	(void)opt;
	return ctl_set_anchor(c, "1", "resumed");
}
