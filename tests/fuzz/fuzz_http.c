/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_http.c - the request side of http.h as the web server hands it over:
 * REQUEST_METHOD, REQUEST_URI / SCRIPT_NAME + PATH_INFO against the base
 * path, CONTENT_LENGTH and CONTENT_TYPE against the body limit, REMOTE_ADDR
 * and X-Forwarded-For behind trusted proxies; then a response carrying what
 * was read, written through the same transport.
 *
 * Input: "NAME=VALUE" lines, an empty line, the body (see harness.h).
 */
#include <string.h>

#include "harness.h"
#include "http.h"
#include "util.h"

static void fuzz_check_request(const struct fuzz_input *in,
			       const struct http_request *req)
{
	const char *pathinfo = fuzz_input_get(in, "PATH_INFO");
	const char *len = fuzz_input_get(in, "CONTENT_LENGTH");
	const char *remote = fuzz_input_get(in, "REMOTE_ADDR");
	const char *xff = fuzz_input_get(in, "HTTP_X_FORWARDED_FOR");
	char want[HTTP_ADDR_MAX];
	int64_t n;

	if (memchr(req->path, '\0', sizeof req->path) == NULL ||
	    memchr(req->raw_path, '\0', sizeof req->raw_path) == NULL ||
	    memchr(req->client_addr, '\0', sizeof req->client_addr) == NULL)
		fuzz_fail("a request string is not terminated");
	if (strlen(req->request_id) != 20 ||
	    strncmp(req->request_id, "req_", 4) != 0)
		fuzz_fail("a bad request id: %s", req->request_id);
	if (!req->path_too_long && pathinfo != NULL && *pathinfo != '\0' &&
	    strcmp(req->path, pathinfo) != 0)
		fuzz_fail("PATH_INFO %s routed as %s", pathinfo, req->path);
	if (len == NULL || *len == '\0') {
		if (req->content_length != -1 || req->bad_content_length)
			fuzz_fail("no CONTENT_LENGTH read as %lld",
				  (long long)req->content_length);
	} else if (util_parse_int(len, 0, INT64_MAX, &n) == 0) {
		if (req->bad_content_length || req->content_length != n)
			fuzz_fail("CONTENT_LENGTH %s read as %lld", len,
				  (long long)req->content_length);
	} else if (!req->bad_content_length) {
		fuzz_fail("CONTENT_LENGTH %s accepted", len);
	}
	fuzz_client_addr_ref(&req->cfg->proxies, remote, xff, want,
			     sizeof want);
	if (strcmp(want, req->client_addr) != 0)
		fuzz_fail("client address %s, where the rule gives %s",
			  req->client_addr, want);
}

static void fuzz_check_body(const struct fuzz_input *in,
			    const struct http_request *req, enum hb_status st)
{
	if (st != HB_OK || req->content_length <= 0) {
		if (st == HB_OK && req->body != NULL)
			fuzz_fail("a body was read without a length");
		return;
	}
	if (req->body == NULL || req->body_len != (size_t)req->content_length ||
	    req->body[req->body_len] != '\0')
		fuzz_fail("the body read is not CONTENT_LENGTH bytes");
	if (req->content_length > req->cfg->body_limit)
		fuzz_fail("a body over the limit was read");
	if (req->body_len > in->body_len ||
	    memcmp(req->body, in->body, req->body_len) != 0)
		fuzz_fail("the body read is not the body sent");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct config *cfg = fuzz_request_config();
	struct fuzz_input in;
	struct transport t;
	struct http_request req;
	struct http_response resp;
	enum hb_status st;

	fuzz_input_parse(&in, data, size);
	t = fuzz_transport(&in);
	http_request_init(&req, &t, cfg);
	fuzz_check_request(&in, &req);

	st = http_read_body(&req);
	fuzz_check_body(&in, &req, st);
	/* A second read answers what the first one kept. */
	if (req.body != NULL && http_read_body(&req) != HB_OK)
		fuzz_fail("a second read of a body failed");

	http_response_init(&resp);
	http_response_status(&resp, st);
	/* Fill the header buffer with request text until it is full. */
	for (int i = 0; i < 12; i++) {
		http_response_header(&resp, "X-Client", req.client_addr);
		http_response_header(&resp, "X-Path", req.path);
		if (strlen(resp.headers) != resp.headers_len)
			fuzz_fail("the header length is out of step");
	}
	jw_object_begin(&resp.body);
	jw_key(&resp.body, "method");
	jw_string(&resp.body, req.method);
	jw_key(&resp.body, "raw_path");
	jw_string(&resp.body, req.raw_path);
	jw_key(&resp.body, "content_length");
	jw_int(&resp.body, req.content_length);
	jw_key(&resp.body, "body");
	jw_string_n(&resp.body, req.body, req.body_len);
	jw_object_end(&resp.body);
	if (http_response_send(&req, &resp) != 0)
		fuzz_fail("the response was not written");
	fuzz_check_response(in.out, in.out_len, 0);

	http_response_free(&resp);
	http_request_free(&req);
	fuzz_input_free(&in);
	return 0;
}
