/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_token.c - heartbeatctl key and token: the bearer credentials. Only a
 * credential's SHA-256 is stored: a game's API keys ("hbk_...") as
 * apikey:<sha256> {game, revoked, created, serves (CTL_APIKEY_SERVES)}
 * listed in gamekeys:<game>, and opaque device-API tokens ("dvt_<home>...")
 * as dtok:<sha256> {user, revoked, created, home} listed in dtokens:<user>.
 * Revoking flags a credential and keeps it.
 */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "ctl.h"
#include "keys.h"
#include "shard.h"
#include "util.h"

/* Random bytes in a credential: 48 hex digits. */
#define CTL_CRED_BYTES 24
/* Room for a credential: a short prefix, a home and the hex digits. */
#define CTL_CRED_MAX (8 + SHARD_HOME_HEX + 2 * CTL_CRED_BYTES + 1)
/* Hex digits of the SHA-256 shown as a credential's id. */
#define CTL_CRED_ID_LEN 12
/* The fewest hex digits that name a credential on revoke. */
#define CTL_CRED_PREFIX_MIN 8

/* One kind of credential and where it lives (keys.h). */
struct ctl_cred {
	const char *noun;	 /* "key" */
	const char *prefix;	 /* what the credential starts with: "hbk_" */
	enum keys_key record;	 /* its hash, named by the SHA-256 */
	enum keys_key set;	 /* its owner's set, named by the owner */
	enum keys_field owner;	 /* the field naming the owner */
	enum keys_field revoked; /* the revoked flag */
	enum keys_field created; /* when it was made */
	const char *serves;	 /* CTL_APIKEY_SERVES for a key, else NULL */
};

static const struct ctl_cred ctl_cred_key = {"key",
					     "hbk_",
					     KEYS_APIKEY,
					     KEYS_GAMEKEYS,
					     KEYS_F_APIKEY_GAME,
					     KEYS_F_APIKEY_REVOKED,
					     KEYS_F_APIKEY_CREATED,
					     CTL_APIKEY_SERVES};
static const struct ctl_cred ctl_cred_token = {"token",
					       "dvt_",
					       KEYS_DTOK,
					       KEYS_DTOKENS,
					       KEYS_F_DTOK_USER,
					       KEYS_F_DTOK_REVOKED,
					       KEYS_F_DTOK_CREATED,
					       NULL};

/*
 * Writes the record of a new credential of kind k and lists it under its
 * owner; for a key, with what it serves, for a device token with its home
 * (reshard reads it; "" for none). Returns 0, CTL_EXIT_REFUSED when a
 * WATCHed key changed, or CTL_EXIT_UNAVAILABLE.
 */
static int ctl_cred_write(struct ctl *c, const struct ctl_cred *k,
			  const char *rec, const char *set, const char *hash,
			  const char *owner, const char *now,
			  const char *serves, const char *home)
{
	const char *hset[13] = {"HSET",
				rec,
				keys_field_defs[k->owner].name,
				owner,
				keys_field_defs[k->revoked].name,
				"0",
				keys_field_defs[k->created].name,
				now};
	const char *sadd[] = {"SADD", set, hash, NULL};
	const char *const *cmds[] = {hset, sadd, NULL};
	int n = 8;

	if (k->serves != NULL) {
		hset[n++] = k->serves;
		hset[n++] = serves;
	}
	if (home[0] != '\0') {
		hset[n++] = KEYS_FIELD(DTOK, HOME);
		hset[n++] = home;
	}
	hset[n] = NULL;
	return ctl_write(c, NULL, CTL_GUARD_NONE, cmds);
}

/*
 * Makes a credential of kind k for owner and prints it, the only time it is
 * shown (a key written into every shard: the same key in each, printed
 * once). A key's game must exist; the key's record is written with what it
 * serves in a transaction that fails, and is tried again, when the game
 * changes meanwhile.
 */
