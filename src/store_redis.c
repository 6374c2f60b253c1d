/*
 * store_redis.c - the Redis connection, script loading and calls. The only
 * module that includes hiredis. Uses only API common to hiredis 0.14 and 1.x.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "metrics.h"
#include "store.h"
#include "util.h"

/* The longest host name or address of a sentinel or master. */
#define STORE_HOST_MAX 256
/* The longest key name built by store_key. */
#define STORE_KEY_MAX (CONFIG_STR_MAX + 64)

/*
 * A request waiting for the reply to a pipelined command. It lives on the
 * waiting request's own (suspended) stack.
 */
struct store_wait {
	redisReply *reply; /* NULL: the command failed with the connection */
	void *req;
	struct store_wait *next;
};

struct store {
	const struct config *cfg;
	redisContext *ctx;
	/* Pipelining (store_set_pipeline); empty whenever ctx is NULL. */
	const struct store_pipeline_ops *pipe;
	struct store_wait *wait_head, *wait_tail;
	size_t pending;
	int connecting; /* connect's own commands go unpipelined */
	char sha[SCRIPT_COUNT][41];
	char error[256];
	int connected_before;
	/* The common script arguments, formatted once. */
	char deadlines_key[STORE_KEY_MAX];
	char common[SCRIPT_COMMON_ARGS][STORE_KEY_MAX];
};

/* Records why the store failed; the text goes to the log only. */
static void store_set_error(struct store *st, const char *what,
			    const char *detail)
{
	snprintf(st->error, sizeof st->error, "%s: %s", what,
		 detail ? detail : "unknown");
}

/*
 * Fails every pipelined command still waiting for its reply: their requests
 * are made ready with no reply, which reads as a dropped connection.
 */
static void store_fail_waiting(struct store *st)
{
	while (st->wait_head != NULL) {
		struct store_wait *w = st->wait_head;

		st->wait_head = w->next;
		w->reply = NULL;
		st->pipe->ready(st->pipe->ctx, w->req);
	}
	st->wait_tail = NULL;
	st->pending = 0;
}

static void store_disconnect(struct store *st)
{
	if (st->ctx != NULL) {
		redisFree(st->ctx);
		st->ctx = NULL;
	}
	store_fail_waiting(st);
}

struct store *store_new(const struct config *cfg)
{
	struct store *st = calloc(1, sizeof *st);

	if (st == NULL)
		return NULL;
	st->cfg = cfg;
	snprintf(st->deadlines_key, sizeof st->deadlines_key, "%sdeadlines",
		 cfg->key_base);
	snprintf(st->common[0], STORE_KEY_MAX, "%s", cfg->key_base);
	snprintf(st->common[1], STORE_KEY_MAX, "%lld",
		 (long long)cfg->game_ttl_sec * 1000);
	snprintf(st->common[2], STORE_KEY_MAX, "%lld",
		 (long long)cfg->grace_sec * 1000);
	snprintf(st->common[3], STORE_KEY_MAX, "%lld",
		 (long long)cfg->launcher_ttl_sec * 1000);
	snprintf(st->common[4], STORE_KEY_MAX, "%lld",
		 (long long)cfg->tombstone_sec * 1000);
	snprintf(st->common[5], STORE_KEY_MAX, "%lld",
		 (long long)cfg->settle_margin_sec * 1000);
	snprintf(st->common[6], STORE_KEY_MAX, "%lld,%lld,%lld,%lld",
		 (long long)cfg->rate_key_per_sec,
		 (long long)cfg->rate_session_per_min,
		 (long long)cfg->rate_launcher_per_min,
		 (long long)cfg->rate_device_user_per_min);
	return st;
}

void store_free(struct store *st)
{
	if (st == NULL)
		return;
	store_disconnect(st);
	free(st);
}

const char *store_last_error(const struct store *st)
{
	return st->error;
}

void store_key(const struct store *st, const char *name, char *out,
	       size_t size)
{
	snprintf(out, size, "%s%s", st->cfg->key_base, name);
}

/*
 * Appends one command to the pipeline and suspends the calling request req
 * until store_pipeline_flush has its reply. Returns what store_send does.
 */
