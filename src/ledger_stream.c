/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ledger_stream.c - the settlement ledger's Redis commands, through the
 * store.
 */
#include "ledger_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "util.h"

/* How many ids one XACK carries (the store's argument limit). */
#define LEDGER_ACK_CHUNK (STORE_ARGS_MAX - 3)

int ledger_names_init(struct ledger_names *nm, const struct store *st,
		      const char *group, const char *consumer)
{
	memset(nm, 0, sizeof *nm);
	nm->shards = store_shards(st);
	nm->keys = calloc((size_t)nm->shards, sizeof *nm->keys);
	if (nm->keys == NULL)
		return -1;
	for (int i = 0; i < nm->shards; i++)
		store_key(st, i, KEYS_NAME(EVENTS), nm->keys[i],
			  sizeof nm->keys[i]);
	nm->group = group;
	nm->consumer = consumer;
	return 0;
}

void ledger_names_free(struct ledger_names *nm)
{
	free(nm->keys);
	nm->keys = NULL;
	nm->shards = 0;
}

int ledger_batch_init(struct ledger_batch *b, size_t cap, int shards)
{
	memset(b, 0, sizeof *b);
	b->items = calloc(cap, sizeof *b->items);
	b->parts = calloc((size_t)shards, sizeof *b->parts);
	if (b->items == NULL || b->parts == NULL) {
		ledger_batch_free(b);
		return -1;
	}
	b->cap = cap;
	b->parts_cap = (size_t)shards;
	snprintf(b->cursor, sizeof b->cursor, "0-0");
	return 0;
}

void ledger_batch_clear(struct ledger_batch *b)
{
	for (size_t i = 0; i < b->nparts; i++)
		store_reply_free(b->parts[i].reply);
	b->nparts = 0;
	b->n = 0;
}

void ledger_batch_free(struct ledger_batch *b)
{
	ledger_batch_clear(b);
	free(b->items);
	free(b->fields);
	free(b->parts);
	b->items = NULL;
	b->fields = NULL;
	b->parts = NULL;
	b->cap = b->fields_cap = b->parts_cap = 0;
}

/* A string element as a NUL-terminated copy in buf ("" when not one). */
static void ledger_str(const struct store_reply *r, char *buf, size_t size)
{
	size_t len;
	const char *s = store_reply_str(r, &len);

	if (s == NULL)
		len = 0;
	snprintf(buf, size, "%.*s", (int)len, s ? s : "");
}

/* Whether the store's last error starts with code (after "redis: "). */
static int ledger_error_is(const struct store *st, const char *code)
{
	return strstr(store_last_error(st), code) != NULL;
}

/* Whether the log has the group: 1 or 0 in *found. */
static enum store_result ledger_has_group(struct store *st,
					  const struct ledger_names *nm,
					  int shard, int *found)
{
	const char *argv[] = {"XINFO", "GROUPS", nm->keys[shard]};
	struct store_reply *r;
	enum store_result rc = store_command(st, shard, 3, argv, NULL, &r);
	char name[256];

	*found = 0;
	if (rc == STORE_ERROR && ledger_error_is(st, "no such key"))
		return STORE_OK;
	for (size_t i = 0; rc == STORE_OK && i < store_reply_count(r); i++) {
		const struct store_reply *g = store_reply_at(r, i);

		for (size_t k = 0; k + 1 < store_reply_count(g); k += 2) {
			ledger_str(store_reply_at(g, k), name, sizeof name);
			if (strcmp(name, "name") != 0)
				continue;
			ledger_str(store_reply_at(g, k + 1), name, sizeof name);
			*found |= strcmp(name, nm->group) == 0;
		}
	}
	store_reply_free(r);
	return rc;
}

enum store_result ledger_stream_ensure_group(struct store *st,
					     const struct ledger_names *nm,
					     int shard)
{
	const char *argv[] = {"XGROUP",	 "CREATE", nm->keys[shard],
			      nm->group, "0",	   "MKSTREAM"};
	struct store_reply *r;
	enum store_result rc;
	int found;

	/*
	 * Looked up first: the store reads BUSYGROUP as Redis being busy
	 * and drops the connection, so creating is left for when it is due.
	 */
	if ((rc = ledger_has_group(st, nm, shard, &found)) != STORE_OK || found)
		return rc;
	rc = store_command(st, shard, 6, argv, NULL, &r);
	store_reply_free(r);
	if (rc != STORE_OK && ledger_error_is(st, "BUSYGROUP"))
		return STORE_OK; /* another ledger created it meanwhile */
	return rc;
}

