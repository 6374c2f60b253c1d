/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_node.c - which node a connection goes to: the chooser the settings
 * ask for (standalone here; store_sentinel.c, store_cluster.c), address
 * lists, and the route every call takes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Standalone: the configured unix socket, or else host and port. */
static int store_open_standalone(struct store *st, struct store_conn *c)
{
	const struct config *cfg = st->cfg;

	if (cfg->redis_socket[0] != '\0')
		return store_open(st, c, cfg->redis_socket, 0);
	return store_open(st, c, cfg->redis_host, (int)cfg->redis_port);
}

static const struct store_chooser store_chooser_standalone = {
    "standalone", NULL, store_open_standalone};

const struct store_chooser *store_chooser_for(const struct config *cfg)
{
	if (cfg->redis_cluster[0] != '\0')
		return &store_chooser_cluster;
	if (cfg->redis_sentinels[0] != '\0')
		return &store_chooser_sentinel;
	return &store_chooser_standalone;
}

/*
 * Reads the next item of a comma-separated HOST:PORT list (IPv6 hosts in
 * brackets) at *p into host and *port and moves *p past it, skipping
 * malformed items. Returns 1, or 0 at the end of the list.
 */
int store_next_addr(const char **p, char *host, size_t size, int *port)
{
	while (**p != '\0') {
		char item[STORE_HOST_MAX];
		size_t len = strcspn(*p, ",");
		const char *h = item;
		char *colon = NULL;

		if (len > 0 && len < sizeof item) {
			memcpy(item, *p, len);
			item[len] = '\0';
			colon = strrchr(item, ':');
		}
		*p += len + ((*p)[len] == ',');
		if (colon == NULL)
			continue;
		*colon = '\0';
		*port = atoi(colon + 1);
		if (item[0] == '[' && colon > item && colon[-1] == ']') {
			colon[-1] = '\0';
			h = item + 1;
		}
		if (*port <= 0 || strlen(h) >= size)
			continue;
		snprintf(host, size, "%s", h);
		return 1;
	}
	return 0;
}

struct store_conn *store_route(struct store *st, int shard)
{
	struct store_conn *c;

	if (st->shard[shard].owner < 0 &&
	    (st->chooser->locate == NULL ||
	     st->chooser->locate(st, shard) != 0 || st->shard[shard].owner < 0))
		return NULL;
	c = &st->conn[st->shard[shard].owner];
	if (c->ctx == NULL && store_connect(st, c) != 0) {
		store_forget_owner(st, c);
		return NULL;
	}
	return c;
}