static redisReply *store_send_pipelined(struct store *st, void *req, int argc,
					const char **argv, const size_t *lens)
{
	struct store_wait w = {NULL, req, NULL};

	if (redisAppendCommandArgv(st->ctx, argc, argv, lens) != REDIS_OK) {
		store_set_error(st, "redis I/O", st->ctx->errstr);
		store_disconnect(st);
		return NULL;
	}
	if (st->wait_tail != NULL)
		st->wait_tail->next = &w;
	else
		st->wait_head = &w;
	st->wait_tail = &w;
	st->pending++;
	st->pipe->suspend(st->pipe->ctx);
	/* Resumed: the reply is ours, or the connection was dropped. */
	return w.reply;
}

/*
 * Sends one command on the live connection. Returns the reply (caller owns),
 * or NULL after dropping a dead connection.
 */
static redisReply *store_send(struct store *st, int argc, const char **argv,
			      const size_t *lens)
{
	redisReply *r;
	void *req = NULL;

	if (st->ctx == NULL) {
		/*
		 * Dropped while this request was suspended (another request
		 * of the same pipeline found the connection unusable).
		 */
		store_set_error(st, "redis", "connection dropped");
		return NULL;
	}
	if (st->pipe != NULL && !st->connecting)
		req = st->pipe->self(st->pipe->ctx);
	if (req != NULL)
		return store_send_pipelined(st, req, argc, argv, lens);
	if (st->pending > 0) {
		/* A blocking reply would be another request's: refuse. */
		store_set_error(st, "redis",
				"command outside a request while "
				"the pipeline is busy");
		return NULL;
	}
	r = redisCommandArgv(st->ctx, argc, argv, lens);

	if (r == NULL) {
		store_set_error(st, "redis I/O", st->ctx->errstr);
		store_disconnect(st);
	}
	return r;
}

/* Loads one script and records its SHA. Returns 0, or -1. */
static int store_load_script(struct store *st, enum script_id id)
{
	const char *argv[3] = {"SCRIPT", "LOAD", script_defs[id].source};
	redisReply *r = store_send(st, 3, argv, NULL);

	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STRING || r->len != 40) {
		store_set_error(st, "SCRIPT LOAD",
				r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
		freeReplyObject(r);
		return -1;
	}
	memcpy(st->sha[id], r->str, 40);
	st->sha[id][40] = '\0';
	freeReplyObject(r);
	return 0;
}

/* Runs a set-up command that must answer OK (AUTH, SELECT). */
static int store_setup_command(struct store *st, int argc, const char **argv)
{
	redisReply *r = store_send(st, argc, argv, NULL);
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
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	return tv;
}

/*
 * Opens st->ctx to host:port (or the unix socket path when port is 0) with
 * the configured timeouts. Returns 0, or -1 with the error recorded.
 */
static int store_open(struct store *st, const char *host, int port)
{
	const struct config *cfg = st->cfg;
	struct timeval ct = store_ms(cfg->redis_connect_timeout_ms);

	if (port == 0)
		st->ctx = redisConnectUnixWithTimeout(host, ct);
	else
		st->ctx = redisConnectWithTimeout(host, port, ct);
	if (st->ctx == NULL) {
		store_set_error(st, "redis connect", "out of memory");
		return -1;
	}
	if (st->ctx->err) {
		store_set_error(st, "redis connect", st->ctx->errstr);
		store_disconnect(st);
		return -1;
	}
	if (redisSetTimeout(st->ctx, store_ms(cfg->redis_timeout_ms)) !=
	    REDIS_OK) {
		store_set_error(st, "redis timeout", st->ctx->errstr);
		store_disconnect(st);
		return -1;
	}
	return 0;
}

/*
 * Asks the sentinels, in order, for the master's address and connects to
 * it, checking that it says it is a master (a sentinel may still name the
 * old one during a failover). Returns 0, or -1 with the error recorded.
 */
