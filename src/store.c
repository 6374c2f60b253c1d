/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store.c - the session store's public face (store.h): creating it, and
 * one call as route, send, classify, act. The layers below are
 * store_conn.c (the connection), store_node.c with store_sentinel.c and
 * store_cluster.c (which node), store_script.c (scripts), store_pipeline.c
 * (the event loop's pipelining), store_tx.c (heartbeatctl's transactions)
 * and store_reply.c (reading replies). Uses only API common to hiredis
 * 0.14 and 1.x.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "metrics.h"
#include "shard.h"
#include "store_int.h"
#include "util.h"

/* Records why the store failed; the text goes to the log only. */
void store_set_error(struct store *st, const char *what, const char *detail)
{
	snprintf(st->error, sizeof st->error, "%s: %s", what,
		 detail ? detail : "unknown");
}

void store_forget_owner(struct store *st, const struct store_conn *c)
{
	int forgot = 0;

	if (!st->cluster)
		return;
	for (int i = 0; i < st->nshards; i++) {
		int o = st->shard[i].owner;

		if (o >= 0 && (c == NULL || &st->conn[o] == c)) {
			st->shard[i].owner = -1;
			forgot = 1;
		}
	}
	if (forgot)
		st->map_retry_ms = util_now_ms() + STORE_MAP_RETRY_MS;
}

struct store *store_new(const struct config *cfg)
{
	struct store *st = calloc(1, sizeof *st);

	if (st == NULL)
		return NULL;
	st->cfg = cfg;
	st->chooser = store_chooser_for(cfg);
	st->cluster = cfg->redis_cluster[0] != '\0';
	st->nshards = cfg->shards > 1 ? (int)cfg->shards : 1;
	st->shard = calloc((size_t)st->nshards, sizeof *st->shard);
	if (st->shard == NULL)
		goto fail;
	for (int i = 0; i < st->nshards; i++) {
		char anchor[STORE_KEY_MAX];

		if (store_anchor(st, i, anchor, sizeof anchor) != 0)
			goto fail;
		st->shard[i].slot = util_key_slot(anchor, strlen(anchor));
		st->shard[i].owner = st->cluster ? -1 : 0;
	}
	if (store_prologue(cfg, st->prologue, sizeof st->prologue) != 0 ||
	    store_library_name(st) != 0)
		goto fail;
	return st;
fail:
	free(st->shard);
	free(st);
	return NULL;
}

void store_free(struct store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < STORE_NODES_MAX; i++)
		store_disconnect(st, &st->conn[i]);
	free(st->shard);
	free(st);
}

int store_paused(const struct store *st)
{
	return st->paused;
}

const char *store_last_error(const struct store *st)
{
	return st->error;
}

const char *store_mode(const struct store *st)
{
	return st->chooser->name;
}

int store_shards(const struct store *st)
{
	return st->nshards;
}

int store_anchor(const struct store *st, int shard, char *out, size_t size)
{
	size_t n;

	const char *name = KEYS_NAME(ANCHOR);

	if (shard_base(st->cfg, shard, out, size) != 0 ||
	    (n = strlen(out)) + strlen(name) >= size)
		return -1;
	memcpy(out + n, name, strlen(name) + 1);
	return 0;
}

void store_key(const struct store *st, int shard, const char *name, char *out,
	       size_t size)
{
	char base[SHARD_BASE_MAX];

	if (shard_base(st->cfg, shard, base, sizeof base) != 0)
		base[0] = '\0';
	snprintf(out, size, "%s%s", base, name);
}

/* A cluster that is down, as a command or a script's command finds it. */
static int store_error_is_cluster_down(const char *msg)
{
	return strncmp(msg, "CLUSTERDOWN", 11) == 0 ||
	       strstr(msg, "cluster is down") != NULL;
}

/*
 * A script stopped by the cluster before it ran a command on a key of a
 * slot being migrated that is not here (any more). (Writes the script made
 * before that command stay: see heartbeatctl pause in the README.)
 */
static int store_error_is_migrating(const char *msg)
{
	return strstr(msg, "non local key") != NULL;
}

/*
 * Whether an error reply means Redis cannot serve now (not our bug): its
 * code, the first word, is one of these (BUSY, a script running too long,
 * but not BUSYGROUP, a consumer group that exists).
 */
static int store_error_is_unavailable(const char *msg)
{
	static const char *const codes[] = {
	    "LOADING",	   "READONLY", "MASTERDOWN", "BUSY",	  "TRYAGAIN",
	    "CLUSTERDOWN", "NOAUTH",   "OOM",	     "NOREPLICAS"};

	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		size_t n = strlen(codes[i]);

		if (strncmp(msg, codes[i], n) == 0 &&
		    (msg[n] == ' ' || msg[n] == '\0'))
			return 1;
	}
	return store_error_is_cluster_down(msg) ||
	       store_error_is_migrating(msg);
}

/*
 * Whether an unavailable error leaves the connection as it is: a slot
 * migration under way, a paused service, or a cluster that is down.
 */
