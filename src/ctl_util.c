/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_util.c - what every heartbeatctl command shares: messages, checked
 * input, money and time output, and Redis calls through the store.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "json.h"
#include "shard.h"
#include "status.h"
#include "util.h"

/* The keys one SCAN step asks for. */
#define CTL_SCAN_COUNT "1000"

/* ---- Messages and checked input ------------------------------------------ */

int ctl_fail(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("heartbeatctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/*
 * Checks that s is 1 to max bytes with no control character (and, with
 * space set, no space). Returns 0, or CTL_EXIT_USAGE after saying why.
 */
static int ctl_check_chars(const char *what, const char *s, size_t max,
			   int space)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return ctl_fail(CTL_EXIT_USAGE, "%s must be 1 to %zu bytes",
				what, max);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f || (space && ch == ' '))
			return ctl_fail(CTL_EXIT_USAGE,
					"%s must not hold %scontrol characters",
					what, space ? "spaces or " : "");
	}
	return 0;
}

int ctl_check_id(const char *what, const char *id, enum ctl_id_kind kind)
{
	int rc = ctl_check_chars(what, id, CTL_ID_MAX, 1);

	if (rc == 0 && kind == CTL_ID_NO_COLON && strchr(id, ':') != NULL)
		rc = ctl_fail(CTL_EXIT_USAGE, "%s must not hold ':'", what);
	return rc;
}

int ctl_check_text(const char *what, const char *s, size_t max)
{
	return ctl_check_chars(what, s, max, 0);
}

int ctl_parse_coins(const char *what, const char *s, int64_t min, int64_t max,
		    int64_t *out)
{
	char lo[CTL_COINS_BUF], hi[CTL_COINS_BUF];

	if (util_parse_milli(s, max, out) == 0 && *out >= min)
		return 0;
	ctl_coins(min, lo, sizeof lo);
	ctl_coins(max, hi, sizeof hi);
	return ctl_fail(CTL_EXIT_USAGE,
			"%s must be an amount of coins from %s to %s with at "
			"most 3 decimals",
			what, lo, hi);
}

int ctl_parse_count(const char *what, const char *s, int64_t min, int64_t max,
		    int64_t def, int64_t *out)
{
	if (s == NULL) {
		*out = def;
		return 0;
	}
	if (util_parse_int(s, min, max, out) == 0)
		return 0;
	return ctl_fail(CTL_EXIT_USAGE,
			"%s must be an integer from %lld to %lld", what,
			(long long)min, (long long)max);
}

const char *ctl_parse_switch(const char *s)
{
	if (strcmp(s, "on") == 0)
		return "1";
	if (strcmp(s, "off") == 0)
		return "0";
	return NULL;
}

void ctl_coins(int64_t milli, char *buf, size_t size)
{
	uint64_t mag = milli < 0 ? 0 - (uint64_t)milli : (uint64_t)milli;

	snprintf(buf, size, "%s%llu.%03llu", milli < 0 ? "-" : "",
		 (unsigned long long)(mag / 1000),
		 (unsigned long long)(mag % 1000));
}

void ctl_coins_text(const char *milli, char *buf, size_t size)
{
	int64_t v;

	if (util_parse_int(milli, INT64_MIN, INT64_MAX, &v) != 0)
		snprintf(buf, size, "-");
	else
		ctl_coins(v, buf, size);
}

void ctl_time_text(const char *ms, char *buf, size_t size)
{
	int64_t v;

	if (util_parse_int(ms, 0, INT64_MAX, &v) != 0)
		snprintf(buf, size, "-");
	else
		util_format_time_ms(v, buf, size);
}

void ctl_itoa(int64_t v, char *buf, size_t size)
{
	snprintf(buf, size, "%lld", (long long)v);
}

int64_t ctl_now_ms(const struct ctl *c)
{
	return c->changed_ms > 0 ? c->changed_ms : util_now_ms();
}

/* ---- Redis -----------------------------------------------------------------
 */

