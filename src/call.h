/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * call.h - one request in hand, and the helpers every handler shares
 * (call.c): error answers, the data envelope, the body, script calls.
 */
#ifndef HB_CALL_H
#define HB_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "http.h"
#include "json.h"
#include "status.h"
#include "store.h"

/* One request in hand: what every handler works with. */
struct call {
	struct app *app;
	struct http_request *req;
	struct http_response *resp;
	struct json_body *body; /* parsed body, owned by the call, or NULL */
	int flashback;		/* answer in the device API's body shape */
	int64_t retry_after;	/* Retry-After of a 429/503, 0: configured */
	int paused;		/* a 503 because the service is paused */
	int route;		/* index of the matched route, -1: none */
	int shard;		/* the shard its scripts run on (shard.h) */
	char path_id[HTTP_PATH_MAX]; /* the path segment matched by '*' */
};

/*
 * Answers an error in the call's body shape: PlayWave's envelope, or the
 * device API's {"success":false,"error":...,"error_code":...}. msg NULL uses
 * the status's own message.
 */
void call_error(struct call *c, enum hb_status st, const char *msg);

/* Starts {"success":true,"request_id":...,"data":{ ; the handler fills it. */
void call_data_begin(struct call *c);
/* Closes what call_data_begin opened. */
void call_data_end(struct call *c);

/*
 * Reads and parses the JSON body into c->body. A missing body parses as an
 * empty object when optional is set. Answers the error and returns -1 on any
 * failure.
 */
int call_read_body(struct call *c, int optional);

/*
 * A required string field of c->body. Answers 400 naming the field and
 * returns -1 when it is missing, not a string, empty or too long.
 */
int call_string_field(struct call *c, const char *name, const char **out,
		      size_t *len);

/*
 * An optional object field of c->body, serialised compactly (borrowed until
 * the body is freed), at most maxlen bytes; "{}" when missing or null.
 * Answers 400 naming the field and returns -1 when it is not an object or
 * too large.
 */
int call_object_field(struct call *c, const char *name, size_t maxlen,
		      const char **out, size_t *len);

/*
 * Routes the call to the shard of an id it names (len bytes): the home the
 * id carries after prefix. An id without the prefix goes to shard 0.
 */
void call_route_id(struct call *c, const char *prefix, const char *id,
		   size_t len);

/*
 * Writes the home of the id at id (len bytes, after prefix) into a new id's
 * home digits at out, when it carries one. Returns 0, or -1 (out unchanged).
 */
int call_copy_home(const char *prefix, const char *id, size_t len, char *out);

/*
 * Runs a script on the call's shard and checks its status word. On "OK" (or
 * a bare integer or string, the heartbeats' answers) returns 0 with *out set
 * (caller frees). Otherwise answers the error (503 when the store is down, the
 * script's code, or 500) and returns -1.
 */
int call_script(struct call *c, enum script_id id, int argc,
		const char *const *argv, const size_t *lens,
		struct store_reply **out);

/* The string at index i of a reply as a NUL-terminated copy in buf. */
const char *call_reply_str(const struct store_reply *r, size_t i, char *buf,
			   size_t size);

#endif
