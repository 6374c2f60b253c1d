/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * json.c - body parsing over json-c, and the response writer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "json.h"
#include "util.h"

struct json_body {
	json_object *root;
};

/* ---- Bodies in ---------------------------------------------------------- */

/*
 * Whether the bytes outside strings are JSON's own: json-c, even strict,
 * takes single quotes, NaN and Infinity. What is left (lowercase nan and
 * infinities spelled with allowed letters) is caught by json_finite().
 */
static int json_plain_syntax(const char *s, size_t len)
{
	int in_string = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
		} else if (strchr(" \t\r\n{}[]:,+-.0123456789eEtrufalsn", c) ==
			   NULL) {
			return 0;
		}
	}
	return 1;
}

/* Whether every number in v is finite. */
static int json_finite(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_double: {
		double d = json_object_get_double(v);
		return d - d == 0.0;
	}
	case json_type_object: {
		json_object_object_foreach(v, key, val)
		{
			(void)key;
			if (!json_finite(val))
				return 0;
		}
		return 1;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (!json_finite(json_object_array_get_idx(v, i)))
				return 0;
		return 1;
	default:
		return 1;
	}
}

int json_body_parse(const char *buf, size_t len, struct json_body **out,
		    char *err, size_t errlen)
{
	struct json_tokener *tok;
	json_object *root;
	size_t used;

	*out = NULL;
	if (len == 0) {
		snprintf(err, errlen, "the body is empty");
		return -1;
	}
	if (memchr(buf, '\0', len) != NULL || !util_valid_utf8(buf, len)) {
		snprintf(err, errlen, "the body is not valid UTF-8 JSON");
		return -1;
	}
	if (!json_plain_syntax(buf, len)) {
		snprintf(err, errlen, "the body is not valid JSON");
		return -1;
	}
	/* json-c counts the depth it may reach, one past the deepest level. */
	tok = json_tokener_new_ex(JSON_MAX_DEPTH + 1);
	if (tok == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, buf, (int)len);
	if (root == NULL) {
		enum json_tokener_error e = json_tokener_get_error(tok);
		snprintf(err, errlen, "%s",
			 e == json_tokener_error_depth
			     ? "the body is nested too deeply"
			     : "the body is not valid JSON");
		json_tokener_free(tok);
		return -1;
	}
	used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	for (; used < len; used++) {
		char c = buf[used];
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			json_object_put(root);
			snprintf(err, errlen,
				 "the body has data after the JSON object");
			return -1;
		}
	}
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		snprintf(err, errlen, "the body must be a JSON object");
		return -1;
	}
	if (!json_finite(root)) {
		json_object_put(root);
		snprintf(err, errlen, "the body is not valid JSON");
		return -1;
	}
	*out = malloc(sizeof **out);
	if (*out == NULL) {
		json_object_put(root);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	(*out)->root = root;
	return 0;
}

void json_body_free(struct json_body *b)
{
	if (b == NULL)
		return;
	json_object_put(b->root);
	free(b);
}

/* The field name of b, with NULL/missing told apart. */
static enum json_field json_body_get(const struct json_body *b,
				     const char *name, json_object **out)
{
	if (!json_object_object_get_ex(b->root, name, out))
		return JSON_FIELD_MISSING;
	if (*out == NULL)
		return JSON_FIELD_NULL;
	return JSON_FIELD_OK;
}

enum json_field json_body_string(const struct json_body *b, const char *name,
				 const char **out, size_t *len)
{
	json_object *v;
	enum json_field f = json_body_get(b, name, &v);

	if (f != JSON_FIELD_OK)
		return f == JSON_FIELD_NULL ? JSON_FIELD_WRONG_TYPE : f;
	if (!json_object_is_type(v, json_type_string))
		return JSON_FIELD_WRONG_TYPE;
	*out = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	if (*len == 0 || *len > JSON_STRING_MAX ||
	    memchr(*out, '\0', *len) != NULL)
		return JSON_FIELD_BAD_VALUE;
	return JSON_FIELD_OK;
}

enum json_field json_body_int(const struct json_body *b, const char *name,
			      int64_t min, int64_t max, int64_t *out)
{
	json_object *v;
	enum json_field f = json_body_get(b, name, &v);
	int64_t n;

	if (f != JSON_FIELD_OK)
		return f;
	if (!json_object_is_type(v, json_type_int))
		return JSON_FIELD_WRONG_TYPE;
	/* json-c keeps integers above INT64_MAX as unsigned: out of range. */
	if (json_object_get_uint64(v) > (uint64_t)INT64_MAX &&
	    json_object_get_int64(v) >= 0)
		return JSON_FIELD_BAD_VALUE;
	n = json_object_get_int64(v);
	if (n < min || n > max)
		return JSON_FIELD_BAD_VALUE;
	*out = n;
	return JSON_FIELD_OK;
}