/*
 * Makes room for total fields in b's pool, keeping the fields of the items
 * it holds (their pointers move with the pool). Returns 0, or -1 (memory).
 */
static int ledger_batch_reserve(struct ledger_batch *b, size_t total)
{
	struct ledger_field *f;

	if (total <= b->fields_cap)
		return 0;
	if (total < 2 * b->fields_cap)
		total = 2 * b->fields_cap;
	if ((f = malloc(total * sizeof *f)) == NULL)
		return -1;
	for (size_t i = 0; i < b->n; i++) {
		struct ledger_item *it = &b->items[i];

		if (it->fields == NULL)
			continue;
		memcpy(f + (it->fields - b->fields), it->fields,
		       it->nfields * sizeof *f);
		it->fields = f + (it->fields - b->fields);
	}
	free(b->fields);
	b->fields = f;
	b->fields_cap = total;
	return 0;
}

/*
 * Adds the entries of list (an array of [id, [field, value, ...] or nil],
 * at most b->cap - b->n of them) to b's items as one part of shard, which
 * takes reply (freed at once when nothing is added). The items borrow from
 * the list. Returns 0, or -1 (memory: reply freed, nothing added).
 */
static int ledger_batch_fill(struct ledger_batch *b, int shard,
			     struct store_reply *reply,
			     const struct store_reply *list)
{
	size_t count = store_reply_count(list), used = 0, total = 0;
	struct ledger_part *part;

	if (count > b->cap - b->n)
		count = b->cap - b->n;
	if (count == 0 || b->nparts >= b->parts_cap) {
		store_reply_free(reply);
		return count == 0 ? 0 : -1;
	}
	/* The fields in use: those of the items held so far. */
	for (size_t i = 0; i < b->n; i++)
		used += b->items[i].nfields;
	total = used;
	for (size_t i = 0; i < count; i++)
		total += store_reply_count(
			     store_reply_at(store_reply_at(list, i), 1)) /
			 2;
	if (ledger_batch_reserve(b, total) != 0) {
		store_reply_free(reply);
		return -1;
	}
	part = &b->parts[b->nparts++];
	part->shard = shard;
	part->reply = reply;
	part->first = b->n;
	part->n = count;
	for (size_t i = 0; i < count; i++) {
		const struct store_reply *e = store_reply_at(list, i);
		const struct store_reply *kv = store_reply_at(e, 1);
		struct ledger_item *it = &b->items[b->n++];
		size_t id_len, nf = store_reply_count(kv) / 2;
		const char *id = store_reply_str(store_reply_at(e, 0), &id_len);

		if (id == NULL)
			id = "";
		memset(it, 0, sizeof *it);
		it->shard = shard;
		if (store_reply_type(kv) != STORE_T_ARRAY) {
			/* Delivered once, then deleted: nothing to write. */
			it->deleted = 1;
			it->entry.kind = LEDGER_DEAD;
			snprintf(it->entry.stream_id,
				 sizeof it->entry.stream_id, "%.*s",
				 (int)id_len, id);
			continue;
		}
		it->fields = b->fields + used;
		it->nfields = nf;
		for (size_t k = 0; k < nf; k++) {
			struct ledger_field *f = &b->fields[used + k];

			f->name = store_reply_str(store_reply_at(kv, 2 * k),
						  &f->name_len);
			f->value = store_reply_str(
			    store_reply_at(kv, 2 * k + 1), &f->value_len);
			if (f->name == NULL)
				f->name = "";
			if (f->value == NULL)
				f->value = "";
		}
		used += nf;
		ledger_entry_parse(id, id_len, it->fields, nf, &it->entry);
	}
	return 0;
}

