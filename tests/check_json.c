/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check_json.c - unit tests of json.h: request bodies parsed under the
 * limits of docs/API.md, typed field access, and the jw_* response writer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_main.h"

#include "json.h"

/* ---- helpers ------------------------------------------------------------- */

/* Parses len bytes that must be accepted; the caller frees the body. */
static struct json_body *parse_ok_n(const char *text, size_t len)
{
	struct json_body *b = NULL;
	char err[128] = "";

	ck_assert_msg(json_body_parse(text, len, &b, err, sizeof err) == 0,
		      "refused %s: %s", text, err);
	ck_assert_ptr_nonnull(b);
	return b;
}

static struct json_body *parse_ok(const char *text)
{
	return parse_ok_n(text, strlen(text));
}

/* Parses len bytes that must be refused with a reason containing want. */
static void parse_bad_n(const char *text, size_t len, const char *want)
{
	struct json_body *b = (struct json_body *)&b; /* not NULL */
	char err[128] = "";
	int rc = json_body_parse(text, len, &b, err, sizeof err);

	if (rc == 0)
		json_body_free(b); /* no leak when the check fails */
	ck_assert_msg(rc == -1, "accepted %s", text);
	ck_assert_ptr_null(b);
	ck_assert_msg(err[0] != '\0', "no reason for %s", text);
	ck_assert_msg(strstr(err, want) != NULL,
		      "for %s: reason \"%s\" lacks \"%s\"", text, err, want);
}

static void parse_bad(const char *text, const char *want)
{
	parse_bad_n(text, strlen(text), want);
}

/* The deepest body nested_objects builds. */
#define NESTED_MAX 1000

/*
 * n objects nested inside each other: {"a":{"a":...1...}}, in a static
 * buffer (nothing to free when a check fails).
 */
static char *nested_objects(int n)
{
	static char s[NESTED_MAX * 6 + 8];
	size_t cap = sizeof s, len = 0;

	ck_assert_int_le(n, NESTED_MAX);
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "{\"a\":");
	s[len++] = '1';
	for (int i = 0; i < n; i++)
		s[len++] = '}';
	s[len] = '\0';
	return s;
}

/* ---- parsing ------------------------------------------------------------- */

START_TEST(parse_accepts_an_object_with_white_space)
{
	struct json_body *b;

	b = parse_ok("{}");
	json_body_free(b);
	b = parse_ok(" \t\r\n{ \"a\" : 1 } \t\r\n");
	json_body_free(b);
	b = parse_ok("{\"a\":{\"b\":[1,2,{\"c\":null}]},\"d\":true}");
	json_body_free(b);
	json_body_free(NULL);
}
END_TEST

START_TEST(parse_reads_only_len_bytes)
{
	struct json_body *b;
	const char *s;
	size_t n;

	/* The buffer need not be NUL-terminated at len. */
	b = parse_ok_n("{\"a\":\"x\"}garbage", 9);
	ck_assert_int_eq(json_body_string(b, "a", &s, &n), JSON_FIELD_OK);
	ck_assert_uint_eq(n, 1);
	json_body_free(b);
	parse_bad_n("{\"a\":\"x\"}garbage", 8, "not valid JSON");
}
END_TEST

START_TEST(parse_rejects_empty)
{
	parse_bad_n("", 0, "empty");
	parse_bad_n("{}", 0, "empty");
	parse_bad("   ", "not valid JSON");
}
END_TEST