enum json_field json_body_object_text(const struct json_body *b,
				      const char *name, size_t maxlen,
				      const char **out, size_t *len)
{
	json_object *v;
	enum json_field f = json_body_get(b, name, &v);

	if (f != JSON_FIELD_OK)
		return f;
	if (!json_object_is_type(v, json_type_object))
		return JSON_FIELD_WRONG_TYPE;
	*out = json_object_to_json_string_length(
	    v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
	if (*out == NULL || *len > maxlen)
		return JSON_FIELD_BAD_VALUE;
	return JSON_FIELD_OK;
}

/* ---- Bodies out -----------------------------------------------------------
 */

void jw_init(struct jw *w)
{
	memset(w, 0, sizeof *w);
}

void jw_free(struct jw *w)
{
	free(w->buf);
	jw_init(w);
}

void jw_reset(struct jw *w)
{
	char *buf = w->buf;
	size_t cap = w->cap;

	jw_init(w);
	w->buf = buf;
	w->cap = cap;
	if (buf)
		buf[0] = '\0';
}

static void jw_put(struct jw *w, const char *s, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 512;
		char *nb;

		while (cap < w->len + n + 1)
			cap *= 2;
		nb = realloc(w->buf, cap);
		if (nb == NULL) {
			w->failed = 1;
			return;
		}
		w->buf = nb;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

/* Writes the comma that separates this value from the previous one. */
static void jw_before_value(struct jw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->count[w->depth]++ > 0)
		jw_put(w, ",", 1);
}

static void jw_begin(struct jw *w, const char *c)
{
	jw_before_value(w);
	jw_put(w, c, 1);
	if (w->depth + 1 < JW_MAX_DEPTH)
		w->depth++;
	else
		w->failed = 1;
	w->count[w->depth] = 0;
}

static void jw_end(struct jw *w, const char *c)
{
	jw_put(w, c, 1);
	if (w->depth > 0)
		w->depth--;
}

void jw_object_begin(struct jw *w)
{
	jw_begin(w, "{");
}

void jw_object_end(struct jw *w)
{
	jw_end(w, "}");
}

void jw_array_begin(struct jw *w)
{
	jw_begin(w, "[");
}

void jw_array_end(struct jw *w)
{
	jw_end(w, "]");
}

/* Writes the escapes only cjson uses; returns 0 for the common ones. */
static int jw_escaped_cjson(struct jw *w, unsigned char c)
{
	switch (c) {
	case '/':
		jw_put(w, "\\/", 2);
		return 1;
	case '\b':
		jw_put(w, "\\b", 2);
		return 1;
	case '\f':
		jw_put(w, "\\f", 2);
		return 1;
	default:
		return 0; /* DEL falls through to \u007f */
	}
}

static void jw_escaped(struct jw *w, const char *s, size_t len)
{
	size_t start = 0;

	jw_put(w, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c >= 0x20 && c != '"' && c != '\\' &&
		    (w->escape != JW_ESCAPE_CJSON || (c != '/' && c != 0x7f)))
			continue;
		jw_put(w, s + start, i - start);
		if (w->escape == JW_ESCAPE_CJSON && jw_escaped_cjson(w, c)) {
			start = i + 1;
			continue;
		}
		switch (c) {
		case '"':
			jw_put(w, "\\\"", 2);
			break;
		case '\\':
			jw_put(w, "\\\\", 2);
			break;
		case '\n':
			jw_put(w, "\\n", 2);
			break;
		case '\r':
			jw_put(w, "\\r", 2);
			break;
		case '\t':
			jw_put(w, "\\t", 2);
			break;
		default:
			snprintf(esc, sizeof esc, "\\u%04x", c);
			jw_put(w, esc, 6);
		}
		start = i + 1;
	}
	jw_put(w, s + start, len - start);
	jw_put(w, "\"", 1);
}

void jw_key(struct jw *w, const char *key)
{
	jw_before_value(w);
	jw_escaped(w, key, strlen(key));
	jw_put(w, ":", 1);
	w->after_key = 1;
}

void jw_string_n(struct jw *w, const char *s, size_t len)
{
	if (s == NULL) {
		jw_null(w);
		return;
	}
	jw_before_value(w);
	jw_escaped(w, s, len);
}

void jw_string(struct jw *w, const char *s)
{
	jw_string_n(w, s, s ? strlen(s) : 0);
}

void jw_int(struct jw *w, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof num, "%lld", (long long)v);

	jw_before_value(w);
	jw_put(w, num, (size_t)n);
}

void jw_time_ms(struct jw *w, int64_t ms)
{
	char ts[UTIL_TIME_BUF];

	util_format_time_ms(ms, ts, sizeof ts);
	jw_string(w, ts);
}

void jw_bool(struct jw *w, int v)
{
	jw_before_value(w);
	jw_put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(struct jw *w)
{
	jw_before_value(w);
	jw_put(w, "null", 4);
}

void jw_set_escape(struct jw *w, enum jw_escape e)
{
	w->escape = e;
}

void jw_text(struct jw *w, const char *text, size_t len)
{
	jw_put(w, text, len);
}

void jw_raw(struct jw *w, const char *json, size_t len)
{
	jw_before_value(w);
	jw_put(w, json, len);
}

const char *json_lib_version(void)
{
	return json_c_version();
}