static int store_error_keeps_connection(const char *msg)
{
	return strncmp(msg, "TRYAGAIN", 8) == 0 ||
	       store_error_is_cluster_down(msg) ||
	       store_error_is_migrating(msg);
}

/* Whether an error reply is a cluster redirect. */
static int store_error_is_redirect(const char *msg)
{
	return strncmp(msg, "MOVED ", 6) == 0 || strncmp(msg, "ASK ", 4) == 0;
}

/* What a reply means for the call that got it. */
enum store_verdict {
	STORE_V_REPLY,	  /* the answer: hand it over */
	STORE_V_FAILED,	  /* an error reply that ends the call */
	STORE_V_NOSCRIPT, /* reload the script and send again */
	STORE_V_REDIRECT, /* MOVED or ASK: send to the node named */
	STORE_V_PINNED,	  /* a redirect inside a transaction */
	STORE_V_STALE	  /* an error after the entry went to another node */
};

/* Counts a call that found Redis unavailable and says so. */
static enum store_result store_unavailable(void)
{
	metrics_add(METRICS_REDIS_ERRORS, 1);
	return STORE_UNAVAILABLE;
}

/*
 * Sends q's command on its connection (a script's as FCALL of its function
 * or EVALSHA of its current SHA, as the node loaded it).
 * Returns the reply (caller owns), or NULL with the connection dropped.
 */
static redisReply *store_call_send(struct store *st, struct store_call *q)
{
	redisReply *r;

	q->in_tx = q->c->tx || q->closes;
	if (q->script >= 0 && q->c->functions) {
		q->argv[0] = "FCALL";
		q->argv[1] = st->fname[q->script];
	} else if (q->script >= 0) {
		q->argv[0] = "EVALSHA";
		q->argv[1] = st->sha[q->script];
	}
	if (q->script >= 0) {
		q->lens[0] = strlen(q->argv[0]);
		q->lens[1] = strlen(q->argv[1]);
	}
	r = store_send(st, q->c, q->asking, q->argc, q->argv, q->lens);
	if (r != NULL)
		store_tx_note(q, r);
	return r;
}

/* What a reply to a call means for it. */
static enum store_verdict store_classify(const struct store *st,
					 const struct store_call *q,
					 const redisReply *r)
{
	if (r->type != REDIS_REPLY_ERROR)
		return STORE_V_REPLY;
	/*
	 * While the call waited, its connection dropped and the entry went
	 * to another node: nothing more can be done on the entry.
	 */
	if (q->gen != q->c->gen)
		return STORE_V_STALE;
	if (q->script >= 0 && !q->reloaded &&
	    (strncmp(r->str, "NOSCRIPT", 8) == 0 ||
	     strncmp(r->str, "ERR Function not found", 22) == 0))
		return STORE_V_NOSCRIPT;
	if (!st->cluster || !store_error_is_redirect(r->str))
		return STORE_V_FAILED;
	return store_tx_pins(q, r->str) ? STORE_V_PINNED : STORE_V_REDIRECT;
}

/*
 * Acts on an error reply r that ends the call (r is freed): pause, a Redis
 * that cannot serve now (the connection dropped unless the error leaves it
 * as it is), or a bug.
 */
static enum store_result store_act_failed(struct store *st,
					  struct store_conn *c, redisReply *r)
{
	enum store_result res = STORE_ERROR;

	store_set_error(st, "redis", r->str);
	if (strncmp(r->str, "TRYAGAIN paused", 15) == 0) {
		/* heartbeatctl pause: no failure of Redis's. */
		st->paused = 1;
		freeReplyObject(r);
		return STORE_UNAVAILABLE;
	}
	metrics_add(METRICS_REDIS_ERRORS, 1);
	if (store_error_is_unavailable(r->str)) {
		res = STORE_UNAVAILABLE;
		if (!store_error_keeps_connection(r->str)) {
			store_disconnect(st, c);
			store_forget_owner(st, c);
		} else if (store_error_is_cluster_down(r->str)) {
			store_forget_owner(st, c);
		}
	}
	freeReplyObject(r);
	return res;
}

/*
 * Reloads q's script after NOSCRIPT or "Function not found" (a Redis that
 * lost its scripts or functions: a restart without persistence, SCRIPT
 * FLUSH, FUNCTION FLUSH), once per node. Returns 0 to send
 * again, or the result that ends the call.
 */
static int store_act_noscript(struct store *st, struct store_call *q,
			      enum store_result *res)
{
	q->reloaded = 1;
	metrics_add(METRICS_SCRIPTS_RELOADED, 1);
	if (store_reload_script(st, q->c, (enum script_id)q->script) != 0) {
		*res = q->c->ctx == NULL ? STORE_UNAVAILABLE : STORE_ERROR;
		return -1;
	}
	if (q->gen != q->c->gen) {
		store_set_error(st, "redis", "connection moved");
		*res = store_unavailable();
		return -1;
	}
	return 0;
}

