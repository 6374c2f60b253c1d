/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_redis.c - the Redis connection, script loading and calls. The only
 * module that includes hiredis. Uses only API common to hiredis 0.14 and 1.x.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "metrics.h"
#include "store.h"
#include "util.h"

/* The longest host name or address of a sentinel, master or cluster node. */
#define STORE_HOST_MAX 256
/* The longest key name built by store_key. */
#define STORE_KEY_MAX (CONFIG_STR_MAX + 64)
/* The most connections of one store (a cluster: one per node it uses). */
#define STORE_NODES_MAX 8
/* The longest settings line of the scripts (store_prologue). */
#define STORE_PROLOGUE_MAX (4 * CONFIG_STR_MAX + 512)
/* The most MOVED and ASK redirects one call follows. */
#define STORE_REDIRECTS_MAX 5
/*
 * Cluster: how long after failing to learn or reach the owner of the key
 * base's slot calls answer "unavailable" before asking the nodes again.
 */
#define STORE_MAP_RETRY_MS 100

/*
 * A command waiting for its pipelined reply. It lives on the waiting
 * request's own (suspended) stack.
 */
struct store_wait {
	redisReply *reply; /* NULL: the command failed with the connection */
	void *req;	   /* NULL: a reply nobody reads (ASKING's) */
	struct store_wait *next;
};

/*
 * One Redis connection and the pipelined commands waiting on it. Without a
 * cluster the store has one (conn[0]); with one, a connection per node it
 * has used, named by host and port.
 */
struct store_conn {
	redisContext *ctx;
	struct store_wait *wait_head, *wait_tail;
	size_t pending;
	char host[STORE_HOST_MAX];
	int port; /* cluster nodes only; 0: an unused entry */
	/* Counts the times the entry was made over to another node. */
	unsigned gen;
	/* A WATCH or MULTI is open on ctx (heartbeatctl's transactions). */
	int tx;
};

struct store {
	const struct config *cfg;
	struct store_conn conn[STORE_NODES_MAX];
	int cluster; /* HB_REDIS_CLUSTER is set */
	/*
	 * The connection that serves the key base's hash slot: always 0
	 * without a cluster; with one, the slot's master as last learnt
	 * (CLUSTER SLOTS or MOVED), or -1 to learn it on the next call.
	 */
	int owner;
	int slot;	      /* the key base's hash slot */
	int64_t map_retry_ms; /* cluster: no new try before this time */
	/* Pipelining (store_set_pipeline); every connection's count. */
	const struct store_pipeline_ops *pipe;
	size_t pending;
	int connecting; /* connect's own commands go unpipelined */
	int paused;	/* the last call found the service paused */
	char sha[SCRIPT_COUNT][41];
	char error[256];
	int connected_before;
	char anchor_key[STORE_KEY_MAX];
	/* The settings as Lua constants, put before every script loaded. */
	char prologue[STORE_PROLOGUE_MAX];
};

static int store_connect(struct store *st, struct store_conn *c);

/* Records why the store failed; the text goes to the log only. */
static void store_set_error(struct store *st, const char *what,
			    const char *detail)
{
	snprintf(st->error, sizeof st->error, "%s: %s", what,
		 detail ? detail : "unknown");
}

/*
 * Fails every pipelined command still waiting on c: their requests are made
 * ready with no reply, which reads as a dropped connection.
 */
static void store_fail_waiting(struct store *st, struct store_conn *c)
{
	while (c->wait_head != NULL) {
		struct store_wait *w = c->wait_head;

		c->wait_head = w->next;
		w->reply = NULL;
		if (w->req != NULL)
			st->pipe->ready(st->pipe->ctx, w->req);
	}
	c->wait_tail = NULL;
	st->pending -= c->pending;
	c->pending = 0;
}

static void store_disconnect(struct store *st, struct store_conn *c)
{
	if (c->ctx != NULL) {
		redisFree(c->ctx);
		c->ctx = NULL;
	}
	c->tx = 0;
	store_fail_waiting(st, c);
}

