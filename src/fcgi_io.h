/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fcgi_io.h - the transport of libfcgi (FastCGI on fd 0, as mod_fcgid,
 * lighttpd's bin-path and spawn-fcgi hand it over, or on a socket of our
 * own) and of plain CGI. Signals and the socket are process.h's.
 */
#ifndef HB_FCGI_IO_H
#define HB_FCGI_IO_H

#include "app.h"

/* Whether fd 0 is not a FastCGI listener, so this is a CGI run. */
int fcgi_is_cgi(void);

/*
 * Serves FastCGI requests on listen_fd one at a time until stopped
 * (process_stopping; the caller installed the signals). Returns
 * 0 after a clean stop, -1 on an accept failure.
 */
int fcgi_serve(struct app *app, int listen_fd);

/* Serves the one CGI request of this process. Returns 0, or -1. */
int cgi_serve_one(struct app *app);

#endif
