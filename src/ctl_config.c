/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_config.c - heartbeatctl config: the configuration every shard holds.
 * Games and API keys (game:<id>, games, apikey:<sha256>, gamekeys:<game>),
 * which every game call reads, are written into every shard in order, each
 * write stamping the shard's config_version in its transaction (ctl_main.c).
 * A change cut short leaves shards of two versions: config status shows
 * them, config sync makes every shard equal to shard 0, the first one every
 * change writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "util.h"

/* The key names one line of config status shows. */
#define CTL_CONFIG_SHOWN 3

/* The families of keys the configuration is made of. */
static const enum keys_key ctl_config_families[] = {KEYS_GAME, KEYS_GAMES,
						    KEYS_APIKEY, KEYS_GAMEKEYS};
#define CTL_CONFIG_FAMILIES                                                    \
	(sizeof ctl_config_families / sizeof ctl_config_families[0])

/* One key of the configuration: its name and its content, canonical. */
struct ctl_conf_key {
	char *name; /* after the key base */
	char *body; /* its fields or members, sorted, as netstrings */
	size_t len;
};

/* What one shard holds of the configuration. */
struct ctl_conf {
	struct ctl_conf_key *v; /* sorted by name */
	size_t count;
	int64_t version; /* config_version: 0 when none, -1 when unreadable */
	int failed;	 /* out of memory */
};

int ctl_config_key(const char *name)
{
	for (size_t i = 0; i < CTL_CONFIG_FAMILIES; i++) {
		const char *f = keys_defs[ctl_config_families[i]].name;
		size_t len = strlen(f);

		if (f[len - 1] == ':' ? strncmp(name, f, len) == 0
				      : strcmp(name, f) == 0)
			return 1;
	}
	return 0;
}

static void ctl_conf_free(struct ctl_conf *conf)
{
	for (size_t i = 0; i < conf->count; i++) {
		free(conf->v[i].name);
		free(conf->v[i].body);
	}
	free(conf->v);
	memset(conf, 0, sizeof *conf);
}

static int ctl_conf_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ctl_conf_key *)a)->name,
		      ((const struct ctl_conf_key *)b)->name);
}

/* Orders the elements of a reply (fields by name, pairs kept together). */
struct ctl_conf_item {
	const char *s;
	size_t len;
	const char *v; /* a field's value, or NULL */
	size_t vlen;
};

static int ctl_conf_item_cmp(const void *a, const void *b)
{
	const struct ctl_conf_item *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int d = memcmp(x->s, y->s, n);

	return d != 0 ? d : (x->len > y->len) - (x->len < y->len);
}

/* Appends a netstring ("5:hello,") to buf at *n (room checked by caller). */
static void ctl_conf_put(char *buf, size_t *n, const char *s, size_t len)
{
	*n += (size_t)sprintf(buf + *n, "%zu:", len);
	memcpy(buf + *n, s, len);
	*n += len;
	buf[(*n)++] = ',';
}

/*
 * The canonical content of the key r's elements make: a hash's fields
 * (pairs set) or a set's members, sorted, as netstrings after a letter
 * naming the type. Returns the body (caller frees; *len set) or NULL.
 */
static char *ctl_conf_body(const struct store_reply *r, int pairs, size_t *len)
{
	size_t step = pairs ? 2 : 1, count = store_reply_count(r) / step;
	struct ctl_conf_item *items = calloc(count + 1, sizeof *items);
	size_t room = 2, n = 0;
	char *body;

	if (items == NULL)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		items[i].s =
		    store_reply_str(store_reply_at(r, i * step), &items[i].len);
		if (pairs)
			items[i].v = store_reply_str(
			    store_reply_at(r, i * step + 1), &items[i].vlen);
		if (items[i].s == NULL)
			items[i].s = "";
		if (pairs && items[i].v == NULL)
			items[i].v = "";
		room += items[i].len + items[i].vlen + 2 * 24;
	}
	qsort(items, count, sizeof *items, ctl_conf_item_cmp);
	body = malloc(room);
	if (body != NULL) {
		body[n++] = pairs ? 'h' : 's';
		for (size_t i = 0; i < count; i++) {
			ctl_conf_put(body, &n, items[i].s, items[i].len);
			if (pairs)
				ctl_conf_put(body, &n, items[i].v,
					     items[i].vlen);
		}
	}
	free(items);
	*len = n;
	return body;
}

