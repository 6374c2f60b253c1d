/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_venue.c - heartbeatctl venue and wallet: the PC cafes, each a hash
 * venue:<id> {secret, cidrs, billing, wallet (millicoins), created} listed in
 * the set venues. Every change of a wallet is also an entry of the event
 * log (the scripts append it), for the settlement ledger.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cidr.h"
#include "ctl.h"
#include "keys.h"
#include "util.h"

/* The longest HMAC secret: the worker reads it into 1024 bytes. */
#define CTL_SECRET_MAX 1023
/*
 * The largest top-up, in millicoins: balances stay below 2^53, where the
 * scripts' doubles are exact, for a long time.
 */
#define CTL_TOPUP_MAX 1000000000000000LL

/* The longest actor and note of an adjustment (wallet set). */
#define CTL_ACTOR_MAX 128
#define CTL_NOTE_MAX 1024

/* Checks a venue id: no ':', which joins it to a PC id in pc:<venue>:<pc>. */
static int ctl_venue_check(const char *id)
{
	return ctl_check_id("VENUE_ID", id, CTL_ID_NO_COLON);
}

/* Checks a list of CIDRs as the worker will read it. */
static int ctl_venue_check_cidrs(const char *text)
{
	struct cidr_list list;
	char err[256];

	if (strlen(text) >= CONFIG_STR_MAX)
		return ctl_fail(CTL_EXIT_USAGE,
				"--cidr is longer than %d bytes",
				CONFIG_STR_MAX - 1);
	if (cidr_list_parse(text, &list, err, sizeof err) != 0)
		return ctl_fail(CTL_EXIT_USAGE, "--cidr: %s", err);
	if (list.count == 0)
		return ctl_fail(CTL_EXIT_USAGE,
				"--cidr needs at least one range");
	return 0;
}

/* Checks the arguments of venue add; *billing becomes "1", "0" or NULL. */
static int ctl_venue_check_add(const char *id, const char *const *opt,
			       const char **billing)
{
	int rc;

	if (opt[0] == NULL || opt[1] == NULL)
		return ctl_fail(CTL_EXIT_USAGE,
				"--cidr and --secret are required");
	*billing = NULL;
	if (opt[2] != NULL && (*billing = ctl_parse_switch(opt[2])) == NULL)
		return ctl_fail(CTL_EXIT_USAGE, "--billing must be on or off");
	if ((rc = ctl_venue_check(id)) != 0 ||
	    (rc = ctl_venue_check_cidrs(opt[0])) != 0)
		return rc;
	return ctl_check_text("SECRET", opt[1], CTL_SECRET_MAX);
}

/*
 * Adds a venue, or updates the secret and ranges (and billing, when given)
 * of an existing one, keeping its wallet.
 */
int ctl_venue_add(struct ctl *c, const char *const *pos, const char *const *opt)
{
	const char *id = pos[0], *billing = NULL;
	char key[CTL_KEY_MAX], set[CTL_KEY_MAX], now[24];
	int rc = ctl_venue_check_add(id, opt, &billing);

	if (rc != 0)
		return rc;
	ctl_use_owner(c, id);
	ctl_key(c, key, sizeof key, "%s%s", KEYS_NAME(VENUE), id);
	ctl_key(c, set, sizeof set, "%s", KEYS_NAME(VENUES));
	ctl_itoa(util_now_ms(), now, sizeof now);
	{
		const char *hset[] = {"HSET",
				      key,
				      KEYS_FIELD(VENUE, SECRET),
				      opt[1],
				      KEYS_FIELD(VENUE, CIDRS),
				      opt[0],
				      NULL};
		/* Without --billing an existing venue keeps its setting. */
		const char *bill[] = {billing ? "HSET" : "HSETNX", key,
				      KEYS_FIELD(VENUE, BILLING),
				      billing ? billing : "1", NULL};
		const char *wallet[] = {"HSETNX", key,
					KEYS_FIELD(VENUE, WALLET), "0", NULL};
		const char *created[] = {"HSETNX", key,
					 KEYS_FIELD(VENUE, CREATED), now, NULL};
		const char *sadd[] = {"SADD", set, id, NULL};
		const char *const *cmds[] = {hset,    bill, wallet,
					     created, sadd, NULL};

		rc = ctl_write(c, NULL, CTL_GUARD_NONE, cmds);
	}
	if (rc == 0)
		printf("venue %s saved\n", id);
	return rc;
}

/* Prints one venue: id, CIDRs, billing on or off, wallet in coins. */
static int ctl_venue_print(struct ctl *c, const char *id,
			   const struct ctl_row *row, void *ctx)
{
	char wallet[CTL_COINS_BUF];

	(void)c;
	(void)ctx;
	ctl_coins_text(row->v[2], wallet, sizeof wallet);
	printf("%s\t%s\t%s\t%s\n", id, row->v[0],
	       strcmp(row->v[1], "1") == 0 ? "on" : "off", wallet);
	return 0;
}

int ctl_venue_list(struct ctl *c, const char *const *pos,
		   const char *const *opt)
{
	const char *const fields[] = {KEYS_FIELD(VENUE, CIDRS),
				      KEYS_FIELD(VENUE, BILLING),
				      KEYS_FIELD(VENUE, WALLET), NULL};

	(void)pos;
	(void)opt;
	return ctl_each_member(c, KEYS_NAME(VENUES), KEYS_NAME(VENUE), fields,
			       ctl_venue_print, NULL);
}

