/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check_fcgi.c - unit tests of fcgi_proto.h: the FastCGI responder of the
 * event loop, driven from memory. Requests come out whole however the bytes
 * are split, padding is skipped, FCGI_KEEP_CONN decides whether the
 * connection stays, a second request is refused with FCGI_CANT_MPX_CONN,
 * management records are answered, limits hold, and malformed input puts
 * the connection in error without ever reading out of bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_main.h"

#include "fcgi_proto.h"

/* ---- helpers ------------------------------------------------------------- */

static const struct fcgi_limits limits = {4096, 32, 1024, 100};

static void conn_start(struct fcgi_conn *c)
{
	fcgi_conn_init(c, &limits);
}

static void rec(struct fcgi_buf *b, int type, unsigned id, const void *p,
		size_t n, size_t padding)
{
	ck_assert_int_eq(fcgi_record_append(b, type, id, p, n, padding), 0);
}

static void begin(struct fcgi_buf *b, unsigned id, int role, int flags)
{
	unsigned char body[8] = {(unsigned char)(role >> 8),
				 (unsigned char)role, (unsigned char)flags};

	rec(b, FCGI_BEGIN_REQUEST, id, body, sizeof body, 0);
}

/* The usual parameters of a heartbeat, encoded. */
static void usual_params(struct fcgi_buf *p)
{
	static const char *const kv[] = {
	    "REQUEST_METHOD", "PATCH",
	    "REQUEST_URI",    "/v1/game/session/heartbeat",
	    "CONTENT_TYPE",   "application/json",
	    "CONTENT_LENGTH", "27",
	    "REMOTE_ADDR",    "127.0.0.1",
	    "HTTP_X_API_KEY", "k_0123456789",
	    "EMPTY",	      "",
	};

	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i += 2)
		ck_assert_int_eq(fcgi_pair_append(p, kv[i], strlen(kv[i]),
						  kv[i + 1], strlen(kv[i + 1])),
				 0);
}

#define USUAL_BODY "{\"game_session_id\":\"gs_1\"}\n"

/*
 * A whole request: BEGIN, the parameters in records of at most chunk bytes,
 * their end, the body and its end; every record padded by padding bytes.
 */
static void request(struct fcgi_buf *b, unsigned id, int flags,
		    const struct fcgi_buf *params, const char *body,
		    size_t blen, size_t chunk, size_t padding)
{
	begin(b, id, FCGI_RESPONDER, flags);
	for (size_t off = 0; off < params->len; off += chunk) {
		size_t n =
		    params->len - off < chunk ? params->len - off : chunk;
		rec(b, FCGI_PARAMS, id, params->data + off, n, padding);
	}
	rec(b, FCGI_PARAMS, id, NULL, 0, padding);
	for (size_t off = 0; off < blen; off += chunk) {
		size_t n = blen - off < chunk ? blen - off : chunk;
		rec(b, FCGI_STDIN, id, body + off, n, padding);
	}
	rec(b, FCGI_STDIN, id, NULL, 0, padding);
}

static void usual_request(struct fcgi_buf *b, unsigned id, int flags,
			  size_t chunk, size_t padding)
{
	struct fcgi_buf p = {0};

	usual_params(&p);
	request(b, id, flags, &p, USUAL_BODY, strlen(USUAL_BODY), chunk,
		padding);
	fcgi_buf_free(&p);
}

/* Checks that c holds the usual request, whole. */
static void expect_usual(const struct fcgi_conn *c)
{
	size_t len;
	const char *body;

	ck_assert_int_eq(c->failed, 0);
	ck_assert_int_eq(c->state, FCGI_REQ_READY);
	ck_assert_str_eq(fcgi_conn_param(c, "REQUEST_METHOD"), "PATCH");
	ck_assert_str_eq(fcgi_conn_param(c, "REQUEST_URI"),
			 "/v1/game/session/heartbeat");
	ck_assert_str_eq(fcgi_conn_param(c, "HTTP_X_API_KEY"), "k_0123456789");
	ck_assert_str_eq(fcgi_conn_param(c, "EMPTY"), "");
	ck_assert_ptr_null(fcgi_conn_param(c, "HTTP_COOKIE"));
	ck_assert_ptr_null(fcgi_conn_param(c, "REQUEST"));
	body = fcgi_conn_body(c, &len);
	ck_assert_uint_eq(len, strlen(USUAL_BODY));
	ck_assert(memcmp(body, USUAL_BODY, len) == 0);
}

