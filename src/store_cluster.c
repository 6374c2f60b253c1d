/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_cluster.c - choosing the node in a Redis Cluster: for each shard,
 * the master of its key base's hash slot, learnt from CLUSTER SLOTS and
 * followed through MOVED and ASK redirects; one connection per node used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "store_int.h"
#include "util.h"

/* Whether entry i serves a shard's slot as far as the store knows. */
static int store_node_owns(const struct store *st, int i)
{
	for (int s = 0; s < st->nshards; s++)
		if (st->shard[s].owner == i)
			return 1;
	return 0;
}

/*
 * The entry for node host:port: the one in use, else a free or idle entry
 * made over to it (not connected yet). Returns NULL when every entry is
 * busy.
 */
static struct store_conn *store_node(struct store *st, const char *host,
				     int port)
{
	struct store_conn *spare = NULL;

	for (int i = 0; i < STORE_NODES_MAX; i++) {
		struct store_conn *c = &st->conn[i];

		if (c->port == port && strcmp(c->host, host) == 0)
			return c;
		if (c->pending > 0 || store_node_owns(st, i))
			continue;
		if (spare == NULL || (spare->ctx != NULL && c->ctx == NULL))
			spare = c;
	}
	if (spare == NULL) {
		store_set_error(st, "cluster", "too many nodes in use");
		return NULL;
	}
	store_disconnect(st, spare);
	snprintf(spare->host, sizeof spare->host, "%s", host);
	spare->port = port;
	spare->gen++;
	return spare;
}

/*
 * Finds in r, CLUSTER SLOTS' answer from node host, the master of slot,
 * into master (size bytes) and *port. Returns 0, or -1 when no master
 * serves the slot.
 */
static int store_slot_master(int slot, const redisReply *r, const char *host,
			     char *master, size_t size, int *port)
{
	*port = 0;
	/* Each range: start, end, master [host, port, id...], replicas... */
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i], *m;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    e->element[0]->type != REDIS_REPLY_INTEGER ||
		    e->element[1]->type != REDIS_REPLY_INTEGER ||
		    e->element[0]->integer > slot ||
		    e->element[1]->integer < slot)
			continue;
		m = e->element[2];
		if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
		    (m->element[0]->type != REDIS_REPLY_STRING &&
		     m->element[0]->type != REDIS_REPLY_NIL) ||
		    m->element[1]->type != REDIS_REPLY_INTEGER ||
		    m->element[0]->len >= size)
			continue;
		/* No host (empty, or nil: an unknown endpoint): the node asked.
		 */
		snprintf(master, size, "%s",
			 m->element[0]->type == REDIS_REPLY_STRING &&
				 m->element[0]->len > 0
			     ? m->element[0]->str
			     : host);
		*port = (int)m->element[1]->integer;
	}
	return *port > 0 && *port <= 65535 ? 0 : -1;
}

/*
 * Makes the masters r (CLUSTER SLOTS' answer from node host) names the
 * owners of the shards whose owner is unknown. Returns 0 when shard's is
 * known then, else -1.
 */
static int store_learn_map(struct store *st, int shard, const redisReply *r,
			   const char *host)
{
	for (int s = 0; s < st->nshards; s++) {
		char master[STORE_HOST_MAX] = "";
		int master_port = 0;
		struct store_conn *c;

		if (st->shard[s].owner >= 0)
			continue;
		if (store_slot_master(st->shard[s].slot, r, host, master,
				      sizeof master, &master_port) != 0) {
			if (s == shard)
				store_set_error(st, "cluster",
						"no master serves the slot");
			continue;
		}
		if ((c = store_node(st, master, master_port)) == NULL)
			continue;
		st->shard[s].owner = (int)(c - st->conn);
	}
	return st->shard[shard].owner >= 0 ? 0 : -1;
}

/*
 * Asks node host:port for the slot map (CLUSTER SLOTS) and learns from it
 * the masters of the shards whose master is unknown. Returns 0 when
 * shard's is known then, else -1.
 */
