/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_game.c - heartbeatctl game: the games sessions are billed for, each a
 * hash (KEYS_GAME, keys.h) of name, rate (millicoins/hour), active and
 * created, listed in a set (KEYS_GAMES). Whether a game is active is also
 * copied into each of its API keys' records (CTL_APIKEY_SERVES, ctl.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "util.h"

/*
 * The highest rate, in millicoins per hour: the scripts multiply it by up to
 * an hour of milliseconds, which stays exact in a double below 2^53.
 */
#define CTL_RATE_MAX 1000000000

/* Parses a rate in coins per hour into millicoins per hour. */
static int ctl_game_parse_rate(const char *s, int64_t *milli)
{
	return ctl_parse_coins("COINS_PER_HOUR", s, 0, CTL_RATE_MAX, milli);
}

int ctl_game_add(struct ctl *c, const char *const *pos, const char *const *opt)
{
	const char *id = pos[0], *name = opt[0];
	char key[CTL_KEY_MAX], set[CTL_KEY_MAX], rate[24], now[24];
	int64_t milli;
	int rc;

	if (name == NULL || opt[1] == NULL)
		return ctl_fail(CTL_EXIT_USAGE,
				"--name and --rate are required");
	if ((rc = ctl_check_id("GAME_ID", id, CTL_ID_ANY)) != 0 ||
	    (rc = ctl_check_text("NAME", name, CTL_ID_MAX)) != 0 ||
	    (rc = ctl_game_parse_rate(opt[1], &milli)) != 0)
		return rc;
	ctl_key(c, key, sizeof key, "%s%s", KEYS_NAME(GAME), id);
	ctl_key(c, set, sizeof set, "%s", KEYS_NAME(GAMES));
	ctl_itoa(milli, rate, sizeof rate);
	ctl_itoa(ctl_now_ms(c), now, sizeof now);
	{
		const char *hset[] = {"HSET",
				      key,
				      KEYS_FIELD(GAME, NAME),
				      name,
				      KEYS_FIELD(GAME, RATE),
				      rate,
				      KEYS_FIELD(GAME, ACTIVE),
				      "1",
				      KEYS_FIELD(GAME, CREATED),
				      now,
				      NULL};
		const char *sadd[] = {"SADD", set, id, NULL};
		const char *const *cmds[] = {hset, sadd, NULL};

		rc = ctl_write(c, key, CTL_GUARD_ABSENT, cmds);
	}
	if (rc == CTL_EXIT_REFUSED)
		return ctl_fail(rc, "game %s already exists", id);
	if (rc == 0)
		ctl_say(c, "game %s added\n", id);
	return rc;
}

/* Prints one game: id, name, rate in coins per hour, active or inactive. */
static int ctl_game_print(struct ctl *c, const char *id,
			  const struct ctl_row *row, void *ctx)
{
	char rate[CTL_COINS_BUF];

	(void)c;
	(void)ctx;
	ctl_coins_text(row->v[1], rate, sizeof rate);
	printf("%s\t%s\t%s\t%s\n", id, row->v[0], rate,
	       strcmp(row->v[2], "1") == 0 ? "active" : "inactive");
	return 0;
}

int ctl_game_list(struct ctl *c, const char *const *pos, const char *const *opt)
{
	const char *const fields[] = {KEYS_FIELD(GAME, NAME),
				      KEYS_FIELD(GAME, RATE),
				      KEYS_FIELD(GAME, ACTIVE), NULL};

	(void)pos;
	(void)opt;
	return ctl_each_member(c, KEYS_NAME(GAMES), KEYS_NAME(GAME), fields,
			       ctl_game_print, NULL);
}

/* Sets one field of an existing game and says what was done. */
static int ctl_game_set(struct ctl *c, const char *id, const char *field,
			const char *value, const char *done)
{
	char key[CTL_KEY_MAX];
	int rc = ctl_check_id("GAME_ID", id, CTL_ID_ANY);

	if (rc != 0)
		return rc;
	ctl_key(c, key, sizeof key, "%s%s", KEYS_NAME(GAME), id);
	return ctl_update(c, "game", key, id, field, value, done);
}

int ctl_game_rate(struct ctl *c, const char *const *pos, const char *const *opt)
{
	char rate[24], done[64], coins[CTL_COINS_BUF];
	int64_t milli;
	int rc = ctl_game_parse_rate(pos[1], &milli);

	(void)opt;
	if (rc != 0)
		return rc;
	ctl_itoa(milli, rate, sizeof rate);
	ctl_coins(milli, coins, sizeof coins);
	snprintf(done, sizeof done, "rate %s coins/h", coins);
	return ctl_game_set(c, pos[0], KEYS_FIELD(GAME, RATE), rate, done);
}

int ctl_game_watch(struct ctl *c, const char *game, const char **serves)
{
	const char *const fields[] = {KEYS_FIELD(GAME, ACTIVE),
				      KEYS_FIELD(GAME, NAME), NULL};
	char key[CTL_KEY_MAX];
	struct ctl_row row;
	int rc;

	ctl_key(c, key, sizeof key, "%s%s", KEYS_NAME(GAME), game);
	if ((rc = ctl_redis(c, NULL, "WATCH", key, NULL)) != 0 ||
	    (rc = ctl_hmget(c, key, fields, &row)) != 0)
		return rc;
	if (!row.found) {
		rc = ctl_redis(c, NULL, "UNWATCH", NULL);
		return rc != 0 ? rc : CTL_EXIT_REFUSED;
	}
	*serves = strcmp(row.v[0], "1") == 0 ? game : "";
	return 0;
}

