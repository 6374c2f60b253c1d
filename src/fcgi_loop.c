/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fcgi_loop.c - many FastCGI connections per process, on epoll.
 *
 * One turn of the loop: wait for events; accept new connections; read what
 * arrived and feed it to each connection's protocol engine (fcgi_proto.c);
 * queue every request that became whole. Then run the queue: each request's
 * app_handle runs in a coroutine of its own until it finishes or sends a
 * Redis command, which the store only appends to its pipeline (see
 * store_set_pipeline). When the queue is empty the store sends the pipeline
 * in one write and reads the replies in order, which queues their requests
 * again; this repeats until every request has answered. Each answer goes out
 * as STDOUT records and END_REQUEST, written at once where the socket takes
 * it and on EPOLLOUT where it does not.
 *
 * One request per connection at a time (fcgi_proto.c rejects a second with
 * FCGI_CANT_MPX_CONN), so a connection owns at most one coroutine, and
 * nginx's kept-alive connections (fastcgi_keep_conn on) cost nothing while
 * idle. A connection whose peer leaves while its request waits for Redis is
 * closed at once and freed when the request has finished. A connection
 * whose peer stops midway (part of a record or of a request sent, or an
 * answer it does not read) for HB_FCGI_STALL_SEC is closed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include "coro.h"
#include "fcgi_loop.h"
#include "fcgi_proto.h"
#include "log.h"
#include "process.h"
#include "util.h"

/* Events taken from one epoll_wait. */
#define LOOP_EVENTS 256
/* Bytes read from a socket at a time. */
#define LOOP_READ_BUF (64 * 1024)
/* Connections accepted per wake-up, leaving some to the other workers. */
#define LOOP_ACCEPT_BATCH 16
/* After a stop signal, how long requests in hand may take to finish. */
#define LOOP_STOP_GRACE_MS 10000
/* How often a stopping loop looks at the clock, at most. */
#define LOOP_STOP_TICK_MS 100
/* How long accepting pauses when out of descriptors or memory. */
#define LOOP_ACCEPT_PAUSE_MS 100
/* How often stalled connections are looked for. */
#define LOOP_STALL_TICK_MS 1000

/* The answer's body when no coroutine stack can be had. */
#define LOOP_OVERLOADED_BODY                                                   \
	"{\"success\":false,\"error\":{\"code\":\"SERVICE_UNAVAILABLE\","      \
	"\"message\":\"the worker is overloaded\"}}"

struct loop;

struct loop_conn {
	struct loop *lp;
	int fd; /* -1 once closed */
	struct fcgi_conn proto;
	struct transport t; /* what app_handle reads and writes through */
	struct coro *co;    /* the request's coroutine, or NULL */
	size_t body_off;    /* body bytes the request has read */
	int running;	    /* a request is in hand (taken from proto) */
	int queued;	    /* in the run queue */
	int dead;	    /* closed: free when the request is done */
	int writing;	    /* EPOLLOUT is armed */
	int64_t active_ms;  /* when the peer last sent or took bytes */
	struct loop_conn *run_next;
	struct loop_conn *prev, *next; /* every open connection */
};

struct loop {
	struct app *app;
	int epfd;
	int listen_fd;
	int listening;		  /* listen_fd is in the epoll set */
	int64_t accept_resume_ms; /* accepting paused until then (0: not) */
	int tcp;		  /* the listener is TCP: set TCP_NODELAY */
	int stopping;
	int64_t stop_deadline;
	int64_t stall_ms;	 /* HB_FCGI_STALL_SEC */
	int64_t next_stall_scan; /* when to look for stalled peers next */
	size_t nconns;
	uint64_t served;
	uint64_t flushes;   /* pipelines sent to Redis */
	uint64_t pipelined; /* commands in them */
	struct loop_conn *conns;
	struct loop_conn *run_head, *run_tail;
	struct fcgi_limits lim;
	struct store_pipeline_ops ops;
};

/* ---- The run queue ------------------------------------------------------- */

static void loop_queue(struct loop *lp, struct loop_conn *c)
{
	if (c->queued)
		return;
	c->queued = 1;
	c->run_next = NULL;
	if (lp->run_tail != NULL)
		lp->run_tail->run_next = c;
	else
		lp->run_head = c;
	lp->run_tail = c;
}