/*
 * Follows the redirect msg of q's node. Returns 0 with q moved to the node
 * named, or -1 when it is unreachable or the redirects go round in circles
 * while the nodes disagree about the slot (the cluster is changing).
 */
static int store_act_redirect(struct store *st, struct store_call *q,
			      const char *msg)
{
	struct store_conn *next = NULL;

	if (q->redirects++ >= STORE_REDIRECTS_MAX ||
	    store_redirect(st, q->shard, q->c, msg, &next, &q->asking) <= 0) {
		store_set_error(st, "cluster", msg);
		store_forget_owner(st, q->c);
		return -1;
	}
	q->c = next;
	q->gen = next->gen;
	q->reloaded = 0; /* the next node may lack the script */
	return 0;
}

/*
 * Sends argv to the slot's node, connecting first if needed, follows
 * redirects and classifies the reply. With script >= 0, argv[0] and
 * argv[1] are written as the node takes that script (FCALL and the function
 * name, or EVALSHA and the SHA) and a NOSCRIPT or "Function not found"
 * reply reloads it (on each node once) and sends again.
 */
static enum store_result store_call(struct store *st, int shard, int script,
				    int argc, const char **argv, size_t *lens,
				    struct store_reply **out)
{
	struct store_call q = {.script = script,
			       .shard = shard,
			       .argc = argc,
			       .argv = argv,
			       .lens = lens};
	enum store_result res;
	redisReply *r;

	*out = NULL;
	st->paused = 0;
	if (shard < 0 || shard >= st->nshards) {
		store_set_error(st, "store", "no such shard");
		return STORE_ERROR;
	}
	if ((q.c = store_route(st, shard)) == NULL)
		return store_unavailable();
	q.gen = q.c->gen;
	store_tx_begin(st, &q);
	for (;;) {
		if ((r = store_call_send(st, &q)) == NULL) {
			store_forget_owner(st, q.c);
			return store_unavailable();
		}
		switch (store_classify(st, &q, r)) {
		case STORE_V_REPLY:
			*out = (struct store_reply *)r;
			return STORE_OK;
		case STORE_V_FAILED:
			return store_act_failed(st, q.c, r);
		case STORE_V_NOSCRIPT:
			freeReplyObject(r);
			if (store_act_noscript(st, &q, &res) != 0)
				return res;
			continue;
		case STORE_V_REDIRECT:
			res = store_act_redirect(st, &q, r->str) == 0
				  ? STORE_OK
				  : STORE_UNAVAILABLE;
			freeReplyObject(r);
			if (res == STORE_OK)
				continue;
			return store_unavailable();
		case STORE_V_PINNED:
			/* Dropping the connection discards the transaction. */
			store_set_error(st, "cluster", r->str);
			store_disconnect(st, q.c);
			store_forget_owner(st, q.c);
			break;
		case STORE_V_STALE:
			store_set_error(st, "redis", r->str);
			break;
		}
		freeReplyObject(r);
		return store_unavailable();
	}
}

enum store_result store_script(struct store *st, int shard, enum script_id id,
			       int argc, const char *const *argv,
			       const size_t *lens, struct store_reply **out)
{
	const char *all[STORE_ARGS_MAX];
	size_t all_lens[STORE_ARGS_MAX];
	char anchor[STORE_KEY_MAX];
	int n = 0;

	*out = NULL;
	if (argc < 0 || argc > STORE_SCRIPT_ARGS_MAX) {
		store_set_error(st, "store_script", "too many arguments");
		return STORE_ERROR;
	}
	if (shard < 0 || shard >= st->nshards ||
	    store_anchor(st, shard, anchor, sizeof anchor) != 0) {
		store_set_error(st, "store_script", "no such shard");
		return STORE_ERROR;
	}
	all[n++] = NULL; /* FCALL or EVALSHA, filled in by store_call */
	all[n++] = NULL; /* the function's name or the script's SHA */
	all[n++] = "1";
	all[n++] = anchor;
	for (int i = 0; i < n; i++)
		all_lens[i] = all[i] != NULL ? strlen(all[i]) : 0;
	for (int i = 0; i < argc; i++) {
		all[n] = argv[i];
		all_lens[n] = lens ? lens[i] : strlen(argv[i]);
		n++;
	}
	return store_call(st, shard, (int)id, n, all, all_lens, out);
}

enum store_result store_command(struct store *st, int shard, int argc,
				const char *const *argv, const size_t *lens,
				struct store_reply **out)
{
	const char *all[STORE_ARGS_MAX];
	size_t all_lens[STORE_ARGS_MAX];

	*out = NULL;
	if (argc <= 0 || argc > STORE_ARGS_MAX) {
		store_set_error(st, "store_command", "bad argument count");
		return STORE_ERROR;
	}
	for (int i = 0; i < argc; i++) {
		all[i] = argv[i];
		all_lens[i] = lens ? lens[i] : strlen(argv[i]);
	}
	return store_call(st, shard, -1, argc, all, all_lens, out);
}