static int ctl_cred_create(struct ctl *c, const struct ctl_cred *k,
			   const char *owner)
{
	char secret[CTL_CRED_MAX], hash[CRYPTO_SHA256_HEX];
	char rec[CTL_KEY_MAX], set[CTL_KEY_MAX], now[24];
	char home[SHARD_HOME_HEX + 1] = "";
	int rc = CTL_EXIT_REFUSED;

	if (c->secret[0] != '\0') {
		/* The same key, written into the next shard. */
		snprintf(secret, sizeof secret, "%.*s", (int)sizeof secret - 1,
			 c->secret);
	} else if (crypto_random_token(k->prefix, CTL_CRED_BYTES, secret) !=
		   0) {
		return ctl_fail(CTL_EXIT_REFUSED, "no random bytes available");
	} else if (k == &ctl_cred_token) {
		/* A device token names its user's shard: the home goes first.
		 */
		size_t plen = strlen(k->prefix);

		memmove(secret + plen + SHARD_HOME_HEX, secret + plen,
			strlen(secret + plen) + 1);
		shard_put_home(shard_home(owner, strlen(owner)), secret + plen);
		memcpy(home, secret + plen, SHARD_HOME_HEX);
	}
	crypto_sha256_hex(secret, strlen(secret), hash);
	ctl_key(c, rec, sizeof rec, "%s%s", keys_defs[k->record].name, hash);
	ctl_key(c, set, sizeof set, "%s%s", keys_defs[k->set].name, owner);
	ctl_itoa(ctl_now_ms(c), now, sizeof now);
	for (int i = 0; i < CTL_WRITE_TRIES && rc == CTL_EXIT_REFUSED; i++) {
		const char *serves = NULL;

		if (k->serves != NULL &&
		    (rc = ctl_game_watch(c, owner, &serves)) != 0) {
			if (rc == CTL_EXIT_REFUSED)
				return ctl_fail(rc, "no such %s: %s",
						keys_field_defs[k->owner].name,
						owner);
			return rc;
		}
		rc = ctl_cred_write(c, k, rec, set, hash, owner, now, serves,
				    home);
	}
	if (rc == CTL_EXIT_REFUSED)
		return ctl_fail(rc, "%s %s kept changing; try again",
				keys_field_defs[k->owner].name, owner);
	if (rc == 0) {
		snprintf(c->secret, sizeof c->secret, "%s", secret);
		ctl_say(c, "%s\n", secret);
	}
	return rc;
}

/* Prints one credential: id (the SHA-256's start), state, creation time. */
static int ctl_cred_print(struct ctl *c, const char *hash,
			  const struct ctl_row *row, void *ctx)
{
	char created[UTIL_TIME_BUF];

	(void)c;
	(void)ctx;
	ctl_time_text(row->v[1], created, sizeof created);
	printf("%.*s\t%s\t%s\n", CTL_CRED_ID_LEN, hash,
	       strcmp(row->v[0], "1") == 0 ? "revoked" : "active", created);
	return 0;
}

/* Lists the credentials of kind k that owner holds. */
static int ctl_cred_list(struct ctl *c, const struct ctl_cred *k,
			 const char *owner)
{
	const char *const fields[] = {keys_field_defs[k->revoked].name,
				      keys_field_defs[k->created].name, NULL};
	char set[CTL_KEY_MAX];

	snprintf(set, sizeof set, "%s%s", keys_defs[k->set].name, owner);
	return ctl_each_member(c, set, keys_defs[k->record].name, fields,
			       ctl_cred_print, NULL);
}

/*
 * Finds the SHA-256 that arg names: a credential of kind k (hashed), its
 * SHA-256, or a unique start of it (CTL_CRED_PREFIX_MIN hex digits or more).
 */
static int ctl_cred_resolve(struct ctl *c, const struct ctl_cred *k,
			    const char *arg, char hash[CRYPTO_SHA256_HEX])
{
	size_t n = strlen(arg), skip = strlen(keys_defs[k->record].name);
	char name[CTL_KEY_MAX];
	struct ctl_names found;
	int rc;

	if (strncmp(arg, k->prefix, strlen(k->prefix)) == 0) {
		crypto_sha256_hex(arg, n, hash);
		return 0;
	}
	if (n < CTL_CRED_PREFIX_MIN || n > CRYPTO_SHA256_HEX - 1 ||
	    strspn(arg, "0123456789abcdef") != n)
		return ctl_fail(
		    CTL_EXIT_USAGE,
		    "expected a %s (%s...), its SHA-256 or at least "
		    "%d lowercase hex digits of it",
		    k->noun, k->prefix, CTL_CRED_PREFIX_MIN);
	if (n == CRYPTO_SHA256_HEX - 1) {
		memcpy(hash, arg, CRYPTO_SHA256_HEX);
		return 0;
	}
	snprintf(name, sizeof name, "%s%s", keys_defs[k->record].name, arg);
	rc = ctl_scan(c, name, &found);
	if (rc != 0)
		return rc;
	if (found.count == 1 && strlen(found.v[0]) == skip + 64)
		snprintf(hash, CRYPTO_SHA256_HEX, "%s", found.v[0] + skip);
	else if (found.count == 0)
		rc = ctl_fail(CTL_EXIT_REFUSED, "no such %s: %s", k->noun, arg);
	else
		rc = ctl_fail(CTL_EXIT_REFUSED, "%s id %s is ambiguous",
			      k->noun, arg);
	ctl_names_free(&found);
	return rc;
}

/*
 * Whether the current shard holds a credential of kind k whose SHA-256 is
 * or starts with arg (hex digits), into *found. Returns 0, or an exit
 * status.
 */
static int ctl_cred_known(struct ctl *c, const struct ctl_cred *k,
			  const char *arg, int *found)
{
	char name[CTL_KEY_MAX];
	struct ctl_names names;
	int rc;

	*found = 0;
	if (strlen(arg) > CRYPTO_SHA256_HEX - 1 ||
	    strspn(arg, "0123456789abcdef") != strlen(arg))
		return 0; /* ctl_cred_resolve says what is wrong with it */
	snprintf(name, sizeof name, "%s%s", keys_defs[k->record].name, arg);
	if ((rc = ctl_scan(c, name, &names)) != 0)
		return rc;
	*found = names.count > 0;
	ctl_names_free(&names);
	return 0;
}

