/*
 * store_script.c - the scripts: the settings line put before each one, and
 * loading them (at connect, and again after NOSCRIPT).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "store_int.h"

/*
 * Writes the settings the scripts read (common.lua) as Lua: the key base as
 * a string of decimal escapes, so any byte reads as itself, and the numbers.
 * Returns 0, or -1 when they do not fit in size.
 */
int store_prologue(const struct config *cfg, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "local B = '");

	for (const unsigned char *p = (const unsigned char *)cfg->key_base;
	     *p != '\0' && n < size; p++)
		n += (size_t)snprintf(out + n, size - n, "\\%03u", *p);
	if (n < size)
		n += (size_t)snprintf(
		    out + n, size - n,
		    "'\nlocal TTL, GRACE, LTTL, TOMB, MARGIN = %lld, %lld, "
		    "%lld, %lld, %lld\nlocal LIMITS = {%lld, %lld, %lld, "
		    "%lld}\n",
		    (long long)cfg->game_ttl_sec * 1000,
		    (long long)cfg->grace_sec * 1000,
		    (long long)cfg->launcher_ttl_sec * 1000,
		    (long long)cfg->tombstone_sec * 1000,
		    (long long)cfg->settle_margin_sec * 1000,
		    (long long)cfg->rate_key_per_sec,
		    (long long)cfg->rate_session_per_min,
		    (long long)cfg->rate_launcher_per_min,
		    (long long)cfg->rate_device_user_per_min);
	return n < size ? 0 : -1;
}

/* Writes s as a Lua string of decimal escapes, so any byte reads as itself. */
static size_t store_lua_bytes(char *out, size_t size, const char *s)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		n += (size_t)snprintf(out + n, size > n ? size - n : 0,
				      "\\%03u", *p);
	return n;
}

/* Whether ch can be part of a Lua name. */
static int store_lua_name_char(char ch)
{
	return ch == '_' || (ch >= '0' && ch <= '9') ||
	       ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
}

/* The row of keys.h whose Lua constant is the name at p (len bytes), or NULL.
 */
static const struct keys_def *store_key_const(const char *p, size_t len)
{
	for (int i = 0; i < KEYS_COUNT + KEYS_FIELD_COUNT; i++) {
		const struct keys_def *d =
		    i < KEYS_COUNT ? &keys_defs[i]
				   : &keys_field_defs[i - KEYS_COUNT];

		if (d->lua != NULL && strlen(d->lua) == len &&
		    memcmp(d->lua, p, len) == 0)
			return d;
	}
	return NULL;
}

/*
 * Copies source into out (NULL: only measures) with every name of a key
 * layout constant (keys.h: K_GAME, F_VENUE_WALLET, ...) replaced by its
 * value as a Lua string: a key's with the key base in front, so K_GAME ..
 * id reads '<key base>game:' .. id. The scripts thus name the layout by
 * the table's names at no cost per call: a local per constant on the
 * settings line would be set, and captured by common.lua's functions, on
 * every call. Returns the length written.
 */
static size_t store_expand_keys(const struct store *st, const char *source,
				char *out)
{
	size_t n = 0, blen = 4 * strlen(st->cfg->key_base);

	for (const char *p = source; *p != '\0';) {
		const struct keys_def *d = NULL;
		size_t len = 0;

		if ((*p == 'K' || *p == 'F') && p[1] == '_' &&
		    (p == source || !store_lua_name_char(p[-1]))) {
			while (store_lua_name_char(p[len]))
				len++;
			d = store_key_const(p, len);
		}
		if (d == NULL) {
			if (out != NULL)
				out[n] = *p;
			n++;
			p++;
			continue;
		}
		if (out != NULL) {
			out[n] = '\'';
			if (d >= keys_defs && d < keys_defs + KEYS_COUNT)
				store_lua_bytes(out + n + 1, blen + 1,
						st->cfg->key_base);
		}
		n += 1 +
		     (d >= keys_defs && d < keys_defs + KEYS_COUNT ? blen : 0);
		if (out != NULL)
			memcpy(out + n, d->name, strlen(d->name));
		n += strlen(d->name);
		if (out != NULL)
			out[n] = '\'';
		n++;
		p += len;
	}
	return n;
}

/*
 * Loads one script, after the settings and with the key layout written in
 * (store_expand_keys), on c and records
 * its SHA. Returns 0, or -1.
 */
int store_load_script(struct store *st, struct store_conn *c, enum script_id id)
{
	const char *source = script_defs[id].source;
	size_t plen = strlen(st->prologue);
	size_t slen = store_expand_keys(st, source, NULL);
	/* One more byte: store_lua_bytes terminates what it writes. */
	char *text = malloc(plen + slen + 1);
	const char *argv[3] = {"SCRIPT", "LOAD", text};
	size_t lens[3] = {6, 4, plen + slen};
	redisReply *r;

	if (text == NULL) {
		store_set_error(st, "SCRIPT LOAD", "out of memory");
		return -1;
	}
	memcpy(text, st->prologue, plen);
	store_expand_keys(st, source, text + plen);
	r = store_send(st, c, 0, 3, argv, lens);
	free(text);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STRING || r->len != 40) {
		store_set_error(st, "SCRIPT LOAD",
				r->type == REDIS_REPLY_ERROR ? r->str
							     : "bad reply");
		freeReplyObject(r);
		return -1;
	}
	memcpy(st->sha[id], r->str, 40);
	st->sha[id][40] = '\0';
	freeReplyObject(r);
	return 0;
}