/* Adds the key name of the current shard, with its content, to conf. */
static int ctl_conf_add(struct ctl *c, const char *name, void *ctx)
{
	struct ctl_conf *conf = ctx;
	struct ctl_conf_key *v, *k;
	struct store_reply *r;
	char key[CTL_KEY_MAX];
	const char *type;
	size_t len;
	int rc;

	ctl_key(c, key, sizeof key, "%s", name);
	if ((rc = ctl_redis(c, &r, "TYPE", key, NULL)) != 0)
		return rc;
	type = store_reply_str(r, &len);
	if (type != NULL && len == 4 && memcmp(type, "hash", 4) == 0)
		type = "HGETALL";
	else if (type != NULL && len == 3 && memcmp(type, "set", 3) == 0)
		type = "SMEMBERS";
	else
		type = NULL; /* gone meanwhile, or not ours to read */
	store_reply_free(r);
	if (type == NULL)
		return 0;
	if ((rc = ctl_redis(c, &r, type, key, NULL)) != 0)
		return rc;
	v = realloc(conf->v, (conf->count + 1) * sizeof *v);
	if (v == NULL) {
		store_reply_free(r);
		conf->failed = 1;
		return ctl_fail(CTL_EXIT_UNAVAILABLE, "out of memory");
	}
	conf->v = v;
	k = &v[conf->count];
	k->body = ctl_conf_body(r, type[0] == 'H', &k->len);
	k->name = strdup(name);
	store_reply_free(r);
	if (k->body == NULL || k->name == NULL) {
		free(k->body);
		free(k->name);
		conf->failed = 1;
		return ctl_fail(CTL_EXIT_UNAVAILABLE, "out of memory");
	}
	conf->count++;
	return 0;
}

/* Reads what shard holds of the configuration into conf. */
static int ctl_conf_read(struct ctl *c, int shard, struct ctl_conf *conf)
{
	char key[CTL_KEY_MAX];
	struct store_reply *r;
	const char *s;
	size_t len;
	int rc = 0;

	memset(conf, 0, sizeof *conf);
	ctl_use_shard(c, shard);
	ctl_key(c, key, sizeof key, "%s", KEYS_NAME(CONFIG_VERSION));
	if ((rc = ctl_redis(c, &r, "GET", key, NULL)) != 0)
		return rc;
	s = store_reply_str(r, &len);
	if (s != NULL &&
	    util_parse_int64(s, len, 0, INT64_MAX, &conf->version) != 0)
		conf->version = -1;
	store_reply_free(r);
	for (size_t i = 0; rc == 0 && i < CTL_CONFIG_FAMILIES; i++) {
		const char *f = keys_defs[ctl_config_families[i]].name;

		if (f[strlen(f) - 1] == ':') {
			rc = ctl_scan_each(c, f, ctl_conf_add, conf);
		} else {
			int found = 0;

			ctl_key(c, key, sizeof key, "%s", f);
			rc = ctl_exists(c, key, &found);
			if (rc == 0 && found)
				rc = ctl_conf_add(c, f, conf);
		}
	}
	if (rc != 0) {
		ctl_conf_free(conf);
		return rc;
	}
	if (conf->count > 1)
		qsort(conf->v, conf->count, sizeof *conf->v, ctl_conf_cmp);
	return 0;
}

/* What a shard must change to hold what shard 0 holds. */
struct ctl_conf_diff {
	const struct ctl_conf_key **write; /* missing or different */
	size_t nwrite;
	const struct ctl_conf_key **drop; /* not in shard 0 */
	size_t ndrop;
};

static void ctl_conf_diff_free(struct ctl_conf_diff *d)
{
	free(d->write);
	free(d->drop);
	memset(d, 0, sizeof *d);
}

/* Compares b with a (shard 0's) into d. Returns 0 or -1 (out of memory). */
static int ctl_conf_diff(const struct ctl_conf *a, const struct ctl_conf *b,
			 struct ctl_conf_diff *d)
{
	size_t i = 0, j = 0;

	memset(d, 0, sizeof *d);
	d->write = calloc(a->count + 1, sizeof *d->write);
	d->drop = calloc(b->count + 1, sizeof *d->drop);
	if (d->write == NULL || d->drop == NULL) {
		ctl_conf_diff_free(d);
		return -1;
	}
	while (i < a->count || j < b->count) {
		int cmp = i == a->count	  ? 1
			  : j == b->count ? -1
					  : strcmp(a->v[i].name, b->v[j].name);

		if (cmp < 0) {
			d->write[d->nwrite++] = &a->v[i++];
		} else if (cmp > 0) {
			d->drop[d->ndrop++] = &b->v[j++];
		} else {
			if (a->v[i].len != b->v[j].len ||
			    memcmp(a->v[i].body, b->v[j].body, a->v[i].len) !=
				0)
				d->write[d->nwrite++] = &a->v[i];
			i++;
			j++;
		}
	}
	return 0;
}

