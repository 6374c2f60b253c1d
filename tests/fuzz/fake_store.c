/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fake_store.c - stand-ins for the store (src/store*.c) and src/log.c, linked
 * into fuzz_app ahead of libhb.a so that neither of those modules is pulled in:
 * no Redis, no network, no log lines on stderr.
 *
 * Each store call answers a reply built from a spec string: the default for
 * the script or command (the shape the Lua scripts give on success), or the
 * input's FUZZ_STORE parameter (every script, PING and ROLE) or FUZZ_VENUE
 * (the HMGET of a venue). A spec is
 *
 *   down           STORE_UNAVAILABLE
 *   error          STORE_ERROR
 *   =TEXT          one string reply (not an array)
 *   %N             one integer reply (not an array)
 *   E|E|...        an array; each E is "~" (nil), "#N" (an integer),
 *                  "@a,b,..." (an array of strings) or a string
 *
 * Every argument the handlers pass is read to its stated length, so a wrong
 * length or a dangling pointer shows up under AddressSanitizer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "log.h"
#include "shard.h"
#include "store.h"
#include "util.h"

const struct fuzz_input *fake_store_input;

struct store {
	const struct config *cfg;
	char err[64];
};

struct store_reply {
	enum store_type type;
	long long integer;
	char *str; /* owned; len bytes and a NUL */
	size_t len;
	struct store_reply **items; /* owned */
	size_t count;
};

/* What each script answers by default, in SCRIPT_TABLE order. */
static const char *const fake_script_replies[SCRIPT_COUNT] = {
    "OK|VALID",			  /* game_verify */
    "%120",			  /* game_heartbeat */
    "OK|#300",			  /* game_end */
    "OK|g1|Game One|g2|Game Two", /* launcher_start */
    "=gs_6f1c2d",		  /* launcher_heartbeat */
    "OK",			  /* launcher_ott */
    "OK|~",			  /* launcher_end */
    "OK|#0",			  /* sweep */
    "OK",			  /* session_revoke */
    "OK",			  /* wallet_topup */
    "OK|@s1,d1,Name,127.0.0.1,1700000000000,1700000000000,1700000001000,pw",
    /* device: a SESSION, the shape every operation's first item may take */
    "OK|#3|1700000000000|#1700000001000|@started,5,ended:expired,2",
};

static void *fake_alloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (p == NULL)
		fuzz_fail("out of memory");
	return p;
}

static struct store_reply *fake_string(const char *s, size_t len)
{
	struct store_reply *r = fake_alloc(sizeof *r);

	r->type = STORE_T_STR;
	r->str = fake_alloc(len + 1);
	memcpy(r->str, s, len);
	r->len = len;
	return r;
}

/* Appends item to the array r. */
static void fake_push(struct store_reply *r, struct store_reply *item)
{
	struct store_reply **items =
	    realloc(r->items, (r->count + 1) * sizeof *items);

	if (items == NULL)
		fuzz_fail("out of memory");
	r->items = items;
	r->items[r->count++] = item;
}

/* One array element from the n bytes at s. */
static struct store_reply *fake_element(const char *s, size_t n)
{
	struct store_reply *r;
	int64_t v;

	if (n == 1 && s[0] == '~') {
		r = fake_alloc(sizeof *r);
		r->type = STORE_T_NIL;
		return r;
	}
	if (n > 1 && s[0] == '#' &&
	    util_parse_int64(s + 1, n - 1, INT64_MIN, INT64_MAX, &v) == 0) {
		r = fake_alloc(sizeof *r);
		r->type = STORE_T_INT;
		r->integer = v;
		return r;
	}
	if (n > 0 && s[0] == '@') {
		const char *p = s + 1, *end = s + n;

		r = fake_alloc(sizeof *r);
		r->type = STORE_T_ARRAY;
		while (p <= end) {
			const char *comma = memchr(p, ',', (size_t)(end - p));
			const char *e = comma ? comma : end;

			fake_push(r, fake_string(p, (size_t)(e - p)));
			p = e + 1;
		}
		return r;
	}
	return fake_string(s, n);
}

/* Builds the reply of spec into *out. */
static enum store_result fake_reply(const char *spec, struct store_reply **out)
{
	const char *p = spec, *end = spec + strlen(spec);
	struct store_reply *r;

	if (strcmp(spec, "down") == 0)
		return STORE_UNAVAILABLE;
	if (strcmp(spec, "error") == 0)
		return STORE_ERROR;
	if (spec[0] == '=') {
		*out = fake_string(spec + 1, strlen(spec + 1));
		return STORE_OK;
	}
	if (spec[0] == '%') {
		r = fake_alloc(sizeof *r);
		r->type = STORE_T_INT;
		r->integer = strtoll(spec + 1, NULL, 10);
		*out = r;
		return STORE_OK;
	}
	r = fake_alloc(sizeof *r);
	r->type = STORE_T_ARRAY;
	while (p <= end) {
		const char *bar = memchr(p, '|', (size_t)(end - p));
		const char *e = bar ? bar : end;

		fake_push(r, fake_element(p, (size_t)(e - p)));
		p = e + 1;
	}
	*out = r;
	return STORE_OK;
}

