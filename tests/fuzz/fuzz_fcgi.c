/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_fcgi.c - the FastCGI wire protocol of one connection (fcgi_proto.h):
 * records, name-value pairs, the body under its limit, management records,
 * aborts and keep-alive, as a web server's bytes arrive in pieces.
 *
 * Input: one byte that says how the rest is cut into reads (0: all at once,
 * else pieces of that many bytes), then the bytes of the connection.
 *
 * Three runs per input:
 *   1. fed whole, then the request in hand (if any) answered;
 *   2. fed in pieces, then the same. Both must end the same way: same error,
 *      same parameters and body, same bytes to write. How reads are cut must
 *      not matter.
 *   3. fed in pieces as the event loop does, answering each request as soon
 *      as it is whole, through http.h over the connection (parameters,
 *      body, response as STDOUT), and writing out in small steps.
 * Every output must be whole, well-formed records; every STDOUT stream of an
 * answer must be a well-formed response.
 */
#include <stdlib.h>
#include <string.h>

#include "fcgi_proto.h"
#include "harness.h"
#include "http.h"

/* Small limits, so that inputs of a few hundred bytes reach them. */
static const struct fcgi_limits fuzz_limits = {
    .params_bytes = 4096,
    .params_count = 32,
    .body = 1024,
    .max_conns = 16,
};

/* The most pairs compared with fcgi_conn_param (quadratic). */
#define FUZZ_PAIRS_CHECKED 32

/* A growing record of what a run did, compared between runs. */
struct fuzz_log {
	char *buf;
	size_t len, cap;
};

static void fuzz_log_put(struct fuzz_log *l, const void *p, size_t n)
{
	if (l->len + n > l->cap) {
		size_t cap = (l->len + n) * 2;
		char *b = realloc(l->buf, cap);

		if (b == NULL)
			fuzz_fail("out of memory");
		l->buf = b;
		l->cap = cap;
	}
	if (n > 0)
		memcpy(l->buf + l->len, p, n);
	l->len += n;
}

static void fuzz_log_str(struct fuzz_log *l, const char *s)
{
	fuzz_log_put(l, s, strlen(s) + 1);
}

/*
 * Checks that the n bytes at p are whole records a responder may send, and
 * appends the content of STDOUT records to stdout_text when it is not NULL.
 */
static void fuzz_check_records(const unsigned char *p, size_t n,
			       struct fuzz_log *stdout_text)
{
	size_t pos = 0;

	while (pos < n) {
		size_t clen, pad;
		int type;

		if (n - pos < FCGI_HEADER_LEN)
			fuzz_fail("output ends inside a record header");
		type = p[pos + 1];
		clen = ((size_t)p[pos + 4] << 8) | p[pos + 5];
		pad = p[pos + 6];
		if (p[pos] != FCGI_VERSION_1 || p[pos + 7] != 0)
			fuzz_fail("output record with a bad header");
		if (type != FCGI_STDOUT && type != FCGI_END_REQUEST &&
		    type != FCGI_GET_VALUES_RESULT && type != FCGI_UNKNOWN_TYPE)
			fuzz_fail("output record of type %d", type);
		if ((type == FCGI_END_REQUEST || type == FCGI_UNKNOWN_TYPE) &&
		    clen != 8)
			fuzz_fail("END_REQUEST/UNKNOWN_TYPE of %zu bytes",
				  clen);
		if (n - pos - FCGI_HEADER_LEN < clen + pad)
			fuzz_fail("output ends inside a record");
		if (type == FCGI_STDOUT && stdout_text != NULL)
			fuzz_log_put(stdout_text, p + pos + FCGI_HEADER_LEN,
				     clen);
		pos += FCGI_HEADER_LEN + clen + pad;
	}
}

/* Records the request in hand and checks its parameters and body. */
static void fuzz_log_request(const struct fcgi_conn *c, struct fuzz_log *l)
{
	const char *body;
	size_t blen;

	if (c->npairs > c->lim.params_count)
		fuzz_fail("%zu parameters passed", c->npairs);
	for (size_t i = 0; i < c->npairs; i++) {
		fuzz_log_str(l, c->pairs[i].name);
		fuzz_log_str(l, c->pairs[i].value);
		if (i < FUZZ_PAIRS_CHECKED) {
			const char *first = NULL;

			for (size_t k = 0; k <= i && first == NULL; k++)
				if (strcmp(c->pairs[k].name,
					   c->pairs[i].name) == 0)
					first = c->pairs[k].value;
			if (fcgi_conn_param(c, c->pairs[i].name) != first)
				fuzz_fail("the first of duplicates does not "
					  "win");
		}
	}
	body = fcgi_conn_body(c, &blen);
	if (blen > c->lim.body)
		fuzz_fail("a body of %zu bytes was kept", blen);
	if (c->body_seen <= c->lim.body && blen != c->body_seen)
		fuzz_fail("%zu body bytes kept of %llu", blen,
			  (unsigned long long)c->body_seen);
	fuzz_log_put(l, body, blen);
}

/* Runs 1 and 2: feeds in pieces of size chunk, answers at the end. */
static void fuzz_run_plain(const unsigned char *data, size_t size, size_t chunk,
			   struct fuzz_log *l)
{
	struct fcgi_conn c;
	const char *out;
	size_t olen;
	char state[8];