/*
 * Cluster: forgets which node serves the slot; the next call asks the
 * nodes again, not sooner than STORE_MAP_RETRY_MS from now.
 */
static void store_forget_owner(struct store *st)
{
	if (!st->cluster)
		return;
	st->owner = -1;
	st->map_retry_ms = util_now_ms() + STORE_MAP_RETRY_MS;
}

/*
 * Writes the settings the scripts read (common.lua) as Lua: the key base as
 * a string of decimal escapes, so any byte reads as itself, and the numbers.
 * Returns 0, or -1 when they do not fit in size.
 */
static int store_prologue(const struct config *cfg, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "local B = '");

	for (const unsigned char *p = (const unsigned char *)cfg->key_base;
	     *p != '\0' && n < size; p++)
		n += (size_t)snprintf(out + n, size - n, "\\%03u", *p);
	if (n < size)
		n += (size_t)snprintf(
		    out + n, size - n,
		    "'\nlocal TTL, GRACE, LTTL, TOMB, MARGIN = %lld, %lld, "
		    "%lld, %lld, %lld\nlocal LIMITS = {%lld, %lld, %lld, "
		    "%lld}\n",
		    (long long)cfg->game_ttl_sec * 1000,
		    (long long)cfg->grace_sec * 1000,
		    (long long)cfg->launcher_ttl_sec * 1000,
		    (long long)cfg->tombstone_sec * 1000,
		    (long long)cfg->settle_margin_sec * 1000,
		    (long long)cfg->rate_key_per_sec,
		    (long long)cfg->rate_session_per_min,
		    (long long)cfg->rate_launcher_per_min,
		    (long long)cfg->rate_device_user_per_min);
	return n < size ? 0 : -1;
}

struct store *store_new(const struct config *cfg)
{
	struct store *st = calloc(1, sizeof *st);

	if (st == NULL)
		return NULL;
	st->cfg = cfg;
	st->cluster = cfg->redis_cluster[0] != '\0';
	st->owner = st->cluster ? -1 : 0;
	snprintf(st->anchor_key, sizeof st->anchor_key, "%sanchor",
		 cfg->key_base);
	st->slot = util_key_slot(st->anchor_key, strlen(st->anchor_key));
	if (store_prologue(cfg, st->prologue, sizeof st->prologue) != 0) {
		free(st);
		return NULL;
	}
	return st;
}

void store_free(struct store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < STORE_NODES_MAX; i++)
		store_disconnect(st, &st->conn[i]);
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
	if (st->cluster)
		return "cluster";
	return st->cfg->redis_sentinels[0] != '\0' ? "sentinel" : "standalone";
}

void store_key(const struct store *st, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s%s", st->cfg->key_base, name);
}

/* Queues w as the next reply expected on c. */
static void store_enqueue(struct store *st, struct store_conn *c,
			  struct store_wait *w)
{
	if (c->wait_tail != NULL)
		c->wait_tail->next = w;
	else
		c->wait_head = w;
	c->wait_tail = w;
	c->pending++;
	st->pending++;
}

/*
 * Appends one command (after ASKING when asking) to c's pipeline and
 * suspends the calling request req until store_pipeline_flush has its
 * reply. Returns what store_send does.
 */