START_TEST(parse_rejects_bad_json)
{
	static const char *const bad[] = {
	    "{",
	    "}",
	    "{\"a\":}",
	    "{\"a\" 1}",
	    "{a:1}",
	    "{\"a\":nan}",
	    "{\"a\":'x'}",
	    "{\"a\":1,}",
	    "{\"a\":[1,]}",
	    "{\"a\":01}",
	    "{\"a\":tru}",
	    "{\"a\":\"x}",
	    "{\"a\":\"\\x41\"}",
	    "{\"a\":1 /* c */}",
	    "nul",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_bad(bad[i], "not valid JSON");
}
END_TEST

START_TEST(parse_rejects_what_is_not_an_object)
{
	static const char *const bad[] = {
	    "[]", "[{}]", "\"x\"", "1 ", "-1.5 ", "true ",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_bad(bad[i], "must be a JSON object");
	/* json-c returns no object for null: refused, with a generic reason. */
	parse_bad("null ", "");
}
END_TEST

/* json-c's strict mode refuses these itself, so the reason is generic. */
START_TEST(parse_rejects_data_after_the_object)
{
	parse_bad("{}{}", "");
	parse_bad("{} x", "");
	parse_bad("{}\n1", "");
	parse_bad("{},", "");
	parse_bad("{} \v", "");
	parse_bad("{\"a\":[1]}]", "");
}
END_TEST

START_TEST(parse_rejects_nul_bytes)
{
	static const char inside[] = "{\"a\":\"b\0c\"}";
	static const char after[] = "{\"a\":1}\0";
	static const char before[] = "\0{\"a\":1}";

	parse_bad_n(inside, sizeof inside - 1, "UTF-8");
	parse_bad_n(after, sizeof after - 1, "UTF-8");
	parse_bad_n(before, sizeof before - 1, "UTF-8");
}
END_TEST

START_TEST(parse_rejects_invalid_utf8)
{
	static const char *const bad[] = {
	    "{\"a\":\"\xff\"}",		    /* never valid */
	    "{\"a\":\"\x80\"}",		    /* lone continuation */
	    "{\"a\":\"\xc3\"}",		    /* truncated 2-byte */
	    "{\"a\":\"\xe2\x82\"}",	    /* truncated 3-byte */
	    "{\"a\":\"\xc0\xaf\"}",	    /* overlong '/' */
	    "{\"a\":\"\xc1\xbf\"}",	    /* overlong */
	    "{\"a\":\"\xe0\x80\xaf\"}",	    /* overlong 3-byte */
	    "{\"a\":\"\xf0\x80\x80\xaf\"}", /* overlong 4-byte */
	    "{\"a\":\"\xed\xa0\x80\"}",	    /* surrogate U+D800 */
	    "{\"a\":\"\xed\xbf\xbf\"}",	    /* surrogate U+DFFF */
	    "{\"a\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
	    "{\"a\":\"\xf5\x80\x80\x80\"}", /* above U+10FFFF */
	    "{\"a\":\"\xc3\x28\"}",	    /* bad continuation */
	    "{\"\xfe\":1}",		    /* in a key */
	    "{\"a\":1} \xc2",		    /* truncated at the very end */
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		parse_bad(bad[i], "UTF-8");
}
END_TEST

START_TEST(parse_accepts_valid_utf8)
{
	struct json_body *b;
	const char *s;
	size_t n;

	/* é (2 bytes), € (3), U+1F600 (4), U+FFFF, U+10FFFF, U+D7FF, U+E000. */
	b = parse_ok("{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
		     "\xef\xbf\xbf\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\"}");
	ck_assert_int_eq(json_body_string(b, "a", &s, &n), JSON_FIELD_OK);
	ck_assert_uint_eq(n, 2 + 3 + 4 + 3 + 4 + 3 + 3);
	json_body_free(b);
}
END_TEST

START_TEST(parse_decodes_unicode_escapes)
{
	struct json_body *b;
	const char *s;
	size_t n;

	b = parse_ok("{\"a\":\"\\u00e9\\u20ac\\ud83d\\ude00\\\"\\\\\\/\\n\"}");
	ck_assert_int_eq(json_body_string(b, "a", &s, &n), JSON_FIELD_OK);
	ck_assert_uint_eq(n, 2 + 3 + 4 + 4);
	ck_assert_mem_eq(s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"\\/\n", n);
	json_body_free(b);
}
END_TEST

/* An escaped NUL is valid JSON, but no string field may hold one. */
START_TEST(string_field_refuses_escaped_nul)
{
	struct json_body *b;
	const char *s;
	size_t n;

	b = parse_ok("{\"a\":\"x\\u0000y\"}");
	ck_assert_int_eq(json_body_string(b, "a", &s, &n),
			 JSON_FIELD_BAD_VALUE);
	json_body_free(b);
}
END_TEST

START_TEST(parse_accepts_nesting_below_the_limit)
{
	struct json_body *b;
	char *s = nested_objects(JSON_MAX_DEPTH - 1);

	b = parse_ok(s);
	json_body_free(b);
}
END_TEST

START_TEST(parse_rejects_nesting_over_the_limit)
{
	char *s = nested_objects(JSON_MAX_DEPTH + 1);

	parse_bad(s, "nested too deeply");
	s = nested_objects(NESTED_MAX);
	parse_bad(s, "nested too deeply");
}
END_TEST

/*
 * KNOWN BUG (src/json.c:75): json.h and docs/API.md allow a body "at most
 * JSON_MAX_DEPTH (32) deep", but json_tokener_new_ex(JSON_MAX_DEPTH) makes
 * json-c refuse the 32nd level: only 31 are accepted.
 */
START_TEST(parse_accepts_nesting_at_the_limit)
{
	struct json_body *b;
	char *s = nested_objects(JSON_MAX_DEPTH);

	b = parse_ok(s);
	json_body_free(b);
}
END_TEST

/*
 * KNOWN BUG (src/json.c:80): json-c 0.16 accepts NaN, Infinity and
 * single-quoted keys even with JSON_TOKENER_STRICT. None is JSON (RFC 8259),
 * so a body holding one is not "exactly one JSON object".
 */
START_TEST(parse_rejects_non_json_extensions)
{
	parse_bad("{\"a\":NaN}", "not valid JSON");
	parse_bad("{\"a\":Infinity}", "not valid JSON");
	parse_bad("{\"a\":-Infinity}", "not valid JSON");
	parse_bad("{'a':1}", "not valid JSON");
	parse_bad("{\"a\":1,'b':2}", "not valid JSON");
}
END_TEST

/* ---- fields -------------------------------------------------------------- */

START_TEST(string_field_kinds)
{
	struct json_body *b =
	    parse_ok("{\"s\":\"hello\",\"e\":\"\",\"n\":5,\"z\":null,\"o\":{},"
		     "\"a\":[\"x\"],\"t\":true}");
	const char *s = NULL;
	size_t n = 0;

	ck_assert_int_eq(json_body_string(b, "s", &s, &n), JSON_FIELD_OK);
	ck_assert_uint_eq(n, 5);
	ck_assert_mem_eq(s, "hello", 5);
	ck_assert_int_eq(json_body_string(b, "missing", &s, &n),
			 JSON_FIELD_MISSING);
	ck_assert_int_eq(json_body_string(b, "e", &s, &n),
			 JSON_FIELD_BAD_VALUE);
	ck_assert_int_eq(json_body_string(b, "n", &s, &n),
			 JSON_FIELD_WRONG_TYPE);
	/* null where a string is required is the wrong type. */
	ck_assert_int_eq(json_body_string(b, "z", &s, &n),
			 JSON_FIELD_WRONG_TYPE);
	ck_assert_int_eq(json_body_string(b, "o", &s, &n),
			 JSON_FIELD_WRONG_TYPE);
	ck_assert_int_eq(json_body_string(b, "a", &s, &n),
			 JSON_FIELD_WRONG_TYPE);
	ck_assert_int_eq(json_body_string(b, "t", &s, &n),
			 JSON_FIELD_WRONG_TYPE);
	/* Names are case-sensitive; nested fields are not top-level ones. */
	ck_assert_int_eq(json_body_string(b, "S", &s, &n), JSON_FIELD_MISSING);
	json_body_free(b);
}
END_TEST

START_TEST(string_field_length_limit)
{
	char text[2 * JSON_STRING_MAX + 64];
	char val[JSON_STRING_MAX + 2];
	struct json_body *b;
	const char *s;
	size_t n;

	memset(val, 'v', JSON_STRING_MAX);
	val[JSON_STRING_MAX] = '\0';
	snprintf(text, sizeof text, "{\"a\":\"%s\"}", val);
	b = parse_ok(text);
	ck_assert_int_eq(json_body_string(b, "a", &s, &n), JSON_FIELD_OK);
	ck_assert_uint_eq(n, JSON_STRING_MAX);
	json_body_free(b);

	val[JSON_STRING_MAX] = 'v';
	val[JSON_STRING_MAX + 1] = '\0';
	snprintf(text, sizeof text, "{\"a\":\"%s\"}", val);
	b = parse_ok(text);
	ck_assert_int_eq(json_body_string(b, "a", &s, &n),
			 JSON_FIELD_BAD_VALUE);
	json_body_free(b);

	/* The limit is in bytes: 43 three-byte characters are 129 bytes. */
	text[0] = '\0';
	strcat(text, "{\"a\":\"");
	for (int i = 0; i < 43; i++)
		strcat(text, "\xe2\x82\xac");
	strcat(text, "\"}");
	b = parse_ok(text);
	ck_assert_int_eq(json_body_string(b, "a", &s, &n),
			 JSON_FIELD_BAD_VALUE);
	json_body_free(b);
}
END_TEST

START_TEST(int_field_kinds)
{
	struct json_body *b =
	    parse_ok("{\"i\":42,\"neg\":-7,\"f\":1.5,\"f0\":2.0,\"e\":1e3,"
		     "\"s\":\"5\",\"z\":null,\"t\":true,\"a\":[1],\"o\":{}}");
	int64_t v = 99;

	ck_assert_int_eq(json_body_int(b, "i", 0, 100, &v), JSON_FIELD_OK);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(json_body_int(b, "neg", -10, 10, &v), JSON_FIELD_OK);
	ck_assert_int_eq(v, -7);
	v = 99;
	ck_assert_int_eq(json_body_int(b, "missing", 0, 100, &v),
			 JSON_FIELD_MISSING);
	ck_assert_int_eq(json_body_int(b, "z", 0, 100, &v), JSON_FIELD_NULL);
	ck_assert_int_eq(json_body_int(b, "f", 0, 100, &v),
			 JSON_FIELD_WRONG_TYPE);
	ck_assert_int_eq(json_body_int(b, "f0", 0, 100, &v),
			 JSON_FIELD_WRONG_TYPE);
	ck_assert_int_eq(json_body_int(b, "e", 0, 10000, &v),
			 JSON_FIELD_WRONG_TYPE);
	ck_assert_int_eq(json_body_int(b, "s", 0, 100, &v),
			 JSON_FIELD_WRONG_TYPE);
	ck_assert_int_eq(json_body_int(b, "t", 0, 100, &v),
			 JSON_FIELD_WRONG_TYPE);
	ck_assert_int_eq(json_body_int(b, "a", 0, 100, &v),
			 JSON_FIELD_WRONG_TYPE);
	ck_assert_int_eq(json_body_int(b, "o", 0, 100, &v),
			 JSON_FIELD_WRONG_TYPE);
	ck_assert_int_eq(v, 99);
	json_body_free(b);
}
END_TEST

START_TEST(int_field_range)
{
	struct json_body *b = parse_ok(
	    "{\"i\":42,\"neg\":-1,\"max\":9223372036854775807,"
	    "\"min\":-9223372036854775808,\"over\":9223372036854775808,"
	    "\"u64\":18446744073709551615,\"huge\":1000000000000000000000}");
	int64_t v = 99;

	ck_assert_int_eq(json_body_int(b, "i", 42, 42, &v), JSON_FIELD_OK);
	ck_assert_int_eq(v, 42);
	v = 99;
	ck_assert_int_eq(json_body_int(b, "i", 43, 100, &v),
			 JSON_FIELD_BAD_VALUE);
	ck_assert_int_eq(json_body_int(b, "i", 0, 41, &v),
			 JSON_FIELD_BAD_VALUE);
	ck_assert_int_eq(json_body_int(b, "neg", 0, INT32_MAX, &v),
			 JSON_FIELD_BAD_VALUE);
	ck_assert_int_eq(v, 99);
	ck_assert_int_eq(json_body_int(b, "max", 0, INT64_MAX, &v),
			 JSON_FIELD_OK);
	ck_assert(v == INT64_MAX);
	ck_assert_int_eq(json_body_int(b, "min", INT64_MIN, 0, &v),
			 JSON_FIELD_OK);
	ck_assert(v == INT64_MIN);
	v = 99;
	/* Above INT64_MAX is out of range, never wrapped or clamped. */
	ck_assert_int_eq(json_body_int(b, "over", INT64_MIN, INT64_MAX, &v),
			 JSON_FIELD_BAD_VALUE);
	ck_assert_int_eq(json_body_int(b, "u64", INT64_MIN, INT64_MAX, &v),
			 JSON_FIELD_BAD_VALUE);
	ck_assert_int_eq(v, 99);
	/* Too big even for uint64: json-c makes it a double. */
	ck_assert_int_ne(json_body_int(b, "huge", INT64_MIN, INT64_MAX, &v),
			 JSON_FIELD_OK);
	ck_assert_int_eq(v, 99);
	json_body_free(b);
}
END_TEST

START_TEST(duplicate_keys_last_one_counts)
{
	/* json-c keeps the last value of a repeated key; so does the module. */
	struct json_body *b = parse_ok("{\"a\":1,\"a\":\"x\"}");
	const char *s;
	size_t n;
	int64_t v;

	ck_assert_int_eq(json_body_string(b, "a", &s, &n), JSON_FIELD_OK);
	ck_assert_mem_eq(s, "x", 1);
	ck_assert_int_eq(json_body_int(b, "a", 0, 10, &v),
			 JSON_FIELD_WRONG_TYPE);
	json_body_free(b);
}
END_TEST

START_TEST(object_text_is_compact)
{
	struct json_body *b = parse_ok(
	    "{\"hw\" : { \"cpu\" : \"x/y\", \"n\" : [ 1 , 2 ] ,"
	    " \"u\":\"\\u00e9\" }, \"s\":\"x\", \"z\":null, \"a\":[]}");
	const char *s = NULL;
	size_t n = 0;
	static const char want[] =
	    "{\"cpu\":\"x/y\",\"n\":[1,2],\"u\":\"\xc3\xa9\"}";

	ck_assert_int_eq(json_body_object_text(b, "hw", 4096, &s, &n),
			 JSON_FIELD_OK);
	ck_assert_uint_eq(n, sizeof want - 1);
	ck_assert_mem_eq(s, want, n);
	ck_assert_int_eq(
	    json_body_object_text(b, "hw", sizeof want - 1, &s, &n),
	    JSON_FIELD_OK);
	ck_assert_int_eq(
	    json_body_object_text(b, "hw", sizeof want - 2, &s, &n),
	    JSON_FIELD_BAD_VALUE);
	ck_assert_int_eq(json_body_object_text(b, "s", 4096, &s, &n),
			 JSON_FIELD_WRONG_TYPE);
	ck_assert_int_eq(json_body_object_text(b, "a", 4096, &s, &n),
			 JSON_FIELD_WRONG_TYPE);
	ck_assert_int_eq(json_body_object_text(b, "z", 4096, &s, &n),
			 JSON_FIELD_NULL);
	ck_assert_int_eq(json_body_object_text(b, "nope", 4096, &s, &n),
			 JSON_FIELD_MISSING);
	json_body_free(b);
}
END_TEST

/* ---- writer -------------------------------------------------------------- */

START_TEST(writer_builds_nested_objects_and_arrays)
{
	struct jw w;

	jw_init(&w);
	jw_object_begin(&w);
	jw_key(&w, "a");
	jw_int(&w, 1);
	jw_key(&w, "b");
	jw_string(&w, "x");
	jw_key(&w, "c");
	jw_array_begin(&w);
	jw_int(&w, 1);
	jw_int(&w, 2);
	jw_object_begin(&w);
	jw_key(&w, "d");
	jw_null(&w);
	jw_object_end(&w);
	jw_array_begin(&w);
	jw_array_end(&w);
	jw_object_begin(&w);
	jw_object_end(&w);
	jw_array_end(&w);
	jw_key(&w, "e");
	jw_bool(&w, 1);
	jw_key(&w, "f");
	jw_bool(&w, 0);
	jw_key(&w, "g");
	jw_bool(&w, 7);
	jw_object_end(&w);
	ck_assert_int_eq(w.failed, 0);
	ck_assert_str_eq(w.buf,
			 "{\"a\":1,\"b\":\"x\",\"c\":[1,2,{\"d\":null},[],"
			 "{}],\"e\":true,\"f\":false,\"g\":true}");
	ck_assert_uint_eq(w.len, strlen(w.buf));
	ck_assert_int_eq(w.depth, 0);
	jw_free(&w);
	ck_assert_ptr_null(w.buf);
}
END_TEST

START_TEST(writer_escapes_quotes_backslashes_and_controls)
{
	struct jw w;

	jw_init(&w);
	jw_string(&w, "say \"hi\" \\ / \n\r\t\b\f\x01\x1f\x7f end");
	ck_assert_str_eq(w.buf,
			 "\"say \\\"hi\\\" \\\\ / \\n\\r\\t\\u0008\\u000c"
			 "\\u0001\\u001f\x7f end\"");
	jw_free(&w);

	/* Keys are escaped the same way. */
	jw_init(&w);
	jw_object_begin(&w);
	jw_key(&w, "k\"\n");
	jw_int(&w, 0);
	jw_object_end(&w);
	ck_assert_str_eq(w.buf, "{\"k\\\"\\n\":0}");
	jw_free(&w);
}
END_TEST

START_TEST(writer_escapes_as_cjson_when_asked)
{
	struct jw w;

	/* The bytes Redis's Lua cjson writes for the same string. */
	jw_init(&w);
	jw_set_escape(&w, JW_ESCAPE_CJSON);
	jw_string(&w, "say \"hi\" \\ / \n\r\t\b\f\x01\x0b\x1f\x7f caf\xc3\xa9");
	ck_assert_str_eq(w.buf, "\"say \\\"hi\\\" \\\\ \\/ \\n\\r\\t\\b\\f"
				"\\u0001\\u000b\\u001f\\u007f caf\xc3\xa9\"");
	/* A reset writer escapes minimally again. */
	jw_reset(&w);
	jw_string(&w, "/");
	ck_assert_str_eq(w.buf, "\"/\"");
	jw_free(&w);
}
END_TEST

START_TEST(writer_writes_times)
{
	struct jw w;

	jw_init(&w);
	jw_array_begin(&w);
	jw_time_ms(&w, 0);
	jw_time_ms(&w, INT64_C(1700000000123));
	jw_array_end(&w);
	ck_assert_str_eq(w.buf, "[\"1970-01-01T00:00:00.000Z\","
				"\"2023-11-14T22:13:20.123Z\"]");
	jw_free(&w);
}
END_TEST

START_TEST(writer_passes_utf8_through)
{
	struct jw w;

	jw_init(&w);
	jw_string(&w, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	ck_assert_str_eq(w.buf,
			 "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	jw_free(&w);
}
END_TEST

START_TEST(writer_string_n_and_null)
{
	struct jw w;

	jw_init(&w);
	jw_array_begin(&w);
	jw_string_n(&w, "a\0b", 3);
	jw_string_n(&w, "abcdef", 2);
	jw_string(&w, NULL);
	jw_string_n(&w, NULL, 5);
	jw_string(&w, "");
	jw_array_end(&w);
	ck_assert_str_eq(w.buf, "[\"a\\u0000b\",\"ab\",null,null,\"\"]");
	jw_free(&w);
}
END_TEST

START_TEST(writer_numbers)
{
	struct jw w;

	jw_init(&w);
	jw_array_begin(&w);
	jw_int(&w, 0);
	jw_int(&w, -1);
	jw_int(&w, 120);
	jw_int(&w, INT64_MAX);
	jw_int(&w, INT64_MIN);
	jw_array_end(&w);
	ck_assert_str_eq(w.buf, "[0,-1,120,9223372036854775807,"
				"-9223372036854775808]");
	jw_free(&w);
}
END_TEST

START_TEST(writer_raw_and_text)
{
	struct jw w;

	jw_init(&w);
	jw_array_begin(&w);
	jw_raw(&w, "{\"x\":1}", 7);
	jw_raw(&w, "{}xyz", 2);
	jw_array_end(&w);
	ck_assert_str_eq(w.buf, "[{\"x\":1},{}]");
	jw_free(&w);

	jw_init(&w);
	jw_object_begin(&w);
	jw_key(&w, "data");
	jw_raw(&w, "[1,2]", 5);
	jw_object_end(&w);
	ck_assert_str_eq(w.buf, "{\"data\":[1,2]}");
	jw_free(&w);

	/* jw_text adds bytes as given: no quotes, commas or escapes. */
	jw_init(&w);
	jw_text(&w, "hb_up 1\n", 8);
	jw_text(&w, "a \"b\"\\\n", 7);
	jw_text(&w, "xyz", 0);
	ck_assert_str_eq(w.buf, "hb_up 1\na \"b\"\\\n");
	ck_assert_uint_eq(w.len, 15);
	jw_free(&w);
}
END_TEST

START_TEST(writer_grows_past_its_first_buffer)
{
	struct jw w;
	char *big = malloc(100001);
	size_t i;

	ck_assert_ptr_nonnull(big);
	for (i = 0; i < 100000; i++)
		big[i] = (char)('a' + i % 26);
	big[100000] = '\0';
	jw_init(&w);
	jw_array_begin(&w);
	jw_string(&w, big);
	jw_string(&w, "\n");
	jw_array_end(&w);
	ck_assert_int_eq(w.failed, 0);
	ck_assert_uint_eq(w.len, 1 + 100002 + 1 + 4 + 1);
	ck_assert_uint_eq(strlen(w.buf), w.len);
	ck_assert(w.cap > w.len);
	ck_assert_mem_eq(w.buf + 2, big, 100000);
	ck_assert_str_eq(w.buf + 100003, ",\"\\n\"]");
	jw_free(&w);
	free(big);
}
END_TEST

START_TEST(writer_reset_keeps_buffer_and_forgets_state)
{
	struct jw w;
	char *buf;

	jw_init(&w);
	jw_object_begin(&w);
	jw_key(&w, "a");
	jw_array_begin(&w);
	jw_int(&w, 1);
	buf = w.buf;
	jw_reset(&w);
	ck_assert_ptr_eq(w.buf, buf);
	ck_assert_uint_eq(w.len, 0);
	ck_assert_str_eq(w.buf, "");
	ck_assert_int_eq(w.depth, 0);
	/* No stray comma or key state carried over. */
	jw_object_begin(&w);
	jw_key(&w, "b");
	jw_int(&w, 2);
	jw_object_end(&w);
	ck_assert_str_eq(w.buf, "{\"b\":2}");
	jw_free(&w);

	/* Resetting a writer that never wrote is harmless. */
	jw_init(&w);
	jw_reset(&w);
	ck_assert_ptr_null(w.buf);
	jw_int(&w, 3);
	ck_assert_str_eq(w.buf, "3");
	jw_free(&w);
}
END_TEST

START_TEST(writer_nesting_limit_sets_failed)
{
	struct jw w;
	int i;

	/* Seven levels below the top fit. */
	jw_init(&w);
	for (i = 0; i < JW_MAX_DEPTH - 1; i++)
		jw_array_begin(&w);
	jw_int(&w, 1);
	jw_int(&w, 2);
	for (i = 0; i < JW_MAX_DEPTH - 1; i++)
		jw_array_end(&w);
	ck_assert_int_eq(w.failed, 0);
	ck_assert_str_eq(w.buf, "[[[[[[[1,2]]]]]]]");
	jw_free(&w);

	/* One more is refused, and the writer says so. */
	jw_init(&w);
	for (i = 0; i < JW_MAX_DEPTH; i++)
		jw_array_begin(&w);
	ck_assert_int_ne(w.failed, 0);
	jw_free(&w);
}
END_TEST

/* The writer's escaping, read back by json-c through json_body_parse. */
START_TEST(writer_output_round_trips_through_the_parser)
{
	char all[128];
	struct jw w;
	struct json_body *b;
	const char *s;
	size_t n;
	int64_t v;

	for (int i = 0; i < 127; i++)
		all[i] = (char)(i + 1); /* every ASCII byte but NUL */
	all[127] = '\0';
	jw_init(&w);
	jw_object_begin(&w);
	jw_key(&w, all);
	jw_string(&w, all);
	jw_key(&w, "n");
	jw_int(&w, INT64_MIN);
	jw_key(&w, "u");
	jw_string(&w, "\xf0\x9f\x98\x80\"\\");
	jw_object_end(&w);
	ck_assert_int_eq(w.failed, 0);

	b = parse_ok_n(w.buf, w.len);
	ck_assert_int_eq(json_body_string(b, all, &s, &n), JSON_FIELD_OK);
	ck_assert_uint_eq(n, 127);
	ck_assert_mem_eq(s, all, 127);
	ck_assert_int_eq(json_body_int(b, "n", INT64_MIN, 0, &v),
			 JSON_FIELD_OK);
	ck_assert(v == INT64_MIN);
	ck_assert_int_eq(json_body_string(b, "u", &s, &n), JSON_FIELD_OK);
	ck_assert_mem_eq(s, "\xf0\x9f\x98\x80\"\\", 6);
	json_body_free(b);
	jw_free(&w);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

Suite *check_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, parse_accepts_an_object_with_white_space);
	tcase_add_test(tc, parse_reads_only_len_bytes);
	tcase_add_test(tc, parse_rejects_empty);
	tcase_add_test(tc, parse_rejects_bad_json);
	tcase_add_test(tc, parse_rejects_what_is_not_an_object);
	tcase_add_test(tc, parse_rejects_data_after_the_object);
	tcase_add_test(tc, parse_rejects_nul_bytes);
	tcase_add_test(tc, parse_rejects_invalid_utf8);
	tcase_add_test(tc, parse_accepts_valid_utf8);
	tcase_add_test(tc, parse_decodes_unicode_escapes);
	tcase_add_test(tc, string_field_refuses_escaped_nul);
	tcase_add_test(tc, parse_accepts_nesting_below_the_limit);
	tcase_add_test(tc, parse_rejects_nesting_over_the_limit);
	tcase_add_test(tc, parse_accepts_nesting_at_the_limit);
	tcase_add_test(tc, parse_rejects_non_json_extensions);
	suite_add_tcase(s, tc);

	tc = tcase_create("fields");
	tcase_add_test(tc, string_field_kinds);
	tcase_add_test(tc, string_field_length_limit);
	tcase_add_test(tc, int_field_kinds);
	tcase_add_test(tc, int_field_range);
	tcase_add_test(tc, duplicate_keys_last_one_counts);
	tcase_add_test(tc, object_text_is_compact);
	suite_add_tcase(s, tc);

	tc = tcase_create("writer");
	tcase_add_test(tc, writer_builds_nested_objects_and_arrays);
	tcase_add_test(tc, writer_escapes_quotes_backslashes_and_controls);
	tcase_add_test(tc, writer_escapes_as_cjson_when_asked);
	tcase_add_test(tc, writer_writes_times);
	tcase_add_test(tc, writer_passes_utf8_through);
	tcase_add_test(tc, writer_string_n_and_null);
	tcase_add_test(tc, writer_numbers);
	tcase_add_test(tc, writer_raw_and_text);
	tcase_add_test(tc, writer_grows_past_its_first_buffer);
	tcase_add_test(tc, writer_reset_keeps_buffer_and_forgets_state);
	tcase_add_test(tc, writer_nesting_limit_sets_failed);
	tcase_add_test(tc, writer_output_round_trips_through_the_parser);
	suite_add_tcase(s, tc);
	return s;
}
