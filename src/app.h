/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * app.h - the application: routes one request to its handler, which checks
 * the input, runs one script in the store and renders the answer.
 */
#ifndef HB_APP_H
#define HB_APP_H

#include <stdint.h>

#include "config.h"
#include "http.h"
#include "json.h"
#include "store.h"

struct app {
	const struct config *cfg; /* borrowed */
	struct store *store;	  /* owned */
	int64_t last_sweep_ms;
};

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
	char path_id[HTTP_PATH_MAX]; /* the path segment matched by '*' */
};

typedef void (*handler_fn)(struct call *c);

/* Sets up the application for cfg (borrowed). Returns 0, or -1. */
int app_init(struct app *app, const struct config *cfg);
/*
 * The method and path pattern of route i. Returns 0, or -1 past the last
 * route.
 */
int app_route_info(int i, const char **method, const char **path);

/* Frees what app_init made. */
void app_free(struct app *app);

/*
 * Serves the one request offered by t: reads it, answers it, and frees all
 * per-request memory. Returns 0, or -1 when the answer could not be written.
 */
int app_handle(struct app *app, const struct transport *t);

/*
 * Runs the opportunistic expiry sweep when one is due. Called after the
 * answer has been written, so no client waits for it.
 */
void app_maybe_sweep(struct app *app);

/* ---- Helpers shared by the handlers (call.c) ---------------------------- */

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
 * Runs a script and checks its status word. On "OK" returns 0 with *out set
 * (caller frees). Otherwise answers the error (503 when the store is down, the
 * script's code, or 500) and returns -1.
 */
int call_script(struct call *c, enum script_id id, int argc,
		const char *const *argv, const size_t *lens,
		struct store_reply **out);

/* The string at index i of a reply as a NUL-terminated copy in buf. */
const char *call_reply_str(const struct store_reply *r, size_t i, char *buf,
			   size_t size);

/* ---- Handlers -------------------------------------------------------------
 */

void handle_game_verify(struct call *c);
void handle_game_heartbeat(struct call *c);
void handle_game_check(struct call *c);
void handle_game_end(struct call *c);
void handle_launcher_start(struct call *c);
void handle_launcher_heartbeat(struct call *c);
void handle_launcher_ott(struct call *c);
void handle_launcher_end(struct call *c);
void handle_healthz(struct call *c);
void handle_metrics(struct call *c);
void handle_device_session_create(struct call *c);
void handle_device_session_list(struct call *c);
void handle_device_session_heartbeat(struct call *c);
void handle_device_session_revoke(struct call *c);
void handle_device_session_revoke_all(struct call *c);
void handle_device_list(struct call *c);
void handle_device_get(struct call *c);
void handle_device_trust(struct call *c);
void handle_device_untrust(struct call *c);
void handle_device_delete(struct call *c);

#endif
