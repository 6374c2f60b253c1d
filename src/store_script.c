/*
 * store_script.c - the scripts: the settings line put before each one, and
 * loading them (at connect, and again after NOSCRIPT).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * Loads one script, after the settings, on c and records its SHA. Returns
 * 0, or -1.
 */
int store_load_script(struct store *st, struct store_conn *c, enum script_id id)
{
	size_t plen = strlen(st->prologue);
	size_t slen = strlen(script_defs[id].source);
	char *text = malloc(plen + slen);
	const char *argv[3] = {"SCRIPT", "LOAD", text};
	size_t lens[3] = {6, 4, plen + slen};
	redisReply *r;

	if (text == NULL) {
		store_set_error(st, "SCRIPT LOAD", "out of memory");
		return -1;
	}
	memcpy(text, st->prologue, plen);
	memcpy(text + plen, script_defs[id].source, slen);
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