static redisReply *store_send_pipelined(struct store *st, struct store_conn *c,
					void *req, int asking, int argc,
					const char **argv, const size_t *lens)
{
	const char *asking_argv[1] = {"ASKING"};
	struct store_wait ask = {NULL, NULL, NULL};
	struct store_wait w = {NULL, req, NULL};

	if ((asking && redisAppendCommandArgv(c->ctx, 1, asking_argv, NULL) !=
			   REDIS_OK) ||
	    redisAppendCommandArgv(c->ctx, argc, argv, lens) != REDIS_OK) {
		store_set_error(st, "redis I/O", c->ctx->errstr);
		store_disconnect(st, c);
		return NULL;
	}
	if (asking)
		store_enqueue(st, c, &ask);
	store_enqueue(st, c, &w);
	st->pipe->suspend(st->pipe->ctx);
	/* Resumed: the reply is ours, or the connection was dropped. */
	return w.reply;
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
static redisReply *store_send(struct store *st, struct store_conn *c,
			      int asking, int argc, const char **argv,
			      const size_t *lens)
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

/*
 * Loads one script, after the settings, on c and records its SHA. Returns
 * 0, or -1.
 */
static int store_load_script(struct store *st, struct store_conn *c,
			     enum script_id id)
{
	size_t plen = strlen(st->prologue);
	size_t slen = strlen(script_defs[id].source);
	char *text = malloc(plen + slen);
	const char *argv[3] = {"SCRIPT", "LOAD", text};
	size_t lens[3] = {6, 4, plen + slen};
	redisReply *r;

	if (text == NULL) {
		store_set_error(st, "SCRIPT LOAD", "out of memory");
		return -1;
	}
	memcpy(text, st->prologue, plen);
	memcpy(text + plen, script_defs[id].source, slen);
	r = store_send(st, c, 0, 3, argv, lens);
	free(text);
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STRING || r->len != 40) {
		store_set_error(st, "SCRIPT LOAD",
				r->type == REDIS_REPLY_ERROR ? r->str
							     : "bad reply");
		freeReplyObject(r);
		return -1;
	}
	memcpy(st->sha[id], r->str, 40);
	st->sha[id][40] = '\0';
	freeReplyObject(r);
	return 0;
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
static redisContext *store_open_ctx(struct store *st, const char *host,
				    int port)
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
static int store_open(struct store *st, struct store_conn *c, const char *host,
		      int port)
{
	c->ctx = store_open_ctx(st, host, port);
	return c->ctx != NULL ? 0 : -1;
}

/*
 * Reads the next item of a comma-separated HOST:PORT list (IPv6 hosts in
 * brackets) at *p into host and *port and moves *p past it, skipping
 * malformed items. Returns 1, or 0 at the end of the list.
 */
static int store_next_addr(const char **p, char *host, size_t size, int *port)
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

/*
 * Opens c (the cluster node it names, or else the master or server the
 * settings name), authenticates, selects the database and loads every
 * script. Returns 0, or -1 with c closed.
 */
static int store_connect(struct store *st, struct store_conn *c)
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
	if (st->cluster)
		rc = store_open(st, c, c->host, c->port);
	else if (cfg->redis_sentinels[0] != '\0')
		rc = store_open_via_sentinels(st, c);
	else if (cfg->redis_socket[0] != '\0')
		rc = store_open(st, c, cfg->redis_socket, 0);
	else
		rc = store_open(st, c, cfg->redis_host, (int)cfg->redis_port);
	if (rc != 0)
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
	for (int i = 0; i < SCRIPT_COUNT && rc == 0; i++)
		rc = store_load_script(st, c, (enum script_id)i);
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

/* ---- Redis Cluster ------------------------------------------------------- */

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
		if (i == st->owner || c->pending > 0)
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
 * Asks node host:port for the slot map (CLUSTER SLOTS) and makes the master
 * of the key base's slot the owner. Returns 0, or -1.
 */
static int store_ask_slots(struct store *st, const char *host, int port)
{
	const char *argv[2] = {"CLUSTER", "SLOTS"};
	char master[STORE_HOST_MAX] = "";
	int master_port = 0;
	redisContext *ctx = store_open_ctx(st, host, port);
	redisReply *r = NULL;
	struct store_conn *c;

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
	/* Each range: start, end, master [host, port, id...], replicas... */
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i], *m;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    e->element[0]->type != REDIS_REPLY_INTEGER ||
		    e->element[1]->type != REDIS_REPLY_INTEGER ||
		    e->element[0]->integer > st->slot ||
		    e->element[1]->integer < st->slot)
			continue;
		m = e->element[2];
		if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
		    (m->element[0]->type != REDIS_REPLY_STRING &&
		     m->element[0]->type != REDIS_REPLY_NIL) ||
		    m->element[1]->type != REDIS_REPLY_INTEGER ||
		    m->element[0]->len >= sizeof master)
			continue;
		/* No host (empty, or nil: an unknown endpoint): the node asked.
		 */
		snprintf(master, sizeof master, "%s",
			 m->element[0]->type == REDIS_REPLY_STRING &&
				 m->element[0]->len > 0
			     ? m->element[0]->str
			     : host);
		master_port = (int)m->element[1]->integer;
	}
	if (master_port <= 0 || master_port > 65535) {
		store_set_error(st, "cluster", "no master serves the slot");
		goto fail;
	}
	freeReplyObject(r);
	redisFree(ctx);
	c = store_node(st, master, master_port);
	if (c == NULL)
		return -1;
	st->owner = (int)(c - st->conn);
	return 0;
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
 * Learns which master serves the key base's slot, asking the configured
 * nodes and then every node used since, until one answers. Returns 0, or -1.
 */
