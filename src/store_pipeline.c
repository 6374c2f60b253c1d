/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_pipeline.c - pipelining for the event loop (fcgi_loop.c): commands
 * of suspended requests appended to a connection's output buffer, sent at
 * once by store_pipeline_flush, their replies handed back in order.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>

#include "store_int.h"
#include "util.h"

/*
 * Fails every pipelined command still waiting on c: their requests are made
 * ready with no reply, which reads as a dropped connection.
 */
void store_fail_waiting(struct store *st, struct store_conn *c)
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
redisReply *store_send_pipelined(struct store *st, struct store_conn *c,
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

/*
 * Hands out the replies already read on every connection, then fills pfd
 * and polled with the connections still owed replies. Returns how many.
 */
static int store_poll_set(struct store *st, struct pollfd *pfd,
			  struct store_conn **polled)
{
	int n = 0;

	for (int i = 0; i < STORE_NODES_MAX; i++) {
		struct store_conn *c = &st->conn[i];

		if (c->pending == 0)
			continue;
		if (store_deliver(st, c) != 0) {
			store_forget_owner(st, c);
			continue;
		}
		if (c->pending == 0)
			continue;
		pfd[n].fd = c->ctx->fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		polled[n++] = c;
	}
	return n;
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
			store_forget_owner(st, &st->conn[i]);
	deadline = util_now_ms() + st->cfg->redis_timeout_ms;
	/* Then the replies, from whichever node answers first. */
	for (;;) {
		int64_t left;
		int n = store_poll_set(st, pfd, polled), ready;

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
			for (int i = 0; i < n; i++) {
				store_disconnect(st, polled[i]);
				store_forget_owner(st, polled[i]);
			}
			return;
		}
		for (int i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (redisBufferRead(polled[i]->ctx) != REDIS_OK) {
				store_set_error(st, "redis I/O",
						polled[i]->ctx->errstr);
				store_disconnect(st, polled[i]);
				store_forget_owner(st, polled[i]);
			}
		}
	}
}
