/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * http.c - request parameters and body, response assembly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cidr.h"
#include "crypto.h"
#include "http.h"
#include "util.h"

/* Copies the path part of uri (before any '?') into out; -1 if too long. */
static int http_copy_path(const char *uri, char *out, size_t size)
{
	size_t n = strcspn(uri, "?");

	if (n >= size)
		return -1;
	memcpy(out, uri, n);
	out[n] = '\0';
	return 0;
}

void http_request_init(struct http_request *req, const struct transport *t,
		       const struct config *cfg)
{
	const char *uri, *pathinfo, *len, *base = cfg->base_path;
	unsigned char rid[8];

	memset(req, 0, sizeof *req);
	req->t = t;
	req->cfg = cfg;
	req->method = http_param(req, "REQUEST_METHOD");
	if (req->method == NULL)
		req->method = "GET";

	/* The path as sent: REQUEST_URI, else SCRIPT_NAME + PATH_INFO. */
	uri = http_param(req, "REQUEST_URI");
	pathinfo = http_param(req, "PATH_INFO");
	if (uri != NULL && *uri != '\0') {
		req->path_too_long |=
		    http_copy_path(uri, req->raw_path, sizeof req->raw_path);
	} else {
		const char *script = http_param(req, "SCRIPT_NAME");
		int n =
		    snprintf(req->raw_path, sizeof req->raw_path, "%s%s",
			     script ? script : "", pathinfo ? pathinfo : "");
		if (n < 0 || (size_t)n >= sizeof req->raw_path)
			req->path_too_long = 1;
	}

	/*
	 * The routing path: PATH_INFO where the server splits the script name
	 * off (Apache, CGI), else the path as sent less the configured base.
	 */
	if (pathinfo != NULL && *pathinfo != '\0') {
		if (strlen(pathinfo) >= sizeof req->path)
			req->path_too_long = 1;
		else
			strcpy(req->path, pathinfo);
	} else {
		size_t blen = strlen(base);
		const char *p = req->raw_path;

		if (blen > 0 && strncmp(p, base, blen) == 0 &&
		    (p[blen] == '/' || p[blen] == '\0'))
			p += blen;
		memmove(req->path, p, strlen(p) + 1);
	}

	len = http_param(req, "CONTENT_LENGTH");
	req->content_length = -1;
	if (len != NULL && *len != '\0' &&
	    util_parse_int(len, 0, INT64_MAX, &req->content_length) != 0)
		req->bad_content_length = 1;

	http_client_addr(cfg, http_param(req, "REMOTE_ADDR"),
			 http_param(req, "HTTP_X_FORWARDED_FOR"),
			 req->client_addr, sizeof req->client_addr);

	if (crypto_random_id(rid, sizeof rid) != 0)
		memset(rid, 0, sizeof rid);
	memcpy(req->request_id, "req_", 4);
	util_hex(rid, sizeof rid, req->request_id + 4);
}

void http_request_free(struct http_request *req)
{
	free(req->body);
	req->body = NULL;
	req->body_len = 0;
}

const char *http_param(const struct http_request *req, const char *name)
{
	return req->t->param(req->t->ctx, name);
}

/* Whether a Content-Type names JSON: "application/json", any parameters. */
static int http_is_json(const char *ctype)
{
	size_t n = strlen("application/json");

	if (ctype == NULL)
		return 0;
	while (*ctype == ' ')
		ctype++;
	if (strncasecmp(ctype, "application/json", n) != 0)
		return 0;
	ctype += n;
	while (*ctype == ' ')
		ctype++;
	return *ctype == '\0' || *ctype == ';';
}

enum hb_status http_read_body(struct http_request *req)
{
	size_t want, got = 0;

	if (req->body != NULL)
		return HB_OK;
	if (req->bad_content_length)
		return HB_BAD_REQUEST;
	if (req->content_length <= 0)
		return HB_OK;
	if (req->content_length > req->cfg->body_limit)
		return HB_PAYLOAD_TOO_LARGE;
	if (!http_is_json(http_param(req, "CONTENT_TYPE")))
		return HB_UNSUPPORTED_MEDIA_TYPE;
	want = (size_t)req->content_length;
	req->body = malloc(want + 1);
	if (req->body == NULL)
		return HB_INTERNAL_ERROR;
	while (got < want) {
		long n = req->t->read(req->t->ctx, req->body + got, want - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	req->body[got] = '\0';
	req->body_len = got;
	if (got != want)
		return HB_BAD_REQUEST;
	return HB_OK;
}

void http_client_addr(const struct config *cfg, const char *remote,
		      const char *forwarded, char *out, size_t size)
{
	const char *end;

	snprintf(out, size, "%s", remote ? remote : "");
	if (forwarded == NULL || cfg->proxies.count == 0 ||
	    !cidr_list_contains(&cfg->proxies, out))
		return;
	/*
	 * Walk X-Forwarded-For from the right, past trusted proxies: the first
	 * address that is not one is the client's. The whole header is walked,
	 * however long, so no padding on the left can choose the answer.
	 */
	end = forwarded + strlen(forwarded);
	while (end > forwarded) {
		const char *start = end, *a, *b;

		while (start > forwarded && start[-1] != ',')
			start--;
		a = start;
		b = end;
		end = start > forwarded ? start - 1 : forwarded;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (a == b)
			continue;
		snprintf(out, size, "%.*s", (int)(b - a), a);
		/* An entry too long to be an address is no proxy of ours. */
		if ((size_t)(b - a) >= size ||
		    !cidr_list_contains(&cfg->proxies, out))
			return;
	}
}

void http_response_init(struct http_response *resp)
{
	memset(resp, 0, sizeof *resp);
	resp->status = 200;
	resp->phrase = "OK";
	jw_init(&resp->body);
}

void http_response_free(struct http_response *resp)
{
	jw_free(&resp->body);
}

void http_response_header(struct http_response *resp, const char *name,
			  const char *value)
{
	int n = snprintf(resp->headers + resp->headers_len,
			 sizeof resp->headers - resp->headers_len, "%s: %s\r\n",
			 name, value);

	if (n > 0 && (size_t)n < sizeof resp->headers - resp->headers_len)
		resp->headers_len += (size_t)n;
	else
		resp->headers[resp->headers_len] = '\0';
}

void http_response_status(struct http_response *resp, enum hb_status st)
{
	resp->st = st;
	resp->status = hb_status_http(st);
	resp->phrase = hb_status_phrase(st);
}

int http_response_send(const struct http_request *req,
		       struct http_response *resp)
{
	char head[HTTP_HEADERS_MAX + 256];
	const char *body = resp->body.buf ? resp->body.buf : "";
	size_t blen = resp->body.len;
	int n;
	char *all;
	int rc;

	n = snprintf(head, sizeof head,
		     "Status: %d %s\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "X-Request-Id: %s\r\n"
		     "Cache-Control: no-store\r\n"
		     "%s\r\n",
		     resp->status, resp->phrase,
		     resp->content_type ? resp->content_type
					: "application/json; charset=utf-8",
		     blen, req->request_id, resp->headers);
	if (n < 0 || (size_t)n >= sizeof head)
		return -1;
	all = malloc((size_t)n + blen);
	if (all == NULL) {
		rc = req->t->write(req->t->ctx, head, (size_t)n);
		return rc == 0 ? req->t->write(req->t->ctx, body, blen) : rc;
	}
	memcpy(all, head, (size_t)n);
	memcpy(all + n, body, blen);
	rc = req->t->write(req->t->ctx, all, (size_t)n + blen);
	free(all);
	return rc;
}