int ctl_venue_billing(struct ctl *c, const char *const *pos,
		      const char *const *opt)
{
	const char *value = ctl_parse_switch(pos[1]);
	char key[CTL_KEY_MAX], done[16];
	int rc = ctl_venue_check(pos[0]);
	ctl_use_owner(c, pos[0]);

	(void)opt;
	if (rc != 0)
		return rc;
	if (value == NULL)
		return ctl_fail(CTL_EXIT_USAGE, "billing must be on or off");
	ctl_key(c, key, sizeof key, "%s%s", KEYS_NAME(VENUE), pos[0]);
	snprintf(done, sizeof done, "billing %s", pos[1]);
	return ctl_update(c, "venue", key, pos[0], KEYS_FIELD(VENUE, BILLING),
			  value, done);
}

int ctl_wallet_topup(struct ctl *c, const char *const *pos,
		     const char *const *opt)
{
	char milli[24], what[CTL_ID_MAX + 16], coins[CTL_COINS_BUF];
	struct store_reply *r;
	int64_t amount;
	int rc;
	ctl_use_owner(c, pos[0]);

	(void)opt;
	if ((rc = ctl_venue_check(pos[0])) != 0 ||
	    (rc = ctl_parse_coins("COINS", pos[1], 1, CTL_TOPUP_MAX,
				  &amount)) != 0)
		return rc;
	ctl_itoa(amount, milli, sizeof milli);
	snprintf(what, sizeof what, "venue %s", pos[0]);
	{
		const char *argv[] = {pos[0], milli, NULL};
		rc = ctl_script(c, SCRIPT_WALLET_TOPUP, what, argv, &r);
	}
	if (rc != 0)
		return rc;
	ctl_coins(store_reply_int(store_reply_at(r, 1)), coins, sizeof coins);
	store_reply_free(r);
	printf("%s\n", coins);
	return 0;
}

/*
 * Writes who runs this command into out: the user sudo ran it for, else the
 * name of the real user id, else "uid:N".
 */
static void ctl_invoking_user(char *out, size_t size)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw;

	if (sudo != NULL && *sudo != '\0' && strlen(sudo) < CTL_ACTOR_MAX) {
		snprintf(out, size, "%s", sudo);
		return;
	}
	pw = getpwuid(getuid());
	if (pw != NULL && pw->pw_name != NULL && *pw->pw_name != '\0' &&
	    strlen(pw->pw_name) < CTL_ACTOR_MAX)
		snprintf(out, size, "%s", pw->pw_name);
	else
		snprintf(out, size, "uid:%lu", (unsigned long)getuid());
}

/*
 * Sets a wallet to a balance: an adjustment, written to the event log with
 * the signed difference, the actor (--actor, default the invoking user) and
 * the note (--note, default empty).
 */
int ctl_wallet_set(struct ctl *c, const char *const *pos,
		   const char *const *opt)
{
	char milli[24], what[CTL_ID_MAX + 16], coins[CTL_COINS_BUF];
	char diff[CTL_COINS_BUF], actor[CTL_ACTOR_MAX];
	const char *note = opt[1] ? opt[1] : "";
	struct store_reply *r;
	int64_t amount, change;
	int rc;
	ctl_use_owner(c, pos[0]);

	if ((rc = ctl_venue_check(pos[0])) != 0 ||
	    (rc = ctl_parse_coins("COINS", pos[1], 0, CTL_TOPUP_MAX,
				  &amount)) != 0)
		return rc;
	if (opt[0] != NULL) {
		if ((rc = ctl_check_text("--actor", opt[0],
					 CTL_ACTOR_MAX - 1)) != 0)
			return rc;
		snprintf(actor, sizeof actor, "%s", opt[0]);
	} else {
		ctl_invoking_user(actor, sizeof actor);
	}
	if (*note != '\0' &&
	    (rc = ctl_check_text("--note", note, CTL_NOTE_MAX)) != 0)
		return rc;
	ctl_itoa(amount, milli, sizeof milli);
	snprintf(what, sizeof what, "venue %s", pos[0]);
	{
		const char *argv[] = {pos[0], milli, actor, note, NULL};
		rc = ctl_script(c, SCRIPT_WALLET_SET, what, argv, &r);
	}
	if (rc != 0)
		return rc;
	ctl_coins(store_reply_int(store_reply_at(r, 1)), coins, sizeof coins);
	change = store_reply_int(store_reply_at(r, 2));
	ctl_coins(change < 0 ? -change : change, diff, sizeof diff);
	store_reply_free(r);
	printf("%s (%s%s by %s)\n", coins, change < 0 ? "-" : "+", diff, actor);
	return 0;
}

int ctl_wallet_show(struct ctl *c, const char *const *pos,
		    const char *const *opt)
{
	const char *const fields[] = {KEYS_FIELD(VENUE, WALLET),
				      KEYS_FIELD(VENUE, CIDRS), NULL};
	char key[CTL_KEY_MAX], coins[CTL_COINS_BUF];
	struct ctl_row row;
	int rc = ctl_venue_check(pos[0]);
	ctl_use_owner(c, pos[0]);

	(void)opt;
	if (rc != 0)
		return rc;
	ctl_key(c, key, sizeof key, "%s%s", KEYS_NAME(VENUE), pos[0]);
	rc = ctl_hmget(c, key, fields, &row);
	if (rc != 0)
		return rc;
	if (!row.found)
		return ctl_fail(CTL_EXIT_REFUSED, "no such venue: %s", pos[0]);
	ctl_coins_text(row.v[0], coins, sizeof coins);
	printf("%s\n", coins);
	return 0;
}