static int store_open_via_sentinels(struct store *st)
{
	const struct config *cfg = st->cfg;
	const char *p = cfg->redis_sentinels;

	while (*p != '\0') {
		char item[STORE_HOST_MAX], addr[STORE_HOST_MAX];
		size_t len = strcspn(p, ",");
		const char *ask[3] = {"SENTINEL", "get-master-addr-by-name",
				      cfg->redis_master_name};
		const char *role[1] = {"ROLE"};
		const char *host = item;
		char *colon;
		redisReply *r;
		int port, ok;

		if (len == 0 || len >= sizeof item) {
			p += len + (p[len] == ',');
			continue;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		p += len + (p[len] == ',');
		/* HOST:PORT, with IPv6 hosts in brackets. */
		colon = strrchr(item, ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		port = atoi(colon + 1);
		if (item[0] == '[' && colon[-1] == ']') {
			colon[-1] = '\0';
			host = item + 1;
		}
		if (store_open(st, host, port) != 0)
			continue;
		r = store_send(st, 3, ask, NULL);
		store_disconnect(st);
		if (r == NULL)
			continue;
		ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		     r->element[0]->type == REDIS_REPLY_STRING &&
		     r->element[0]->len < sizeof addr;
		if (ok) {
			snprintf(addr, sizeof addr, "%s", r->element[0]->str);
			port = atoi(r->element[1]->str ? r->element[1]->str
						       : "0");
		}
		freeReplyObject(r);
		if (!ok || port <= 0 || store_open(st, addr, port) != 0)
			continue;
		r = store_send(st, 1, role, NULL);
		ok = r != NULL && r->type == REDIS_REPLY_ARRAY &&
		     r->elements > 0 &&
		     r->element[0]->type == REDIS_REPLY_STRING &&
		     strcmp(r->element[0]->str, "master") == 0;
		if (r != NULL)
			freeReplyObject(r);
		if (ok)
			return 0;
		store_set_error(st, "sentinel", "the named master is not a master");
		store_disconnect(st);
	}
	if (st->error[0] == '\0')
		store_set_error(st, "sentinel", "no sentinel answered");
	return -1;
}

/* Connects, authenticates, selects the database and loads every script. */
static int store_connect(struct store *st)
{
	const struct config *cfg = st->cfg;
	int rc;

	st->error[0] = '\0';
	/*
	 * Nothing waits in the pipeline now (it empties when the connection
	 * drops), so the set-up exchange is sent and answered at once while
	 * other requests stay where they are.
	 */
	st->connecting = 1;
	if (cfg->redis_sentinels[0] != '\0')
		rc = store_open_via_sentinels(st);
	else if (cfg->redis_socket[0] != '\0')
		rc = store_open(st, cfg->redis_socket, 0);
	else
		rc = store_open(st, cfg->redis_host, (int)cfg->redis_port);
	if (rc != 0) {
		st->connecting = 0;
		return -1;
	}
	if (cfg->redis_password[0] != '\0') {
		const char *argv[2] = {"AUTH", cfg->redis_password};
		if (store_setup_command(st, 2, argv) != 0)
			goto fail;
	}
	if (cfg->redis_db != 0) {
		char db[24];
		const char *argv[2] = {"SELECT", db};
		snprintf(db, sizeof db, "%lld", (long long)cfg->redis_db);
		if (store_setup_command(st, 2, argv) != 0)
			goto fail;
	}
	for (int i = 0; i < SCRIPT_COUNT; i++)
		if (store_load_script(st, (enum script_id)i) != 0)
			goto fail;
	st->connecting = 0;
	if (st->connected_before)
		metrics_add(METRICS_REDIS_RECONNECTS, 1);
	st->connected_before = 1;
	log_line(LOG_DEBUG, "event=redis_connected");
	return 0;
fail:
	st->connecting = 0;
	store_disconnect(st);
	return -1;
}

/* Whether an error reply means Redis cannot serve now (not our bug). */
static int store_error_is_unavailable(const char *msg)
{
	static const char *const prefixes[] = {"LOADING", "READONLY",
					       "MASTERDOWN", "BUSY",
					       "TRYAGAIN", "CLUSTERDOWN",
					       "NOAUTH", "OOM", "NOREPLICAS"};

	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (strncmp(msg, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

/*
 * Sends argv, connecting first if needed, and classifies the reply. With
 * script >= 0, argv[1] is that script's SHA and a NOSCRIPT reply reloads the
 * script and sends once more.
 */
static enum store_result store_call(struct store *st, int script, int argc,
				    const char **argv, const size_t *lens,
				    struct store_reply **out)
{
	redisReply *r;

	*out = NULL;
	if (st->ctx == NULL && store_connect(st) != 0) {
		metrics_add(METRICS_REDIS_ERRORS, 1);
		return STORE_UNAVAILABLE;
	}
	if (script >= 0)
		argv[1] = st->sha[script];
	r = store_send(st, argc, argv, lens);
	if (r == NULL) {
		metrics_add(METRICS_REDIS_ERRORS, 1);
		return STORE_UNAVAILABLE;
	}
	if (script >= 0 && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(r);
		metrics_add(METRICS_SCRIPTS_RELOADED, 1);
		if (store_load_script(st, (enum script_id)script) != 0)
			return st->ctx == NULL ? STORE_UNAVAILABLE : STORE_ERROR;
		argv[1] = st->sha[script];
		r = store_send(st, argc, argv, lens);
		if (r == NULL)
			return STORE_UNAVAILABLE;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		enum store_result res = STORE_ERROR;

		store_set_error(st, "redis", r->str);
		metrics_add(METRICS_REDIS_ERRORS, 1);
		if (store_error_is_unavailable(r->str)) {
			res = STORE_UNAVAILABLE;
			store_disconnect(st);
		}
		freeReplyObject(r);
		return res;
	}
	*out = (struct store_reply *)r;
	return STORE_OK;
}

enum store_result store_script(struct store *st, enum script_id id, int argc,
			       const char *const *argv, const size_t *lens,
			       struct store_reply **out)
{
	const char *all[STORE_ARGS_MAX];
	size_t all_lens[STORE_ARGS_MAX];
	int n = 0;

	*out = NULL;
	if (argc < 0 || argc + 4 + SCRIPT_COMMON_ARGS > STORE_ARGS_MAX) {
		store_set_error(st, "store_script", "too many arguments");
		return STORE_ERROR;
	}
	all[n++] = "EVALSHA";
	all[n++] = NULL; /* the SHA, filled in by store_call */
	all[n++] = "1";
	all[n++] = st->deadlines_key;
	for (int i = 0; i < SCRIPT_COMMON_ARGS; i++)
		all[n++] = st->common[i];
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

void store_set_pipeline(struct store *st,
			const struct store_pipeline_ops *ops)
{
	if (ops == NULL && st->pending > 0) {
		/* Nobody would flush them: drop the connection instead. */
		store_set_error(st, "redis", "pipelining turned off");
		store_disconnect(st);
	}
	st->pipe = ops;
}

size_t store_pipeline_pending(const struct store *st)
{
	return st->pending;
}

/*
 * Waits until the connection has bytes to read or deadline_ms passes.
 * Returns 0, or -1 with the error recorded.
 */
static int store_wait_readable(struct store *st, int64_t deadline_ms)
{
	for (;;) {
		struct pollfd pfd = {st->ctx->fd, POLLIN, 0};
		int64_t left = deadline_ms - util_now_ms();
		int n;

		if (left <= 0) {
			store_set_error(st, "redis I/O", "timed out");
			return -1;
		}
		n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			store_set_error(st, "redis I/O", strerror(errno));
			return -1;
		}
	}
}

void store_pipeline_flush(struct store *st)
{
	int64_t deadline;
	int done = 0;

	if (st->pending == 0)
		return;
	if (st->ctx == NULL) {
		store_fail_waiting(st);
		return;
	}
	deadline = util_now_ms() + st->cfg->redis_timeout_ms;
	do {
		if (redisBufferWrite(st->ctx, &done) != REDIS_OK)
			goto io_error;
	} while (!done);
	while (st->wait_head != NULL) {
		struct store_wait *w;
		void *reply = NULL;

		if (redisGetReplyFromReader(st->ctx, &reply) != REDIS_OK)
			goto io_error;
		if (reply == NULL) {
			if (store_wait_readable(st, deadline) != 0)
				goto fail;
			if (redisBufferRead(st->ctx) != REDIS_OK)
				goto io_error;
			continue;
		}
		w = st->wait_head;
		st->wait_head = w->next;
		if (st->wait_head == NULL)
			st->wait_tail = NULL;
		st->pending--;
		w->reply = reply;
		st->pipe->ready(st->pipe->ctx, w->req);
	}
	return;
io_error:
	store_set_error(st, "redis I/O", st->ctx->errstr);
fail:
	store_disconnect(st);
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
