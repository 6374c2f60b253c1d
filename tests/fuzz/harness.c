/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * harness.c - input splitting, the fake transport and response checks shared
 * by the fuzz targets.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "harness.h"
#include "json.h"
#include "util.h"

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

char *fuzz_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		fuzz_fail("out of memory");
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void fuzz_input_parse(struct fuzz_input *in, const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	memset(in, 0, sizeof *in);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		const char *eq;

		if (line_end == p) { /* the empty line: the body follows */
			p++;
			break;
		}
		eq = memchr(p, '=', (size_t)(line_end - p));
		if (eq != NULL && in->nparams < FUZZ_PARAMS_MAX) {
			struct fuzz_param *fp = &in->params[in->nparams++];

			fp->name = fuzz_strndup(p, (size_t)(eq - p));
			fp->value =
			    fuzz_strndup(eq + 1, (size_t)(line_end - eq - 1));
		}
		p = nl ? nl + 1 : end;
	}
	in->body_len = (size_t)(end - p);
	if (in->body_len > 0) {
		in->body = malloc(in->body_len);
		if (in->body == NULL)
			fuzz_fail("out of memory");
		memcpy(in->body, p, in->body_len);
	}
}

void fuzz_input_free(struct fuzz_input *in)
{
	for (size_t i = 0; i < in->nparams; i++) {
		free(in->params[i].name);
		free(in->params[i].value);
	}
	free(in->body);
	free(in->out);
	memset(in, 0, sizeof *in);
}

const char *fuzz_input_get(const struct fuzz_input *in, const char *name)
{
	for (size_t i = 0; i < in->nparams; i++)
		if (strcmp(in->params[i].name, name) == 0)
			return in->params[i].value;
	return NULL;
}

/* ---- the fake transport -------------------------------------------------- */

static const char *fuzz_param(void *ctx, const char *name)
{
	return fuzz_input_get(ctx, name);
}

static long fuzz_read(void *ctx, char *buf, size_t n)
{
	struct fuzz_input *in = ctx;
	size_t left = in->body_len - in->body_pos;

	if (n > left)
		n = left;
	if (n > FUZZ_READ_CHUNK)
		n = FUZZ_READ_CHUNK;
	if (n > 0)
		memcpy(buf, in->body + in->body_pos, n);
	in->body_pos += n;
	return (long)n;
}

static int fuzz_write(void *ctx, const char *buf, size_t n)
{
	struct fuzz_input *in = ctx;

	if (in->out_len + n + 1 > in->out_cap) {
		size_t cap = in->out_len + n + 1;
		char *p = realloc(in->out, cap);

		if (p == NULL)
			fuzz_fail("out of memory");
		in->out = p;
		in->out_cap = cap;
	}
	memcpy(in->out + in->out_len, buf, n);
	in->out_len += n;
	in->out[in->out_len] = '\0';
	return 0;
}

struct transport fuzz_transport(struct fuzz_input *in)
{
	struct transport t = {fuzz_param, fuzz_read, fuzz_write, in};

	return t;
}

/* ---- configuration ------------------------------------------------------- */

static const char *const fuzz_settings[] = {
    "HB_TRUSTED_PROXIES",
    "127.0.0.1, 10.0.0.0/8, ::1, fd00::/8",
    "HB_BASE_PATH",
    "/api",
    "HB_BODY_LIMIT",
    "1024",
    "HB_JWT_SECRET",
    FUZZ_JWT_SECRET,
    "HB_SWEEP_INTERVAL_SEC",
    "0",
    /* Ids route to shards: the fake store fails a call out of range. */
    "HB_SHARDS",
    "16",
    NULL,
};

static const char *fuzz_settings_lookup(const char *name, void *ctx)
{
	(void)ctx;
	for (size_t i = 0; fuzz_settings[i] != NULL; i += 2)
		if (strcmp(fuzz_settings[i], name) == 0)
			return fuzz_settings[i + 1];
	return NULL;
}

const struct config *fuzz_request_config(void)
{
	static struct config cfg;
	static int loaded;
	char err[256];

	if (!loaded) {
		if (config_load(&cfg, fuzz_settings_lookup, NULL, err,
				sizeof err) != 0)
			fuzz_fail("the harness configuration: %s", err);
		loaded = 1;
	}
	return &cfg;
}

