/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fcgi_proto.h - a small, strict FastCGI responder: the protocol of one
 * connection as pure functions over buffers, with no I/O. The event loop
 * (fcgi_loop.c) feeds in the bytes it reads, in pieces of any size, takes
 * whole requests out (parameters decoded, body collected), and writes out
 * what this module queues in the connection's output buffer. The unit tests
 * and fuzzers drive it the same way from memory.
 *
 * What it speaks (FastCGI 1.0, responder role only):
 *   - BEGIN_REQUEST, PARAMS, STDIN and ABORT_REQUEST of one request at a
 *     time; FCGI_KEEP_CONN decides whether the connection stays open after
 *     the answer. A BEGIN_REQUEST for a second request id while one is
 *     active is answered END_REQUEST/FCGI_CANT_MPX_CONN; another role is
 *     answered FCGI_UNKNOWN_ROLE.
 *   - GET_VALUES (FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS) and
 *     UNKNOWN_TYPE for other management records.
 *   - Records of inactive request ids are ignored, as the specification
 *     says. Anything else unexpected (a wrong version, a record type a web
 *     server never sends, a stream after its end, a bad parameter encoding,
 *     a limit passed) is an error: the connection must be closed.
 */
#ifndef HB_FCGI_PROTO_H
#define HB_FCGI_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* ---- The wire format (FastCGI specification 1.0) ------------------------ */

#define FCGI_VERSION_1 1
#define FCGI_HEADER_LEN 8
#define FCGI_CONTENT_MAX 65535
#define FCGI_NULL_REQUEST_ID 0

enum fcgi_type {
	FCGI_BEGIN_REQUEST = 1,
	FCGI_ABORT_REQUEST = 2,
	FCGI_END_REQUEST = 3,
	FCGI_PARAMS = 4,
	FCGI_STDIN = 5,
	FCGI_STDOUT = 6,
	FCGI_STDERR = 7,
	FCGI_DATA = 8,
	FCGI_GET_VALUES = 9,
	FCGI_GET_VALUES_RESULT = 10,
	FCGI_UNKNOWN_TYPE = 11
};

#define FCGI_RESPONDER 1
#define FCGI_KEEP_CONN 1

enum fcgi_protocol_status {
	FCGI_REQUEST_COMPLETE = 0,
	FCGI_CANT_MPX_CONN = 1,
	FCGI_OVERLOADED = 2,
	FCGI_UNKNOWN_ROLE = 3
};

/* ---- Limits ------------------------------------------------------------- */

/* Defaults of struct fcgi_limits. */
#define FCGI_PARAMS_BYTES_MAX (64 * 1024) /* the encoded parameter stream */
#define FCGI_PARAMS_COUNT_MAX 256	  /* name-value pairs of a request */
/* The largest GET_VALUES content read (a query names a few variables). */
#define FCGI_MGMT_MAX 512
/*
 * The most bytes of unsent records a connection may queue beyond one
 * answer: management replies to a peer that does not read are an error.
 */
#define FCGI_OUT_QUEUE_MAX (256 * 1024)

struct fcgi_limits {
	size_t params_bytes; /* the encoded parameter stream of a request */
	size_t params_count; /* name-value pairs of a request */
	size_t body;	     /* body bytes kept; the rest is read and dropped */
	unsigned max_conns;  /* what GET_VALUES answers for FCGI_MAX_CONNS */
};

/* ---- A growable byte buffer --------------------------------------------- */

struct fcgi_buf {
	char *data;   /* owned; NULL until the first byte */
	size_t start; /* bytes before start are consumed */
	size_t len;   /* bytes in use, from data (start included) */
	size_t cap;
};

/* Frees the buffer's memory and empties it. */
void fcgi_buf_free(struct fcgi_buf *b);

/* ---- One connection ----------------------------------------------------- */

/* Where the request of a connection is. */
enum fcgi_req_state {
	FCGI_REQ_IDLE,	 /* no request: waiting for BEGIN_REQUEST */
	FCGI_REQ_PARAMS, /* reading the parameter stream */
	FCGI_REQ_STDIN,	 /* reading the body */
	FCGI_REQ_READY	 /* whole: the application's until it is ended */
};

struct fcgi_param {
	const char *name;  /* NUL-terminated, borrowed from the connection */
	const char *value; /* NUL-terminated, borrowed from the connection */
};