static struct loop_conn *loop_dequeue(struct loop *lp)
{
	struct loop_conn *c = lp->run_head;

	if (c == NULL)
		return NULL;
	lp->run_head = c->run_next;
	if (lp->run_head == NULL)
		lp->run_tail = NULL;
	c->queued = 0;
	c->run_next = NULL;
	return c;
}

/* ---- The store's view of requests ---------------------------------------- */

static void *loop_store_self(void *ctx)
{
	struct coro *co = coro_self();

	(void)ctx;
	return co != NULL ? coro_arg(co) : NULL;
}

static void loop_store_suspend(void *ctx)
{
	(void)ctx;
	coro_yield();
}

static void loop_store_ready(void *ctx, void *req)
{
	loop_queue(ctx, req);
}

/* ---- The transport of one request ---------------------------------------- */

static const char *loop_param(void *ctx, const char *name)
{
	struct loop_conn *c = ctx;

	return fcgi_conn_param(&c->proto, name);
}

static long loop_read(void *ctx, char *buf, size_t n)
{
	struct loop_conn *c = ctx;
	size_t len;
	const char *body = fcgi_conn_body(&c->proto, &len);

	if (c->body_off >= len)
		return 0;
	if (n > len - c->body_off)
		n = len - c->body_off;
	if (n > (size_t)1 << 30)
		n = (size_t)1 << 30;
	memcpy(buf, body + c->body_off, n);
	c->body_off += n;
	return (long)n;
}

static int loop_write(void *ctx, const char *buf, size_t n)
{
	struct loop_conn *c = ctx;

	if (c->dead)
		return -1;
	return fcgi_conn_stdout(&c->proto, buf, n);
}

/* ---- Connections ----------------------------------------------------------
 */

static void loop_listen(struct loop *lp, int on)
{
	struct epoll_event ev;

	if (on == lp->listening || lp->listen_fd < 0)
		return;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.ptr = NULL;
	if (on && epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->listen_fd, &ev) != 0) {
		/* Kernels before 4.5 know no EPOLLEXCLUSIVE. */
		ev.events = EPOLLIN;
		if (errno != EINVAL || epoll_ctl(lp->epfd, EPOLL_CTL_ADD,
						 lp->listen_fd, &ev) != 0) {
			log_line(LOG_ERROR, "event=epoll_failed err=\"%s\"",
				 strerror(errno));
			return;
		}
	}
	if (!on)
		epoll_ctl(lp->epfd, EPOLL_CTL_DEL, lp->listen_fd, NULL);
	lp->listening = on;
}

/* Closes c's socket; frees c unless its request still runs. */
static void loop_close(struct loop *lp, struct loop_conn *c)
{
	if (c->fd >= 0) {
		close(c->fd); /* also leaves the epoll set */
		c->fd = -1;
		if (c->prev != NULL)
			c->prev->next = c->next;
		else
			lp->conns = c->next;
		if (c->next != NULL)
			c->next->prev = c->prev;
		c->prev = c->next = NULL;
		lp->nconns--;
		if (!lp->stopping && lp->accept_resume_ms == 0 &&
		    lp->nconns < FCGI_LOOP_CONN_MAX)
			loop_listen(lp, 1);
	}
	c->dead = 1;
	if (c->running)
		return; /* loop_request_done frees it */
	fcgi_conn_free(&c->proto);
	free(c);
}

