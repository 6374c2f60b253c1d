/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_sentinel.c - choosing the node through Redis Sentinel: the master
 * the sentinels name, checked to say it is a master.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Whether r is ROLE's answer of a master. */
static int store_role_is_master(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	       r->element[0]->type == REDIS_REPLY_STRING &&
	       strcmp(r->element[0]->str, "master") == 0;
}

/*
 * Asks the sentinels, in order, for the master's address and opens c to it,
 * checking that it says it is a master (a sentinel may still name the old
 * one during a failover). Returns 0, or -1 with the error recorded.
 */
static int store_open_via_sentinels(struct store *st, struct store_conn *c)
{
	const struct config *cfg = st->cfg;
	const char *p = cfg->redis_sentinels;
	char host[STORE_HOST_MAX], addr[STORE_HOST_MAX];
	int port;

	while (store_next_addr(&p, host, sizeof host, &port)) {
		const char *ask[3] = {"SENTINEL", "get-master-addr-by-name",
				      cfg->redis_master_name};
		const char *role[1] = {"ROLE"};
		redisReply *r;
		int ok;

		if (store_open(st, c, host, port) != 0)
			continue;
		r = store_send(st, c, 0, 3, ask, NULL);
		store_disconnect(st, c);
		if (r == NULL)
			continue;
		ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		     r->element[0]->type == REDIS_REPLY_STRING &&
		     r->element[0]->len < sizeof addr;
		if (ok) {
			snprintf(addr, sizeof addr, "%s", r->element[0]->str);
			port =
			    atoi(r->element[1]->str ? r->element[1]->str : "0");
		}
		freeReplyObject(r);
		if (!ok || port <= 0 || store_open(st, c, addr, port) != 0)
			continue;
		r = store_send(st, c, 0, 1, role, NULL);
		ok = store_role_is_master(r);
		if (r != NULL)
			freeReplyObject(r);
		if (ok)
			return 0;
		store_set_error(st, "sentinel",
				"the named master is not a master");
		store_disconnect(st, c);
	}
	if (st->error[0] == '\0')
		store_set_error(st, "sentinel", "no sentinel answered");
	return -1;
}

/* Sentinel: the master the sentinels name. */
const struct store_chooser store_chooser_sentinel = {"sentinel", NULL,
						     store_open_via_sentinels};