/* Sends EXEC and checks that every command of the transaction applied. */
static int ctl_conf_exec(struct ctl *c)
{
	struct store_reply *r;
	int rc = ctl_redis(c, &r, "EXEC", NULL);

	if (rc != 0)
		return rc;
	if (store_reply_type(r) != STORE_T_ARRAY)
		rc = ctl_fail(CTL_EXIT_UNAVAILABLE,
			      "redis error: a transaction was discarded");
	for (size_t i = 0; rc == 0 && i < store_reply_count(r); i++)
		if (store_reply_type(store_reply_at(r, i)) == STORE_T_NIL)
			rc = ctl_fail(CTL_EXIT_UNAVAILABLE,
				      "redis error: command %zu of a write "
				      "failed",
				      i + 1);
	store_reply_free(r);
	return rc;
}

/*
 * Writes d into shard in one transaction: DUMPs of shard 0's keys restored
 * over shard's, the keys shard 0 lacks deleted, and version (0: none).
 */
static int ctl_conf_apply(struct ctl *c, int shard,
			  const struct ctl_conf_diff *d, int64_t version)
{
	struct store_reply **dumps = calloc(d->nwrite + 1, sizeof *dumps);
	char key[CTL_KEY_MAX], v[24];
	int rc = 0;

	if (dumps == NULL)
		return ctl_fail(CTL_EXIT_UNAVAILABLE, "out of memory");
	ctl_use_shard(c, 0);
	for (size_t i = 0; rc == 0 && i < d->nwrite; i++) {
		ctl_key(c, key, sizeof key, "%s", d->write[i]->name);
		rc = ctl_redis(c, &dumps[i], "DUMP", key, NULL);
	}
	ctl_use_shard(c, shard);
	if (rc == 0)
		rc = ctl_redis(c, NULL, "MULTI", NULL);
	for (size_t i = 0; rc == 0 && i < d->ndrop; i++) {
		ctl_key(c, key, sizeof key, "%s", d->drop[i]->name);
		rc = ctl_redis(c, NULL, "DEL", key, NULL);
	}
	for (size_t i = 0; rc == 0 && i < d->nwrite; i++) {
		size_t plen;
		const char *payload = store_reply_str(dumps[i], &plen);

		ctl_key(c, key, sizeof key, "%s", d->write[i]->name);
		if (payload == NULL) {
			/* Gone from shard 0 since it was read. */
			rc = ctl_redis(c, NULL, "DEL", key, NULL);
		} else {
			const char *argv[] = {"RESTORE", key, "0", payload,
					      "REPLACE"};
			const size_t lens[] = {7, strlen(key), 1, plen, 7};

			rc = ctl_redis_bin(c, NULL, 5, argv, lens);
		}
	}
	ctl_key(c, key, sizeof key, "%s", KEYS_NAME(CONFIG_VERSION));
	ctl_itoa(version, v, sizeof v);
	if (rc == 0)
		rc = version > 0 ? ctl_redis(c, NULL, "SET", key, v, NULL)
				 : ctl_redis(c, NULL, "DEL", key, NULL);
	if (rc == 0)
		rc = ctl_conf_exec(c);
	for (size_t i = 0; i < d->nwrite; i++)
		store_reply_free(dumps[i]);
	free(dumps);
	return rc;
}

/* ctl_config_copy with shard 0's configuration read already (a). */
static int ctl_config_copy_from(struct ctl *c, const struct ctl_conf *a,
				int shard, size_t *written, size_t *deleted)
{
	struct ctl_conf b;
	struct ctl_conf_diff d;
	int rc = ctl_conf_read(c, shard, &b);

	if (rc != 0)
		return rc;
	if (ctl_conf_diff(a, &b, &d) != 0) {
		ctl_conf_free(&b);
		return ctl_fail(CTL_EXIT_UNAVAILABLE, "out of memory");
	}
	if (d.nwrite > 0 || d.ndrop > 0 || b.version != a->version)
		rc = ctl_conf_apply(c, shard, &d,
				    a->version > 0 ? a->version : 0);
	if (rc == 0 && written != NULL)
		*written += d.nwrite;
	if (rc == 0 && deleted != NULL)
		*deleted += d.ndrop;
	ctl_conf_diff_free(&d);
	ctl_conf_free(&b);
	return rc;
}

int ctl_config_copy(struct ctl *c, int shard, size_t *written, size_t *deleted)
{
	struct ctl_conf a;
	int rc = ctl_conf_read(c, 0, &a);

	if (rc != 0)
		return rc;
	rc = ctl_config_copy_from(c, &a, shard, written, deleted);
	ctl_conf_free(&a);
	return rc;
}

