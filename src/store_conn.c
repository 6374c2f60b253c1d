/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_conn.c - one Redis connection: opening it with the configured
 * timeouts and keepalive, AUTH and SELECT, loading the scripts, finding a
 * connection Redis closed while it was idle, and sending one command.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"
#include "metrics.h"
#include "store_int.h"

void store_disconnect(struct store *st, struct store_conn *c)
{
	if (c->ctx != NULL) {
		redisFree(c->ctx);
		c->ctx = NULL;
	}
	c->tx = 0;
	store_fail_waiting(st, c);
}

/*
 * Whether c, with nothing in flight on it, has been closed by Redis: by a
 * restart, CLIENT KILL, the idle-client timeout, or a demotion after a
 * failover. Redis sends nothing unasked, so an idle connection with
 * anything to read (the end of the stream, most often) or an error is
 * gone. Costs one poll with no wait.
 */
static int store_conn_closed(const struct store_conn *c)
{
	struct pollfd p = {c->ctx->fd, POLLIN, 0};
	int n;

	do
		n = poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	return n != 0;
}

/*
 * Before the first command of a batch goes on c: when Redis has closed c
 * while it was idle, opens it again, so that a connection Redis dropped
 * between requests costs no request a 503 while Redis is up. Nothing has
 * been written yet, so nothing is ever sent twice. Not inside a
 * transaction (heartbeatctl's WATCH/MULTI died with the connection: the
 * command must fail) nor while connecting. Returns 0, or -1 with c dropped
 * when it cannot be opened again.
 */
static int store_reopen_if_closed(struct store *st, struct store_conn *c)
{
	if (c->pending > 0 || c->tx || st->connecting || !store_conn_closed(c))
		return 0;
	log_line(LOG_DEBUG, "event=redis_closed_while_idle");
	store_disconnect(st, c);
	return store_connect(st, c);
}

/*
 * Sends one command on c (after ASKING when asking). Returns the reply
 * (caller owns), or NULL after dropping a dead connection.
 */
redisReply *store_send(struct store *st, struct store_conn *c, int asking,
		       int argc, const char **argv, const size_t *lens)
{
	const char *asking_argv[1] = {"ASKING"};
	redisReply *r;
	void *req = NULL;

	if (c->ctx == NULL) {
		/*
		 * Dropped while this request was suspended (another request
		 * of the same pipeline found the connection unusable).
		 */
		store_set_error(st, "redis", "connection dropped");
		return NULL;
	}
	if (store_reopen_if_closed(st, c) != 0)
		return NULL;
	if (st->pipe != NULL && !st->connecting)
		req = st->pipe->self(st->pipe->ctx);
	if (req != NULL)
		return store_send_pipelined(st, c, req, asking, argc, argv,
					    lens);
	if (c->pending > 0) {
		/* A blocking reply would be another request's: refuse. */
		store_set_error(st, "redis",
				"command outside a request while "
				"the pipeline is busy");
		return NULL;
	}
	if (asking) {
		r = redisCommandArgv(c->ctx, 1, asking_argv, NULL);
		if (r == NULL)
			goto io_error;
		freeReplyObject(r);
	}
	r = redisCommandArgv(c->ctx, argc, argv, lens);
	if (r == NULL)
		goto io_error;
	return r;
io_error:
	store_set_error(st, "redis I/O", c->ctx->errstr);
	store_disconnect(st, c);
	return NULL;
}

/* Runs a set-up command on c that must not answer an error (AUTH, SELECT). */
static int store_setup_command(struct store *st, struct store_conn *c, int argc,
			       const char **argv)
{
	redisReply *r = store_send(st, c, 0, argc, argv, NULL);
	int ok;

	if (r == NULL)
		return -1;
	ok = r->type != REDIS_REPLY_ERROR;
	if (!ok)
		store_set_error(st, argv[0], r->str);
	freeReplyObject(r);
	return ok ? 0 : -1;
}

static struct timeval store_ms(int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000),
			     (suseconds_t)(ms % 1000) * 1000};

	return tv;
}

/*
 * Opens a connection to host:port (or the unix socket path when port is 0)
 * with the configured timeouts. Returns it, or NULL with the error recorded.
 */
redisContext *store_open_ctx(struct store *st, const char *host, int port)
{
	const struct config *cfg = st->cfg;
	struct timeval ct = store_ms(cfg->redis_connect_timeout_ms);
	redisContext *ctx;

	if (port == 0)
		ctx = redisConnectUnixWithTimeout(host, ct);
	else
		ctx = redisConnectWithTimeout(host, port, ct);
	if (ctx == NULL) {
		store_set_error(st, "redis connect", "out of memory");
		return NULL;
	}
	if (ctx->err) {
		store_set_error(st, "redis connect", ctx->errstr);
		redisFree(ctx);
		return NULL;
	}
	/*
	 * TCP keepalive probes find a peer that vanished without closing
	 * (a cut link, a proxy that dropped the idle connection silently),
	 * which store_conn_closed cannot see.
	 */
	if (port != 0 && redisEnableKeepAlive(ctx) != REDIS_OK) {
		store_set_error(st, "redis keepalive", ctx->errstr);
		redisFree(ctx);
		return NULL;
	}
	if (redisSetTimeout(ctx, store_ms(cfg->redis_timeout_ms)) != REDIS_OK) {
		store_set_error(st, "redis timeout", ctx->errstr);
		redisFree(ctx);
		return NULL;
	}
	return ctx;
}

/* Opens c to host:port (see store_open_ctx). Returns 0, or -1. */
int store_open(struct store *st, struct store_conn *c, const char *host,
	       int port)
{
	c->ctx = store_open_ctx(st, host, port);
	return c->ctx != NULL ? 0 : -1;
}

/*
 * Opens c (the cluster node it names, or else the master or server the
 * settings name), authenticates, selects the database and loads every
 * script. Returns 0, or -1 with c closed.
 */
int store_connect(struct store *st, struct store_conn *c)
{
	const struct config *cfg = st->cfg;
	int rc;

	st->error[0] = '\0';
	/*
	 * Nothing waits on c now (its pipeline empties when it drops), so
	 * the set-up exchange is sent and answered at once while other
	 * requests stay where they are.
	 */
	st->connecting = 1;
	if ((rc = st->chooser->open(st, c)) != 0)
		goto done;
	if (cfg->redis_password[0] != '\0') {
		const char *argv[2] = {"AUTH", cfg->redis_password};
		if ((rc = store_setup_command(st, c, 2, argv)) != 0)
			goto done;
	}
	if (cfg->redis_db != 0) {
		char db[24];
		const char *argv[2] = {"SELECT", db};
		snprintf(db, sizeof db, "%lld", (long long)cfg->redis_db);
		if ((rc = store_setup_command(st, c, 2, argv)) != 0)
			goto done;
	}
	rc = store_load_scripts(st, c);
done:
	st->connecting = 0;
	if (rc != 0) {
		store_disconnect(st, c);
		return -1;
	}
	if (st->connected_before)
		metrics_add(METRICS_REDIS_RECONNECTS, 1);
	st->connected_before = 1;
	if (st->cluster)
		log_line(LOG_DEBUG, "event=redis_connected node=%s:%d", c->host,
			 c->port);
	else
		log_line(LOG_DEBUG, "event=redis_connected");
	return 0;
}
