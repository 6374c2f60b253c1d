/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * process.h - the life of a worker process, shared by both FastCGI transports
 * (libfcgi's in fcgi_io.c, the event loop's in fcgi_loop.c): the stop
 * signals and the stop flag, the listening socket, and the pre-forked
 * children that a parent supervises.
 */
#ifndef HB_PROCESS_H
#define HB_PROCESS_H

/* How many connections may wait to be accepted on a socket of our own. */
#define PROCESS_BACKLOG 128
/* The most children one parent supervises. */
#define PROCESS_CHILDREN_MAX 256

/*
 * Installs the stop signals (SIGTERM, SIGINT, SIGUSR1: finish the request in
 * hand, then stop) without SA_RESTART, so that a blocked accept() returns to
 * see the stop, and ignores SIGPIPE.
 */
void process_install_signals(void);

/* Ignores SIGPIPE only (a CGI run, which has no stop to handle). */
void process_ignore_sigpipe(void);

/*
 * Also calls fn (async-signal-safe, or NULL for none) from the stop signals'
 * handler: libfcgi's FCGX_ShutdownPending, so that its accept returns.
 */
void process_on_stop(void (*fn)(void));

/* Whether a stop was asked for. */
int process_stopping(void);

/*
 * Opens a listening socket from "unix:PATH" (the path replaced, mode 0666)
 * or "tcp:HOST:PORT" (IPv4 or IPv6, "[::1]" in brackets; an empty HOST or
 * "*" is every IPv4 address), with PROCESS_BACKLOG. Returns the descriptor,
 * or -1 with a message on stderr.
 */
int process_open_socket(const char *spec);

/* Removes the socket file of a "unix:PATH" spec; other specs are left. */
void process_remove_socket(const char *spec);

/*
 * Runs n (1..PROCESS_CHILDREN_MAX) children, each with the stop signals
 * installed and then serve(arg), whose result is its exit status; restarts
 * any child that dies until a stop signal, then stops them all and waits for
 * them. Returns 0.
 */
int process_supervise(int n, int (*serve)(void *arg), void *arg);

#endif