/* What ctl_game_try_active returns when a WATCHed key changed meanwhile. */
#define CTL_GAME_CHANGED (-1)

/*
 * One try of ctl_game_set_active: WATCHes the game, its key list and each
 * key's record, then sets the game's active flag to value ("1" or "0") and
 * what each key serves in one transaction. Returns 0, CTL_GAME_CHANGED,
 * CTL_EXIT_REFUSED when there is no such game (nothing printed), or
 * CTL_EXIT_UNAVAILABLE.
 */
static int ctl_game_try_active(struct ctl *c, const char *id, const char *value)
{
	const char *const fields[] = {KEYS_FIELD(APIKEY, REVOKED),
				      KEYS_FIELD(APIKEY, GAME), NULL};
	char game[CTL_KEY_MAX], list[CTL_KEY_MAX], set[CTL_KEY_MAX];
	const char *serves;
	struct ctl_names keys;
	char(*recs)[CTL_KEY_MAX] = NULL;
	const char *(*hsets)[5] = NULL;
	const char *const **cmds = NULL;
	size_t n = 1;
	int rc = ctl_game_watch(c, id, &serves);

	if (rc != 0)
		return rc;
	ctl_key(c, game, sizeof game, "%s%s", KEYS_NAME(GAME), id);
	snprintf(list, sizeof list, "%s%s", KEYS_NAME(GAMEKEYS), id);
	ctl_key(c, set, sizeof set, "%s", list);
	if ((rc = ctl_redis(c, NULL, "WATCH", set, NULL)) != 0 ||
	    (rc = ctl_members(c, list, &keys)) != 0)
		return rc;
	recs = calloc(keys.count + 1, sizeof *recs);
	hsets = calloc(keys.count + 1, sizeof *hsets);
	cmds = calloc(keys.count + 2, sizeof *cmds);
	if (recs == NULL || hsets == NULL || cmds == NULL) {
		rc = ctl_fail(CTL_EXIT_UNAVAILABLE, "out of memory");
		goto fail;
	}
	hsets[0][0] = "HSET";
	hsets[0][1] = game;
	hsets[0][2] = KEYS_FIELD(GAME, ACTIVE);
	hsets[0][3] = value;
	cmds[0] = hsets[0];
	for (size_t i = 0; i < keys.count; i++) {
		struct ctl_row row;

		ctl_key(c, recs[n], sizeof recs[n], "%s%s", KEYS_NAME(APIKEY),
			keys.v[i]);
		if ((rc = ctl_redis(c, NULL, "WATCH", recs[n], NULL)) != 0 ||
		    (rc = ctl_hmget(c, recs[n], fields, &row)) != 0)
			goto fail;
		if (!row.found)
			continue; /* listed but gone: nothing to keep */
		hsets[n][0] = "HSET";
		hsets[n][1] = recs[n];
		hsets[n][2] = CTL_APIKEY_SERVES;
		hsets[n][3] =
		    strcmp(value, "1") == 0 && strcmp(row.v[0], "1") != 0 ? id
									  : "";
		cmds[n] = hsets[n];
		n++;
	}
	rc = ctl_write(c, NULL, CTL_GUARD_NONE, cmds);
	if (rc == CTL_EXIT_REFUSED)
		rc = CTL_GAME_CHANGED;
fail:
	free(cmds);
	free(hsets);
	free(recs);
	ctl_names_free(&keys);
	return rc;
}

/*
 * Sets a game's active flag to value ("1" or "0") and, in the same
 * transaction, what each of its API keys serves: the game, for a key not
 * revoked of an active game, else "". Tried again when the game, its keys or
 * one of their records changed meanwhile.
 */
static int ctl_game_set_active(struct ctl *c, const char *id, const char *value,
			       const char *done)
{
	int rc = ctl_check_id("GAME_ID", id, CTL_ID_ANY);

	if (rc != 0)
		return rc;
	for (int i = 0; i < CTL_WRITE_TRIES; i++) {
		rc = ctl_game_try_active(c, id, value);
		if (rc != CTL_GAME_CHANGED)
			break;
	}
	if (rc == CTL_EXIT_REFUSED)
		return ctl_fail(rc, "no such game: %s", id);
	if (rc == CTL_GAME_CHANGED)
		return ctl_fail(CTL_EXIT_REFUSED,
				"game %s kept changing; try again", id);
	if (rc == 0)
		ctl_say(c, "game %s %s\n", id, done);
	return rc;
}

int ctl_game_activate(struct ctl *c, const char *const *pos,
		      const char *const *opt)
{
	(void)opt;
	return ctl_game_set_active(c, pos[0], "1", "active");
}

int ctl_game_deactivate(struct ctl *c, const char *const *pos,
			const char *const *opt)
{
	(void)opt;
	return ctl_game_set_active(c, pos[0], "0", "inactive");
}
