/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * app.c - the route table and the life of one request.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

/* Which body shape a route answers in. */
enum route_api { API_PLAYWAVE, API_FLASHBACK };

struct route {
	const char *method;
	/* Segments separated by '/'; a '*' segment matches one id. */
	const char *path;
	handler_fn handler;
	enum route_api api;
};

/* One row per endpoint; a path may appear once per method. */
static const struct route routes[] = {
    {"POST", "/v1/game/session/verify", handle_game_verify, API_PLAYWAVE},
    {"PATCH", "/v1/game/session/heartbeat", handle_game_heartbeat,
     API_PLAYWAVE},
    {"POST", "/v1/game/session/check", handle_game_check, API_PLAYWAVE},
    {"DELETE", "/v1/game/session/end", handle_game_end, API_PLAYWAVE},
    {"POST", "/v1/launcher/session", handle_launcher_start, API_PLAYWAVE},
    {"DELETE", "/v1/launcher/session", handle_launcher_end, API_PLAYWAVE},
    {"PATCH", "/v1/launcher/heartbeat", handle_launcher_heartbeat,
     API_PLAYWAVE},
    {"POST", "/v1/launcher/ott", handle_launcher_ott, API_PLAYWAVE},
    {"GET", "/healthz", handle_healthz, API_PLAYWAVE},
    {"GET", "/metrics", handle_metrics, API_PLAYWAVE},
    {"POST", "/sessions", handle_device_session_create, API_FLASHBACK},
    {"GET", "/sessions", handle_device_session_list, API_FLASHBACK},
    {"POST", "/sessions/revoke-all", handle_device_session_revoke_all,
     API_FLASHBACK},
    {"POST", "/sessions/*/heartbeat", handle_device_session_heartbeat,
     API_FLASHBACK},
    {"POST", "/sessions/*/revoke", handle_device_session_revoke, API_FLASHBACK},
    {"GET", "/devices", handle_device_list, API_FLASHBACK},
    {"POST", "/devices/trust", handle_device_trust, API_FLASHBACK},
    {"GET", "/devices/*", handle_device_get, API_FLASHBACK},
    {"DELETE", "/devices/*", handle_device_delete, API_FLASHBACK},
    {"POST", "/devices/*/untrust", handle_device_untrust, API_FLASHBACK},
};

#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

/*
 * Whether path matches pattern. A '*' segment matches one non-empty segment
 * and is copied into id (which holds HTTP_PATH_MAX bytes).
 */
static int app_path_match(const char *pattern, const char *path, char *id)
{
	while (*pattern != '\0' && *path != '\0') {
		if (pattern[0] == '*' &&
		    (pattern[1] == '/' || pattern[1] == '\0')) {
			size_t n = strcspn(path, "/");
			if (n == 0)
				return 0;
			memcpy(id, path, n);
			id[n] = '\0';
			path += n;
			pattern++;
			continue;
		}
		if (*pattern != *path)
			return 0;
		pattern++;
		path++;
	}
	return *pattern == '\0' && *path == '\0';
}

int app_route_info(int i, const char **method, const char **path)
{
	if (i < 0 || (size_t)i >= ROUTE_COUNT)
		return -1;
	*method = routes[i].method;
	*path = routes[i].path;
	return 0;
}

int app_init(struct app *app, const struct config *cfg)
{
	memset(app, 0, sizeof *app);
	app->cfg = cfg;
	app->store = store_new(cfg);
	return app->store ? 0 : -1;
}

void app_free(struct app *app)
{
	store_free(app->store);
	app->store = NULL;
}

/*
 * Finds the handler for the request. Answers 404 or 405 (with Allow) itself
 * and returns NULL when there is none.
 */
static handler_fn app_route(struct call *c)
{
	char allow[128] = "";
	size_t alen = 0;
	const char *method = c->req->method;

	if (!c->req->path_too_long) {
		for (size_t i = 0; i < ROUTE_COUNT; i++) {
			if (!app_path_match(routes[i].path, c->req->path,
					    c->path_id))
				continue;
			c->flashback = routes[i].api == API_FLASHBACK;
			if (strcmp(routes[i].method, method) == 0 ||
			    (strcmp(method, "HEAD") == 0 &&
			     strcmp(routes[i].method, "GET") == 0)) {
				c->route = (int)i;
				return routes[i].handler;
			}
			alen += (size_t)snprintf(
			    allow + alen, sizeof allow - alen, "%s%s",
			    alen ? ", " : "", routes[i].method);
		}
	}
	if (alen > 0) {
		http_response_header(c->resp, "Allow", allow);
		call_error(c, HB_METHOD_NOT_ALLOWED, NULL);
	} else {
		call_error(c, HB_NOT_FOUND, NULL);
	}
	return NULL;
}

int app_handle(struct app *app, const struct transport *t)
{
	struct http_request req;
	struct http_response resp;
	struct call c;
	handler_fn handler;
	int64_t started = util_now_ms();
	int rc;

	http_request_init(&req, t, app->cfg);
	http_response_init(&resp);
	c.app = app;
	c.req = &req;
	c.resp = &resp;
	c.body = NULL;
	c.flashback = 0;
	c.retry_after = 0;
	c.paused = 0;
	c.route = -1;
	c.shard = 0;
	c.path_id[0] = '\0';

	handler = app_route(&c);
	if (handler != NULL)
		handler(&c);
	if (resp.body.failed) {
		jw_free(&resp.body);
		call_error(&c, HB_INTERNAL_ERROR, NULL);
	}
	if (strcmp(req.method, "HEAD") == 0)
		resp.body.len = 0;
	rc = http_response_send(&req, &resp);
	metrics_request(c.route, resp.st, util_now_ms() - started);
	/* A planned pause is no failure: its 503s are logged as debug. */
	if ((resp.status >= 500 && !c.paused) || log_enabled(LOG_DEBUG))
		log_line(resp.status >= 500 && !c.paused ? LOG_WARN : LOG_DEBUG,
			 "event=request rid=%s method=%s path=\"%.128s\" "
			 "status=%d ms=%lld",
			 req.request_id, req.method, req.path, resp.status,
			 (long long)(util_now_ms() - started));
	json_body_free(c.body);
	http_response_free(&resp);
	http_request_free(&req);
	return rc;
}

void app_maybe_sweep(struct app *app)
{
	const struct config *cfg = app->cfg;
	int64_t now = util_now_ms();
	char batch[24];
	const char *argv[1] = {batch};

	if (cfg->sweep_interval_sec == 0 ||
	    now - app->last_sweep_ms < cfg->sweep_interval_sec * 1000)
		return;
	app->last_sweep_ms = now;
	snprintf(batch, sizeof batch, "%lld", (long long)cfg->sweep_batch);
	/* Every shard keeps its own deadline index. */
	for (int i = 0; i < store_shards(app->store); i++) {
		struct store_reply *r = NULL;
		long long settled;

		if (store_script(app->store, i, SCRIPT_SWEEP, 1, argv, NULL,
				 &r) != STORE_OK) {
			log_line(LOG_WARN,
				 "event=sweep_failed shard=%d err=\"%s\"", i,
				 store_last_error(app->store));
			continue;
		}
		settled = store_reply_int(store_reply_at(r, 1));
		metrics_add(METRICS_SWEEPS, 1);
		metrics_add(METRICS_SWEEP_SETTLED, (uint64_t)settled);
		if (settled > 0)
			log_line(LOG_INFO, "event=sweep shard=%d settled=%lld",
				 i, settled);
		store_reply_free(r);
	}
}
