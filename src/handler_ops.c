/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handler_ops.c - operations endpoints.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "cidr.h"
#include "metrics.h"
#include "version.h"

/*
 * 200 while the Redis the store routes to answers ROLE as a master; 503
 * with Retry-After when it is unreachable or not a master (it would refuse
 * writes). The body names the mode (standalone, sentinel, cluster) and the
 * role seen, and the release this worker runs.
 */
void handle_healthz(struct call *c)
{
	const char *argv[1] = {"ROLE"};
	struct store_reply *r = NULL;
	enum store_result res =
	    store_command(c->app->store, 0, 1, argv, NULL, &r);
	struct jw *w = &c->resp->body;
	const char *role = NULL;
	size_t len = 0;
	const char *s = store_reply_str(store_reply_at(r, 0), &len);

	if (res == STORE_OK && s != NULL)
		role = len == 6 && memcmp(s, "master", 6) == 0	? "master"
		       : len == 5 && memcmp(s, "slave", 5) == 0 ? "replica"
								: "other";
	store_reply_free(r);
	jw_reset(w);
	jw_object_begin(w);
	jw_key(w, "status");
	if (role != NULL && strcmp(role, "master") == 0) {
		jw_string(w, "ok");
	} else {
		char secs[24];
		snprintf(secs, sizeof secs, "%lld",
			 (long long)c->app->cfg->retry_after_sec);
		http_response_status(c->resp, HB_SERVICE_UNAVAILABLE);
		http_response_header(c->resp, "Retry-After", secs);
		jw_string(w, "unavailable");
	}
	jw_key(w, "redis");
	jw_object_begin(w);
	jw_key(w, "mode");
	jw_string(w, store_mode(c->app->store));
	jw_key(w, "role");
	jw_string(w, role); /* NULL: null */
	jw_object_end(w);
	jw_key(w, "version");
	jw_string(w, version_release());
	jw_object_end(w);
}

