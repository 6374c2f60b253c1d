/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * json.h - request bodies in (parsed with json-c, the only module that
 * includes it) and response bodies out (a small writer with escaping).
 */
#ifndef HB_JSON_H
#define HB_JSON_H

#include <stddef.h>
#include <stdint.h>

/* How deep a body may nest. */
#define JSON_MAX_DEPTH 32
/* The longest string field accepted (ids, user ids, tokens). */
#define JSON_STRING_MAX 128

/* ---- Bodies in ---------------------------------------------------------- */

struct json_body;

enum json_field {
	JSON_FIELD_OK,
	JSON_FIELD_MISSING,
	JSON_FIELD_NULL,
	JSON_FIELD_WRONG_TYPE,
	JSON_FIELD_BAD_VALUE /* too long, empty, out of range */
};

/*
 * Parses len bytes as exactly one JSON object: valid UTF-8, no NUL byte, at
 * most JSON_MAX_DEPTH deep, nothing but white space after it. On success
 * returns 0 and sets *out (caller owns; free with json_body_free). Otherwise
 * returns -1 and writes a client-safe reason into err.
 */
int json_body_parse(const char *buf, size_t len, struct json_body **out,
		    char *err, size_t errlen);

/* Frees a body. Accepts NULL. */
void json_body_free(struct json_body *b);

/*
 * A string field of 1..JSON_STRING_MAX bytes. On JSON_FIELD_OK *out points
 * into the body (borrowed until json_body_free) and *len is its length.
 */
enum json_field json_body_string(const struct json_body *b, const char *name,
				 const char **out, size_t *len);

/*
 * An integer field in [min, max]. json-c reads integers below INT64_MIN as
 * INT64_MIN: callers that care give a larger min.
 */
enum json_field json_body_int(const struct json_body *b, const char *name,
			      int64_t min, int64_t max, int64_t *out);

/*
 * An object field, serialised compactly into *out (borrowed until
 * json_body_free), at most maxlen bytes.
 */
enum json_field json_body_object_text(const struct json_body *b,
				      const char *name, size_t maxlen,
				      const char **out, size_t *len);

/* ---- Bodies out -----------------------------------------------------------
 */

/* The deepest nesting the writer tracks. */
#define JW_MAX_DEPTH 8

/*
 * How strings are escaped. JW_ESCAPE_MINIMAL escapes what JSON requires:
 * '"', '\\' and control characters (\n, \r, \t, the others as \u00XX).
 * JW_ESCAPE_CJSON writes the bytes Redis's Lua cjson writes: also '/' as \/,
 * DEL as \u007f, and \b and \f. The device-session API's bodies were first
 * rendered by cjson and keep its bytes.
 */
enum jw_escape { JW_ESCAPE_MINIMAL, JW_ESCAPE_CJSON };

struct jw {
	char *buf;
	size_t len, cap;
	enum jw_escape escape; /* JW_ESCAPE_MINIMAL unless set */
	int failed; /* set when memory ran out; the text is then unusable */
	int depth;
	int count[JW_MAX_DEPTH]; /* values written at each depth */
	int after_key;
};

/* Starts an empty writer. */
void jw_init(struct jw *w);
/* Frees the writer's buffer. */
void jw_free(struct jw *w);
/* Empties the writer, keeping its buffer; escaping is minimal again. */
void jw_reset(struct jw *w);
/* Sets how the strings written from now on are escaped. */
void jw_set_escape(struct jw *w, enum jw_escape e);

void jw_object_begin(struct jw *w);
void jw_object_end(struct jw *w);
void jw_array_begin(struct jw *w);
void jw_array_end(struct jw *w);
/* Writes an object key; the next call writes its value. */
void jw_key(struct jw *w, const char *key);
/* Writes a string, escaped; NULL writes null. */
void jw_string(struct jw *w, const char *s);
void jw_string_n(struct jw *w, const char *s, size_t len);
void jw_int(struct jw *w, int64_t v);
void jw_bool(struct jw *w, int v);
/* Writes ms since the epoch as an RFC 3339 string with milliseconds. */
void jw_time_ms(struct jw *w, int64_t ms);
void jw_null(struct jw *w);
/* Appends raw, already valid JSON text as a value. */
void jw_raw(struct jw *w, const char *json, size_t len);
/* Appends text outside any JSON structure (for non-JSON bodies). */
void jw_text(struct jw *w, const char *text, size_t len);

/*
 * The version of json-c linked in, as the library reports it at run time.
 * Static storage.
 */
const char *json_lib_version(void);

#endif