struct fcgi_conn {
	struct fcgi_limits lim;

	/* The record being read. */
	unsigned char hdr[FCGI_HEADER_LEN];
	size_t hdr_len;	     /* header bytes read so far */
	int rec_type;	     /* of the record whose content is being read */
	unsigned rec_id;     /* its request id */
	size_t rec_len;	     /* its content length */
	size_t content_left; /* content bytes still to come */
	size_t padding_left; /* padding bytes still to come */
	int sink;	     /* where the content goes (fcgi_proto.c) */
	unsigned char mgmt[FCGI_MGMT_MAX]; /* BEGIN_REQUEST body, GET_VALUES */
	size_t mgmt_len;

	/* The request (one at a time). */
	enum fcgi_req_state state;
	unsigned req_id;
	int keep_conn;		  /* FCGI_KEEP_CONN was set */
	int aborted;		  /* ABORT_REQUEST came while READY */
	struct fcgi_buf params;	  /* encoded, then decoded in place */
	struct fcgi_param *pairs; /* owned, npairs entries */
	size_t npairs;
	struct fcgi_buf body; /* at most lim.body bytes */
	uint64_t body_seen;   /* body bytes received, kept or not */

	/* What is to be written to the peer. */
	struct fcgi_buf out;
	int close_after_write; /* the answer without KEEP_CONN is queued */
	int failed;	       /* an error was found: close, read no more */
	const char *error;     /* why, for the log (static text) */
};

/* Starts a connection with the limits lim (copied). */
void fcgi_conn_init(struct fcgi_conn *c, const struct fcgi_limits *lim);

/* Frees what the connection owns. Its parameters die with it. */
void fcgi_conn_free(struct fcgi_conn *c);

/*
 * Feeds len bytes read from the peer. Consumes them all. Returns 0, or -1
 * when the connection is in error (c->error says why) and must be closed;
 * once in error, or once close_after_write is set, further input is
 * ignored. Afterwards c->state == FCGI_REQ_READY means a whole request is
 * waiting (see fcgi_conn_take), and replies to management records and
 * rejected requests may be queued in c->out.
 */
int fcgi_conn_feed(struct fcgi_conn *c, const void *data, size_t len);

/*
 * Whether c holds part of a record, or a request begun and not yet whole:
 * the peer owes more bytes.
 */
int fcgi_conn_partial(const struct fcgi_conn *c);

/*
 * A parameter of the request in hand by name, or NULL. The first of
 * duplicates wins. Borrowed: valid until the request is ended.
 */
const char *fcgi_conn_param(const struct fcgi_conn *c, const char *name);

/* The body of the request in hand (at most lim.body bytes); *len set. */
const char *fcgi_conn_body(const struct fcgi_conn *c, size_t *len);

/*
 * Queues len bytes of the answer as STDOUT records. After ABORT_REQUEST the
 * bytes are dropped. Returns 0, or -1 when out of memory.
 */
int fcgi_conn_stdout(struct fcgi_conn *c, const void *data, size_t len);

/*
 * Ends the request in hand: queues the end of STDOUT and END_REQUEST with
 * app_status, frees its parameters and body, and sets close_after_write
 * unless FCGI_KEEP_CONN was set. Returns 0, or -1 when out of memory (the
 * connection is then in error).
 */
int fcgi_conn_end_request(struct fcgi_conn *c, uint32_t app_status);

/* The bytes waiting to be written; *len set. */
const char *fcgi_conn_pending(const struct fcgi_conn *c, size_t *len);

/* Marks n of the pending bytes as written. */
void fcgi_conn_consumed(struct fcgi_conn *c, size_t n);

/* ---- Encoding, for the tests and the fuzzers ---------------------------- */

/*
 * Appends one record (header, content, padding bytes of zero) to b. Returns
 * 0, or -1 when out of memory or clen > FCGI_CONTENT_MAX.
 */
int fcgi_record_append(struct fcgi_buf *b, int type, unsigned id,
		       const void *content, size_t clen, size_t padding);

/*
 * Appends one name-value pair in FastCGI's length encoding to b. Returns
 * 0, or -1 when out of memory.
 */
int fcgi_pair_append(struct fcgi_buf *b, const char *name, size_t nlen,
		     const char *value, size_t vlen);

#endif