/* One record read back from the output. */
struct out_rec {
	int type;
	unsigned id;
	size_t len;
	const unsigned char *content;
};

/*
 * Splits the connection's output into records (at most max); returns how
 * many. Fails the test on a malformed record.
 */
static size_t out_records(const struct fcgi_conn *c, struct out_rec *r,
			  size_t max)
{
	size_t len, pos = 0, n = 0;
	const unsigned char *p =
	    (const unsigned char *)fcgi_conn_pending(c, &len);

	while (pos < len) {
		size_t clen, pad;

		ck_assert_uint_ge(len - pos, FCGI_HEADER_LEN);
		ck_assert_int_eq(p[pos], FCGI_VERSION_1);
		clen = ((size_t)p[pos + 4] << 8) | p[pos + 5];
		pad = p[pos + 6];
		ck_assert_uint_ge(len - pos, FCGI_HEADER_LEN + clen + pad);
		ck_assert_uint_lt(n, max);
		r[n].type = p[pos + 1];
		r[n].id = ((unsigned)p[pos + 2] << 8) | p[pos + 3];
		r[n].len = clen;
		r[n].content = p + pos + FCGI_HEADER_LEN;
		n++;
		pos += FCGI_HEADER_LEN + clen + pad;
	}
	return n;
}

/* Checks an END_REQUEST record. */
static void expect_end(const struct out_rec *r, unsigned id,
		       int protocol_status)
{
	ck_assert_int_eq(r->type, FCGI_END_REQUEST);
	ck_assert_uint_eq(r->id, id);
	ck_assert_uint_eq(r->len, 8);
	ck_assert_int_eq(r->content[4], protocol_status);
}

/* Feeds b whole; must be accepted. */
static void feed_ok(struct fcgi_conn *c, const struct fcgi_buf *b)
{
	ck_assert_int_eq(fcgi_conn_feed(c, b->data, b->len), 0);
}

/* Feeds b whole on a fresh connection; must be refused. */
static void expect_refused(const struct fcgi_buf *b, const char *why)
{
	struct fcgi_conn c;

	conn_start(&c);
	ck_assert_int_eq(fcgi_conn_feed(&c, b->data, b->len), -1);
	ck_assert_int_eq(c.failed, 1);
	ck_assert_ptr_nonnull(c.error);
	if (why != NULL)
		ck_assert_msg(strstr(c.error, why) != NULL, "error \"%s\"",
			      c.error);
	/* Once in error, nothing more is taken. */
	ck_assert_int_eq(fcgi_conn_feed(&c, "x", 1), -1);
	fcgi_conn_free(&c);
}

/* ---- whole requests ------------------------------------------------------ */