/* Reads every argument to its length, as hiredis would. */
static void fake_touch(int argc, const char *const *argv, const size_t *lens)
{
	volatile unsigned char sum = 0;

	for (int i = 0; i < argc; i++) {
		size_t n = lens ? lens[i] : strlen(argv[i]);

		for (size_t k = 0; k < n; k++)
			sum = (unsigned char)(sum + (unsigned char)argv[i][k]);
	}
	(void)sum;
}

/* The input's override of a spec, when it has one. */
static const char *fake_spec(const char *param, const char *def)
{
	const char *v =
	    fake_store_input ? fuzz_input_get(fake_store_input, param) : NULL;

	return v ? v : def;
}

struct store *store_new(const struct config *cfg)
{
	struct store *st = fake_alloc(sizeof *st);

	st->cfg = cfg;
	return st;
}

void store_free(struct store *st)
{
	free(st);
}

int store_shards(const struct store *st)
{
	return st->cfg->shards > 1 ? (int)st->cfg->shards : 1;
}

/* Fails the run when a call names a shard the deployment lacks. */
static void fake_check_shard(const struct store *st, int shard)
{
	if (shard < 0 || shard >= store_shards(st))
		fuzz_fail("store call on shard %d of %d", shard,
			  store_shards(st));
}

enum store_result store_script(struct store *st, int shard, enum script_id id,
			       int argc, const char *const *argv,
			       const size_t *lens, struct store_reply **out)
{
	*out = NULL;
	fake_check_shard(st, shard);
	if ((int)id < 0 || id >= SCRIPT_COUNT)
		fuzz_fail("store_script: no script %d", (int)id);
	if (argc < 0 || argc > STORE_SCRIPT_ARGS_MAX) {
		snprintf(st->err, sizeof st->err, "too many arguments");
		return STORE_ERROR;
	}
	fake_touch(argc, argv, lens);
	return fake_reply(fake_spec("FUZZ_STORE", fake_script_replies[id]),
			  out);
}

enum store_result store_command(struct store *st, int shard, int argc,
				const char *const *argv, const size_t *lens,
				struct store_reply **out)
{
	*out = NULL;
	fake_check_shard(st, shard);
	if (argc <= 0 || argc > STORE_ARGS_MAX) {
		snprintf(st->err, sizeof st->err, "bad argument count");
		return STORE_ERROR;
	}
	fake_touch(argc, argv, lens);
	if (strcmp(argv[0], "HMGET") == 0)
		return fake_reply(fake_spec("FUZZ_VENUE", FUZZ_VENUE_SECRET
					    "|0.0.0.0/0,::/0"),
				  out);
	if (strcmp(argv[0], "ROLE") == 0)
		return fake_reply(fake_spec("FUZZ_STORE", "master|#0|~"), out);
	return fake_reply(fake_spec("FUZZ_STORE", "=PONG"), out);
}

const char *store_last_error(const struct store *st)
{
	return st->err;
}

int store_paused(const struct store *st)
{
	(void)st;
	return 0;
}

const char *store_mode(const struct store *st)
{
	(void)st;
	return "standalone";
}

void store_key(const struct store *st, int shard, const char *name, char *out,
	       size_t size)
{
	char base[SHARD_BASE_MAX];

	fake_check_shard(st, shard);
	if (shard_base(st->cfg, shard, base, sizeof base) != 0)
		base[0] = '\0';
	snprintf(out, size, "%s%s", base, name);
}

int store_anchor(const struct store *st, int shard, char *out, size_t size)
{
	char name[16];

	snprintf(name, sizeof name, "anchor");
	store_key(st, shard, name, out, size);
	return 0;
}

/* Pipelining (the event loop's) stays off: every call answers at once. */
void store_set_pipeline(struct store *st, const struct store_pipeline_ops *ops)
{
	(void)st;
	(void)ops;
}

size_t store_pipeline_pending(const struct store *st)
{
	(void)st;
	return 0;
}

void store_pipeline_flush(struct store *st)
{
	(void)st;
}

void store_reply_free(struct store_reply *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->count; i++)
		store_reply_free(r->items[i]);
	free(r->items);
	free(r->str);
	free(r);
}

enum store_type store_reply_type(const struct store_reply *r)
{
	return r ? r->type : STORE_T_NIL;
}

size_t store_reply_count(const struct store_reply *r)
{
	return r && r->type == STORE_T_ARRAY ? r->count : 0;
}

const struct store_reply *store_reply_at(const struct store_reply *r, size_t i)
{
	if (r == NULL || r->type != STORE_T_ARRAY || i >= r->count)
		return NULL;
	return r->items[i];
}

const char *store_reply_str(const struct store_reply *r, size_t *len)
{
	if (r == NULL || r->type != STORE_T_STR) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = r->len;
	return r->str;
}

long long store_reply_int(const struct store_reply *r)
{
	return r && r->type == STORE_T_INT ? r->integer : 0;
}

/* ---- a quiet log --------------------------------------------------------- */

void log_set_level(const char *name)
{
	(void)name;
}

int log_enabled(enum log_level level)
{
	(void)level;
	return 1;
}

/* Formats the line, as log.c does, and drops it. */
void log_line(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	(void)level;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
}
