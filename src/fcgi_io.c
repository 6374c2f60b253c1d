/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fcgi_io.c - the accept loop of libfcgi and the CGI run. The only module
 * that includes fcgiapp.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include <fcgiapp.h>

#include "fcgi_io.h"
#include "log.h"
#include "process.h"

int fcgi_is_cgi(void)
{
	return FCGX_IsCGI();
}

/* ---- FastCGI transport ----------------------------------------------------
 */

static const char *fcgi_param(void *ctx, const char *name)
{
	FCGX_Request *r = ctx;

	return FCGX_GetParam(name, r->envp);
}

static long fcgi_read(void *ctx, char *buf, size_t n)
{
	FCGX_Request *r = ctx;
	int want = n > (size_t)1 << 30 ? 1 << 30 : (int)n;

	return FCGX_GetStr(buf, want, r->in);
}

static int fcgi_write(void *ctx, const char *buf, size_t n)
{
	FCGX_Request *r = ctx;

	while (n > 0) {
		int chunk = n > (size_t)1 << 30 ? 1 << 30 : (int)n;
		if (FCGX_PutStr(buf, chunk, r->out) != chunk)
			return -1;
		buf += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

int fcgi_serve(struct app *app, int listen_fd)
{
	FCGX_Request request;
	struct transport t = {fcgi_param, fcgi_read, fcgi_write, &request};

	if (FCGX_Init() != 0 || FCGX_InitRequest(&request, listen_fd, 0) != 0) {
		log_line(LOG_ERROR, "event=fcgi_init_failed");
		return -1;
	}
	/* A stop signal must also end libfcgi's accept, which retries EINTR. */
	process_on_stop(FCGX_ShutdownPending);
	while (!process_stopping()) {
		if (FCGX_Accept_r(&request) < 0) {
			if (process_stopping())
				break;
			log_line(LOG_ERROR, "event=accept_failed");
			return -1;
		}
		app_handle(app, &t);
		FCGX_Finish_r(&request);
		if (!process_stopping())
			app_maybe_sweep(app);
	}
	FCGX_Free(&request, 1);
	return 0;
}

/* ---- CGI transport --------------------------------------------------------
 */

static const char *cgi_param(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static long cgi_read(void *ctx, char *buf, size_t n)
{
	size_t got = fread(buf, 1, n, stdin);

	(void)ctx;
	if (got == 0 && ferror(stdin))
		return -1;
	return (long)got;
}

static int cgi_write(void *ctx, const char *buf, size_t n)
{
	(void)ctx;
	if (fwrite(buf, 1, n, stdout) != n)
		return -1;
	return fflush(stdout) == 0 ? 0 : -1;
}

/* The most unread body a CGI run drops before exiting. */
#define CGI_DRAIN_MAX (16u << 20)

/*
 * The server writes the whole request body to a CGI program's stdin, and
 * fails the response if the program exits before taking it (EPIPE on its
 * side). Reads and drops what the request left unread, within a bound.
 */
static void cgi_drain_stdin(void)
{
	char buf[8192];
	size_t total = 0, got;

	while (total < CGI_DRAIN_MAX &&
	       (got = fread(buf, 1, sizeof buf, stdin)) > 0)
		total += got;
}

int cgi_serve_one(struct app *app)
{
	struct transport t = {cgi_param, cgi_read, cgi_write, NULL};
	int rc = app_handle(app, &t);

	cgi_drain_stdin();
	return rc;
}