/* Arms or disarms EPOLLOUT. */
static void loop_want_write(struct loop *lp, struct loop_conn *c, int on)
{
	struct epoll_event ev;

	if (on == c->writing)
		return;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(lp->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->writing = on;
}

/*
 * Writes what c has queued and closes it when its last answer is out.
 * Returns 0, or -1 when c was closed (and perhaps freed).
 */
static int loop_flush(struct loop *lp, struct loop_conn *c)
{
	size_t len;
	const char *p = fcgi_conn_pending(&c->proto, &len);

	while (len > 0) {
		ssize_t n = write(c->fd, p, len);

		if (n > 0) {
			c->active_ms = util_now_ms();
			fcgi_conn_consumed(&c->proto, (size_t)n);
			p = fcgi_conn_pending(&c->proto, &len);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			loop_want_write(lp, c, 1);
			return 0;
		}
		loop_close(lp, c); /* the peer is gone */
		return -1;
	}
	loop_want_write(lp, c, 0);
	if (!c->running && (c->proto.close_after_write ||
			    (lp->stopping && c->proto.state == FCGI_REQ_IDLE &&
			     c->proto.hdr_len == 0))) {
		loop_close(lp, c);
		return -1;
	}
	return 0;
}

/*
 * Takes a request that became whole into the run queue, and writes what the
 * protocol queued. Returns 0, or -1 when c was closed.
 */
static int loop_progress(struct loop *lp, struct loop_conn *c)
{
	if (c->proto.failed) {
		log_line(LOG_WARN, "event=fcgi_protocol_error err=\"%s\"",
			 c->proto.error ? c->proto.error : "unknown");
		loop_close(lp, c);
		return -1;
	}
	if (c->proto.state == FCGI_REQ_READY && !c->running) {
		c->running = 1;
		c->body_off = 0;
		loop_queue(lp, c);
	}
	return loop_flush(lp, c);
}

static int loop_on_readable(struct loop *lp, struct loop_conn *c);

static void loop_accept(struct loop *lp)
{
	for (int i = 0; i < LOOP_ACCEPT_BATCH; i++) {
		struct epoll_event ev;
		struct loop_conn *c;
		int fd;

		if (lp->nconns >= FCGI_LOOP_CONN_MAX) {
			loop_listen(lp, 0);
			return;
		}
		fd = accept4(lp->listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/*
			 * Out of descriptors or memory: the listener stays
			 * readable, so stop watching it for a while rather
			 * than spin.
			 */
			log_line(LOG_ERROR, "event=accept_failed err=\"%s\"",
				 strerror(errno));
			loop_listen(lp, 0);
			lp->accept_resume_ms =
			    util_now_ms() + LOOP_ACCEPT_PAUSE_MS;
			return;
		}
		if (lp->tcp) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof one);
		}
		c = calloc(1, sizeof *c);
		if (c == NULL) {
			close(fd);
			loop_listen(lp, 0);
			lp->accept_resume_ms =
			    util_now_ms() + LOOP_ACCEPT_PAUSE_MS;
			return;
		}
		c->lp = lp;
		c->fd = fd;
		c->active_ms = util_now_ms();
		fcgi_conn_init(&c->proto, &lp->lim);
		c->t.param = loop_param;
		c->t.read = loop_read;
		c->t.write = loop_write;
		c->t.ctx = c;
		memset(&ev, 0, sizeof ev);
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			log_line(LOG_ERROR, "event=epoll_failed err=\"%s\"",
				 strerror(errno));
			fcgi_conn_free(&c->proto);
			free(c);
			close(fd);
			return;
		}
		c->next = lp->conns;
		if (lp->conns != NULL)
			lp->conns->prev = c;
		lp->conns = c;
		lp->nconns++;
		/*
		 * A web server writes its request right after connecting:
		 * it is most likely here already, a wake-up early.
		 */
		loop_on_readable(lp, c);
	}
}

/*
 * Reads what the peer sent and acts on it. Returns 0, or -1 when c was
 * closed (and perhaps freed).
 */
static int loop_on_readable(struct loop *lp, struct loop_conn *c)
{
	static char buf[LOOP_READ_BUF];

	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof buf);

		if (n > 0) {
			c->active_ms = util_now_ms();
			if (fcgi_conn_feed(&c->proto, buf, (size_t)n) != 0)
				break;
			if ((size_t)n < sizeof buf)
				break; /* most likely drained: spare a read */
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* End of file or an error: the peer is gone. */
		loop_close(lp, c);
		return -1;
	}
	return loop_progress(lp, c);
}

/*
 * Closes every connection whose peer has owed bytes (the rest of a record
 * or request) or left an answer unread for the stall time. Idle kept
 * connections and connections whose request is in hand are not stalled.
 */
static void loop_reap_stalled(struct loop *lp)
{
	int64_t now = util_now_ms();
	struct loop_conn *c, *next;

	if (now < lp->next_stall_scan)
		return;
	lp->next_stall_scan = now + LOOP_STALL_TICK_MS;
	for (c = lp->conns; c != NULL; c = next) {
		next = c->next;
		if (c->running || now - c->active_ms < lp->stall_ms ||
		    !(fcgi_conn_partial(&c->proto) || c->writing))
			continue;
		log_line(LOG_WARN, "event=fcgi_stalled idle_ms=%lld writing=%d",
			 (long long)(now - c->active_ms), c->writing);
		loop_close(lp, c);
	}
}