static int store_ask_slots(struct store *st, int shard, const char *host,
			   int port)
{
	const char *argv[2] = {"CLUSTER", "SLOTS"};
	redisContext *ctx = store_open_ctx(st, host, port);
	redisReply *r = NULL;
	int rc;

	if (ctx == NULL)
		return -1;
	if (st->cfg->redis_password[0] != '\0') {
		const char *auth[2] = {"AUTH", st->cfg->redis_password};
		r = redisCommandArgv(ctx, 2, auth, NULL);
		if (r == NULL || r->type == REDIS_REPLY_ERROR)
			goto fail;
		freeReplyObject(r);
	}
	r = redisCommandArgv(ctx, 2, argv, NULL);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		goto fail;
	rc = store_learn_map(st, shard, r, host);
	freeReplyObject(r);
	redisFree(ctx);
	return rc;
fail:
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		store_set_error(st, "CLUSTER SLOTS", r->str);
	else if (r == NULL)
		store_set_error(st, "CLUSTER SLOTS", ctx->errstr);
	if (r != NULL)
		freeReplyObject(r);
	redisFree(ctx);
	return -1;
}

/*
 * Learns which master serves shard's slot (and those of the other shards
 * not known), asking the configured nodes and then every node used since,
 * until one answers. Returns 0, or -1.
 */
static int store_learn_owner(struct store *st, int shard)
{
	const char *p = st->cfg->redis_cluster;
	char host[STORE_HOST_MAX];
	int port;

	if (util_now_ms() < st->map_retry_ms) {
		store_set_error(st, "cluster", "the slot's master is unknown");
		return -1;
	}
	while (store_next_addr(&p, host, sizeof host, &port))
		if (store_ask_slots(st, shard, host, port) == 0)
			return 0;
	for (int i = 0; i < STORE_NODES_MAX; i++) {
		if (st->conn[i].port == 0)
			continue;
		snprintf(host, sizeof host, "%s", st->conn[i].host);
		if (store_ask_slots(st, shard, host, st->conn[i].port) == 0)
			return 0;
	}
	st->map_retry_ms = util_now_ms() + STORE_MAP_RETRY_MS;
	return -1;
}

/*
 * Follows a MOVED (the slot has a new master: it becomes the owner) or ASK
 * (the slot is being migrated: this one command goes to the importing node,
 * after ASKING) error msg from node from. Returns 1 with *to the connected
 * node to send to and *asking set for ASK; 0 when msg is not a redirect;
 * -1 when the node named cannot be reached.
 */
int store_redirect(struct store *st, int shard, const struct store_conn *from,
		   const char *msg, struct store_conn **to, int *asking)
{
	char host[STORE_HOST_MAX];
	const char *addr, *colon;
	struct store_conn *c;
	int port;

	if (strncmp(msg, "MOVED ", 6) == 0)
		*asking = 0;
	else if (strncmp(msg, "ASK ", 4) == 0)
		*asking = 1;
	else
		return 0;
	addr = strchr(msg + (*asking ? 4 : 6), ' ');
	if (addr == NULL || (colon = strrchr(++addr, ':')) == NULL ||
	    (size_t)(colon - addr) >= sizeof host ||
	    (port = atoi(colon + 1)) <= 0 || port > 65535)
		return 0;
	if (colon == addr) /* no host: the node that answered */
		snprintf(host, sizeof host, "%s", from->host);
	else
		snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
	metrics_add(*asking ? METRICS_REDIS_ASK : METRICS_REDIS_MOVED, 1);
	log_line(LOG_DEBUG, "event=redis_redirect kind=%s node=%s:%d",
		 *asking ? "ask" : "moved", host, port);
	c = store_node(st, host, port);
	if (c == NULL)
		return -1;
	if (!*asking)
		st->shard[shard].owner = (int)(c - st->conn);
	if (c->ctx == NULL && store_connect(st, c) != 0) {
		if (!*asking)
			store_forget_owner(st, c);
		return -1;
	}
	*to = c;
	return 1;
}

/* Opens c to the cluster node its entry names. */
static int store_open_node(struct store *st, struct store_conn *c)
{
	return store_open(st, c, c->host, c->port);
}

/* Cluster: the master of each shard's slot, one connection per node. */
const struct store_chooser store_chooser_cluster = {
    "cluster", store_learn_owner, store_open_node};