void ctl_key(const struct ctl *c, char *out, size_t size, const char *fmt, ...)
{
	char name[CTL_KEY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	store_key(c->store, c->shard, name, out, size);
}

void ctl_say(const struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	if (c->quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

void ctl_use_shard(struct ctl *c, int shard)
{
	if (c->shard != shard)
		c->anchored = 0;
	c->shard = shard;
}

void ctl_use_owner(struct ctl *c, const char *owner)
{
	ctl_use_shard(c, shard_of_owner(c->cfg, owner, strlen(owner)));
}

void ctl_use_id(struct ctl *c, const char *prefix, const char *id)
{
	size_t plen = strlen(prefix), len = strlen(id);

	ctl_use_shard(c, len >= plen && memcmp(id, prefix, plen) == 0
			     ? shard_of_id(c->cfg, id + plen, len - plen)
			     : 0);
}

/* Says why the store failed (res) and gives the exit status for it. */
static int ctl_store_failed(const struct ctl *c, enum store_result res)
{
	return ctl_fail(CTL_EXIT_UNAVAILABLE, "%s: %s",
			res == STORE_UNAVAILABLE ? "redis unavailable"
						 : "redis error",
			store_last_error(c->store));
}

/*
 * Before the first command that can create a key, or the transaction that
 * holds it, makes sure the anchor exists: every script names it, and on a
 * Redis Cluster it must exist wherever any key of the service does (see
 * src/lua/common.lua).
 */
static int ctl_anchor(struct ctl *c, const char *cmd)
{
	char key[CTL_KEY_MAX];
	const char *argv[5] = {"SET", key, "1", "NX", NULL};
	struct store_reply *r = NULL;
	enum store_result res;

	if (c->anchored ||
	    (strcmp(cmd, "HSET") != 0 && strcmp(cmd, "HSETNX") != 0 &&
	     strcmp(cmd, "SADD") != 0 && strcmp(cmd, "MULTI") != 0))
		return 0;
	ctl_key(c, key, sizeof key, "%s", KEYS_NAME(ANCHOR));
	res = store_command(c->store, c->shard, 4, argv, NULL, &r);
	store_reply_free(r);
	if (res != STORE_OK)
		return ctl_store_failed(c, res);
	c->anchored = 1;
	return 0;
}

int ctl_redis_argv(struct ctl *c, struct store_reply **out,
		   const char *const *argv)
{
	struct store_reply *r = NULL;
	enum store_result res;
	int argc = 0, rc;

	while (argv[argc] != NULL)
		argc++;
	if (argc > 0 && (rc = ctl_anchor(c, argv[0])) != 0)
		return rc;
	res = store_command(c->store, c->shard, argc, argv, NULL, &r);
	if (res != STORE_OK)
		return ctl_store_failed(c, res);
	if (out != NULL)
		*out = r;
	else
		store_reply_free(r);
	return 0;
}

int ctl_redis_bin(struct ctl *c, struct store_reply **out, int argc,
		  const char *const *argv, const size_t *lens)
{
	struct store_reply *r = NULL;
	enum store_result res;
	int rc;

	if (argc > 0 && (rc = ctl_anchor(c, argv[0])) != 0)
		return rc;
	res = store_command(c->store, c->shard, argc, argv, lens, &r);
	if (res != STORE_OK)
		return ctl_store_failed(c, res);
	if (out != NULL)
		*out = r;
	else
		store_reply_free(r);
	return 0;
}

int ctl_copy_key(struct ctl *c, int from, int to, const char *name, int del)
{
	char src[CTL_KEY_MAX], dst[CTL_KEY_MAX], ttl[24];
	struct store_reply *dump = NULL, *r;
	const char *payload;
	size_t plen;
	long long pttl;
	int back = c->shard, rc;

	ctl_use_shard(c, from);
	ctl_key(c, src, sizeof src, "%s", name);
	if ((rc = ctl_redis(c, &dump, "DUMP", src, NULL)) != 0 ||
	    (rc = ctl_redis(c, &r, "PTTL", src, NULL)) != 0)
		goto done;
	pttl = store_reply_int(r);
	store_reply_free(r);
	payload = store_reply_str(dump, &plen);
	if (payload == NULL || pttl == -2) {
		rc = CTL_EXIT_REFUSED; /* gone meanwhile */
		goto done;
	}
	/* RESTORE takes 0 as "no expiry": a key about to expire keeps 1 ms. */
	ctl_itoa(pttl < 0 ? 0 : pttl == 0 ? 1 : pttl, ttl, sizeof ttl);
	ctl_use_shard(c, to);
	ctl_key(c, dst, sizeof dst, "%s", name);
	{
		const char *argv[] = {"RESTORE", dst, ttl, payload, "REPLACE"};
		const size_t lens[] = {7, strlen(dst), strlen(ttl), plen, 7};

		rc = ctl_redis_bin(c, NULL, 5, argv, lens);
	}
	if (rc == 0 && del) {
		ctl_use_shard(c, from);
		rc = ctl_redis(c, NULL, "DEL", src, NULL);
	}
done:
	store_reply_free(dump);
	ctl_use_shard(c, back);
	return rc;
}

int ctl_redis(struct ctl *c, struct store_reply **out, ...)
{
	const char *argv[STORE_ARGS_MAX + 1];
	const char *word;
	int argc = 0;
	va_list ap;

	va_start(ap, out);
	while ((word = va_arg(ap, const char *)) != NULL &&
	       argc < STORE_ARGS_MAX)
		argv[argc++] = word;
	va_end(ap);
	argv[argc] = NULL;
	return ctl_redis_argv(c, out, argv);
}

/* The words of a script's refusal, for people: the status table's message. */
static const char *ctl_refusal_message(const char *code, size_t len)
{
	enum hb_status st;

	if (hb_status_from_code(code, len, &st) != 0 || st == HB_NOT_FOUND)
		return "not found";
	return hb_status_message(st);
}

int ctl_script(struct ctl *c, enum script_id id, const char *what,
	       const char *const *argv, struct store_reply **out)
{
	struct store_reply *r = NULL;
	enum store_result res;
	const char *code;
	size_t len;
	int argc = 0;

	*out = NULL;
	while (argv[argc] != NULL)
		argc++;
	res = store_script(c->store, c->shard, id, argc, argv, NULL, &r);
	if (res != STORE_OK)
		return ctl_store_failed(c, res);
	code = store_reply_str(store_reply_at(r, 0), &len);
	if (code != NULL && len == 2 && memcmp(code, "OK", 2) == 0) {
		*out = r;
		return 0;
	}
	if (code == NULL) {
		code = "";
		len = 0;
	}
	ctl_fail(CTL_EXIT_REFUSED, "%s: %s (%.*s)", what,
		 ctl_refusal_message(code, len), (int)len, code);
	store_reply_free(r);
	return CTL_EXIT_REFUSED;
}

int ctl_exists(struct ctl *c, const char *key, int *found)
{
	struct store_reply *r;
	int rc = ctl_redis(c, &r, "EXISTS", key, NULL);

	if (rc != 0)
		return rc;
	*found = store_reply_int(r) > 0;
	store_reply_free(r);
	return 0;
}

/*
 * Sends MULTI, the commands of cmds and EXEC. Returns 0, CTL_EXIT_REFUSED
 * when EXEC found a WATCHed key changed, or CTL_EXIT_UNAVAILABLE. After a
 * failure the connection may stay inside MULTI: the tool exits at once, and
 * Redis discards the transaction with the connection. None of the commands
 * used answers nil, so a nil (or error, which reads as nil) in EXEC's answer
 * is a command that failed, such as one on a key of another type.
 */
static int ctl_exec(struct ctl *c, const char *const *const *cmds)
{
	struct store_reply *r;
	int rc = ctl_redis(c, NULL, "MULTI", NULL);

	for (; rc == 0 && *cmds != NULL; cmds++)
		rc = ctl_redis_argv(c, NULL, *cmds);
	if (rc == 0 && c->config_version > 0) {
		/* A change of every shard's configuration: its version. */
		char key[CTL_KEY_MAX], v[24];

		ctl_key(c, key, sizeof key, "%s", KEYS_NAME(CONFIG_VERSION));
		ctl_itoa(c->config_version, v, sizeof v);
		rc = ctl_redis(c, NULL, "SET", key, v, NULL);
	}
	if (rc == 0)
		rc = ctl_redis(c, &r, "EXEC", NULL);
	if (rc != 0)
		return rc;
	rc = store_reply_type(r) == STORE_T_ARRAY ? 0 : CTL_EXIT_REFUSED;
	for (size_t i = 0; rc == 0 && i < store_reply_count(r); i++)
		if (store_reply_type(store_reply_at(r, i)) == STORE_T_NIL)
			rc = ctl_fail(CTL_EXIT_UNAVAILABLE,
				      "redis error: command %zu of a write "
				      "failed",
				      i + 1);
	store_reply_free(r);
	return rc;
}

int ctl_write(struct ctl *c, const char *guard, enum ctl_guard g,
	      const char *const *const *cmds)
{
	if (g == CTL_GUARD_NONE)
		return ctl_exec(c, cmds);
	for (int i = 0; i < CTL_WRITE_TRIES; i++) {
		int rc = ctl_redis(c, NULL, "WATCH", guard, NULL), found = 0;

		if (rc == 0)
			rc = ctl_exists(c, guard, &found);
		if (rc != 0)
			return rc;
		if (found != (g == CTL_GUARD_EXISTS)) {
			rc = ctl_redis(c, NULL, "UNWATCH", NULL);
			return rc != 0 ? rc : CTL_EXIT_REFUSED;
		}
		rc = ctl_exec(c, cmds);
		if (rc != CTL_EXIT_REFUSED)
			return rc;
	}
	return CTL_EXIT_REFUSED;
}

int ctl_set_field(struct ctl *c, const char *key, const char *field,
		  const char *value)
{
	const char *hset[] = {"HSET", key, field, value, NULL};
	const char *const *cmds[] = {hset, NULL};

	return ctl_write(c, key, CTL_GUARD_EXISTS, cmds);
}

int ctl_update(struct ctl *c, const char *noun, const char *key, const char *id,
	       const char *field, const char *value, const char *done)
{
	int rc = ctl_set_field(c, key, field, value);

	if (rc == CTL_EXIT_REFUSED)
		return ctl_fail(rc, "no such %s: %s", noun, id);
	if (rc == 0)
		ctl_say(c, "%s %s %s\n", noun, id, done);
	return rc;
}

int ctl_hmget(struct ctl *c, const char *key, const char *const *fields,
	      struct ctl_row *row)
{
	const char *argv[CTL_ROW_MAX + 3] = {"HMGET", key};
	struct store_reply *r;
	size_t n = 0;
	int rc;

	while (fields[n] != NULL && n < CTL_ROW_MAX) {
		argv[n + 2] = fields[n];
		n++;
	}
	argv[n + 2] = NULL;
	rc = ctl_redis_argv(c, &r, argv);
	if (rc != 0)
		return rc;
	row->found = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *s = store_reply_str(store_reply_at(r, i), &len);

		row->found |= s != NULL;
		snprintf(row->v[i], sizeof row->v[i], "%.*s", (int)len,
			 s ? s : "");
	}
	store_reply_free(r);
	return 0;
}

/* ---- Lists of names
 * ---------------------------------------------------------- */

static int ctl_names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Appends the strings of the array reply r to n, without their first skip
 * bytes. Returns 0, or -1 when out of memory.
 */
static int ctl_names_add(struct ctl_names *n, const struct store_reply *r,
			 size_t skip)
{
	size_t more = store_reply_count(r);
	char **v = realloc(n->v, (n->count + more + 1) * sizeof *v);

	if (v == NULL)
		return -1;
	n->v = v;
	for (size_t i = 0; i < more; i++) {
		size_t len;
		const char *s = store_reply_str(store_reply_at(r, i), &len);
		char *copy;

		if (s == NULL || len < skip)
			continue;
		copy = malloc(len - skip + 1);
		if (copy == NULL)
			return -1;
		memcpy(copy, s + skip, len - skip);
		copy[len - skip] = '\0';
		n->v[n->count++] = copy;
	}
	return 0;
}

void ctl_names_free(struct ctl_names *n)
{
	for (size_t i = 0; i < n->count; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->count = 0;
}

/* Sorts the names (if sort), or frees them when adding failed (rc != 0). */
static int ctl_names_done(struct ctl_names *n, int rc, int sort)
{
	if (rc == -1)
		rc = ctl_fail(CTL_EXIT_UNAVAILABLE, "out of memory");
	if (rc != 0) {
		ctl_names_free(n);
		return rc;
	}
	if (sort && n->count > 1)
		qsort(n->v, n->count, sizeof *n->v, ctl_names_cmp);
	return 0;
}

int ctl_names_of(struct ctl *c, const char *const *argv, int sort,
		 struct ctl_names *out)
{
	struct store_reply *r;
	int rc;

	out->v = NULL;
	out->count = 0;
	rc = ctl_redis_argv(c, &r, argv);
	if (rc == 0) {
		rc = ctl_names_add(out, r, 0);
		store_reply_free(r);
	}
	return ctl_names_done(out, rc, sort);
}

int ctl_members(struct ctl *c, const char *name, struct ctl_names *out)
{
	char key[CTL_KEY_MAX];
	const char *argv[] = {"SMEMBERS", key, NULL};

	ctl_key(c, key, sizeof key, "%s", name);
	return ctl_names_of(c, argv, 1, out);
}

int ctl_each_row(struct ctl *c, struct ctl_names *names, const char *prefix,
		 const char *const *fields, ctl_row_fn fn, void *ctx)
{
	struct ctl_row row;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < names->count; i++) {
		char key[CTL_KEY_MAX];

		ctl_key(c, key, sizeof key, "%s%s", prefix, names->v[i]);
		rc = ctl_hmget(c, key, fields, &row);
		if (rc == 0 && row.found)
			rc = fn(c, names->v[i], &row, ctx);
	}
	ctl_names_free(names);
	return rc;
}

int ctl_each_member(struct ctl *c, const char *set, const char *prefix,
		    const char *const *fields, ctl_row_fn fn, void *ctx)
{
	struct ctl_names names;
	int rc = ctl_members(c, set, &names);

	return rc != 0 ? rc : ctl_each_row(c, &names, prefix, fields, fn, ctx);
}

/* Writes s into out with the glob characters of SCAN's MATCH escaped. */
static void ctl_glob_escape(const char *s, char *out, size_t size)
{
	size_t n = 0;

	for (; *s != '\0' && n + 2 < size; s++) {
		if (strchr("*?[]\\", *s) != NULL)
			out[n++] = '\\';
		out[n++] = *s;
	}
	out[n] = '\0';
}

int ctl_scan(struct ctl *c, const char *prefix, struct ctl_names *out)
{
	char key[CTL_KEY_MAX], match[2 * CTL_KEY_MAX + 2];
	char cursor[32] = "0";
	size_t skip;
	int rc = 0;

	out->v = NULL;
	out->count = 0;
	ctl_key(c, key, sizeof key, "%s", "");
	skip = strlen(key);
	ctl_key(c, key, sizeof key, "%s", prefix);
	ctl_glob_escape(key, match, sizeof match - 1);
	strcat(match, "*");
	do {
		struct store_reply *r;
		const char *next;
		size_t len;

		rc = ctl_redis(c, &r, "SCAN", cursor, "MATCH", match, "COUNT",
			       CTL_SCAN_COUNT, NULL);
		if (rc != 0)
			break;
		next = store_reply_str(store_reply_at(r, 0), &len);
		snprintf(cursor, sizeof cursor, "%.*s", next ? (int)len : 1,
			 next ? next : "0");
		rc = ctl_names_add(out, store_reply_at(r, 1), skip);
		store_reply_free(r);
	} while (rc == 0 && strcmp(cursor, "0") != 0);
	return ctl_names_done(out, rc, 1);
}

int ctl_scan_each(struct ctl *c, const char *prefix, ctl_key_fn fn, void *ctx)
{
	char key[CTL_KEY_MAX], match[2 * CTL_KEY_MAX + 2];
	char cursor[32] = "0";
	size_t skip;
	int shard = c->shard, rc = 0;

	ctl_key(c, key, sizeof key, "%s", "");
	skip = strlen(key);
	ctl_key(c, key, sizeof key, "%s", prefix);
	ctl_glob_escape(key, match, sizeof match - 1);
	strcat(match, "*");
	do {
		struct store_reply *r;
		const struct store_reply *names;
		const char *next;
		size_t len;

		ctl_use_shard(c, shard); /* fn may have gone elsewhere */
		rc = ctl_redis(c, &r, "SCAN", cursor, "MATCH", match, "COUNT",
			       CTL_SCAN_COUNT, NULL);
		if (rc != 0)
			break;
		next = store_reply_str(store_reply_at(r, 0), &len);
		snprintf(cursor, sizeof cursor, "%.*s", next ? (int)len : 1,
			 next ? next : "0");
		names = store_reply_at(r, 1);
		for (size_t i = 0; rc == 0 && i < store_reply_count(names);
		     i++) {
			const char *s =
			    store_reply_str(store_reply_at(names, i), &len);
			char name[CTL_KEY_MAX];

			if (s == NULL || len < skip ||
			    len - skip >= sizeof name)
				continue;
			memcpy(name, s + skip, len - skip);
			name[len - skip] = '\0';
			ctl_use_shard(c, shard);
			rc = fn(c, name, ctx);
		}
		store_reply_free(r);
	} while (rc == 0 && strcmp(cursor, "0") != 0);
	ctl_use_shard(c, shard);
	return rc;
}

/* ---- JSON output ------------------------------------------------------------
 */

/* Whether the field named (name, len) is listed in numeric. */
static int ctl_is_numeric(const char *name, size_t len,
			  const char *const *numeric)
{
	for (; *numeric != NULL; numeric++)
		if (strlen(*numeric) == len && memcmp(*numeric, name, len) == 0)
			return 1;
	return 0;
}

void ctl_print_json(const char *id, size_t id_len,
		    const struct store_reply *pairs, const char *const *numeric)
{
	struct jw w;

	jw_init(&w);
	jw_object_begin(&w);
	if (id != NULL) {
		jw_key(&w, "id");
		jw_string_n(&w, id, id_len);
	}
	for (size_t i = 0; i + 1 < store_reply_count(pairs); i += 2) {
		size_t klen, vlen;
		const char *k =
		    store_reply_str(store_reply_at(pairs, i), &klen);
		const char *v =
		    store_reply_str(store_reply_at(pairs, i + 1), &vlen);
		char name[CTL_KEY_MAX];
		int64_t num;

		snprintf(name, sizeof name, "%.*s", (int)klen, k ? k : "");
		jw_key(&w, name);
		if (ctl_is_numeric(k, klen, numeric) &&
		    util_parse_int64(v, vlen, INT64_MIN, INT64_MAX, &num) == 0)
			jw_int(&w, num);
		else
			jw_string_n(&w, v, vlen);
	}
	jw_object_end(&w);
	if (!w.failed)
		printf("%.*s\n", (int)w.len, w.buf);
	jw_free(&w);
}
