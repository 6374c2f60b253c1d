/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_app.c - one whole request through app_handle: routing, then every
 * handler's header checks (X-Api-Key, Authorization: Bearer with opaque
 * tokens and HS256 JWTs, X-Venue-Id / X-Timestamp / X-Signature), its body
 * fields, and its answer, over the fake store of fake_store.c (no Redis).
 *
 * Input: "NAME=VALUE" lines, an empty line, the body (see harness.h).
 * FUZZ_STORE and FUZZ_VENUE override the store's replies.
 *
 * Besides the sanitizers, every response must be well formed: header lines
 * without control characters, the right Content-Length, and, while the store
 * gives its default replies, a JSON object under a JSON content type.
 * With HB_FUZZ_SHOW set, each response is printed on stderr (to read what a
 * seed or a crash input does: build/fuzz/obj/tests/fuzz/fuzz_app FILE).
 */
#include <stdio.h>
#include <stdlib.h>

#include "app.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct app app;
	static int ready, show;
	struct fuzz_input in;
	struct transport t;
	int flags = FUZZ_CHECK_HEADER_TEXT;

	if (!ready) {
		if (app_init(&app, fuzz_request_config()) != 0)
			fuzz_fail("app_init failed");
		show = getenv("HB_FUZZ_SHOW") != NULL;
		ready = 1;
	}
	fuzz_input_parse(&in, data, size);
	t = fuzz_transport(&in);
	fake_store_input = &in;
	if (app_handle(&app, &t) != 0)
		fuzz_fail("app_handle could not write its answer");
	fake_store_input = NULL;
	if (show)
		fprintf(stderr, "%.*s\n----\n", (int)in.out_len, in.out);
	if (fuzz_input_get(&in, "FUZZ_STORE") == NULL)
		flags |= FUZZ_CHECK_JSON_BODY;
	fuzz_check_response(in.out, in.out_len, flags);
	fuzz_input_free(&in);
	return 0;
}
