/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * process.c - signals, the stop flag, the listening socket and the
 * pre-forked children of a worker. No FastCGI here: both transports use it.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "process.h"

/* The longest HOST of a "tcp:HOST:PORT" spec. */
#define PROCESS_HOST_MAX 256

static volatile sig_atomic_t process_stop;
static void (*volatile process_stop_hook)(void);

static void process_on_signal(int sig)
{
	void (*hook)(void) = process_stop_hook;

	(void)sig;
	process_stop = 1;
	if (hook != NULL)
		hook();
}

void process_ignore_sigpipe(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

void process_install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = process_on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocked accept() must return to see the stop. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	process_ignore_sigpipe();
}

void process_on_stop(void (*fn)(void))
{
	process_stop_hook = fn;
}

int process_stopping(void)
{
	return process_stop != 0;
}

/* ---- The listening socket ------------------------------------------------ */

/* Binds and listens on fd; closes it and returns -1 on failure. */
static int process_listen(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (bind(fd, sa, len) != 0 || listen(fd, PROCESS_BACKLOG) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int process_open_unix(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 ||
	    process_listen(fd, (const struct sockaddr *)&sun, sizeof sun) < 0)
		return -1;
	if (chmod(path, 0666) != 0)
		fprintf(stderr, "heartbeat.fcgi: chmod %s: %s\n", path,
			strerror(errno));
	return fd;
}

/*
 * The address of host (NULL: every IPv4 address) and port, as libfcgi's
 * FCGX_OpenSocket chose it: IPv4 first, so that a name with both kinds of
 * address listens where it did; IPv6 for a name or address that has only
 * that. Returns getaddrinfo's result (caller frees *out).
 */
static int process_resolve(const char *host, const char *port,
			   struct addrinfo **out)
{
	struct addrinfo hints;
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	hints.ai_family = AF_INET;
	rc = getaddrinfo(host, port, &hints, out);
	if (rc != 0 && host != NULL) {
		hints.ai_family = AF_INET6;
		if (getaddrinfo(host, port, &hints, out) == 0)
			rc = 0;
	}
	return rc;
}

/* hostport is "HOST:PORT"; HOST may be "[v6 address]". */
static int process_open_tcp(const char *hostport)
{
	const char *colon = strrchr(hostport, ':');
	const char *h = hostport;
	size_t hlen = (size_t)(colon - hostport);
	char host[PROCESS_HOST_MAX];
	struct addrinfo *ai = NULL;
	int fd, on = 1, rc;

	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen >= sizeof host || colon[1] == '\0') {
		errno = EINVAL;
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	rc = process_resolve(host[0] == '\0' || strcmp(host, "*") == 0 ? NULL
								       : host,
			     colon + 1, &ai);
	if (rc != 0) {
		fprintf(stderr, "heartbeat.fcgi: %s: %s\n", hostport,
			gai_strerror(rc));
		errno = EINVAL;
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
		fd = process_listen(fd, ai->ai_addr, ai->ai_addrlen);
	}
	freeaddrinfo(ai);
	return fd;
}

int process_open_socket(const char *spec)
{
	int fd;

	if (strncmp(spec, "unix:", 5) == 0) {
		if (spec[5] == '\0') {
			fprintf(
			    stderr,
			    "heartbeat.fcgi: --socket unix: needs a path\n");
			return -1;
		}
		fd = process_open_unix(spec + 5);
	} else if (strncmp(spec, "tcp:", 4) == 0 && strchr(spec + 4, ':')) {
		fd = process_open_tcp(spec + 4);
	} else {
		fprintf(stderr,
			"heartbeat.fcgi: --socket must be unix:PATH or "
			"tcp:HOST:PORT, got \"%s\"\n",
			spec);
		return -1;
	}
	if (fd < 0)
		fprintf(stderr, "heartbeat.fcgi: cannot listen on %s: %s\n",
			spec, strerror(errno));
	return fd;
}

void process_remove_socket(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0)
		unlink(spec + 5);
}

/* ---- Pre-forked children ------------------------------------------------- */

static pid_t process_spawn(int (*serve)(void *arg), void *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		process_install_signals();
		_exit(serve(arg));
	}
	if (pid < 0)
		log_line(LOG_ERROR, "event=fork_failed err=\"%s\"",
			 strerror(errno));
	return pid;
}

int process_supervise(int n, int (*serve)(void *arg), void *arg)
{
	pid_t kids[PROCESS_CHILDREN_MAX];
	int alive = 0;

	if (n > PROCESS_CHILDREN_MAX)
		n = PROCESS_CHILDREN_MAX;
	for (int i = 0; i < n; i++) {
		kids[i] = process_spawn(serve, arg);
		if (kids[i] > 0)
			alive++;
	}
	log_line(LOG_INFO, "event=started workers=%d", alive);
	while (!process_stopping()) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (kids[i] != pid)
				continue;
			kids[i] = -1;
			if (process_stopping())
				break;
			log_line(LOG_WARN,
				 "event=worker_exited worker_pid=%d status=%d",
				 (int)pid, status);
			/* Restarting in a tight loop helps nobody. */
			{
				struct timespec pause = {0, 100 * 1000 * 1000};
				nanosleep(&pause, NULL);
			}
			kids[i] = process_spawn(serve, arg);
		}
	}
	for (int i = 0; i < n; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGTERM);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	log_line(LOG_INFO, "event=stopped");
	return 0;
}
