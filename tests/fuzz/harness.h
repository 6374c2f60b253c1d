/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * harness.h - what the libFuzzer targets in tests/fuzz share: one input split
 * into CGI parameters and a body, a fake transport over it, the configuration
 * the request targets run under, and checks of a written response.
 *
 * An input is read as text lines "NAME=VALUE" up to the first empty line;
 * everything after that line is the request body (or, for fuzz_config, the
 * HB_CONFIG_FILE). Names that start with FUZZ_ are not CGI parameters but
 * steer the harness (see fake_store.c).
 */
#ifndef HB_FUZZ_HARNESS_H
#define HB_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"

/* The most parameters one input holds; further lines are ignored. */
#define FUZZ_PARAMS_MAX 64
/* The most bytes one fake read returns, so the body arrives in pieces. */
#define FUZZ_READ_CHUNK 200

/* The JWT secret and venue secret of the request targets' configuration. */
#define FUZZ_JWT_SECRET "fuzz-jwt-secret"
#define FUZZ_VENUE_SECRET "fuzz-venue-secret"

/* Libfuzzer's entry point, declared for -Wmissing-prototypes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_param {
	char *name;  /* owned, NUL-terminated */
	char *value; /* owned, NUL-terminated (cut at a NUL in the input) */
};

struct fuzz_input {
	struct fuzz_param params[FUZZ_PARAMS_MAX];
	size_t nparams;
	char *body; /* owned, exactly body_len bytes (no NUL), or NULL */
	size_t body_len, body_pos;
	char *out; /* what the transport was asked to write; owned */
	size_t out_len, out_cap;
};

/*
 * Splits data into parameters and body. Every allocation is exact-sized so
 * that AddressSanitizer sees a read past a string's NUL or the body's end.
 * Free with fuzz_input_free.
 */
void fuzz_input_parse(struct fuzz_input *in, const uint8_t *data, size_t size);

/* Frees what fuzz_input_parse and the transport allocated. */
void fuzz_input_free(struct fuzz_input *in);

/* The value of the first parameter called name, or NULL. Borrowed. */
const char *fuzz_input_get(const struct fuzz_input *in, const char *name);

/* A transport whose params, body and output are those of in (borrowed). */
struct transport fuzz_transport(struct fuzz_input *in);

/*
 * The configuration of fuzz_http and fuzz_app: trusted proxies
 * 127.0.0.1, 10.0.0.0/8, ::1 and fd00::/8, base path /api, a body limit of
 * 1024 bytes, FUZZ_JWT_SECRET, no sweeps. Loaded once; borrowed.
 */
const struct config *fuzz_request_config(void);

/*
 * The client address by http.h's rule, worked out independently of
 * http_client_addr: REMOTE_ADDR; or, when that is one of proxies, the
 * right-most X-Forwarded-For item (split on commas, spaces and tabs trimmed,
 * empty items skipped) that is not a proxy (an item of size bytes or more
 * never is one), or the left-most item when every item is a proxy. Cut to
 * size - 1 bytes.
 */
void fuzz_client_addr_ref(const struct cidr_list *proxies, const char *remote,
			  const char *forwarded, char *out, size_t size);

/* Checks on a response: header lines, Content-Length, and a JSON body. */
#define FUZZ_CHECK_HEADER_TEXT 1 /* every header line is "Name: value" */
#define FUZZ_CHECK_JSON_BODY 2	 /* a JSON content type has a JSON object */

/*
 * Checks the bytes a request wrote (a CGI/FastCGI response: "Status: ...",
 * headers, an empty line, the body) and aborts with a message when they are
 * malformed. flags is a set of FUZZ_CHECK_*.
 */
void fuzz_check_response(const char *out, size_t len, int flags);

/*
 * fuzz_app's fake store (fake_store.c) reads its FUZZ_STORE and FUZZ_VENUE
 * overrides from this input while a request is served; NULL: defaults.
 */
extern const struct fuzz_input *fake_store_input;

/* Prints "fuzz: " and the message on stderr, then aborts: a finding. */
void fuzz_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* A NUL-terminated copy of n bytes in a block of exactly n + 1 bytes. */
char *fuzz_strndup(const char *s, size_t n);

#endif
