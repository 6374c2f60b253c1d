/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_json.c - request bodies as every endpoint reads them: json_body_parse
 * under its limits (UTF-8, no NUL, depth, one object, nothing after it),
 * then the field getters with the names and ranges the handlers use. Every
 * string a getter hands out is written back with the jw_* writer and parsed
 * again: it must come back byte for byte. Every object text must parse.
 *
 * Input: the body, as is.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "json.h"

/* The string fields of every endpoint (handler_*.c, jwt.c). */
static const char *const fuzz_string_fields[] = {
    "ott",
    "provider_user_id",
    "game_session_id",
    "pc_id",
    "internal_ip",
    "game_id",
    "fingerprint",
    "loginMethod",
    "alg",
    "sub",
    "sid",
    "",
};

/* The integer fields and their ranges. */
static const struct {
	const char *name;
	int64_t min, max;
} fuzz_int_fields[] = {
    {"play_duration_sec", 0, INT32_MAX},
    {"exp", 0, INT64_MAX / 1000},
    {"nbf", 0, INT64_MAX / 1000},
    {"play_duration_sec", INT64_MIN + 1, INT64_MAX},
};

/* The object fields and their size limits. */
static const struct {
	const char *name;
	size_t max;
} fuzz_object_fields[] = {
    {"hardware", 4096},
    {"deviceInfo", 4096},
    {"deviceInfo", 8},
};

/* Writes s into {"k":s} with the response writer and parses it back. */
static void fuzz_round_trip(const char *s, size_t len)
{
	struct jw w;
	struct json_body *b = NULL;
	const char *back;
	size_t back_len;
	char err[128];

	jw_init(&w);
	jw_object_begin(&w);
	jw_key(&w, "k");
	jw_string_n(&w, s, len);
	jw_object_end(&w);
	if (w.failed)
		fuzz_fail("the writer failed");
	if (json_body_parse(w.buf, w.len, &b, err, sizeof err) != 0)
		fuzz_fail("a written string does not parse (%s): %s", err,
			  w.buf);
	if (json_body_string(b, "k", &back, &back_len) != JSON_FIELD_OK ||
	    back_len != len || memcmp(back, s, len) != 0)
		fuzz_fail("a string changed on its way through the writer: %s",
			  w.buf);
	json_body_free(b);
	jw_free(&w);
}

static void fuzz_fields(const struct json_body *b)
{
	for (size_t i = 0; i < sizeof fuzz_string_fields / sizeof(char *);
	     i++) {
		const char *s = NULL;
		size_t len = 0;

		switch (json_body_string(b, fuzz_string_fields[i], &s, &len)) {
		case JSON_FIELD_OK:
			if (len == 0 || len > JSON_STRING_MAX ||
			    strlen(s) != len)
				fuzz_fail("a string field of %zu bytes passed",
					  len);
			fuzz_round_trip(s, len);
			break;
		case JSON_FIELD_NULL:
			fuzz_fail("json_body_string answered NULL");
		default:
			break;
		}
	}
	for (size_t i = 0;
	     i < sizeof fuzz_int_fields / sizeof fuzz_int_fields[0]; i++) {
		int64_t v = 12345;
		enum json_field f = json_body_int(b, fuzz_int_fields[i].name,
						  fuzz_int_fields[i].min,
						  fuzz_int_fields[i].max, &v);

		if (f == JSON_FIELD_OK &&
		    (v < fuzz_int_fields[i].min || v > fuzz_int_fields[i].max))
			fuzz_fail("%s = %lld passed outside its range",
				  fuzz_int_fields[i].name, (long long)v);
		if (f != JSON_FIELD_OK && v != 12345)
			fuzz_fail("a refused integer was written");
	}
	for (size_t i = 0;
	     i < sizeof fuzz_object_fields / sizeof fuzz_object_fields[0];
	     i++) {
		const char *text = NULL;
		size_t len = 0;
		struct json_body *o = NULL;
		char err[128];

		if (json_body_object_text(b, fuzz_object_fields[i].name,
					  fuzz_object_fields[i].max, &text,
					  &len) != JSON_FIELD_OK)
			continue;
		if (len > fuzz_object_fields[i].max || strlen(text) != len)
			fuzz_fail("an object text of %zu bytes passed", len);
		if (json_body_parse(text, len, &o, err, sizeof err) != 0)
			fuzz_fail("an object text does not parse (%s): %s", err,
				  text);
		json_body_free(o);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_body *b = (struct json_body *)&b;
	char err[128];
	/* An exact copy, so a read past the end is caught. */
	char *buf = malloc(size ? size : 1);

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	if (json_body_parse(buf, size, &b, err, sizeof err) != 0) {
		if (b != NULL)
			fuzz_fail("a refused body left a result");
		if (err[0] == '\0' || strlen(err) >= sizeof err)
			fuzz_fail("a refused body has no reason");
	} else {
		fuzz_fields(b);
		json_body_free(b);
	}
	free(buf);
	return 0;
}
