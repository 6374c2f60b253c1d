/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_tx.c - transaction bookkeeping for heartbeatctl's WATCH/MULTI/EXEC
 * on a Redis Cluster. Only plain commands on a cluster are tracked (the
 * worker's scripts and its few plain commands open no transaction): a
 * redirect must not split a transaction, and a connection with one open
 * must not be silently reopened (store_conn.c reads c->tx for that).
 */
#include <string.h>
#include <strings.h>

#include "store_int.h"

/*
 * Sets up q's transaction bookkeeping. Transactions matter only where a
 * redirect could split one: plain commands (heartbeatctl's) on a cluster.
 * Scripts skip the bookkeeping.
 */
void store_tx_begin(const struct store *st, struct store_call *q)
{
	q->track_tx = st->cluster && q->script < 0;
	q->closes = q->track_tx && (strcasecmp(q->argv[0], "EXEC") == 0 ||
				    strcasecmp(q->argv[0], "DISCARD") == 0);
}

/* Notes on q's connection whether its reply r opened or closed a transaction.
 */
void store_tx_note(const struct store_call *q, const redisReply *r)
{
	const char *cmd = q->argv[0];

	if (q->gen != q->c->gen)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		if (q->closes)
			q->c->tx = 0; /* EXECABORT: the transaction is gone */
		return;
	}
	if (!q->track_tx)
		return;
	if (strcasecmp(cmd, "WATCH") == 0 || strcasecmp(cmd, "MULTI") == 0)
		q->c->tx = 1;
	else if (strcasecmp(cmd, "EXEC") == 0 ||
		 strcasecmp(cmd, "DISCARD") == 0 ||
		 strcasecmp(cmd, "UNWATCH") == 0)
		q->c->tx = 0;
}

/*
 * Whether the redirect msg must not be followed: a transaction (or WATCH)
 * is open on this node, or EXEC found its keys moved, so the command cannot
 * go elsewhere. (A first WATCH may follow MOVED: it watches nothing yet;
 * not ASK: what follows would go back to the owner.)
 */
int store_tx_pins(const struct store_call *q, const char *msg)
{
	return q->in_tx || (strcasecmp(q->argv[0], "WATCH") == 0 &&
			    strncmp(msg, "ASK ", 4) == 0);
}