static int store_learn_owner(struct store *st)
{
	const char *p = st->cfg->redis_cluster;
	char host[STORE_HOST_MAX];
	int port;

	if (util_now_ms() < st->map_retry_ms) {
		store_set_error(st, "cluster", "the slot's master is unknown");
		return -1;
	}
	while (store_next_addr(&p, host, sizeof host, &port))
		if (store_ask_slots(st, host, port) == 0)
			return 0;
	for (int i = 0; i < STORE_NODES_MAX; i++) {
		if (st->conn[i].port == 0)
			continue;
		snprintf(host, sizeof host, "%s", st->conn[i].host);
		if (store_ask_slots(st, host, st->conn[i].port) == 0)
			return 0;
	}
	store_forget_owner(st);
	return -1;
}

/*
 * Follows a MOVED (the slot has a new master: it becomes the owner) or ASK
 * (the slot is being migrated: this one command goes to the importing node,
 * after ASKING) error msg from node from. Returns 1 with *to the connected
 * node to send to and *asking set for ASK; 0 when msg is not a redirect;
 * -1 when the node named cannot be reached.
 */
static int store_redirect(struct store *st, const struct store_conn *from,
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
		st->owner = (int)(c - st->conn);
	if (c->ctx == NULL && store_connect(st, c) != 0) {
		if (!*asking)
			store_forget_owner(st);
		return -1;
	}
	*to = c;
	return 1;
}

/*
 * The connection every command goes to: the only one, or the master of the
 * key base's slot (every key shares its hash tag). Connects when needed.
 * Returns NULL with the error recorded.
 */
static struct store_conn *store_route(struct store *st)
{
	struct store_conn *c;

	if (st->cluster && st->owner < 0 && store_learn_owner(st) != 0)
		return NULL;
	c = &st->conn[st->owner];
	if (c->ctx == NULL && store_connect(st, c) != 0) {
		store_forget_owner(st);
		return NULL;
	}
	return c;
}

/* ---- Calls --------------------------------------------------------------- */

/* A cluster that is down, as a command or a script's command finds it. */
static int store_error_is_cluster_down(const char *msg)
{
	return strncmp(msg, "CLUSTERDOWN", 11) == 0 ||
	       strstr(msg, "cluster is down") != NULL;
}

/*
 * A script stopped by the cluster before it ran a command on a key of a
 * slot being migrated that is not here (any more). (Writes the script made
 * before that command stay: see heartbeatctl pause in docs/operations.md.)
 */
static int store_error_is_migrating(const char *msg)
{
	return strstr(msg, "non local key") != NULL;
}

