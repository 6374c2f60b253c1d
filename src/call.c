/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * call.c - what every handler needs: envelopes, body parsing, script calls.
 */
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "log.h"
#include "shard.h"
#include "util.h"

/* The longest error message sent. */
#define CALL_MESSAGE_MAX 256

void call_error(struct call *c, enum hb_status st, const char *msg)
{
	struct jw *w = &c->resp->body;
	char ts[UTIL_TIME_BUF];

	jw_reset(w);
	http_response_status(c->resp, st);
	if (st == HB_SERVICE_UNAVAILABLE || st == HB_RATE_LIMITED) {
		char secs[24];
		snprintf(secs, sizeof secs, "%lld",
			 (long long)(c->retry_after > 0
					 ? c->retry_after
					 : c->app->cfg->retry_after_sec));
		http_response_header(c->resp, "Retry-After", secs);
	}
	if (c->flashback) {
		if (st == HB_UNAUTHORIZED)
			http_response_header(c->resp, "WWW-Authenticate",
					     "Bearer");
		jw_object_begin(w);
		jw_key(w, "success");
		jw_bool(w, 0);
		jw_key(w, "error");
		jw_string(w, msg ? msg : hb_status_message(st));
		jw_key(w, "error_code");
		jw_string(w, hb_status_code(st));
		jw_object_end(w);
		return;
	}
	util_format_time_ms(util_now_ms(), ts, sizeof ts);
	jw_object_begin(w);
	jw_key(w, "success");
	jw_bool(w, 0);
	jw_key(w, "request_id");
	jw_string(w, c->req->request_id);
	jw_key(w, "error");
	jw_object_begin(w);
	jw_key(w, "code");
	jw_string(w, hb_status_code(st));
	jw_key(w, "message");
	jw_string(w, msg ? msg : hb_status_message(st));
	jw_key(w, "timestamp");
	jw_string(w, ts);
	jw_object_end(w);
	jw_object_end(w);
}

void call_data_begin(struct call *c)
{
	struct jw *w = &c->resp->body;

	jw_reset(w);
	http_response_status(c->resp, HB_OK);
	jw_object_begin(w);
	jw_key(w, "success");
	jw_bool(w, 1);
	jw_key(w, "request_id");
	jw_string(w, c->req->request_id);
	jw_key(w, "data");
	jw_object_begin(w);
}

void call_data_end(struct call *c)
{
	jw_object_end(&c->resp->body);
	jw_object_end(&c->resp->body);
}

int call_read_body(struct call *c, int optional)
{
	char err[CALL_MESSAGE_MAX];
	enum hb_status st = http_read_body(c->req);

	if (st != HB_OK) {
		call_error(c, st,
			   st == HB_BAD_REQUEST
			       ? "the body is shorter than its Content-Length"
			       : NULL);
		return -1;
	}
	if (c->req->body_len == 0 && optional) {
		static const char empty[] = "{}";
		if (json_body_parse(empty, 2, &c->body, err, sizeof err) != 0) {
			call_error(c, HB_INTERNAL_ERROR, NULL);
			return -1;
		}
		return 0;
	}
	if (c->req->body_len == 0) {
		call_error(c, HB_BAD_REQUEST, "a JSON object body is required");
		return -1;
	}
	if (json_body_parse(c->req->body, c->req->body_len, &c->body, err,
			    sizeof err) != 0) {
		call_error(c, HB_BAD_REQUEST, err);
		return -1;
	}
	return 0;
}

int call_string_field(struct call *c, const char *name, const char **out,
		      size_t *len)
{
	char msg[CALL_MESSAGE_MAX];

	switch (json_body_string(c->body, name, out, len)) {
	case JSON_FIELD_OK:
		return 0;
	case JSON_FIELD_MISSING:
		snprintf(msg, sizeof msg, "%s is required", name);
		break;
	case JSON_FIELD_BAD_VALUE:
		snprintf(msg, sizeof msg, "%s must be 1 to %d bytes", name,
			 JSON_STRING_MAX);
		break;
	default:
		snprintf(msg, sizeof msg, "%s must be a string", name);
		break;
	}
	call_error(c, HB_BAD_REQUEST, msg);
	return -1;
}

