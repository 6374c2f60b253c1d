/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fcgi_io.h - the transport: FastCGI through libfcgi (on fd 0 or a socket of
 * our own) and plain CGI, and the signals that stop a worker cleanly.
 */
#ifndef HB_FCGI_IO_H
#define HB_FCGI_IO_H

#include "app.h"

/* Installs SIGTERM/SIGINT (finish the request in hand, then stop) and
 * ignores SIGPIPE. */
void fcgi_install_signals(void);

/* Whether a stop was asked for. */
int fcgi_stopping(void);

/* Whether fd 0 is not a FastCGI listener, so this is a CGI run. */
int fcgi_is_cgi(void);

/*
 * Opens a listening socket from "unix:PATH" (mode 0666) or "tcp:HOST:PORT".
 * Returns the descriptor, or -1 with a message on stderr.
 */
int fcgi_open_socket(const char *spec);

/*
 * Serves FastCGI requests on listen_fd one at a time until stopped. Returns
 * 0 after a clean stop, -1 on an accept failure.
 */
int fcgi_serve(struct app *app, int listen_fd);

/* Serves the one CGI request of this process. Returns 0, or -1. */
int cgi_serve_one(struct app *app);

#endif