enum store_result ledger_stream_read(struct store *st,
				     const struct ledger_names *nm, int shard,
				     int history, int64_t block_ms,
				     struct ledger_batch *b)
{
	char count[24], block[24];
	const char *argv[11];
	struct store_reply *reply;
	enum store_result rc;
	int argc = 0;

	if (b->n >= b->cap)
		return STORE_OK;
	snprintf(count, sizeof count, "%zu", b->cap - b->n);
	snprintf(block, sizeof block, "%lld", (long long)block_ms);
	argv[argc++] = "XREADGROUP";
	argv[argc++] = "GROUP";
	argv[argc++] = nm->group;
	argv[argc++] = nm->consumer;
	argv[argc++] = "COUNT";
	argv[argc++] = count;
	if (!history && block_ms > 0) {
		argv[argc++] = "BLOCK";
		argv[argc++] = block;
	}
	argv[argc++] = "STREAMS";
	argv[argc++] = nm->keys[shard];
	argv[argc++] = history ? "0" : ">";
	rc = store_command(st, shard, argc, argv, NULL, &reply);
	if (rc != STORE_OK)
		return rc;
	/* nil when nothing came (BLOCK or not); else [[key, entries]]. */
	if (ledger_batch_fill(b, shard, reply,
			      store_reply_at(store_reply_at(reply, 0), 1)) != 0)
		return STORE_UNAVAILABLE;
	return STORE_OK;
}

enum store_result ledger_stream_claim(struct store *st,
				      const struct ledger_names *nm, int shard,
				      int64_t min_idle_ms,
				      struct ledger_batch *b)
{
	char idle[24], count[24];
	const char *argv[] = {
	    "XAUTOCLAIM", nm->keys[shard], nm->group, nm->consumer,
	    idle,	  b->cursor,	   "COUNT",   count};
	struct store_reply *reply;
	enum store_result rc;

	ledger_batch_clear(b);
	snprintf(idle, sizeof idle, "%lld", (long long)min_idle_ms);
	snprintf(count, sizeof count, "%zu", b->cap);
	rc = store_command(st, shard, 8, argv, NULL, &reply);
	if (rc != STORE_OK)
		return rc;
	/* [next start, entries, deleted ids (dropped by Redis already)]. */
	ledger_str(store_reply_at(reply, 0), b->cursor, sizeof b->cursor);
	if (b->cursor[0] == '\0')
		snprintf(b->cursor, sizeof b->cursor, "0-0");
	if (ledger_batch_fill(b, shard, reply, store_reply_at(reply, 1)) != 0)
		return STORE_UNAVAILABLE;
	return STORE_OK;
}