int ctl_config_drop(struct ctl *c, int shard, size_t *deleted)
{
	struct ctl_conf b, none;
	struct ctl_conf_diff d;
	int rc = ctl_conf_read(c, shard, &b);

	if (rc != 0)
		return rc;
	memset(&none, 0, sizeof none);
	if (ctl_conf_diff(&none, &b, &d) != 0) {
		ctl_conf_free(&b);
		return ctl_fail(CTL_EXIT_UNAVAILABLE, "out of memory");
	}
	rc = ctl_conf_apply(c, shard, &d, 0);
	if (rc == 0 && deleted != NULL)
		*deleted += d.ndrop;
	ctl_conf_diff_free(&d);
	ctl_conf_free(&b);
	return rc;
}

/* Prints the line of a shard whose configuration differs from shard 0's. */
static void ctl_config_say_diff(int shard, const struct ctl_conf *a,
				const struct ctl_conf *b,
				const struct ctl_conf_diff *d)
{
	size_t n = d->nwrite + d->ndrop, shown = 0;

	printf("shard %d: version %lld (shard 0: %lld)", shard,
	       (long long)b->version, (long long)a->version);
	if (n == 0) {
		printf(", the same games and API keys\n");
		return;
	}
	printf(", %zu key%s differ%s:", n, n == 1 ? "" : "s",
	       n == 1 ? "s" : "");
	for (size_t i = 0; i < n && shown < CTL_CONFIG_SHOWN; i++, shown++)
		printf(" %s", i < d->nwrite ? d->write[i]->name
					    : d->drop[i - d->nwrite]->name);
	if (n > shown)
		printf(" and %zu more", n - shown);
	printf("\n");
}

int ctl_config_status(struct ctl *c, const char *const *pos,
		      const char *const *opt)
{
	int shards = store_shards(c->store), differ = 0;
	struct ctl_conf a;
	int rc;

	(void)pos;
	(void)opt;
	if ((rc = ctl_conf_read(c, 0, &a)) != 0)
		return rc;
	for (int i = 1; rc == 0 && i < shards; i++) {
		struct ctl_conf b;
		struct ctl_conf_diff d;

		if ((rc = ctl_conf_read(c, i, &b)) != 0)
			break;
		if (ctl_conf_diff(&a, &b, &d) != 0) {
			rc = ctl_fail(CTL_EXIT_UNAVAILABLE, "out of memory");
		} else if (d.nwrite > 0 || d.ndrop > 0 ||
			   b.version != a.version) {
			ctl_config_say_diff(i, &a, &b, &d);
			differ++;
		}
		ctl_conf_diff_free(&d);
		ctl_conf_free(&b);
	}
	if (rc == 0 && differ > 0) {
		printf("configuration: %d of %d shards differ from shard 0 "
		       "(version %lld): heartbeatctl config sync repairs "
		       "them\n",
		       differ, shards, (long long)a.version);
		rc = CTL_EXIT_REFUSED;
	} else if (rc == 0) {
		printf("configuration: %d shard%s at version %lld, %zu keys "
		       "(games and API keys) the same in each\n",
		       shards, shards == 1 ? "" : "s", (long long)a.version,
		       a.count);
	}
	ctl_conf_free(&a);
	return rc;
}

int ctl_config_sync(struct ctl *c, const char *const *pos,
		    const char *const *opt)
{
	int shards = store_shards(c->store), synced = 0;
	struct ctl_conf a, after;
	int rc;

	(void)pos;
	(void)opt;
	if ((rc = ctl_conf_read(c, 0, &a)) != 0)
		return rc;
	for (int i = 1; rc == 0 && i < shards; i++) {
		size_t written = 0, deleted = 0;
		struct ctl_conf b;
		int64_t was;

		if ((rc = ctl_conf_read(c, i, &b)) != 0)
			break;
		was = b.version;
		ctl_conf_free(&b);
		rc = ctl_config_copy_from(c, &a, i, &written, &deleted);
		if (rc != 0 ||
		    (written == 0 && deleted == 0 && was == a.version))
			continue;
		printf("shard %d: %zu key%s written, %zu deleted, version "
		       "%lld (was %lld)\n",
		       i, written, written == 1 ? "" : "s", deleted,
		       (long long)(a.version > 0 ? a.version : 0),
		       (long long)was);
		synced++;
	}
	/* A change that ran meanwhile may have reached some shards only. */
	if (rc == 0 && (rc = ctl_conf_read(c, 0, &after)) == 0) {
		if (after.version != a.version)
			rc = ctl_fail(CTL_EXIT_REFUSED,
				      "shard 0 changed meanwhile (version "
				      "%lld, then %lld): run heartbeatctl "
				      "config sync again",
				      (long long)a.version,
				      (long long)after.version);
		ctl_conf_free(&after);
	}
	if (rc == 0)
		printf("configuration: %d shard%s synced to shard 0's "
		       "(version %lld), %d already equal\n",
		       synced, synced == 1 ? "" : "s", (long long)a.version,
		       shards - 1 - synced);
	ctl_conf_free(&a);
	return rc;
}