/* ---- Requests -------------------------------------------------------------
 */

static void loop_request_main(void *arg)
{
	struct loop_conn *c = arg;

	app_handle(c->lp->app, &c->t);
}

/* Ends c's request after app_handle (or instead of it). */
static void loop_request_done(struct loop *lp, struct loop_conn *c)
{
	coro_free(c->co);
	c->co = NULL;
	c->running = 0;
	lp->served++;
	if (c->dead) {
		loop_close(lp, c); /* frees it */
		return;
	}
	fcgi_conn_end_request(&c->proto, 0);
	if (lp->stopping)
		c->proto.close_after_write = 1;
	loop_progress(lp, c);
}

/* Starts or resumes one queued request. */
static void loop_step(struct loop *lp, struct loop_conn *c)
{
	if (c->co == NULL) {
		if (c->dead || c->proto.aborted) {
			/* Nobody wants the answer: do not even start. */
			loop_request_done(lp, c);
			return;
		}
		c->co = coro_new(loop_request_main, c);
		if (c->co == NULL) {
			char head[256];
			int n = snprintf(head, sizeof head,
					 "Status: 503 Service Unavailable\r\n"
					 "Content-Type: application/json; "
					 "charset=utf-8\r\n"
					 "Content-Length: %zu\r\n"
					 "Retry-After: 1\r\n\r\n",
					 sizeof LOOP_OVERLOADED_BODY - 1);

			log_line(LOG_ERROR,
				 "event=overloaded err=\"no stack for "
				 "a coroutine\"");
			fcgi_conn_stdout(&c->proto, head, (size_t)n);
			fcgi_conn_stdout(&c->proto, LOOP_OVERLOADED_BODY,
					 sizeof LOOP_OVERLOADED_BODY - 1);
			loop_request_done(lp, c);
			return;
		}
	}
	if (coro_resume(c->co))
		loop_request_done(lp, c);
}

/*
 * Runs every queued request until all have answered: each runs until it
 * waits for Redis, then the pipeline goes out and its replies queue their
 * requests again.
 */
static void loop_run(struct loop *lp)
{
	struct store *st = lp->app->store;

	for (;;) {
		struct loop_conn *c;

		while ((c = loop_dequeue(lp)) != NULL)
			loop_step(lp, c);
		if (store_pipeline_pending(st) == 0)
			break;
		lp->flushes++;
		lp->pipelined += store_pipeline_pending(st);
		store_pipeline_flush(st);
	}
}

/* ---- Stopping -------------------------------------------------------------
 */

/* Accepts no more connections and closes the idle ones. */
static void loop_begin_stop(struct loop *lp)
{
	struct loop_conn *c, *next;

	lp->stopping = 1;
	lp->stop_deadline = util_now_ms() + LOOP_STOP_GRACE_MS;
	loop_listen(lp, 0);
	for (c = lp->conns; c != NULL; c = next) {
		next = c->next;
		if (c->running || c->proto.state != FCGI_REQ_IDLE)
			continue;
		/*
		 * A request may have arrived with the signal: take it. An
		 * idle connection is closed once its output is written.
		 */
		if (loop_on_readable(lp, c) == 0)
			loop_flush(lp, c);
	}
}

/* Closes every connection (the grace period is over). */
static void loop_close_all(struct loop *lp)
{
	while (lp->conns != NULL)
		loop_close(lp, lp->conns);
}

/* ---- The loop --------------------------------------------------------------
 */