/* ---- the client address -------------------------------------------------- */

void fuzz_client_addr_ref(const struct cidr_list *proxies, const char *remote,
			  const char *forwarded, char *out, size_t size)
{
	const char **items;
	size_t *lens, count = 0, n;
	const char *p;

	snprintf(out, size, "%s", remote ? remote : "");
	if (forwarded == NULL || proxies->count == 0 ||
	    !cidr_list_contains(proxies, out))
		return;
	/* Every item, left to right. */
	n = strlen(forwarded) + 1;
	items = malloc(n * sizeof *items);
	lens = malloc(n * sizeof *lens);
	if (items == NULL || lens == NULL)
		fuzz_fail("out of memory");
	for (p = forwarded;;) {
		const char *end = strchr(p, ',');
		const char *a = p, *b = end ? end : p + strlen(p);

		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (a < b) {
			items[count] = a;
			lens[count++] = (size_t)(b - a);
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	/* The right-most that is not a proxy, else the left-most. */
	for (size_t i = count; i-- > 0;) {
		snprintf(out, size, "%.*s", (int)lens[i], items[i]);
		if (lens[i] >= size || !cidr_list_contains(proxies, out))
			break;
	}
	free(items);
	free(lens);
}

/* ---- response checks ----------------------------------------------------- */

/* Whether the n bytes at s are an HTTP header name (a token). */
static int fuzz_is_token(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

void fuzz_check_response(const char *out, size_t len, int flags)
{
	const char *head_end, *line, *body;
	const char *ctype = NULL;
	size_t ctype_len = 0, body_len;
	int64_t clen = -1;

	if (len < 12 || memcmp(out, "Status: ", 8) != 0 || out[8] < '1' ||
	    out[8] > '5' || out[11] != ' ')
		fuzz_fail("the response does not start with a status line");
	head_end = memmem(out, len, "\r\n\r\n", 4);
	if (head_end == NULL)
		fuzz_fail("the response has no end of headers");
	body = head_end + 4;
	body_len = len - (size_t)(body - out);

	for (line = out; line < head_end + 2;) {
		const char *eol =
		    memmem(line, (size_t)(head_end + 2 - line), "\r\n", 2);
		const char *colon;
		size_t n = (size_t)(eol - line);

		colon = memchr(line, ':', n);
		if (colon == NULL || colon + 1 >= eol || colon[1] != ' ')
			fuzz_fail("a header line is not \"Name: value\": %.*s",
				  (int)n, line);
		if (flags & FUZZ_CHECK_HEADER_TEXT) {
			if (!fuzz_is_token(line, (size_t)(colon - line)))
				fuzz_fail("a header name is not a token: %.*s",
					  (int)n, line);
			for (const char *c = line; c < eol; c++)
				if (*c == '\r' || *c == '\n' || *c == '\0')
					fuzz_fail(
					    "a header line holds a control "
					    "character: %.*s",
					    (int)n, line);
		}
		if ((size_t)(colon - line) == 14 &&
		    memcmp(line, "Content-Length", 14) == 0 &&
		    util_parse_int64(colon + 2, (size_t)(eol - colon - 2), 0,
				     INT64_MAX, &clen) != 0)
			fuzz_fail("a bad Content-Length: %.*s", (int)n, line);
		if ((size_t)(colon - line) == 12 &&
		    memcmp(line, "Content-Type", 12) == 0) {
			ctype = colon + 2;
			ctype_len = (size_t)(eol - ctype);
		}
		line = eol + 2;
	}
	if (clen < 0)
		fuzz_fail("the response has no Content-Length");
	if ((uint64_t)clen != body_len)
		fuzz_fail("Content-Length %lld, but the body has %zu bytes",
			  (long long)clen, body_len);
	if ((flags & FUZZ_CHECK_JSON_BODY) && body_len > 0 && ctype != NULL &&
	    ctype_len >= 16 && memcmp(ctype, "application/json", 16) == 0) {
		struct json_body *b = NULL;
		char err[128];

		if (json_body_parse(body, body_len, &b, err, sizeof err) != 0)
			fuzz_fail("a JSON response body does not parse (%s): "
				  "%.*s",
				  err, (int)body_len, body);
		json_body_free(b);
	}
}
