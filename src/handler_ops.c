/*
 * handler_ops.c - operations endpoints.
 */
#include <stdio.h>

#include "app.h"

void handle_healthz(struct call *c)
{
	const char *argv[1] = {"PING"};
	struct store_reply *r = NULL;
	enum store_result res = store_command(c->app->store, 1, argv, NULL, &r);
	struct jw *w = &c->resp->body;

	store_reply_free(r);
	jw_reset(w);
	jw_object_begin(w);
	jw_key(w, "status");
	if (res == STORE_OK) {
		jw_string(w, "ok");
	} else {
		char secs[24];
		snprintf(secs, sizeof secs, "%lld",
			 (long long)c->app->cfg->retry_after_sec);
		http_response_status(c->resp, HB_SERVICE_UNAVAILABLE);
		http_response_header(c->resp, "Retry-After", secs);
		jw_string(w, "unavailable");
	}
	jw_object_end(w);
}