int fcgi_loop_serve(struct app *app, int listen_fd)
{
	static struct loop lp;
	struct epoll_event events[LOOP_EVENTS];
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	sigset_t stop_signals, unblocked;
	int flags;

	memset(&lp, 0, sizeof lp);
	lp.app = app;
	lp.listen_fd = listen_fd;
	lp.lim.params_bytes = FCGI_PARAMS_BYTES_MAX;
	lp.lim.params_count = FCGI_PARAMS_COUNT_MAX;
	lp.lim.body = (size_t)app->cfg->body_limit;
	lp.stall_ms = app->cfg->fcgi_stall_sec * 1000;
	lp.lim.max_conns = FCGI_LOOP_CONN_MAX;
	lp.ops.self = loop_store_self;
	lp.ops.suspend = loop_store_suspend;
	lp.ops.ready = loop_store_ready;
	lp.ops.ctx = &lp;

	if (getsockname(listen_fd, (struct sockaddr *)&ss, &sslen) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
		lp.tcp = 1;
	/* Several workers wait on one listener: none may block in accept. */
	flags = fcntl(listen_fd, F_GETFL);
	if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
		log_line(LOG_ERROR, "event=loop_init_failed err=\"%s\"",
			 strerror(errno));
		return -1;
	}
	lp.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (lp.epfd < 0) {
		log_line(LOG_ERROR, "event=loop_init_failed err=\"%s\"",
			 strerror(errno));
		return -1;
	}
	/*
	 * Stop signals are delivered only inside epoll_pwait, so one never
	 * slips in between a check of the flag and the wait.
	 */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGUSR1);
	sigprocmask(SIG_BLOCK, &stop_signals, &unblocked);
	sigdelset(&unblocked, SIGTERM);
	sigdelset(&unblocked, SIGINT);
	sigdelset(&unblocked, SIGUSR1);

	{
		/*
		 * Connect now rather than on the first request, so the
		 * first requests do not wait for the scripts to load. If
		 * Redis is down, the first request connects instead.
		 */
		const char *ping[1] = {"PING"};
		struct store_reply *r = NULL;

		store_command(app->store, 0, 1, ping, NULL, &r);
		store_reply_free(r);
	}
	store_set_pipeline(app->store, &lp.ops);
	loop_listen(&lp, 1);
	log_line(LOG_DEBUG, "event=loop_started");

	for (;;) {
		int timeout = -1, n;

		if (process_stopping() && !lp.stopping)
			loop_begin_stop(&lp);
		if (!lp.listening && !lp.stopping && lp.accept_resume_ms != 0) {
			int64_t left = lp.accept_resume_ms - util_now_ms();

			if (left <= 0) {
				lp.accept_resume_ms = 0;
				if (lp.nconns < FCGI_LOOP_CONN_MAX)
					loop_listen(&lp, 1);
			} else {
				timeout = (int)left;
			}
		}
		if (lp.stopping) {
			int64_t left = lp.stop_deadline - util_now_ms();

			if (lp.nconns == 0)
				break;
			if (left <= 0) {
				log_line(LOG_WARN,
					 "event=stop_grace_over "
					 "connections=%zu",
					 lp.nconns);
				break;
			}
			timeout = left < LOOP_STOP_TICK_MS ? (int)left
							   : LOOP_STOP_TICK_MS;
		}
		if (lp.nconns > 0 &&
		    (timeout < 0 || timeout > LOOP_STALL_TICK_MS))
			timeout = LOOP_STALL_TICK_MS;
		n = epoll_pwait(lp.epfd, events, LOOP_EVENTS, timeout,
				&unblocked);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_line(LOG_ERROR, "event=epoll_failed err=\"%s\"",
				 strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct loop_conn *c = events[i].data.ptr;

			if (c == NULL) {
				if (!lp.stopping)
					loop_accept(&lp);
				continue;
			}
			if (events[i].events & EPOLLOUT) {
				if (loop_flush(&lp, c) != 0)
					continue;
			}
			if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				loop_on_readable(&lp, c);
		}
		loop_run(&lp);
		loop_reap_stalled(&lp);
		if (!lp.stopping)
			app_maybe_sweep(app);
	}

	loop_close_all(&lp);
	store_set_pipeline(app->store, NULL);
	log_line(LOG_INFO,
		 "event=loop_stopped served=%llu pipelines=%llu "
		 "commands=%llu",
		 (unsigned long long)lp.served, (unsigned long long)lp.flushes,
		 (unsigned long long)lp.pipelined);
	if (log_enabled(LOG_DEBUG))
		/* Scans the stacks: debugging only (memory checkers object). */
		log_line(LOG_DEBUG,
			 "event=coroutine_stacks high_water=%zu "
			 "size=%zu",
			 coro_stack_high_water(), coro_stack_size());
	coro_pool_clear();
	close(lp.epfd);
	sigprocmask(SIG_UNBLOCK, &stop_signals, NULL);
	return 0;
}