/* Appends one formatted line to the metrics text. */
static void ops_printf(struct jw *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ops_printf(struct jw *w, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0)
		jw_text(w, line,
			(size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* The counters of this host's workers, from the shared mapping. */
static void ops_local_metrics(struct jw *w)
{
	static const int64_t bounds[] = METRICS_LATENCY_BUCKETS_MS;
	static const char *const names[METRICS_COUNTER_COUNT][2] = {
	    {"heartbeat_redis_errors_total",
	     "Redis calls that failed (unreachable, timed out or error)."},
	    {"heartbeat_redis_reconnects_total",
	     "Redis connections made again after a failure."},
	    {"heartbeat_scripts_reloaded_total",
	     "Scripts loaded again after a NOSCRIPT reply."},
	    {"heartbeat_sweeps_total", "Opportunistic expiry sweeps run."},
	    {"heartbeat_sweep_settled_total",
	     "Sessions settled by opportunistic sweeps."},
	    {"heartbeat_redis_moved_total",
	     "Redis Cluster MOVED redirects followed (the slot changed "
	     "master)."},
	    {"heartbeat_redis_ask_total",
	     "Redis Cluster ASK redirects followed (the slot was being "
	     "migrated)."},
	};
	struct metrics_snapshot *m = malloc(sizeof *m);
	uint64_t cumulative = 0;

	if (m == NULL)
		return;
	metrics_snapshot(m);
	ops_printf(w,
		   "# HELP heartbeat_build_info The release and git revision "
		   "of this worker; always 1.\n"
		   "# TYPE heartbeat_build_info gauge\n"
		   "heartbeat_build_info{version=\"%s\",revision=\"%s\"} 1\n",
		   version_release(), version_revision());
	ops_printf(w, "# HELP heartbeat_requests_total Requests answered, by "
		      "route and status.\n"
		      "# TYPE heartbeat_requests_total counter\n");
	for (int r = 0; r < METRICS_ROUTES; r++) {
		const char *method = "", *path = "other";

		if (app_route_info(r, &method, &path) != 0 &&
		    r != METRICS_ROUTES - 1)
			continue;
		if (r == METRICS_ROUTES - 1) {
			method = "";
			path = "other";
		}
		for (int s = 0; s < HB_STATUS_COUNT; s++) {
			if (m->requests[r][s] == 0)
				continue;
			ops_printf(w,
				   "heartbeat_requests_total{method=\"%s\","
				   "route=\"%s\",status=\"%d\",code=\"%s\"} "
				   "%llu\n",
				   method, path,
				   hb_status_http((enum hb_status)s),
				   hb_status_code((enum hb_status)s),
				   (unsigned long long)m->requests[r][s]);
		}
	}
	ops_printf(w, "# HELP heartbeat_request_duration_seconds Time from "
		      "reading a request to answering it.\n"
		      "# TYPE heartbeat_request_duration_seconds histogram\n");
	for (int b = 0; b < METRICS_LATENCY_BUCKETS; b++) {
		cumulative += m->latency[b];
		ops_printf(
		    w,
		    "heartbeat_request_duration_seconds_bucket{le=\"%g\"}"
		    " %llu\n",
		    (double)bounds[b] / 1000.0, (unsigned long long)cumulative);
	}
	ops_printf(w,
		   "heartbeat_request_duration_seconds_bucket{le=\"+Inf\"} "
		   "%llu\n"
		   "heartbeat_request_duration_seconds_sum %.3f\n"
		   "heartbeat_request_duration_seconds_count %llu\n",
		   (unsigned long long)m->latency_count,
		   (double)m->latency_sum_ms / 1000.0,
		   (unsigned long long)m->latency_count);
	for (int i = 0; i < METRICS_COUNTER_COUNT; i++)
		ops_printf(w, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
			   names[i][0], names[i][1], names[i][0], names[i][0],
			   (unsigned long long)m->counters[i]);
	free(m);
}

/* The most reasons of ending /metrics sums over shards. */
#define OPS_REASONS_MAX 16

/* The figures kept in Redis, summed over the shards. */
struct ops_sums {
	unsigned long long live;
	double lag;
	unsigned long long started;
	int nreasons;
	char reason[OPS_REASONS_MAX][32];
	unsigned long long ended[OPS_REASONS_MAX];
};

/* Adds the reply r of metrics.lua on one shard to sum. */
static void ops_add_shard(struct ops_sums *sum, const struct store_reply *r)
{
	const struct store_reply *stats = store_reply_at(r, 4);
	long long now = store_reply_int(store_reply_at(r, 3));
	long long live = store_reply_int(store_reply_at(r, 1));
	size_t olen;
	const char *oldest = store_reply_str(store_reply_at(r, 2), &olen);

	/* A count from ZCARD; summed unsigned, so no reply can overflow it. */
	if (live > 0)
		sum->live += (unsigned long long)live;
	if (oldest != NULL) {
		double due = strtod(oldest, NULL);

		if (now > due && ((double)now - due) / 1000.0 > sum->lag)
			sum->lag = ((double)now - due) / 1000.0;
	}
	for (size_t i = 0; i + 1 < store_reply_count(stats); i += 2) {
		char field[64], value[32];
		unsigned long long v;
		int k;

		call_reply_str(stats, i, field, sizeof field);
		call_reply_str(stats, i + 1, value, sizeof value);
		v = strtoull(value, NULL, 10);
		if (strcmp(field, "started") == 0) {
			sum->started += v;
			continue;
		}
		if (strncmp(field, "ended:", 6) != 0 ||
		    strlen(field + 6) >= sizeof sum->reason[0])
			continue;
		for (k = 0; k < sum->nreasons; k++)
			if (strcmp(sum->reason[k], field + 6) == 0)
				break;
		if (k == sum->nreasons) {
			if (k == OPS_REASONS_MAX)
				continue;
			snprintf(sum->reason[k], sizeof sum->reason[k], "%s",
				 field + 6);
			sum->nreasons++;
		}
		sum->ended[k] += v;
	}
}

/*
 * The figures kept in Redis: live sessions, sweep lag, starts and ends,
 * summed over every shard; none unless every shard answered.
 */
static void ops_store_metrics(struct call *c, struct jw *w)
{
	struct store *st = c->app->store;
	struct ops_sums *sum = calloc(1, sizeof *sum);
	int up = sum != NULL, paused = 0;

	for (int i = 0; up && i < store_shards(st); i++) {
		struct store_reply *r = NULL;

		if (store_script(st, i, SCRIPT_METRICS, 0, NULL, NULL, &r) ==
		    STORE_OK) {
			ops_add_shard(sum, r);
		} else {
			up = 0;
			paused = store_paused(st);
		}
		store_reply_free(r);
	}
	ops_printf(w,
		   "# HELP heartbeat_redis_up Whether Redis answered this "
		   "scrape.\n# TYPE heartbeat_redis_up gauge\n"
		   "heartbeat_redis_up %d\n",
		   up || paused);
	ops_printf(w,
		   "# HELP heartbeat_paused Whether the service is paused "
		   "(heartbeatctl pause).\n# TYPE heartbeat_paused gauge\n"
		   "heartbeat_paused %d\n",
		   paused);
	if (up) {
		ops_printf(w,
			   "# HELP heartbeat_live_game_sessions Game sessions "
			   "not yet ended.\n"
			   "# TYPE heartbeat_live_game_sessions gauge\n"
			   "heartbeat_live_game_sessions %llu\n"
			   "# HELP heartbeat_sweep_lag_seconds How long the "
			   "most overdue session has waited to be settled.\n"
			   "# TYPE heartbeat_sweep_lag_seconds gauge\n"
			   "heartbeat_sweep_lag_seconds %.3f\n",
			   sum->live, sum->lag);
		ops_printf(w,
			   "# HELP heartbeat_game_sessions_started_total "
			   "Game sessions started.\n"
			   "# TYPE heartbeat_game_sessions_started_total "
			   "counter\nheartbeat_game_sessions_started_total "
			   "%llu\n",
			   sum->started);
		ops_printf(w, "# HELP heartbeat_game_sessions_ended_total Game "
			      "sessions settled, by reason.\n"
			      "# TYPE heartbeat_game_sessions_ended_total "
			      "counter\n");
		for (int k = 0; k < sum->nreasons; k++)
			ops_printf(w,
				   "heartbeat_game_sessions_ended_total"
				   "{reason=\"%s\"} %llu\n",
				   sum->reason[k], sum->ended[k]);
	}
	free(sum);
}

void handle_metrics(struct call *c)
{
	struct jw *w = &c->resp->body;

	if (!cidr_list_contains(&c->app->cfg->metrics_from,
				c->req->client_addr)) {
		call_error(c, HB_NOT_FOUND, NULL);
		return;
	}
	jw_reset(w);
	c->resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	ops_local_metrics(w);
	ops_store_metrics(c, w);
}