/* Acknowledges the entries of part p with plain XACKs, a few ids each. */
static enum store_result ledger_ack_chunked(struct store *st,
					    const struct ledger_names *nm,
					    const struct ledger_batch *b,
					    const struct ledger_part *p)
{
	const char *argv[STORE_ARGS_MAX];
	size_t end = p->first + p->n;

	for (size_t i = p->first; i < end; i += LEDGER_ACK_CHUNK) {
		size_t k = 0;
		struct store_reply *r;
		enum store_result rc;

		argv[k++] = "XACK";
		argv[k++] = nm->keys[p->shard];
		argv[k++] = nm->group;
		for (size_t j = i; j < end && j < i + LEDGER_ACK_CHUNK; j++)
			argv[k++] = b->items[j].entry.stream_id;
		rc = store_command(st, p->shard, (int)k, argv, NULL, &r);
		store_reply_free(r);
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

/* Acknowledges the entries of part p in one call of the ledger_ack script. */
static enum store_result ledger_ack_part(struct store *st,
					 const struct ledger_names *nm,
					 const struct ledger_batch *b,
					 const struct ledger_part *p)
{
	size_t size = 1, len = 0;
	struct store_reply *r = NULL;
	enum store_result rc;
	char *ids;

	if (p->n == 0)
		return STORE_OK;
	for (size_t i = p->first; i < p->first + p->n; i++)
		size += strlen(b->items[i].entry.stream_id) + 1;
	if ((ids = malloc(size)) == NULL)
		return ledger_ack_chunked(st, nm, b, p);
	for (size_t i = p->first; i < p->first + p->n; i++)
		len +=
		    (size_t)sprintf(ids + len, "%s%s", i > p->first ? " " : "",
				    b->items[i].entry.stream_id);
	{
		const char *argv[] = {nm->group, ids};
		rc = store_script(st, p->shard, SCRIPT_LEDGER_ACK, 2, argv,
				  NULL, &r);
	}
	free(ids);
	store_reply_free(r);
	/*
	 * While heartbeatctl pause holds, scripts refuse to run: plain
	 * commands still do.
	 */
	if (rc != STORE_OK && store_paused(st))
		return ledger_ack_chunked(st, nm, b, p);
	return rc;
}

enum store_result ledger_stream_ack(struct store *st,
				    const struct ledger_names *nm,
				    const struct ledger_batch *b)
{
	for (size_t i = 0; i < b->nparts; i++) {
		enum store_result rc = ledger_ack_part(st, nm, b, &b->parts[i]);

		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

/* The value of field name in a flat [name, value, ...] reply, or NULL. */
static const struct store_reply *ledger_field_of(const struct store_reply *r,
						 const char *name)
{
	size_t n = store_reply_count(r), len = strlen(name), l;

	for (size_t i = 0; i + 1 < n; i += 2) {
		const char *s = store_reply_str(store_reply_at(r, i), &l);

		if (s != NULL && l == len && memcmp(s, name, len) == 0)
			return store_reply_at(r, i + 1);
	}
	return NULL;
}

/* Parses an id reply into *id; 0-0 when it is not one. */
static void ledger_id_of(const struct store_reply *r, struct ledger_id *id)
{
	size_t len;
	const char *s = store_reply_str(r, &len);

	if (s == NULL || ledger_id_parse(s, len, id) != 0)
		id->ms = id->seq = 0;
}

/*
 * Reads the log's groups (XINFO GROUPS) into g (at most LEDGER_GROUPS_MAX;
 * *n set) with, for those with entries pending, the oldest one (XPENDING).
 * With lag non-NULL, sets it to the lag of group own (-1: unknown).
 */
static enum store_result ledger_groups(struct store *st,
				       const struct ledger_names *nm, int shard,
				       struct ledger_group *g, size_t *n,
				       const char *own, int64_t *lag)
{
	const char *argv[] = {"XINFO", "GROUPS", nm->keys[shard]};
	struct store_reply *r;
	enum store_result rc = store_command(st, shard, 3, argv, NULL, &r);

	*n = 0;
	if (lag != NULL)
		*lag = -1;
	if (rc != STORE_OK)
		return rc;
	for (size_t i = 0; i < store_reply_count(r) && *n < LEDGER_GROUPS_MAX;
	     i++) {
		const struct store_reply *info = store_reply_at(r, i);
		const struct store_reply *l = ledger_field_of(info, "lag");
		struct ledger_group *gr = &g[(*n)++];

		memset(gr, 0, sizeof *gr);
		ledger_str(ledger_field_of(info, "name"), gr->name,
			   sizeof gr->name);
		gr->pending = store_reply_int(ledger_field_of(info, "pending"));
		ledger_id_of(ledger_field_of(info, "last-delivered-id"),
			     &gr->last_delivered);
		if (lag != NULL && strcmp(gr->name, own) == 0 &&
		    store_reply_type(l) == STORE_T_INT)
			*lag = store_reply_int(l);
	}
	store_reply_free(r);
	for (size_t i = 0; i < *n; i++) {
		const char *pargv[] = {"XPENDING", nm->keys[shard], g[i].name};

		if (g[i].pending <= 0)
			continue;
		/* [count, oldest id, newest id, consumers]. */
		rc = store_command(st, shard, 3, pargv, NULL, &r);
		if (rc != STORE_OK)
			return rc;
		g[i].pending = store_reply_int(store_reply_at(r, 0));
		ledger_id_of(store_reply_at(r, 1), &g[i].oldest_pending);
		store_reply_free(r);
	}
	return STORE_OK;
}

enum store_result ledger_stream_trim(struct store *st,
				     const struct ledger_names *nm, int shard,
				     const char *names, int64_t *trimmed)
{
	struct ledger_group g[LEDGER_GROUPS_MAX];
	struct ledger_id minid;
	char id[LEDGER_STREAM_ID_BUF];
	const char *argv[] = {"XTRIM", nm->keys[shard], "MINID", id};
	struct store_reply *r;
	enum store_result rc;
	size_t n;

	*trimmed = 0;
	rc = ledger_groups(st, nm, shard, g, &n, NULL, NULL);
	if (rc != STORE_OK)
		return rc;
	if (ledger_trim_floor(names, g, n, &minid) != LEDGER_TRIM_BELOW)
		return STORE_OK;
	ledger_id_format(minid, id, sizeof id);
	rc = store_command(st, shard, 4, argv, NULL, &r);
	if (rc == STORE_OK)
		*trimmed = store_reply_int(r);
	store_reply_free(r);
	return rc;
}

/* The ms of the first entry after id, or -1 when there is none. */
static enum store_result ledger_first_after(struct store *st,
					    const struct ledger_names *nm,
					    int shard, struct ledger_id after,
					    int64_t *ms)
{
	char start[LEDGER_STREAM_ID_BUF + 1];
	const char *argv[] = {"XRANGE", nm->keys[shard], start,
			      "+",	"COUNT",	 "1"};
	struct store_reply *r;
	struct ledger_id id;
	enum store_result rc;

	start[0] = '(';
	ledger_id_format(after, start + 1, sizeof start - 1);
	*ms = -1;
	rc = store_command(st, shard, 6, argv, NULL, &r);
	if (rc == STORE_OK && store_reply_count(r) > 0) {
		ledger_id_of(store_reply_at(store_reply_at(r, 0), 0), &id);
		*ms = (int64_t)id.ms;
	}
	store_reply_free(r);
	return rc;
}

enum store_result ledger_stream_stats(struct store *st,
				      const struct ledger_names *nm, int shard,
				      struct ledger_stream_stats *out)
{
	struct ledger_group g[LEDGER_GROUPS_MAX];
	const char *xlen[] = {"XLEN", nm->keys[shard]};
	const char *time[] = {"TIME"};
	const struct ledger_group *own = NULL;
	struct store_reply *r;
	enum store_result rc;
	int64_t lag, oldest = -1, now_ms;
	size_t n;

	memset(out, 0, sizeof *out);
	if ((rc = store_command(st, shard, 2, xlen, NULL, &r)) != STORE_OK)
		return rc;
	out->length = store_reply_int(r);
	store_reply_free(r);
	if ((rc = ledger_groups(st, nm, shard, g, &n, nm->group, &lag)) !=
	    STORE_OK)
		return rc;
	for (size_t i = 0; i < n && own == NULL; i++)
		if (strcmp(g[i].name, nm->group) == 0)
			own = &g[i];
	if (own == NULL) {
		out->lag_entries = out->length;
		return STORE_OK;
	}
	out->pending = own->pending;
	/* Without Redis's count (after deletions), what the log holds past
	 * the pending entries: with trimming, the entries not delivered. */
	if (lag < 0)
		lag =
		    out->length > own->pending ? out->length - own->pending : 0;
	out->lag_entries = own->pending + lag;
	if (own->pending > 0)
		oldest = (int64_t)own->oldest_pending.ms;
	else if ((rc = ledger_first_after(st, nm, shard, own->last_delivered,
					  &oldest)) != STORE_OK)
		return rc;
	if (oldest < 0)
		return STORE_OK;
	/* The clock of the shard's node, which gave the ids their times. */
	if ((rc = store_command(st, shard, 1, time, NULL, &r)) != STORE_OK)
		return rc;
	{
		int64_t secs = 0, usecs = 0;
		size_t len;
		const char *s = store_reply_str(store_reply_at(r, 0), &len);

		if (s != NULL)
			util_parse_int64(s, len, 0, INT64_MAX / 1000, &secs);
		s = store_reply_str(store_reply_at(r, 1), &len);
		if (s != NULL)
			util_parse_int64(s, len, 0, 999999, &usecs);
		now_ms = secs * 1000 + usecs / 1000;
	}
	store_reply_free(r);
	if (now_ms > oldest)
		out->lag_seconds = (double)(now_ms - oldest) / 1000.0;
	return STORE_OK;
}