int call_object_field(struct call *c, const char *name, size_t maxlen,
		      const char **out, size_t *len)
{
	char msg[CALL_MESSAGE_MAX];

	switch (json_body_object_text(c->body, name, maxlen, out, len)) {
	case JSON_FIELD_OK:
		return 0;
	case JSON_FIELD_MISSING:
	case JSON_FIELD_NULL:
		*out = "{}";
		*len = 2;
		return 0;
	case JSON_FIELD_WRONG_TYPE:
		snprintf(msg, sizeof msg, "%s must be an object", name);
		break;
	default:
		snprintf(msg, sizeof msg, "%s is too large", name);
		break;
	}
	call_error(c, HB_BAD_REQUEST, msg);
	return -1;
}

const char *call_reply_str(const struct store_reply *r, size_t i, char *buf,
			   size_t size)
{
	size_t len;
	const char *s = store_reply_str(store_reply_at(r, i), &len);

	if (s == NULL || size == 0) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	if (len >= size)
		len = size - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return buf;
}

void call_route_id(struct call *c, const char *prefix, const char *id,
		   size_t len)
{
	size_t plen = strlen(prefix);

	c->shard = len >= plen && memcmp(id, prefix, plen) == 0
		       ? shard_of_id(c->app->cfg, id + plen, len - plen)
		       : 0;
}

int call_copy_home(const char *prefix, const char *id, size_t len, char *out)
{
	size_t plen = strlen(prefix);
	unsigned home;

	if (len < plen || memcmp(id, prefix, plen) != 0 ||
	    shard_id_home(id + plen, len - plen, &home) != 0)
		return -1;
	shard_put_home(home, out);
	return 0;
}

int call_script(struct call *c, enum script_id id, int argc,
		const char *const *argv, const size_t *lens,
		struct store_reply **out)
{
	struct store_reply *r = NULL;
	enum store_result res;
	const char *code;
	size_t len;
	enum hb_status st;

	*out = NULL;
	res = store_script(c->app->store, c->shard, id, argc, argv, lens, &r);
	if (res == STORE_UNAVAILABLE) {
		c->paused = store_paused(c->app->store);
		log_line(c->paused ? LOG_DEBUG : LOG_WARN,
			 "event=store_unavailable rid=%s script=%s err=\"%s\"",
			 c->req->request_id, script_defs[id].name,
			 store_last_error(c->app->store));
		call_error(c, HB_SERVICE_UNAVAILABLE, NULL);
		return -1;
	}
	if (res != STORE_OK) {
		log_line(LOG_ERROR,
			 "event=store_error rid=%s script=%s err=\"%s\"",
			 c->req->request_id, script_defs[id].name,
			 store_last_error(c->app->store));
		call_error(c, HB_INTERNAL_ERROR, NULL);
		return -1;
	}
	code = store_reply_str(store_reply_at(r, 0), &len);
	if ((code != NULL && len == 2 && memcmp(code, "OK", 2) == 0) ||
	    store_reply_type(r) == STORE_T_INT ||
	    store_reply_type(r) == STORE_T_STR) {
		*out = r;
		return 0;
	}
	if (code == NULL || hb_status_from_code(code, len, &st) != 0 ||
	    st == HB_OK) {
		log_line(LOG_ERROR,
			 "event=script_reply rid=%s script=%s "
			 "err=\"unexpected reply\"",
			 c->req->request_id, script_defs[id].name);
		st = HB_INTERNAL_ERROR;
	}
	{
		/* A script may give the client-facing message after the code.
		 */
		char msg[CALL_MESSAGE_MAX];
		call_reply_str(r, 1, msg, sizeof msg);
		if (st == HB_RATE_LIMITED)
			c->retry_after = store_reply_int(store_reply_at(r, 2));
		store_reply_free(r);
		call_error(c, st, msg[0] ? msg : NULL);
	}
	return -1;
}
