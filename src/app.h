/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * app.h - the application: routes one request to its handler (handlers.h),
 * which checks the input, runs one script in the store and renders the
 * answer with the helpers of call.h.
 */
#ifndef HB_APP_H
#define HB_APP_H

#include <stdint.h>

#include "config.h"
#include "http.h"
#include "store.h"

struct app {
	const struct config *cfg; /* borrowed */
	struct store *store;	  /* owned */
	int64_t last_sweep_ms;
};

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

#endif