	fcgi_conn_init(&c, &fuzz_limits);
	for (size_t pos = 0; pos < size; pos += chunk) {
		size_t n = size - pos < chunk ? size - pos : chunk;

		if (fcgi_conn_feed(&c, data + pos, n) != 0)
			break;
	}
	if (c.failed && c.error == NULL)
		fuzz_fail("a failed connection gives no reason");
	fuzz_log_str(l, c.failed ? c.error : "ok");
	state[0] = (char)('0' + c.state);
	state[1] = (char)('0' + c.close_after_write);
	state[2] = (char)('0' + c.aborted);
	state[3] = '\0';
	fuzz_log_str(l, state);
	if (!c.failed && c.state == FCGI_REQ_READY) {
		const char *body;
		size_t blen;

		fuzz_log_request(&c, l);
		body = fcgi_conn_body(&c, &blen);
		if (fcgi_conn_stdout(&c, body, blen) != 0 ||
		    fcgi_conn_end_request(&c, 0) != 0)
			fuzz_fail("answering failed");
	}
	out = fcgi_conn_pending(&c, &olen);
	fuzz_check_records((const unsigned char *)out, olen, NULL);
	fuzz_log_put(l, out, olen);
	fcgi_conn_free(&c);
}

/* ---- run 3: http.h over the connection ----------------------------------- */

struct fuzz_conn_io {
	struct fcgi_conn *c;
	size_t body_pos;
};

static const char *fuzz_conn_param(void *ctx, const char *name)
{
	const struct fuzz_conn_io *io = ctx;

	return fcgi_conn_param(io->c, name);
}

static long fuzz_conn_read(void *ctx, char *buf, size_t n)
{
	struct fuzz_conn_io *io = ctx;
	size_t len;
	const char *body = fcgi_conn_body(io->c, &len);

	if (n > len - io->body_pos)
		n = len - io->body_pos;
	memcpy(buf, body + io->body_pos, n);
	io->body_pos += n;
	return (long)n;
}

static int fuzz_conn_write(void *ctx, const char *buf, size_t n)
{
	struct fuzz_conn_io *io = ctx;

	return fcgi_conn_stdout(io->c, buf, n);
}

/* Answers the request in hand as the worker would, minus the handlers. */
static void fuzz_answer(struct fcgi_conn *c)
{
	struct fuzz_conn_io io = {c, 0};
	struct transport t = {fuzz_conn_param, fuzz_conn_read, fuzz_conn_write,
			      &io};
	struct http_request req;
	struct http_response resp;
	enum hb_status st;
	int aborted = c->aborted;
	size_t before;

	fcgi_conn_pending(c, &before);
	http_request_init(&req, &t, fuzz_request_config());
	st = http_read_body(&req);
	http_response_init(&resp);
	http_response_status(&resp, st);
	jw_object_begin(&resp.body);
	jw_key(&resp.body, "path");
	jw_string(&resp.body, req.path);
	jw_key(&resp.body, "client");
	jw_string(&resp.body, req.client_addr);
	jw_object_end(&resp.body);
	if (http_response_send(&req, &resp) != 0)
		fuzz_fail("the response was not written");
	http_response_free(&resp);
	http_request_free(&req);
	if (fcgi_conn_end_request(c, 0) != 0)
		fuzz_fail("END_REQUEST failed");
	if (!aborted) {
		/* What this answer added: its STDOUT is one response. */
		struct fuzz_log text = {0};
		size_t olen;
		const char *out = fcgi_conn_pending(c, &olen);

		fuzz_check_records((const unsigned char *)out + before,
				   olen - before, &text);
		fuzz_check_response(text.buf, text.len, 0);
		free(text.buf);
	}
}

/* Run 3: the event loop's way, answering each request as it completes. */
static void fuzz_run_served(const unsigned char *data, size_t size,
			    size_t chunk)
{
	struct fcgi_conn c;

	fcgi_conn_init(&c, &fuzz_limits);
	for (size_t pos = 0; pos < size && !c.close_after_write; pos += chunk) {
		size_t n = size - pos < chunk ? size - pos : chunk;
		size_t olen;
		const char *out;

		if (fcgi_conn_feed(&c, data + pos, n) != 0)
			break;
		if (c.state == FCGI_REQ_READY)
			fuzz_answer(&c);
		/* Write out, a few bytes at a time. */
		out = fcgi_conn_pending(&c, &olen);
		fuzz_check_records((const unsigned char *)out, olen, NULL);
		while (olen > 0) {
			size_t step = olen < 13 ? olen : 13;

			fcgi_conn_consumed(&c, step);
			fcgi_conn_pending(&c, &olen);
		}
	}
	fcgi_conn_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_log whole = {0}, pieces = {0};
	unsigned char *stream;
	size_t len, chunk;

	if (size == 0)
		return 0;
	len = size - 1;
	chunk = data[0] ? data[0] : (len ? len : 1);
	/* An exact copy, so a read past the end is caught. */
	stream = malloc(len ? len : 1);
	if (stream == NULL)
		fuzz_fail("out of memory");
	memcpy(stream, data + 1, len);

	fuzz_run_plain(stream, len, len ? len : 1, &whole);
	fuzz_run_plain(stream, len, chunk, &pieces);
	if (whole.len != pieces.len ||
	    memcmp(whole.buf, pieces.buf, whole.len) != 0)
		fuzz_fail("reads of %zu bytes end otherwise than one read",
			  chunk);
	fuzz_run_served(stream, len, chunk);

	free(whole.buf);
	free(pieces.buf);
	free(stream);
	return 0;
}
