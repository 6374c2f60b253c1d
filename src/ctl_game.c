/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_game.c - heartbeatctl game: the games sessions are billed for, each a
 * hash (KEYS_GAME, keys.h) of name, rate (millicoins/hour), active and
 * created, listed in a set (KEYS_GAMES).
 */
#include <stdio.h>
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

int ctl_game_activate(struct ctl *c, const char *const *pos,
		      const char *const *opt)
{
	(void)opt;
	return ctl_game_set(c, pos[0], KEYS_FIELD(GAME, ACTIVE), "1", "active");
}

int ctl_game_deactivate(struct ctl *c, const char *const *pos,
			const char *const *opt)
{
	(void)opt;
	return ctl_game_set(c, pos[0], KEYS_FIELD(GAME, ACTIVE), "0",
			    "inactive");
}
