/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fcgi_loop.h - the event-loop transport (heartbeat.fcgi --event-loop):
 * many FastCGI connections per process on epoll, spoken by fcgi_proto.c,
 * each request's handler run as a coroutine so that the Redis commands of
 * concurrent requests go to Redis together, one pipeline per wake-up.
 */
#ifndef HB_FCGI_LOOP_H
#define HB_FCGI_LOOP_H

#include "app.h"

/* The most FastCGI connections one process serves at once. */
#define FCGI_LOOP_CONN_MAX 4096

/*
 * Serves FastCGI connections accepted on listen_fd (made non-blocking) until
 * a stop signal (process_install_signals); then accepts no more, finishes the
 * requests in hand, writes their answers and returns. Returns 0 after a
 * clean stop, -1 when the loop cannot be set up.
 */
int fcgi_loop_serve(struct app *app, int listen_fd);

#endif
