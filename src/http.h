/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * http.h - one HTTP request as the web server hands it over (CGI-style
 * parameters and a body stream), and the response built up and written once.
 */
#ifndef HB_HTTP_H
#define HB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "json.h"
#include "status.h"

/* The longest request path handled; longer ones are 404. */
#define HTTP_PATH_MAX 512
/* Room for a request id: "req_" and 16 hex digits. */
#define HTTP_REQUEST_ID_MAX 24
/* Room for the extra response headers of one answer. */
#define HTTP_HEADERS_MAX 512
/* The longest client address text. */
#define HTTP_ADDR_MAX 64

/*
 * What the transport (FastCGI or CGI) offers the request. Strings returned by
 * param are borrowed and live until the request is finished.
 */
struct transport {
	/* The CGI parameter name ("REQUEST_METHOD", "HTTP_X_API_KEY"). */
	const char *(*param)(void *ctx, const char *name);
	/* Reads up to n body bytes: the count, 0 at the end, -1 on error. */
	long (*read)(void *ctx, char *buf, size_t n);
	/* Writes all n bytes: 0, or -1. */
	int (*write)(void *ctx, const char *buf, size_t n);
	void *ctx;
};

struct http_request {
	const struct transport *t;
	const struct config *cfg;
	const char *method;	      /* borrowed */
	char path[HTTP_PATH_MAX];     /* for routing: the base path removed */
	char raw_path[HTTP_PATH_MAX]; /* as the client sent it, no query */
	int path_too_long;
	int64_t content_length; /* -1: none given */
	int bad_content_length;
	char client_addr[HTTP_ADDR_MAX]; /* after trusted-proxy rules */
	char request_id[HTTP_REQUEST_ID_MAX];
	char *body; /* owned; NUL-terminated */
	size_t body_len;
};

/*
 * Reads the request line parameters of the request in hand from t (borrowed
 * for the request's life). Never fails: problems are recorded for the router.
 */
void http_request_init(struct http_request *req, const struct transport *t,
		       const struct config *cfg);

/* Frees what the request owns. */
void http_request_free(struct http_request *req);

/* A request header by its CGI name ("HTTP_X_API_KEY"), or NULL. Borrowed. */
const char *http_param(const struct http_request *req, const char *name);

/*
 * Reads the body under the configured limit. Returns HB_OK (also when there
 * is none), HB_PAYLOAD_TOO_LARGE (nothing read), HB_UNSUPPORTED_MEDIA_TYPE
 * (a body that is not application/json), or HB_BAD_REQUEST (a bad or short
 * length).
 */
enum hb_status http_read_body(struct http_request *req);

/*
 * The client address: REMOTE_ADDR, or, when that is a trusted proxy, the
 * right-most X-Forwarded-For address that is not one. Writes into out.
 */
void http_client_addr(const struct config *cfg, const char *remote,
		      const char *forwarded, char *out, size_t size);

struct http_response {
	enum hb_status st; /* the status set last, for metrics */
	int status;
	const char *phrase;
	const char *content_type; /* default: JSON */
	char headers[HTTP_HEADERS_MAX];
	size_t headers_len;
	struct jw body;
};

/* Starts an empty 200 response. */
void http_response_init(struct http_response *resp);
/* Frees the response's body buffer. */
void http_response_free(struct http_response *resp);
/* Adds a header line; silently dropped if it does not fit. */
void http_response_header(struct http_response *resp, const char *name,
			  const char *value);
/* Sets the status line from the status table. */
void http_response_status(struct http_response *resp, enum hb_status st);

/*
 * Writes status, headers (Content-Type, Content-Length, X-Request-Id and the
 * added ones) and body through the request's transport, in one write.
 * Returns 0, or -1 when the client has gone.
 */
int http_response_send(const struct http_request *req,
		       struct http_response *resp);

#endif
