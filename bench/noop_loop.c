/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * noop_loop.c - the event loop's ceiling of bench/run (setup
 * eventloop-noop): the transport heartbeat.fcgi --event-loop runs
 * (src/fcgi_loop.c, fcgi_proto.c, coro.c, process.c), with a stub in place
 * of the application and the store. Each request's body is read and a fixed
 * heartbeat-shaped JSON answered, with no Redis: what nginx with kept
 * FastCGI connections and the event loop cost with no work in between.
 *
 *   make bench/noop_loop           (make check builds it too)
 *   bench/noop_loop --socket unix:PATH
 *
 * Settings come from the environment as for heartbeat.fcgi (the body limit
 * and HB_FCGI_STALL_SEC matter here); the store is never used.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "fcgi_loop.h"
#include "log.h"
#include "process.h"
#include "store.h"

/* What every request is answered, as noop.c answers it. */
#define NOOP_BODY                                                              \
	"{\"success\":true,\"request_id\":\"req_0000000000000000\","           \
	"\"data\":{\"result\":\"OK\",\"next_heartbeat_in\":120,"               \
	"\"play_duration_sec\":0}}"
#define NOOP_HEAD                                                              \
	"Status: 200 OK\r\n"                                                   \
	"Content-Type: application/json; charset=utf-8\r\n"                    \
	"X-Request-Id: req_0000000000000000\r\n"                               \
	"Cache-Control: no-store\r\n"

static char noop_answer[1024];
static size_t noop_answer_len;

/* ---- The application: read the body, answer the fixed JSON ---------------
 */

int app_handle(struct app *app, const struct transport *t)
{
	char buf[4096];

	(void)app;
	while (t->read(t->ctx, buf, sizeof buf) > 0)
		;
	return t->write(t->ctx, noop_answer, noop_answer_len);
}

void app_maybe_sweep(struct app *app)
{
	(void)app;
}

/* ---- The store: never reached but by the loop's start and end ------------
 */

enum store_result store_command(struct store *st, int shard, int argc,
				const char *const *argv, const size_t *lens,
				struct store_reply **out)
{
	(void)st;
	(void)shard;
	(void)argc;
	(void)argv;
	(void)lens;
	*out = NULL;
	return STORE_OK;
}

void store_reply_free(struct store_reply *r)
{
	(void)r;
}

void store_set_pipeline(struct store *st, const struct store_pipeline_ops *ops)
{
	(void)st;
	(void)ops;
}

size_t store_pipeline_pending(const struct store *st)
{
	(void)st;
	return 0;
}

void store_pipeline_flush(struct store *st)
{
	(void)st;
}

int main(int argc, char **argv)
{
	static struct config cfg;
	char err[CONFIG_STR_MAX + 512];
	struct app app;
	int fd, rc, n;

	if (argc != 3 || strcmp(argv[1], "--socket") != 0) {
		fprintf(stderr, "usage: noop_loop --socket unix:PATH\n");
		return 2;
	}
	if (config_load_env(&cfg, err, sizeof err) != 0) {
		fprintf(stderr, "noop_loop: configuration error: %s\n", err);
		return 78;
	}
	log_set_level(cfg.log_level);
	n = snprintf(noop_answer, sizeof noop_answer,
		     NOOP_HEAD "Content-Length: %zu\r\n\r\n%s",
		     sizeof NOOP_BODY - 1, NOOP_BODY);
	if (n < 0 || (size_t)n >= sizeof noop_answer)
		return 1;
	noop_answer_len = (size_t)n;
	memset(&app, 0, sizeof app);
	app.cfg = &cfg;
	if ((fd = process_open_socket(argv[2])) < 0)
		return 1;
	process_install_signals();
	rc = fcgi_loop_serve(&app, fd);
	process_remove_socket(argv[2]);
	return rc == 0 ? 0 : 1;
}