/* Whether an error reply means Redis cannot serve now (not our bug). */
static int store_error_is_unavailable(const char *msg)
{
	static const char *const prefixes[] = {
	    "LOADING",	   "READONLY", "MASTERDOWN", "BUSY",	  "TRYAGAIN",
	    "CLUSTERDOWN", "NOAUTH",   "OOM",	     "NOREPLICAS"};

	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (strncmp(msg, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
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

/* Notes on c whether argv opens or closes a transaction (or a WATCH). */
static void store_note_tx(struct store_conn *c, const char *cmd)
{
	if (strcasecmp(cmd, "WATCH") == 0 || strcasecmp(cmd, "MULTI") == 0)
		c->tx = 1;
	else if (strcasecmp(cmd, "EXEC") == 0 ||
		 strcasecmp(cmd, "DISCARD") == 0 ||
		 strcasecmp(cmd, "UNWATCH") == 0)
		c->tx = 0;
}

/*
 * Sends argv to the slot's node, connecting first if needed, follows
 * redirects and classifies the reply. With script >= 0, argv[1] is that
 * script's SHA and a NOSCRIPT reply reloads the script (on each node once)
 * and sends again.
 */
static enum store_result store_call(struct store *st, int script, int argc,
				    const char **argv, const size_t *lens,
				    struct store_reply **out)
{
	struct store_conn *c;
	redisReply *r;
	int asking = 0, redirects = 0, reloaded = 0;
	enum store_result res;
	/*
	 * Transactions matter only where a redirect could split one: plain
	 * commands (heartbeatctl's) on a cluster. Scripts skip the bookkeeping.
	 */
	int track_tx = st->cluster && script < 0;
	int closes = track_tx && (strcasecmp(argv[0], "EXEC") == 0 ||
				  strcasecmp(argv[0], "DISCARD") == 0);
	unsigned gen;

	*out = NULL;
	st->paused = 0;
	if ((c = store_route(st)) == NULL)
		goto unavailable;
	gen = c->gen;
	for (;;) {
		struct store_conn *next = NULL;
		int in_tx = c->tx || closes;
		int rc;

		if (script >= 0)
			argv[1] = st->sha[script];
		r = store_send(st, c, asking, argc, argv, lens);
		if (r == NULL) {
			store_forget_owner(st);
			goto unavailable;
		}
		if (gen != c->gen) {
			/*
			 * While this request waited, its connection dropped
			 * and the entry went to another node: a reply stands,
			 * but nothing more can be done on the entry.
			 */
			if (r->type != REDIS_REPLY_ERROR)
				break;
			store_set_error(st, "redis", r->str);
			freeReplyObject(r);
			goto unavailable;
		}
		if (r->type != REDIS_REPLY_ERROR) {
			if (track_tx)
				store_note_tx(c, argv[0]);
			break;
		}
		if (closes)
			c->tx = 0; /* EXECABORT: the transaction is gone */
		if (script >= 0 && !reloaded &&
		    strncmp(r->str, "NOSCRIPT", 8) == 0) {
			freeReplyObject(r);
			reloaded = 1;
			metrics_add(METRICS_SCRIPTS_RELOADED, 1);
			if (store_load_script(st, c, (enum script_id)script) !=
			    0)
				return c->ctx == NULL ? STORE_UNAVAILABLE
						      : STORE_ERROR;
			if (gen != c->gen) {
				store_set_error(st, "redis",
						"connection moved");
				goto unavailable;
			}
			continue;
		}
		if (!st->cluster || !store_error_is_redirect(r->str))
			break;
		if (in_tx || (strcasecmp(argv[0], "WATCH") == 0 &&
			      strncmp(r->str, "ASK ", 4) == 0)) {
			/*
			 * A transaction (or WATCH) is open on this node, or
			 * EXEC found its keys moved: the command cannot go
			 * elsewhere. Dropping the connection discards the
			 * transaction. (A first WATCH may follow MOVED: it
			 * watches nothing yet; not ASK: what follows would go
			 * back to the owner.)
			 */
			store_set_error(st, "cluster", r->str);
			freeReplyObject(r);
			store_disconnect(st, c);
			store_forget_owner(st);
			goto unavailable;
		}
		rc = redirects++ < STORE_REDIRECTS_MAX
			 ? store_redirect(st, c, r->str, &next, &asking)
			 : -1;
		if (rc > 0) {
			freeReplyObject(r);
			c = next;
			gen = c->gen;
			reloaded = 0; /* the next node may lack the script */
			continue;
		}
		/*
		 * Unreachable, or sent round in circles while the nodes
		 * disagree about the slot: the cluster is changing.
		 */
		store_set_error(st, "cluster", r->str);
		freeReplyObject(r);
		store_forget_owner(st);
		goto unavailable;
	}
	if (r->type != REDIS_REPLY_ERROR) {
		*out = (struct store_reply *)r;
		return STORE_OK;
	}
	store_set_error(st, "redis", r->str);
	if (strncmp(r->str, "TRYAGAIN paused", 15) == 0) {
		/* heartbeatctl pause: no failure of Redis's. */
		st->paused = 1;
		freeReplyObject(r);
		return STORE_UNAVAILABLE;
	}
	metrics_add(METRICS_REDIS_ERRORS, 1);
	res = STORE_ERROR;
	if (store_error_is_unavailable(r->str)) {
		res = STORE_UNAVAILABLE;
		if (!store_error_keeps_connection(r->str)) {
			store_disconnect(st, c);
			store_forget_owner(st);
		} else if (store_error_is_cluster_down(r->str)) {
			store_forget_owner(st);
		}
	}
	freeReplyObject(r);
	return res;
unavailable:
	metrics_add(METRICS_REDIS_ERRORS, 1);
	return STORE_UNAVAILABLE;
}

enum store_result store_script(struct store *st, enum script_id id, int argc,
			       const char *const *argv, const size_t *lens,
			       struct store_reply **out)
{
	const char *all[STORE_ARGS_MAX];
	size_t all_lens[STORE_ARGS_MAX];
	int n = 0;

	*out = NULL;
	if (argc < 0 || argc > STORE_SCRIPT_ARGS_MAX) {
		store_set_error(st, "store_script", "too many arguments");
		return STORE_ERROR;
	}
	all[n++] = "EVALSHA";
	all[n++] = NULL; /* the SHA, filled in by store_call */
	all[n++] = "1";
	all[n++] = st->anchor_key;
	for (int i = 0; i < n; i++)
		all_lens[i] = i == 1 ? 40 : strlen(all[i] ? all[i] : "");
	for (int i = 0; i < argc; i++) {
		all[n] = argv[i];
		all_lens[n] = lens ? lens[i] : strlen(argv[i]);
		n++;
	}
	return store_call(st, (int)id, n, all, all_lens, out);
}

enum store_result store_command(struct store *st, int argc,
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
	return store_call(st, -1, argc, all, all_lens, out);
}

/* ---- Pipelining ---------------------------------------------------------- */

void store_set_pipeline(struct store *st, const struct store_pipeline_ops *ops)
{
	for (int i = 0; i < STORE_NODES_MAX && ops == NULL; i++) {
		if (st->conn[i].pending == 0)
			continue;
		/* Nobody would flush them: drop the connection instead. */
		store_set_error(st, "redis", "pipelining turned off");
		store_disconnect(st, &st->conn[i]);
	}
	st->pipe = ops;
}

size_t store_pipeline_pending(const struct store *st)
{
	return st->pending;
}

/* Sends what waits in c's output buffer. Returns 0, or -1 with c dropped. */
static int store_flush_write(struct store *st, struct store_conn *c)
{
	int done = 0;

	do {
		if (redisBufferWrite(c->ctx, &done) != REDIS_OK) {
			store_set_error(st, "redis I/O", c->ctx->errstr);
			store_disconnect(st, c);
			return -1;
		}
	} while (!done);
	return 0;
}

/*
 * Hands every complete reply already read on c to its waiting request.
 * Returns 0, or -1 with c dropped.
 */
static int store_deliver(struct store *st, struct store_conn *c)
{
	while (c->wait_head != NULL) {
		struct store_wait *w;
		void *reply = NULL;

		if (redisGetReplyFromReader(c->ctx, &reply) != REDIS_OK) {
			store_set_error(st, "redis I/O", c->ctx->errstr);
			store_disconnect(st, c);
			return -1;
		}
		if (reply == NULL)
			return 0;
		w = c->wait_head;
		c->wait_head = w->next;
		if (c->wait_head == NULL)
			c->wait_tail = NULL;
		c->pending--;
		st->pending--;
		if (w->req == NULL) {
			freeReplyObject(reply);
			continue;
		}
		w->reply = reply;
		st->pipe->ready(st->pipe->ctx, w->req);
	}
	return 0;
}

void store_pipeline_flush(struct store *st)
{
	struct pollfd pfd[STORE_NODES_MAX];
	struct store_conn *polled[STORE_NODES_MAX];
	int64_t deadline;

	if (st->pending == 0)
		return;
	/* Every node gets its commands before any reply is awaited. */
	for (int i = 0; i < STORE_NODES_MAX; i++)
		if (st->conn[i].pending > 0 &&
		    store_flush_write(st, &st->conn[i]) != 0)
			store_forget_owner(st);
	deadline = util_now_ms() + st->cfg->redis_timeout_ms;
	/* Then the replies, from whichever node answers first. */
	for (;;) {
		int64_t left;
		int n = 0, ready;

		for (int i = 0; i < STORE_NODES_MAX; i++) {
			struct store_conn *c = &st->conn[i];

			if (c->pending == 0)
				continue;
			if (store_deliver(st, c) != 0) {
				store_forget_owner(st);
				continue;
			}
			if (c->pending == 0)
				continue;
			pfd[n].fd = c->ctx->fd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			polled[n++] = c;
		}
		if (n == 0)
			return;
		/* Past the deadline, one last look at what has arrived. */
		left = deadline - util_now_ms();
		ready = poll(pfd, (nfds_t)n,
			     left <= 0		? 0
			     : left > INT32_MAX ? INT32_MAX
						: (int)left);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready == 0 && left > 0)
			continue;
		if (ready <= 0) {
			/* Timed out (or poll failed): the nodes still owing. */
			store_set_error(st, "redis I/O",
					ready == 0 ? "timed out"
						   : strerror(errno));
			for (int i = 0; i < n; i++)
				store_disconnect(st, polled[i]);
			store_forget_owner(st);
			return;
		}
		for (int i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (redisBufferRead(polled[i]->ctx) != REDIS_OK) {
				store_set_error(st, "redis I/O",
						polled[i]->ctx->errstr);
				store_disconnect(st, polled[i]);
				store_forget_owner(st);
			}
		}
	}
}

void store_reply_free(struct store_reply *r)
{
	if (r != NULL)
		freeReplyObject((redisReply *)r);
}

enum store_type store_reply_type(const struct store_reply *r)
{
	const redisReply *rr = (const redisReply *)r;

	if (rr == NULL)
		return STORE_T_NIL;
	switch (rr->type) {
	case REDIS_REPLY_INTEGER:
		return STORE_T_INT;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
		return STORE_T_STR;
	case REDIS_REPLY_ARRAY:
		return STORE_T_ARRAY;
	default:
		return STORE_T_NIL;
	}
}

size_t store_reply_count(const struct store_reply *r)
{
	const redisReply *rr = (const redisReply *)r;

	return rr && rr->type == REDIS_REPLY_ARRAY ? rr->elements : 0;
}

const struct store_reply *store_reply_at(const struct store_reply *r, size_t i)
{
	const redisReply *rr = (const redisReply *)r;

	if (rr == NULL || rr->type != REDIS_REPLY_ARRAY || i >= rr->elements)
		return NULL;
	return (const struct store_reply *)rr->element[i];
}

const char *store_reply_str(const struct store_reply *r, size_t *len)
{
	const redisReply *rr = (const redisReply *)r;

	if (rr == NULL || (rr->type != REDIS_REPLY_STRING &&
			   rr->type != REDIS_REPLY_STATUS)) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = rr->len;
	return rr->str;
}

long long store_reply_int(const struct store_reply *r)
{
	const redisReply *rr = (const redisReply *)r;

	return rr && rr->type == REDIS_REPLY_INTEGER ? rr->integer : 0;
}