START_TEST(request_in_one_piece)
{
	struct fcgi_buf b = {0};
	struct fcgi_conn c;

	usual_request(&b, 1, 0, 65535, 0);
	conn_start(&c);
	feed_ok(&c, &b);
	expect_usual(&c);
	ck_assert_uint_eq(c.req_id, 1);
	ck_assert_int_eq(c.keep_conn, 0);
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(request_split_at_every_byte_boundary)
{
	struct fcgi_buf b = {0};

	usual_request(&b, 1, FCGI_KEEP_CONN, 16, 3);
	for (size_t cut = 0; cut <= b.len; cut++) {
		struct fcgi_conn c;

		conn_start(&c);
		ck_assert_int_eq(fcgi_conn_feed(&c, b.data, cut), 0);
		/* Whole once the last record's content is in. */
		if (cut < b.len - 3)
			ck_assert_int_ne(c.state, FCGI_REQ_READY);
		ck_assert_int_eq(fcgi_conn_feed(&c, b.data + cut, b.len - cut),
				 0);
		expect_usual(&c);
		fcgi_conn_free(&c);
	}
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(request_fed_one_byte_at_a_time)
{
	struct fcgi_buf b = {0};
	struct fcgi_conn c;

	usual_request(&b, 513, 0, 7, 0);
	conn_start(&c);
	for (size_t i = 0; i < b.len; i++)
		ck_assert_int_eq(fcgi_conn_feed(&c, b.data + i, 1), 0);
	expect_usual(&c);
	ck_assert_uint_eq(c.req_id, 513);
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
}
END_TEST

/* The peer owes bytes from the first byte of a request to its last. */
START_TEST(partial_from_first_byte_to_whole_request)
{
	struct fcgi_buf b = {0};
	struct fcgi_conn c;

	usual_request(&b, 1, FCGI_KEEP_CONN, 7, 0);
	conn_start(&c);
	ck_assert_int_eq(fcgi_conn_partial(&c), 0);
	for (size_t i = 0; i + 1 < b.len; i++) {
		ck_assert_int_eq(fcgi_conn_feed(&c, b.data + i, 1), 0);
		ck_assert_msg(fcgi_conn_partial(&c), "not partial at byte %zu",
			      i);
	}
	ck_assert_int_eq(fcgi_conn_feed(&c, b.data + b.len - 1, 1), 0);
	ck_assert_int_eq(c.state, FCGI_REQ_READY);
	ck_assert_int_eq(fcgi_conn_partial(&c), 0);
	/* Answered on a kept connection: idle again, owing nothing. */
	ck_assert_int_eq(fcgi_conn_end_request(&c, 0), 0);
	ck_assert_int_eq(fcgi_conn_partial(&c), 0);
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(padding_of_any_length_is_skipped)
{
	static const size_t pads[] = {0, 1, 5, 7, 8, 255};

	for (size_t i = 0; i < sizeof pads / sizeof pads[0]; i++) {
		struct fcgi_buf b = {0};
		struct fcgi_conn c;

		usual_request(&b, 1, 0, 10, pads[i]);
		conn_start(&c);
		feed_ok(&c, &b);
		expect_usual(&c);
		fcgi_conn_free(&c);
		fcgi_buf_free(&b);
	}
}
END_TEST

START_TEST(long_names_and_values_use_four_byte_lengths)
{
	struct fcgi_buf p = {0}, b = {0};
	struct fcgi_conn c;
	char name[200], value[3000];

	memset(name, 'N', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	memset(value, 'v', sizeof value - 1);
	value[sizeof value - 1] = '\0';
	ck_assert_int_eq(
	    fcgi_pair_append(&p, name, strlen(name), value, strlen(value)), 0);
	ck_assert_int_eq(fcgi_pair_append(&p, "A", 1, "1", 1), 0);
	ck_assert_int_eq(fcgi_pair_append(&p, "A", 1, "2", 1), 0);
	request(&b, 1, 0, &p, NULL, 0, 100, 0);
	conn_start(&c);
	feed_ok(&c, &b);
	ck_assert_int_eq(c.state, FCGI_REQ_READY);
	ck_assert_str_eq(fcgi_conn_param(&c, name), value);
	/* The first of duplicates wins. */
	ck_assert_str_eq(fcgi_conn_param(&c, "A"), "1");
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
	fcgi_buf_free(&p);
}
END_TEST

/* ---- answers and connection reuse --------------------------------------- */

START_TEST(answer_is_stdout_records_then_end_request)
{
	struct fcgi_buf b = {0};
	struct fcgi_conn c;
	struct out_rec r[8];
	char big[70000];
	size_t n;

	memset(big, 'x', sizeof big);
	usual_request(&b, 9, 0, 65535, 0);
	conn_start(&c);
	feed_ok(&c, &b);
	ck_assert_int_eq(fcgi_conn_stdout(&c, "Status: 200 OK\r\n\r\n", 18), 0);
	ck_assert_int_eq(fcgi_conn_stdout(&c, big, sizeof big), 0);
	ck_assert_int_eq(fcgi_conn_end_request(&c, 0), 0);
	n = out_records(&c, r, 8);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(r[0].type, FCGI_STDOUT);
	ck_assert_uint_eq(r[0].id, 9);
	ck_assert_uint_eq(r[0].len, 18);
	/* More than a record holds: split at 65535. */
	ck_assert_int_eq(r[1].type, FCGI_STDOUT);
	ck_assert_uint_eq(r[1].len, 65535);
	ck_assert_uint_eq(r[2].len, sizeof big - 65535);
	/* The empty STDOUT ends the stream, then END_REQUEST. */
	ck_assert_int_eq(r[3].type, FCGI_STDOUT);
	ck_assert_uint_eq(r[3].len, 0);
	expect_end(&r[4], 9, FCGI_REQUEST_COMPLETE);
	ck_assert_int_eq(c.close_after_write, 1);
	ck_assert_int_eq(c.state, FCGI_REQ_IDLE);
	/* Without KEEP_CONN nothing more is read. */
	feed_ok(&c, &b);
	ck_assert_int_eq(c.state, FCGI_REQ_IDLE);
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(keep_conn_serves_request_after_request)
{
	struct fcgi_buf b = {0};
	struct fcgi_conn c;

	usual_request(&b, 1, FCGI_KEEP_CONN, 65535, 0);
	conn_start(&c);
	for (int i = 0; i < 100; i++) {
		size_t len;

		feed_ok(&c, &b);
		expect_usual(&c);
		ck_assert_int_eq(c.keep_conn, 1);
		ck_assert_int_eq(fcgi_conn_stdout(&c, "x", 1), 0);
		ck_assert_int_eq(fcgi_conn_end_request(&c, 0), 0);
		ck_assert_int_eq(c.close_after_write, 0);
		fcgi_conn_pending(&c, &len);
		ck_assert_uint_eq(len, 3 * FCGI_HEADER_LEN + 1 + 8);
		fcgi_conn_consumed(&c, len);
		fcgi_conn_pending(&c, &len);
		ck_assert_uint_eq(len, 0);
	}
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(partial_writes_consume_from_the_front)
{
	struct fcgi_buf b = {0};
	struct fcgi_conn c;
	size_t len, total;
	const char *p;
	char first;

	usual_request(&b, 1, FCGI_KEEP_CONN, 65535, 0);
	conn_start(&c);
	feed_ok(&c, &b);
	ck_assert_int_eq(fcgi_conn_stdout(&c, "abc", 3), 0);
	fcgi_conn_pending(&c, &total);
	fcgi_conn_consumed(&c, FCGI_HEADER_LEN + 1);
	p = fcgi_conn_pending(&c, &len);
	first = p[0];
	ck_assert_uint_eq(len, total - FCGI_HEADER_LEN - 1);
	ck_assert_int_eq(first, 'b');
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(second_request_id_is_refused_cant_mpx_conn)
{
	struct fcgi_buf b = {0}, second = {0};
	struct fcgi_conn c;
	struct out_rec r[8];

	usual_request(&b, 1, FCGI_KEEP_CONN, 65535, 0);
	usual_request(&second, 2, FCGI_KEEP_CONN, 65535, 0);
	conn_start(&c);
	/* Once request 1 has begun (its BEGIN_REQUEST is 16 bytes) ... */
	ck_assert_int_eq(fcgi_conn_feed(&c, b.data, 16), 0);
	/* ... request 2 arrives whole: refused, its records ignored. */
	feed_ok(&c, &second);
	ck_assert_uint_eq(out_records(&c, r, 8), 1);
	expect_end(&r[0], 2, FCGI_CANT_MPX_CONN);
	ck_assert_int_eq(c.close_after_write, 0);
	ck_assert_int_eq(fcgi_conn_feed(&c, b.data + 16, b.len - 16), 0);
	expect_usual(&c);
	ck_assert_uint_eq(c.req_id, 1);
	/* Also while request 1 is with the application. */
	feed_ok(&c, &second);
	ck_assert_uint_eq(out_records(&c, r, 8), 2);
	expect_end(&r[1], 2, FCGI_CANT_MPX_CONN);
	expect_usual(&c);
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
	fcgi_buf_free(&second);
}
END_TEST

START_TEST(other_roles_are_refused_unknown_role)
{
	struct fcgi_buf b = {0};
	struct fcgi_conn c;
	struct out_rec r[4];

	begin(&b, 3, 2 /* FCGI_AUTHORIZER */, FCGI_KEEP_CONN);
	rec(&b, FCGI_PARAMS, 3, NULL, 0, 0);
	conn_start(&c);
	feed_ok(&c, &b);
	ck_assert_int_eq(c.state, FCGI_REQ_IDLE);
	ck_assert_uint_eq(out_records(&c, r, 4), 1);
	expect_end(&r[0], 3, FCGI_UNKNOWN_ROLE);
	ck_assert_int_eq(c.close_after_write, 0);
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(get_values_answers_what_it_knows)
{
	struct fcgi_buf q = {0}, b = {0};
	struct fcgi_conn c;
	struct out_rec r[4];
	size_t pos = 0;
	char got[256];

	fcgi_pair_append(&q, "FCGI_MAX_CONNS", 14, "", 0);
	fcgi_pair_append(&q, "FCGI_NO_SUCH", 12, "", 0);
	fcgi_pair_append(&q, "FCGI_MPXS_CONNS", 15, "", 0);
	fcgi_pair_append(&q, "FCGI_MAX_REQS", 13, "", 0);
	rec(&b, FCGI_GET_VALUES, 0, q.data, q.len, 0);
	conn_start(&c);
	feed_ok(&c, &b);
	ck_assert_uint_eq(out_records(&c, r, 4), 1);
	ck_assert_int_eq(r[0].type, FCGI_GET_VALUES_RESULT);
	ck_assert_uint_eq(r[0].id, 0);
	/* Read the pairs back as "name=value;". */
	got[0] = '\0';
	while (pos < r[0].len) {
		size_t nl = r[0].content[pos], vl = r[0].content[pos + 1];
		size_t at = strlen(got);

		snprintf(got + at, sizeof got - at, "%.*s=%.*s;", (int)nl,
			 (const char *)r[0].content + pos + 2, (int)vl,
			 (const char *)r[0].content + pos + 2 + nl);
		pos += 2 + nl + vl;
	}
	ck_assert_str_eq(
	    got, "FCGI_MAX_CONNS=100;FCGI_MPXS_CONNS=0;FCGI_MAX_REQS=100;");
	fcgi_conn_free(&c);
	fcgi_buf_free(&q);
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(unknown_management_record_gets_unknown_type)
{
	struct fcgi_buf b = {0};
	struct fcgi_conn c;
	struct out_rec r[4];

	rec(&b, 42, 0, "abc", 3, 5);
	conn_start(&c);
	feed_ok(&c, &b);
	ck_assert_uint_eq(out_records(&c, r, 4), 1);
	ck_assert_int_eq(r[0].type, FCGI_UNKNOWN_TYPE);
	ck_assert_uint_eq(r[0].len, 8);
	ck_assert_int_eq(r[0].content[0], 42);
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(records_of_inactive_ids_are_ignored)
{
	struct fcgi_buf b = {0};
	struct fcgi_conn c;
	size_t len;

	rec(&b, FCGI_PARAMS, 7,
	    "\x01\x01"
	    "ab",
	    4, 0);
	rec(&b, FCGI_STDIN, 7, "body", 4, 0);
	rec(&b, FCGI_ABORT_REQUEST, 7, NULL, 0, 0);
	rec(&b, FCGI_DATA, 7, "d", 1, 0);
	conn_start(&c);
	feed_ok(&c, &b);
	ck_assert_int_eq(c.state, FCGI_REQ_IDLE);
	fcgi_conn_pending(&c, &len);
	ck_assert_uint_eq(len, 0);
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
}
END_TEST

/* ---- aborts -------------------------------------------------------------- */

START_TEST(abort_before_the_request_is_whole_ends_it)
{
	struct fcgi_buf b = {0};
	struct fcgi_conn c;
	struct out_rec r[4];

	begin(&b, 4, FCGI_RESPONDER, FCGI_KEEP_CONN);
	rec(&b, FCGI_PARAMS, 4,
	    "\x01\x01"
	    "ab",
	    4, 0);
	rec(&b, FCGI_ABORT_REQUEST, 4, NULL, 0, 0);
	conn_start(&c);
	feed_ok(&c, &b);
	ck_assert_int_eq(c.state, FCGI_REQ_IDLE);
	ck_assert_uint_eq(out_records(&c, r, 4), 1);
	expect_end(&r[0], 4, FCGI_REQUEST_COMPLETE);
	ck_assert_int_eq(c.close_after_write, 0);
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(abort_while_with_the_application_drops_its_answer)
{
	struct fcgi_buf b = {0}, a = {0};
	struct fcgi_conn c;
	struct out_rec r[4];

	usual_request(&b, 5, 0, 65535, 0);
	rec(&a, FCGI_ABORT_REQUEST, 5, NULL, 0, 0);
	conn_start(&c);
	feed_ok(&c, &b);
	feed_ok(&c, &a);
	ck_assert_int_eq(c.aborted, 1);
	ck_assert_int_eq(c.state, FCGI_REQ_READY);
	ck_assert_int_eq(fcgi_conn_stdout(&c, "dropped", 7), 0);
	ck_assert_int_eq(fcgi_conn_end_request(&c, 0), 0);
	ck_assert_uint_eq(out_records(&c, r, 4), 2);
	ck_assert_int_eq(r[0].type, FCGI_STDOUT);
	ck_assert_uint_eq(r[0].len, 0);
	expect_end(&r[1], 5, FCGI_REQUEST_COMPLETE);
	ck_assert_int_eq(c.aborted, 0);
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
	fcgi_buf_free(&a);
}
END_TEST

/* ---- limits -------------------------------------------------------------- */

START_TEST(body_past_the_limit_is_read_and_dropped)
{
	struct fcgi_buf p = {0}, b = {0};
	struct fcgi_conn c;
	char body[5000];
	size_t len;

	memset(body, 'b', sizeof body);
	usual_params(&p);
	request(&b, 1, 0, &p, body, sizeof body, 1000, 0);
	conn_start(&c);
	feed_ok(&c, &b);
	ck_assert_int_eq(c.state, FCGI_REQ_READY);
	fcgi_conn_body(&c, &len);
	ck_assert_uint_eq(len, limits.body);
	ck_assert_uint_eq(c.body_seen, sizeof body);
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
	fcgi_buf_free(&p);
}
END_TEST

START_TEST(parameters_past_the_byte_limit_are_an_error)
{
	struct fcgi_buf p = {0}, b = {0};
	char value[1000];

	memset(value, 'v', sizeof value);
	for (int i = 0; i < 5; i++)
		fcgi_pair_append(&p, "HTTP_X", 6, value, sizeof value);
	request(&b, 1, 0, &p, NULL, 0, 600, 0);
	expect_refused(&b, "parameters too long");
	fcgi_buf_free(&b);
	fcgi_buf_free(&p);
}
END_TEST

START_TEST(parameters_past_the_count_limit_are_an_error)
{
	struct fcgi_buf p = {0}, b = {0};

	for (size_t i = 0; i <= limits.params_count; i++)
		fcgi_pair_append(&p, "H", 1, "v", 1);
	request(&b, 1, 0, &p, NULL, 0, 65535, 0);
	expect_refused(&b, "too many parameters");
	fcgi_buf_free(&b);
	fcgi_buf_free(&p);
}
END_TEST

START_TEST(peer_that_never_reads_its_replies_is_an_error)
{
	struct fcgi_buf b = {0};
	struct fcgi_conn c;
	int rc = 0;

	rec(&b, 99, 0, NULL, 0, 0);
	conn_start(&c);
	for (int i = 0; i < 100000 && rc == 0; i++)
		rc = fcgi_conn_feed(&c, b.data, b.len);
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(c.error, "the peer does not read its replies");
	fcgi_conn_free(&c);
	fcgi_buf_free(&b);
}
END_TEST

/* ---- malformed input ----------------------------------------------------- */

START_TEST(wrong_version_is_an_error)
{
	struct fcgi_buf b = {0};

	usual_request(&b, 1, 0, 65535, 0);
	b.data[0] = 2;
	expect_refused(&b, "version");
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(begin_request_of_wrong_length_is_an_error)
{
	struct fcgi_buf b = {0};

	rec(&b, FCGI_BEGIN_REQUEST, 1, "\0\1\0\0\0\0\0\0\0", 9, 0);
	expect_refused(&b, "BEGIN_REQUEST");
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(begin_request_for_the_active_id_is_an_error)
{
	struct fcgi_buf b = {0};

	begin(&b, 1, FCGI_RESPONDER, FCGI_KEEP_CONN);
	begin(&b, 1, FCGI_RESPONDER, FCGI_KEEP_CONN);
	expect_refused(&b, "active");
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(streams_out_of_order_are_an_error)
{
	struct fcgi_buf b = {0};

	/* STDIN before the parameters end. */
	begin(&b, 1, FCGI_RESPONDER, 0);
	rec(&b, FCGI_STDIN, 1, "x", 1, 0);
	expect_refused(&b, "STDIN before");
	fcgi_buf_free(&b);
	/* PARAMS after their end. */
	begin(&b, 1, FCGI_RESPONDER, 0);
	rec(&b, FCGI_PARAMS, 1, NULL, 0, 0);
	rec(&b, FCGI_PARAMS, 1, "\0\0", 2, 0);
	expect_refused(&b, "PARAMS after");
	fcgi_buf_free(&b);
	/* STDIN after its end. */
	usual_request(&b, 1, 0, 65535, 0);
	rec(&b, FCGI_STDIN, 1, "x", 1, 0);
	expect_refused(&b, "STDIN after");
	fcgi_buf_free(&b);
	/* DATA: not for a responder. */
	begin(&b, 1, FCGI_RESPONDER, 0);
	rec(&b, FCGI_DATA, 1, "x", 1, 0);
	expect_refused(&b, "DATA");
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(records_only_an_application_sends_are_an_error)
{
	static const int types[] = {
	    FCGI_END_REQUEST,  FCGI_STDOUT, FCGI_STDERR, FCGI_GET_VALUES_RESULT,
	    FCGI_UNKNOWN_TYPE, 0,	    12,		 255};

	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		struct fcgi_buf b = {0};

		rec(&b, types[i], 1, NULL, 0, 0);
		expect_refused(&b, "unexpected record type");
		fcgi_buf_free(&b);
	}
}
END_TEST

START_TEST(application_records_with_id_zero_are_an_error)
{
	struct fcgi_buf b = {0};

	begin(&b, 0, FCGI_RESPONDER, 0);
	expect_refused(&b, "request id 0");
	fcgi_buf_free(&b);
	rec(&b, FCGI_PARAMS, 0, NULL, 0, 0);
	expect_refused(&b, "request id 0");
	fcgi_buf_free(&b);
}
END_TEST

START_TEST(bad_parameter_encodings_are_an_error)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *why;
	} cases[] = {
	    {"\x05\x01"
	     "ab",
	     4, "truncated"}, /* name runs past */
	    {"\x01\x05"
	     "ab",
	     4, "truncated"},			      /* value runs past */
	    {"\x80\x00\x00", 3, "truncated"},	      /* a cut length */
	    {"\xff\xff\xff\xff\x00", 5, "truncated"}, /* 2 GiB name */
	    {"\x01\x01"
	     "a",
	     3, "truncated"}, /* no value byte */
	    {"\x02\x01"
	     "a\0b",
	     5, "NUL"}, /* NUL in a name */
	    {"\x01\x02"
	     "ab\0",
	     5, "NUL"}, /* NUL in a value */
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fcgi_buf b = {0};

		begin(&b, 1, FCGI_RESPONDER, 0);
		rec(&b, FCGI_PARAMS, 1, cases[i].bytes, cases[i].len, 0);
		rec(&b, FCGI_PARAMS, 1, NULL, 0, 0);
		expect_refused(&b, cases[i].why);
		fcgi_buf_free(&b);
	}
}
END_TEST

START_TEST(get_values_too_long_or_with_an_id_is_an_error)
{
	struct fcgi_buf b = {0};
	char big[FCGI_MGMT_MAX + 1];

	memset(big, 0, sizeof big);
	rec(&b, FCGI_GET_VALUES, 0, big, sizeof big, 0);
	expect_refused(&b, "GET_VALUES");
	fcgi_buf_free(&b);
	rec(&b, FCGI_GET_VALUES, 1, NULL, 0, 0);
	expect_refused(&b, "unexpected record type");
	fcgi_buf_free(&b);
	rec(&b, FCGI_GET_VALUES, 0,
	    "\x05\x00"
	    "ab",
	    4, 0);
	expect_refused(&b, "truncated GET_VALUES");
	fcgi_buf_free(&b);
}
END_TEST

/*
 * Random bytes, and valid requests with random bytes changed, fed in random
 * pieces: never a crash or a read out of bounds (run under ASan for the
 * full effect), and a request that comes out whole has sane fields.
 */
START_TEST(random_input_never_breaks_the_parser)
{
	struct fcgi_buf good = {0};
	unsigned seed = 12345;

	usual_request(&good, 1, FCGI_KEEP_CONN, 9, 2);
	for (int round = 0; round < 20000; round++) {
		struct fcgi_conn c;
		unsigned char buf[512];
		size_t len, off = 0;

		if (round % 2 == 0) {
			len = (size_t)rand_r(&seed) % sizeof buf;
			for (size_t i = 0; i < len; i++)
				buf[i] = (unsigned char)rand_r(&seed);
			/* Keep the version right now and then. */
			if (len > 0 && rand_r(&seed) % 2)
				buf[0] = FCGI_VERSION_1;
		} else {
			len = good.len < sizeof buf ? good.len : sizeof buf;
			memcpy(buf, good.data, len);
			for (int k = rand_r(&seed) % 4; k >= 0; k--)
				buf[(size_t)rand_r(&seed) % len] =
				    (unsigned char)rand_r(&seed);
		}
		conn_start(&c);
		while (off < len) {
			size_t n = 1 + (size_t)rand_r(&seed) % 64;

			if (n > len - off)
				n = len - off;
			if (fcgi_conn_feed(&c, buf + off, n) != 0)
				break;
			off += n;
			if (c.state == FCGI_REQ_READY) {
				size_t blen;

				fcgi_conn_body(&c, &blen);
				ck_assert_uint_le(blen, limits.body);
				ck_assert_uint_le(c.npairs,
						  limits.params_count);
				fcgi_conn_param(&c, "REQUEST_METHOD");
				fcgi_conn_stdout(&c, "ok", 2);
				fcgi_conn_end_request(&c, 0);
			}
		}
		fcgi_conn_free(&c);
	}
	fcgi_buf_free(&good);
}
END_TEST

/* ---- encoders ------------------------------------------------------------ */

START_TEST(record_encoder_refuses_what_does_not_fit)
{
	struct fcgi_buf b = {0};
	static char big[FCGI_CONTENT_MAX + 1];

	ck_assert_int_eq(
	    fcgi_record_append(&b, FCGI_STDOUT, 1, big, sizeof big, 0), -1);
	ck_assert_int_eq(fcgi_record_append(&b, FCGI_STDOUT, 65536, NULL, 0, 0),
			 -1);
	ck_assert_int_eq(fcgi_record_append(&b, FCGI_STDOUT, 1, NULL, 0, 256),
			 -1);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(fcgi_record_append(&b, FCGI_STDOUT, 65535, big,
					    FCGI_CONTENT_MAX, 255),
			 0);
	ck_assert_uint_eq(b.len, FCGI_HEADER_LEN + FCGI_CONTENT_MAX + 255);
	fcgi_buf_free(&b);
}
END_TEST

Suite *check_suite(void)
{
	Suite *s = suite_create("fcgi_proto");
	TCase *tc;

	tc = tcase_create("requests");
	tcase_add_test(tc, request_in_one_piece);
	tcase_add_test(tc, request_split_at_every_byte_boundary);
	tcase_add_test(tc, request_fed_one_byte_at_a_time);
	tcase_add_test(tc, partial_from_first_byte_to_whole_request);
	tcase_add_test(tc, padding_of_any_length_is_skipped);
	tcase_add_test(tc, long_names_and_values_use_four_byte_lengths);
	suite_add_tcase(s, tc);

	tc = tcase_create("answers");
	tcase_add_test(tc, answer_is_stdout_records_then_end_request);
	tcase_add_test(tc, keep_conn_serves_request_after_request);
	tcase_add_test(tc, partial_writes_consume_from_the_front);
	tcase_add_test(tc, second_request_id_is_refused_cant_mpx_conn);
	tcase_add_test(tc, other_roles_are_refused_unknown_role);
	tcase_add_test(tc, get_values_answers_what_it_knows);
	tcase_add_test(tc, unknown_management_record_gets_unknown_type);
	tcase_add_test(tc, records_of_inactive_ids_are_ignored);
	tcase_add_test(tc, abort_before_the_request_is_whole_ends_it);
	tcase_add_test(tc, abort_while_with_the_application_drops_its_answer);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, body_past_the_limit_is_read_and_dropped);
	tcase_add_test(tc, parameters_past_the_byte_limit_are_an_error);
	tcase_add_test(tc, parameters_past_the_count_limit_are_an_error);
	tcase_add_test(tc, peer_that_never_reads_its_replies_is_an_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_test(tc, wrong_version_is_an_error);
	tcase_add_test(tc, begin_request_of_wrong_length_is_an_error);
	tcase_add_test(tc, begin_request_for_the_active_id_is_an_error);
	tcase_add_test(tc, streams_out_of_order_are_an_error);
	tcase_add_test(tc, records_only_an_application_sends_are_an_error);
	tcase_add_test(tc, application_records_with_id_zero_are_an_error);
	tcase_add_test(tc, bad_parameter_encodings_are_an_error);
	tcase_add_test(tc, get_values_too_long_or_with_an_id_is_an_error);
	tcase_add_test(tc, random_input_never_breaks_the_parser);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("encoders");
	tcase_add_test(tc, record_encoder_refuses_what_does_not_fit);
	suite_add_tcase(s, tc);
	return s;
}
