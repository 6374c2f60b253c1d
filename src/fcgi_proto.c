/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fcgi_proto.c - the FastCGI responder protocol of one connection, over
 * buffers. See fcgi_proto.h for what is spoken and what is an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_proto.h"

/* Where the content of the record being read goes. */
enum fcgi_sink {
	SINK_DISCARD, /* ignored: an inactive request id, ABORT_REQUEST */
	SINK_MGMT,    /* c->mgmt: BEGIN_REQUEST's body, GET_VALUES */
	SINK_PARAMS,  /* c->params */
	SINK_BODY     /* c->body, up to the limit */
};

/* The smallest buffer allocation, so small appends do not realloc often. */
#define FCGI_BUF_MIN 256
/* An output buffer larger than this is freed once written out. */
#define FCGI_OUT_KEEP (16 * 1024)

/* ---- Buffers ------------------------------------------------------------- */

void fcgi_buf_free(struct fcgi_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

/* Makes room for n more bytes. Returns 0, or -1 when out of memory. */
static int fcgi_buf_reserve(struct fcgi_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= n)
		return 0;
	if (b->start > 0) {
		/* Reclaim what was consumed before growing. */
		memmove(b->data, b->data + b->start, b->len - b->start);
		b->len -= b->start;
		b->start = 0;
		if (b->cap - b->len >= n)
			return 0;
	}
	if (n > SIZE_MAX / 2 - b->len)
		return -1;
	cap = b->cap < FCGI_BUF_MIN ? FCGI_BUF_MIN : b->cap;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

static int fcgi_buf_append(struct fcgi_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (fcgi_buf_reserve(b, n) != 0)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

/* ---- Encoding ------------------------------------------------------------ */

static void fcgi_header(unsigned char *h, int type, unsigned id, size_t clen,
			size_t padding)
{
	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = (unsigned char)(id >> 8);
	h[3] = (unsigned char)id;
	h[4] = (unsigned char)(clen >> 8);
	h[5] = (unsigned char)clen;
	h[6] = (unsigned char)padding;
	h[7] = 0;
}

int fcgi_record_append(struct fcgi_buf *b, int type, unsigned id,
		       const void *content, size_t clen, size_t padding)
{
	unsigned char h[FCGI_HEADER_LEN];

	if (clen > FCGI_CONTENT_MAX || padding > 255 || id > 0xffff)
		return -1;
	if (fcgi_buf_reserve(b, FCGI_HEADER_LEN + clen + padding) != 0)
		return -1;
	fcgi_header(h, type, id, clen, padding);
	memcpy(b->data + b->len, h, sizeof h);
	b->len += sizeof h;
	if (clen > 0)
		memcpy(b->data + b->len, content, clen);
	b->len += clen;
	memset(b->data + b->len, 0, padding);
	b->len += padding;
	return 0;
}

/* Appends a name or value length: one byte below 128, else four. */
static int fcgi_len_append(struct fcgi_buf *b, size_t n)
{
	unsigned char l[4];

	if (n < 128) {
		l[0] = (unsigned char)n;
		return fcgi_buf_append(b, l, 1);
	}
	if (n > 0x7fffffffu)
		return -1;
	l[0] = (unsigned char)((n >> 24) | 0x80);
	l[1] = (unsigned char)(n >> 16);
	l[2] = (unsigned char)(n >> 8);
	l[3] = (unsigned char)n;
	return fcgi_buf_append(b, l, 4);
}

int fcgi_pair_append(struct fcgi_buf *b, const char *name, size_t nlen,
		     const char *value, size_t vlen)
{
	if (fcgi_len_append(b, nlen) != 0 || fcgi_len_append(b, vlen) != 0 ||
	    fcgi_buf_append(b, name, nlen) != 0 ||
	    fcgi_buf_append(b, value, vlen) != 0)
		return -1;
	return 0;
}

/* ---- Name-value pairs ---------------------------------------------------- */

/*
 * Reads one length at *pos of p[0..len). Returns 0 and advances *pos, or
 * -1 when the bytes end first.
 */
static int fcgi_len_read(const unsigned char *p, size_t len, size_t *pos,
			 size_t *out)
{
	if (*pos >= len)
		return -1;
	if (p[*pos] < 128) {
		*out = p[(*pos)++];
		return 0;
	}
	if (len - *pos < 4)
		return -1;
	*out = ((size_t)(p[*pos] & 0x7f) << 24) | ((size_t)p[*pos + 1] << 16) |
	       ((size_t)p[*pos + 2] << 8) | p[*pos + 3];
	*pos += 4;
	return 0;
}

/*
 * Reads the pair at *pos: sets *name, *nlen, *value, *vlen (pointing into
 * p) and advances *pos. Returns 0, or -1 when truncated.
 */
static int fcgi_pair_read(const unsigned char *p, size_t len, size_t *pos,
			  const unsigned char **name, size_t *nlen,
			  const unsigned char **value, size_t *vlen)
{
	if (fcgi_len_read(p, len, pos, nlen) != 0 ||
	    fcgi_len_read(p, len, pos, vlen) != 0)
		return -1;
	if (*nlen > len - *pos || *vlen > len - *pos - *nlen)
		return -1;
	*name = p + *pos;
	*value = p + *pos + *nlen;
	*pos += *nlen + *vlen;
	return 0;
}

/*
 * Decodes the parameter stream of the request in place: each pair becomes
 * "name\0value\0" (never longer than its encoding, whose two lengths take at
 * least two bytes, so the copy never overtakes the reading). Returns 0, or
 * -1 with c->error set.
 */
static int fcgi_params_decode(struct fcgi_conn *c)
{
	unsigned char *p = (unsigned char *)c->params.data;
	size_t len = c->params.len, pos = 0, w = 0, n = 0, count = 0;

	/* Count first, so the pair array is allocated once. */
	while (pos < len) {
		const unsigned char *name, *value;
		size_t nlen, vlen;

		if (fcgi_pair_read(p, len, &pos, &name, &nlen, &value, &vlen) !=
		    0) {
			c->error = "truncated parameter";
			return -1;
		}
		if (memchr(name, '\0', nlen) != NULL ||
		    memchr(value, '\0', vlen) != NULL) {
			c->error = "NUL byte in a parameter";
			return -1;
		}
		if (++count > c->lim.params_count) {
			c->error = "too many parameters";
			return -1;
		}
	}
	if (count == 0)
		return 0;
	c->pairs = malloc(count * sizeof *c->pairs);
	if (c->pairs == NULL) {
		c->error = "out of memory";
		return -1;
	}
	pos = 0;
	while (pos < len) {
		const unsigned char *name, *value;
		size_t nlen, vlen;

		(void)fcgi_pair_read(p, len, &pos, &name, &nlen, &value, &vlen);
		memmove(p + w, name, nlen);
		c->pairs[n].name = (const char *)p + w;
		w += nlen;
		p[w++] = '\0';
		memmove(p + w, value, vlen);
		c->pairs[n].value = (const char *)p + w;
		w += vlen;
		p[w++] = '\0';
		n++;
	}
	c->npairs = n;
	return 0;
}

/* ---- Replies of the protocol itself -------------------------------------- */

/* Queues a reply record, unless the peer has left too many unread. */
static int fcgi_reply(struct fcgi_conn *c, int type, unsigned id,
		      const void *content, size_t clen)
{
	if (c->out.len - c->out.start > FCGI_OUT_QUEUE_MAX) {
		c->error = "the peer does not read its replies";
		return -1;
	}
	if (fcgi_record_append(&c->out, type, id, content, clen, 0) != 0) {
		c->error = "out of memory";
		return -1;
	}
	return 0;
}

static int fcgi_reply_end(struct fcgi_conn *c, unsigned id, uint32_t app_status,
			  int protocol_status)
{
	unsigned char b[8];

	b[0] = (unsigned char)(app_status >> 24);
	b[1] = (unsigned char)(app_status >> 16);
	b[2] = (unsigned char)(app_status >> 8);
	b[3] = (unsigned char)app_status;
	b[4] = (unsigned char)protocol_status;
	b[5] = b[6] = b[7] = 0;
	return fcgi_reply(c, FCGI_END_REQUEST, id, b, sizeof b);
}

/* Answers GET_VALUES with the variables it names that we know. */
static int fcgi_reply_values(struct fcgi_conn *c)
{
	char conns[16];
	const char *mpxs = "0";
	struct fcgi_buf res = {0};
	size_t pos = 0;
	int rc;

	snprintf(conns, sizeof conns, "%u", c->lim.max_conns);
	while (pos < c->mgmt_len) {
		const unsigned char *name, *value;
		size_t nlen, vlen;
		const char *v = NULL;

		if (fcgi_pair_read(c->mgmt, c->mgmt_len, &pos, &name, &nlen,
				   &value, &vlen) != 0) {
			fcgi_buf_free(&res);
			c->error = "truncated GET_VALUES";
			return -1;
		}
		if (nlen == 14 && memcmp(name, "FCGI_MAX_CONNS", 14) == 0)
			v = conns;
		else if (nlen == 13 && memcmp(name, "FCGI_MAX_REQS", 13) == 0)
			v = conns; /* one request per connection */
		else if (nlen == 15 && memcmp(name, "FCGI_MPXS_CONNS", 15) == 0)
			v = mpxs;
		if (v != NULL && fcgi_pair_append(&res, (const char *)name,
						  nlen, v, strlen(v)) != 0) {
			fcgi_buf_free(&res);
			c->error = "out of memory";
			return -1;
		}
	}
	/* The query fits in FCGI_MGMT_MAX, so the answer fits in a record. */
	rc = fcgi_reply(c, FCGI_GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID,
			res.data, res.len);
	fcgi_buf_free(&res);
	return rc;
}

/* ---- The request --------------------------------------------------------- */

/* Forgets the request in hand. */
static void fcgi_request_reset(struct fcgi_conn *c)
{
	fcgi_buf_free(&c->params);
	fcgi_buf_free(&c->body);
	free(c->pairs);
	c->pairs = NULL;
	c->npairs = 0;
	c->body_seen = 0;
	c->aborted = 0;
	c->keep_conn = 0;
	c->req_id = 0;
	c->state = FCGI_REQ_IDLE;
}

static int fcgi_on_begin(struct fcgi_conn *c, unsigned id)
{
	int role = (c->mgmt[0] << 8) | c->mgmt[1];
	int keep = (c->mgmt[2] & FCGI_KEEP_CONN) != 0;

	if (c->state != FCGI_REQ_IDLE) {
		if (id == c->req_id) {
			c->error = "BEGIN_REQUEST for the active request";
			return -1;
		}
		/* One request at a time; the active one goes on. */
		return fcgi_reply_end(c, id, 0, FCGI_CANT_MPX_CONN);
	}
	if (role != FCGI_RESPONDER) {
		if (fcgi_reply_end(c, id, 0, FCGI_UNKNOWN_ROLE) != 0)
			return -1;
		if (!keep)
			c->close_after_write = 1;
		return 0;
	}
	c->state = FCGI_REQ_PARAMS;
	c->req_id = id;
	c->keep_conn = keep;
	return 0;
}

/*
 * Checks a record header and decides where its content goes. Returns 0, or
 * -1 with c->error set.
 */
static int fcgi_on_header(struct fcgi_conn *c)
{
	const unsigned char *h = c->hdr;
	int type = h[1];
	unsigned id = ((unsigned)h[2] << 8) | h[3];
	size_t clen = ((size_t)h[4] << 8) | h[5];
	int active = c->state != FCGI_REQ_IDLE && id == c->req_id;

	if (h[0] != FCGI_VERSION_1) {
		c->error = "not FastCGI version 1";
		return -1;
	}
	c->rec_type = type;
	c->rec_id = id;
	c->rec_len = clen;
	c->content_left = clen;
	c->padding_left = h[6];
	c->mgmt_len = 0;
	c->sink = SINK_DISCARD;

	if (id == FCGI_NULL_REQUEST_ID) {
		/* Management records. */
		if (type == FCGI_GET_VALUES) {
			if (clen > sizeof c->mgmt) {
				c->error = "GET_VALUES too long";
				return -1;
			}
			c->sink = SINK_MGMT;
			return 0;
		}
		if (type >= FCGI_BEGIN_REQUEST && type <= FCGI_UNKNOWN_TYPE) {
			c->error = "application record with request id 0";
			return -1;
		}
		return 0; /* answered UNKNOWN_TYPE at its end */
	}
	switch (type) {
	case FCGI_BEGIN_REQUEST:
		if (clen != 8) {
			c->error = "BEGIN_REQUEST body is not 8 bytes";
			return -1;
		}
		c->sink = SINK_MGMT;
		return 0;
	case FCGI_ABORT_REQUEST:
		return 0;
	case FCGI_PARAMS:
		if (!active)
			return 0;
		if (c->state != FCGI_REQ_PARAMS) {
			c->error = "PARAMS after the end of the parameters";
			return -1;
		}
		if (clen > c->lim.params_bytes - c->params.len) {
			c->error = "parameters too long";
			return -1;
		}
		c->sink = SINK_PARAMS;
		return 0;
	case FCGI_STDIN:
		if (!active)
			return 0;
		if (c->state != FCGI_REQ_STDIN) {
			c->error =
			    c->state == FCGI_REQ_PARAMS
				? "STDIN before the end of the parameters"
				: "STDIN after the end of the body";
			return -1;
		}
		c->sink = SINK_BODY;
		return 0;
	case FCGI_DATA:
		if (!active)
			return 0;
		c->error = "DATA for a responder";
		return -1;
	default:
		/* Records only an application sends, or no type at all. */
		c->error = "unexpected record type";
		return -1;
	}
}

/* Takes content bytes of the record being read. */
static int fcgi_on_content(struct fcgi_conn *c, const unsigned char *p,
			   size_t n)
{
	switch (c->sink) {
	case SINK_MGMT:
		/* fcgi_on_header checked the length against the buffer. */
		memcpy(c->mgmt + c->mgmt_len, p, n);
		c->mgmt_len += n;
		return 0;
	case SINK_PARAMS:
		if (fcgi_buf_append(&c->params, p, n) != 0) {
			c->error = "out of memory";
			return -1;
		}
		return 0;
	case SINK_BODY: {
		size_t keep = 0;

		if (c->body.len < c->lim.body)
			keep = c->lim.body - c->body.len;
		if (keep > n)
			keep = n;
		if (fcgi_buf_append(&c->body, p, keep) != 0) {
			c->error = "out of memory";
			return -1;
		}
		c->body_seen += n;
		return 0;
	}
	default:
		return 0;
	}
}

/* Acts on a record whose content has all arrived. */
static int fcgi_on_record(struct fcgi_conn *c)
{
	unsigned id = c->rec_id;
	int active = c->state != FCGI_REQ_IDLE && id == c->req_id;

	if (id == FCGI_NULL_REQUEST_ID) {
		unsigned char body[8] = {0};

		if (c->rec_type == FCGI_GET_VALUES)
			return fcgi_reply_values(c);
		body[0] = (unsigned char)c->rec_type;
		return fcgi_reply(c, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID,
				  body, sizeof body);
	}
	switch (c->rec_type) {
	case FCGI_BEGIN_REQUEST:
		return fcgi_on_begin(c, id);
	case FCGI_ABORT_REQUEST:
		if (!active)
			return 0;
		if (c->state == FCGI_REQ_READY) {
			/* The application ends it; its answer is dropped. */
			c->aborted = 1;
			return 0;
		}
		{
			int keep = c->keep_conn;

			fcgi_request_reset(c);
			if (fcgi_reply_end(c, id, 0, FCGI_REQUEST_COMPLETE) !=
			    0)
				return -1;
			if (!keep)
				c->close_after_write = 1;
		}
		return 0;
	case FCGI_PARAMS:
		if (active && c->rec_len == 0) {
			if (fcgi_params_decode(c) != 0)
				return -1;
			c->state = FCGI_REQ_STDIN;
		}
		return 0;
	case FCGI_STDIN:
		if (active && c->rec_len == 0)
			c->state = FCGI_REQ_READY;
		return 0;
	default:
		return 0;
	}
}

/* ---- The connection ------------------------------------------------------ */

void fcgi_conn_init(struct fcgi_conn *c, const struct fcgi_limits *lim)
{
	memset(c, 0, sizeof *c);
	c->lim = *lim;
	c->state = FCGI_REQ_IDLE;
}

void fcgi_conn_free(struct fcgi_conn *c)
{
	fcgi_request_reset(c);
	fcgi_buf_free(&c->out);
}

int fcgi_conn_partial(const struct fcgi_conn *c)
{
	return c->hdr_len > 0 || c->content_left > 0 || c->padding_left > 0 ||
	       c->state == FCGI_REQ_PARAMS || c->state == FCGI_REQ_STDIN;
}

int fcgi_conn_feed(struct fcgi_conn *c, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (c->failed)
		return -1;
	while (len > 0 && !c->close_after_write) {
		size_t n;

		if (c->hdr_len < FCGI_HEADER_LEN) {
			n = FCGI_HEADER_LEN - c->hdr_len;
			if (n > len)
				n = len;
			memcpy(c->hdr + c->hdr_len, p, n);
			c->hdr_len += n;
			p += n;
			len -= n;
			if (c->hdr_len < FCGI_HEADER_LEN)
				break;
			if (fcgi_on_header(c) != 0)
				goto fail;
			if (c->content_left == 0 && fcgi_on_record(c) != 0)
				goto fail;
		} else if (c->content_left > 0) {
			n = c->content_left < len ? c->content_left : len;
			if (fcgi_on_content(c, p, n) != 0)
				goto fail;
			c->content_left -= n;
			p += n;
			len -= n;
			if (c->content_left == 0 && fcgi_on_record(c) != 0)
				goto fail;
		} else {
			n = c->padding_left < len ? c->padding_left : len;
			c->padding_left -= n;
			p += n;
			len -= n;
		}
		if (c->hdr_len == FCGI_HEADER_LEN && c->content_left == 0 &&
		    c->padding_left == 0)
			c->hdr_len = 0; /* the next record */
	}
	return 0;
fail:
	c->failed = 1;
	return -1;
}

const char *fcgi_conn_param(const struct fcgi_conn *c, const char *name)
{
	for (size_t i = 0; i < c->npairs; i++)
		if (strcmp(c->pairs[i].name, name) == 0)
			return c->pairs[i].value;
	return NULL;
}

const char *fcgi_conn_body(const struct fcgi_conn *c, size_t *len)
{
	*len = c->body.len;
	return c->body.data ? c->body.data : "";
}

int fcgi_conn_stdout(struct fcgi_conn *c, const void *data, size_t len)
{
	const char *p = data;

	if (c->aborted || c->failed)
		return 0;
	while (len > 0) {
		size_t n = len > FCGI_CONTENT_MAX ? FCGI_CONTENT_MAX : len;

		if (fcgi_record_append(&c->out, FCGI_STDOUT, c->req_id, p, n,
				       0) != 0) {
			c->error = "out of memory";
			c->failed = 1;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int fcgi_conn_end_request(struct fcgi_conn *c, uint32_t app_status)
{
	unsigned id = c->req_id;
	int keep = c->keep_conn;
	unsigned char end[8];
	int rc = 0;

	if (c->state == FCGI_REQ_IDLE)
		return 0;
	end[0] = (unsigned char)(app_status >> 24);
	end[1] = (unsigned char)(app_status >> 16);
	end[2] = (unsigned char)(app_status >> 8);
	end[3] = (unsigned char)app_status;
	end[4] = FCGI_REQUEST_COMPLETE;
	end[5] = end[6] = end[7] = 0;
	fcgi_request_reset(c);
	if (!c->failed &&
	    (fcgi_record_append(&c->out, FCGI_STDOUT, id, NULL, 0, 0) != 0 ||
	     fcgi_record_append(&c->out, FCGI_END_REQUEST, id, end, sizeof end,
				0) != 0)) {
		c->error = "out of memory";
		c->failed = 1;
		rc = -1;
	}
	if (!keep)
		c->close_after_write = 1;
	return rc;
}

const char *fcgi_conn_pending(const struct fcgi_conn *c, size_t *len)
{
	*len = c->out.len - c->out.start;
	return c->out.data ? c->out.data + c->out.start : "";
}

void fcgi_conn_consumed(struct fcgi_conn *c, size_t n)
{
	c->out.start += n;
	if (c->out.start >= c->out.len) {
		/* All written: start over, and give back a large buffer. */
		c->out.start = c->out.len = 0;
		if (c->out.cap > FCGI_OUT_KEEP)
			fcgi_buf_free(&c->out);
	}
}
