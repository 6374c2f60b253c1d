/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_script.c - the scripts: the settings line put before them, and
 * loading them (at connect, and again after NOSCRIPT or "Function not
 * found"). On a Redis with functions (7.0 and later) they are one library
 * (FUNCTION LOAD), so common.lua's functions are built once at load and not
 * on every call; on one without, each script is loaded with common.lua in
 * front (SCRIPT LOAD).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "keys.h"
#include "store_int.h"

/* Appends s to out (size bytes) at *n, as far as it fits. */
static void store_put(char *out, size_t size, size_t *n, const char *s)
{
	if (*n < size)
		*n += (size_t)snprintf(out + *n, size - *n, "%s", s);
}

/*
 * Appends, comma-separated, each key of keys.h that the scripts name: its
 * Lua constant (K_GAME) when before and after are empty, else its name
 * between them ("b .. 'game:'"). Returns how many.
 */
static int store_put_key_names(char *out, size_t size, size_t *n,
			       const char *before, const char *after)
{
	int k = 0;

	for (int i = 0; i < KEYS_COUNT; i++) {
		if (keys_defs[i].lua == NULL)
			continue;
		store_put(out, size, n, k++ ? ", " : "");
		store_put(out, size, n, before);
		store_put(out, size, n,
			  before[0] ? keys_defs[i].name : keys_defs[i].lua);
		store_put(out, size, n, after);
	}
	return k;
}

/*
 * Writes the key layout's part of the settings (see common.lua): a local
 * for each key constant of keys.h (K_GAME, ...), and use_keys(anchor),
 * which sets them for the shard whose anchor the call names, from a table
 * built once per shard. Returns the length written (at most size - 1).
 */
static size_t store_prologue_keys(char *out, size_t size)
{
	size_t n = 0;
	char line[256];
	int k;

	store_put(out, size, &n, "local ");
	store_put_key_names(out, size, &n, "", "");
	snprintf(line, sizeof line,
		 "\nlocal KEYS_IN_USE, KEYSETS, KEYSET_N = "
		 "nil, {}, 0\nlocal function use_keys(a)\n"
		 "  if a == KEYS_IN_USE then return end\n"
		 "  local k = KEYSETS[a]\n  if not k then\n"
		 "    local b = string.sub(a, 1, -%zu)\n"
		 "    k = {",
		 strlen(KEYS_NAME(ANCHOR)) + 1);
	store_put(out, size, &n, line);
	store_put_key_names(out, size, &n, "b .. '", "'");
	store_put(out, size, &n,
		  "}\n    if KEYSET_N >= 4096 then KEYSETS, KEYSET_N = {}, 0 "
		  "end\n    KEYSETS[a], KEYSET_N = k, KEYSET_N + 1\n  end\n  ");
	k = store_put_key_names(out, size, &n, "", "");
	store_put(out, size, &n, " = ");
	for (int i = 1; i <= k; i++) {
		snprintf(line, sizeof line, "%sk[%d]", i > 1 ? ", " : "", i);
		store_put(out, size, &n, line);
	}
	store_put(out, size, &n, "\n  KEYS_IN_USE = a\nend\n");
	return n;
}

/*
 * Writes the settings the scripts read (common.lua) as Lua: the numbers,
 * then the key layout (store_prologue_keys). Returns 0, or -1 when they do
 * not fit in size. LTTL_TEXT, the launcher TTL as PEXPIRE takes it, is
 * written here and not derived in common.lua: a function library's
 * top-level code runs as FUNCTION LOAD loads it, where Redis gives it no
 * string library, and formatting it per call costs every launcher call.
 */
int store_prologue(const struct config *cfg, char *out, size_t size)
{
	size_t n = (size_t)snprintf(
	    out, size,
	    "local TTL, GRACE, LTTL, TOMB, MARGIN = %lld, %lld, "
	    "%lld, %lld, %lld\nlocal LTTL_TEXT = '%lld'\n"
	    "local LIMITS = {%lld, %lld, %lld, %lld}\n",
	    (long long)cfg->game_ttl_sec * 1000,
	    (long long)cfg->grace_sec * 1000,
	    (long long)cfg->launcher_ttl_sec * 1000,
	    (long long)cfg->tombstone_sec * 1000,
	    (long long)cfg->settle_margin_sec * 1000,
	    (long long)cfg->launcher_ttl_sec * 1000,
	    (long long)cfg->rate_key_per_sec,
	    (long long)cfg->rate_session_per_min,
	    (long long)cfg->rate_launcher_per_min,
	    (long long)cfg->rate_device_user_per_min);
	if (n < size)
		n += store_prologue_keys(out + n, size - n);
	return n + 1 < size ? 0 : -1;
}

/* Whether ch can be part of a Lua name. */
static int store_lua_name_char(char ch)
{
	return ch == '_' || (ch >= '0' && ch <= '9') ||
	       ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
}

/* The field of keys.h whose Lua constant is the name at p (len bytes), or
 * NULL. */
static const struct keys_def *store_key_const(const char *p, size_t len)
{
	for (int i = 0; i < KEYS_FIELD_COUNT; i++) {
		const struct keys_def *d = &keys_field_defs[i];

		if (d->lua != NULL && strlen(d->lua) == len &&
		    memcmp(d->lua, p, len) == 0)
			return d;
	}
	return NULL;
}

/*
 * Copies source into out (NULL: only measures) with every name of a field
 * constant (keys.h: F_VENUE_WALLET, ...) replaced by its value as a Lua
 * string, so that the scripts name fields by the table's names at no cost
 * per call. (The key constants, K_GAME and the like, depend on the shard
 * a call names and are locals that use_keys sets: store_prologue_keys.)
 * Returns the length written.
 */
static size_t store_expand_keys(const char *source, char *out)
{
	size_t n = 0;

	for (const char *p = source; *p != '\0';) {
		const struct keys_def *d = NULL;
		size_t len = 0;

		if (*p == 'F' && p[1] == '_' &&
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
		if (out != NULL)
			out[n] = '\'';
		n++;
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

/* A text being written: measured only while p is NULL. */
struct store_text {
	char *p;
	size_t n;
};

/* Appends the string s to t. */
static void store_text_put(struct store_text *t, const char *s)
{
	size_t len = strlen(s);

	if (t->p != NULL)
		memcpy(t->p + t->n, s, len);
	t->n += len;
}

/* Appends what runs before script name: the line naming it, and enter(). */
static void store_text_entry(struct store_text *t, const char *name)
{
	store_text_put(t, "local SCRIPT = '");
	store_text_put(t, name);
	store_text_put(t, "'\ndo local e = enter(KEYS[1], SCRIPT) "
			  "if e then return e end end\n");
}

/* Appends source to t with the key layout written in. */
static void store_text_source(struct store_text *t, const char *source)
{
	t->n += store_expand_keys(source, t->p != NULL ? t->p + t->n : NULL);
}

/* Writes script id as SCRIPT LOAD takes it into t. */
static void store_script_text(const struct store *st, enum script_id id,
			      struct store_text *t)
{
	store_text_put(t, st->prologue);
	store_text_source(t, script_common);
	store_text_entry(t, script_defs[id].name);
	store_text_source(t, script_defs[id].source);
}

/*
 * Writes the library as FUNCTION LOAD takes it into t: the settings,
 * common.lua, and each script as the function <library>_<script>.
 */
static void store_library_text(const struct store *st, struct store_text *t)
{
	store_text_put(t, "#!lua name=");
	store_text_put(t, st->library);
	store_text_put(t, "\n");
	store_text_put(t, st->prologue);
	store_text_source(t, script_common);
	for (int i = 0; i < SCRIPT_COUNT; i++) {
		store_text_put(t, "redis.register_function('");
		store_text_put(t, st->fname[i]);
		store_text_put(t, "', function(KEYS, ARGV)\n");
		store_text_entry(t, script_defs[i].name);
		store_text_source(t, script_defs[i].source);
		store_text_put(t, "end)\n");
	}
}

/*
 * Writes the library, or else script id, as loaded into a new string
 * (caller owns; NULL when out of memory), measuring first, with one byte
 * more for whoever terminates it.
 */
static char *store_text_alloc(const struct store *st, enum script_id id,
			      int library, size_t *len)
{
	struct store_text t = {NULL, 0};

	if (library)
		store_library_text(st, &t);
	else
		store_script_text(st, id, &t);
	if ((t.p = malloc(t.n + 1)) == NULL)
		return NULL;
	*len = t.n;
	t.n = 0;
	if (library)
		store_library_text(st, &t);
	else
		store_script_text(st, id, &t);
	return t.p;
}

int store_library_name(struct store *st)
{
	char hex[65];
	size_t len;
	char *text;

	/* Named by a hash of its text written with a name of the same length.
	 */
	snprintf(st->library, sizeof st->library, "hb_00000000");
	for (int i = 0; i < SCRIPT_COUNT; i++)
		snprintf(st->fname[i], sizeof st->fname[i], "%s_%s",
			 st->library, script_defs[i].name);
	if ((text = store_text_alloc(st, 0, 1, &len)) == NULL)
		return -1;
	crypto_sha256_hex(text, len, hex);
	free(text);
	snprintf(st->library, sizeof st->library, "hb_%.8s", hex);
	for (int i = 0; i < SCRIPT_COUNT; i++)
		snprintf(st->fname[i], sizeof st->fname[i], "%s_%s",
			 st->library, script_defs[i].name);
	return 0;
}

/*
 * Loads one script, after the settings and with the key layout written in,
 * on c and records its SHA. Returns 0, or -1.
 */
static int store_load_script(struct store *st, struct store_conn *c,
			     enum script_id id)
{
	size_t len = 0;
	char *text = store_text_alloc(st, id, 0, &len);
	const char *argv[3] = {"SCRIPT", "LOAD", text};
	size_t lens[3] = {6, 4, len};
	redisReply *r;

	if (text == NULL) {
		store_set_error(st, "SCRIPT LOAD", "out of memory");
		return -1;
	}
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

/* Loads the library on c (replacing one of its name). Returns 0, or -1. */
static int store_load_library(struct store *st, struct store_conn *c)
{
	size_t len = 0;
	char *text = store_text_alloc(st, 0, 1, &len);
	const char *argv[4] = {"FUNCTION", "LOAD", "REPLACE", text};
	size_t lens[4] = {8, 4, 7, len};
	redisReply *r;
	int rc = 0;

	if (text == NULL) {
		store_set_error(st, "FUNCTION LOAD", "out of memory");
		return -1;
	}
	r = store_send(st, c, 0, 4, argv, lens);
	free(text);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STRING) {
		store_set_error(st, "FUNCTION LOAD",
				r->type == REDIS_REPLY_ERROR ? r->str
							     : "bad reply");
		rc = -1;
	}
	freeReplyObject(r);
	return rc;
}

/* Whether an error reply says the command is not there (Redis 6, renamed
 * away, or denied by an ACL). */
static int store_error_is_missing_command(const char *msg)
{
	return strncmp(msg, "ERR unknown command", 19) == 0 ||
	       strncmp(msg, "ERR unknown subcommand", 22) == 0 ||
	       strncmp(msg, "NOPERM", 6) == 0;
}

int store_load_scripts(struct store *st, struct store_conn *c)
{
	const char *argv[4] = {"FUNCTION", "LIST", "LIBRARYNAME", st->library};
	size_t lens[4] = {8, 4, 11, strlen(st->library)};
	redisReply *r = store_send(st, c, 0, 4, argv, lens);
	int rc = 0;

	if (r == NULL)
		return -1;
	c->functions = 0;
	if (r->type == REDIS_REPLY_ARRAY) {
		/* Loaded only when missing: the name says what it holds. */
		c->functions = 1;
		if (r->elements == 0)
			rc = store_load_library(st, c);
		freeReplyObject(r);
		return rc;
	}
	if (r->type != REDIS_REPLY_ERROR ||
	    !store_error_is_missing_command(r->str)) {
		store_set_error(st, "FUNCTION LIST",
				r->type == REDIS_REPLY_ERROR ? r->str
							     : "bad reply");
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	for (int i = 0; i < SCRIPT_COUNT && rc == 0; i++)
		rc = store_load_script(st, c, (enum script_id)i);
	return rc;
}

int store_reload_script(struct store *st, struct store_conn *c,
			enum script_id id)
{
	return c->functions ? store_load_library(st, c)
			    : store_load_script(st, c, id);
}