/*
 * Flags the credential of kind k that arg names as revoked; a key's record
 * then serves no game.
 */
static int ctl_cred_revoke(struct ctl *c, const struct ctl_cred *k,
			   const char *arg)
{
	char hash[CRYPTO_SHA256_HEX], key[CTL_KEY_MAX];
	char id[CTL_CRED_ID_LEN + 1];
	int rc = ctl_cred_resolve(c, k, arg, hash);

	if (rc != 0)
		return rc;
	ctl_key(c, key, sizeof key, "%s%s", keys_defs[k->record].name, hash);
	snprintf(id, sizeof id, "%s", hash);
	{
		/* A token's list of words ends where a key's has serves. */
		const char *hset[] = {
		    "HSET", key,       keys_field_defs[k->revoked].name,
		    "1",    k->serves, "",
		    NULL};
		const char *const *cmds[] = {hset, NULL};

		rc = ctl_write(c, key, CTL_GUARD_EXISTS, cmds);
	}
	if (rc == CTL_EXIT_REFUSED)
		return ctl_fail(rc, "no such %s: %s", k->noun, id);
	if (rc == 0)
		ctl_say(c, "%s %s revoked\n", k->noun, id);
	return rc;
}

/* ---- key: a game's API keys -----------------------------------------------
 */

int ctl_key_create(struct ctl *c, const char *const *pos,
		   const char *const *opt)
{
	int rc = ctl_check_id("GAME_ID", pos[0], CTL_ID_ANY);

	(void)opt;
	return rc != 0 ? rc : ctl_cred_create(c, &ctl_cred_key, pos[0]);
}

int ctl_key_list(struct ctl *c, const char *const *pos, const char *const *opt)
{
	char game[CTL_KEY_MAX];
	int rc = ctl_check_id("GAME_ID", pos[0], CTL_ID_ANY), found = 0;

	(void)opt;
	if (rc != 0)
		return rc;
	ctl_key(c, game, sizeof game, "%s%s", KEYS_NAME(GAME), pos[0]);
	rc = ctl_exists(c, game, &found);
	if (rc == 0 && !found)
		rc = ctl_fail(CTL_EXIT_REFUSED, "no such game: %s", pos[0]);
	return rc != 0 ? rc : ctl_cred_list(c, &ctl_cred_key, pos[0]);
}

int ctl_key_revoke(struct ctl *c, const char *const *pos,
		   const char *const *opt)
{
	(void)opt;
	return ctl_cred_revoke(c, &ctl_cred_key, pos[0]);
}

/* ---- token: opaque device-API tokens ----------------------------------------
 */

/* Checks the --user option of the token commands. */
static int ctl_token_user(const char *user)
{
	if (user == NULL)
		return ctl_fail(CTL_EXIT_USAGE, "--user is required");
	return ctl_check_id("USER_ID", user, CTL_ID_ANY);
}

int ctl_token_create(struct ctl *c, const char *const *pos,
		     const char *const *opt)
{
	int rc = ctl_token_user(opt[0]);

	(void)pos;
	if (rc != 0)
		return rc;
	ctl_use_owner(c, opt[0]);
	return ctl_cred_create(c, &ctl_cred_token, opt[0]);
}

int ctl_token_list(struct ctl *c, const char *const *pos,
		   const char *const *opt)
{
	int rc = ctl_token_user(opt[0]);

	(void)pos;
	if (rc != 0)
		return rc;
	ctl_use_owner(c, opt[0]);
	return ctl_cred_list(c, &ctl_cred_token, opt[0]);
}

int ctl_token_revoke(struct ctl *c, const char *const *pos,
		     const char *const *opt)
{
	const char *arg = pos[0];
	int rc = CTL_EXIT_REFUSED;

	(void)opt;
	/* A token names its user's shard; a hash is looked for in each. */
	if (strncmp(arg, SHARD_TOKEN_PREFIX, strlen(SHARD_TOKEN_PREFIX)) == 0) {
		if (strlen(arg) == SHARD_TOKEN_LEN)
			ctl_use_id(c, SHARD_TOKEN_PREFIX, arg);
		return ctl_cred_revoke(c, &ctl_cred_token, arg);
	}
	if (strlen(arg) > CRYPTO_SHA256_HEX - 1 ||
	    strspn(arg, "0123456789abcdef") != strlen(arg))
		return ctl_cred_revoke(c, &ctl_cred_token, arg); /* says why */
	for (int i = 0; i < store_shards(c->store); i++) {
		int found = 0;

		ctl_use_shard(c, i);
		if ((rc = ctl_cred_known(c, &ctl_cred_token, arg, &found)) != 0)
			return rc;
		if (found)
			return ctl_cred_revoke(c, &ctl_cred_token, arg);
	}
	return ctl_fail(CTL_EXIT_REFUSED, "no such token: %s", arg);
}
