/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * worker_main.c - heartbeat.fcgi: the FastCGI (or CGI) worker.
 *
 *   heartbeat.fcgi                      FastCGI on fd 0 (mod_fcgid,
 *                                       spawn-fcgi), or CGI when fd 0 is
 *                                       not a socket
 *   heartbeat.fcgi --socket SPEC        listen on unix:PATH or tcp:HOST:PORT
 *   heartbeat.fcgi --workers N          pre-fork N processes on the listener
 *   heartbeat.fcgi --event-loop         serve many connections per process
 *                                       from an event loop, with Redis
 *                                       commands pipelined (fcgi_loop.c)
 *   heartbeat.fcgi --check-config       validate the settings and exit
 *   heartbeat.fcgi --version            print the release, the git revision
 *                                       and the libraries' versions
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "config.h"
#include "fcgi_io.h"
#include "fcgi_loop.h"
#include "log.h"
#include "metrics.h"
#include "process.h"
#include "util.h"
#include "version.h"

/* The most worker processes one parent runs. */
#define WORKER_MAX PROCESS_CHILDREN_MAX
/* Exit status for a configuration error (sysexits' EX_CONFIG). */
#define WORKER_EXIT_CONFIG 78
/* Exit status for a usage error. */
#define WORKER_EXIT_USAGE 2
/* The settings file read when HB_CONFIG_FILE is unset, if it exists. */
#define WORKER_LOCAL_CONFIG "heartbeat.conf"

/*
 * Where the web server hands over no environment of ours (a shared host's
 * .htaccess, mod_fcgid without FcgidInitialEnv), settings come from
 * heartbeat.conf next to the binary: point HB_CONFIG_FILE at it when it
 * exists and nothing else names a file.
 */
static void worker_default_config(void)
{
	char path[4096];
	ssize_t n;
	char *slash;

	if (getenv("HB_CONFIG_FILE") != NULL)
		return;
	n = readlink("/proc/self/exe", path, sizeof path - 1);
	if (n <= 0)
		return;
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (slash == NULL ||
	    (size_t)(slash + 1 - path) + sizeof WORKER_LOCAL_CONFIG >
		sizeof path)
		return;
	strcpy(slash + 1, WORKER_LOCAL_CONFIG);
	/*
	 * A file that is there but out of reach is named, so that the error
	 * says which path the user running this cannot read.
	 */
	if (access(path, R_OK) == 0 || errno != ENOENT)
		setenv("HB_CONFIG_FILE", path, 1);
}

/*
 * For --check-config, which a deployment runs as the web server's user:
 * whether that user can reach the Redis socket (every directory above it
 * searchable, the socket writable). A socket not there yet (Redis not
 * started) is no error. Returns 0, or -1 with err naming the path.
 */
static int worker_check_reach(const struct config *cfg, char *err,
			      size_t errlen)
{
	const char *sock = cfg->redis_socket;

	if (sock[0] == '\0' || access(sock, R_OK | W_OK) == 0 ||
	    errno == ENOENT)
		return 0;
	snprintf(err, errlen, "HB_REDIS_SOCKET: cannot reach %s: %s", sock,
		 strerror(errno));
	return -1;
}

static void worker_usage(FILE *out)
{
	fprintf(out,
		"usage: heartbeat.fcgi [--socket unix:PATH|tcp:HOST:PORT] "
		"[--workers N] [--event-loop] [--check-config]\n"
		"       heartbeat.fcgi --version | --help\n"
		"Settings come from HB_* environment variables and the file "
		"named by HB_CONFIG_FILE\n(default: heartbeat.conf next to "
		"this program, if it exists).\n");
}

/* How a worker process serves FastCGI. */
enum worker_mode {
	WORKER_LIBFCGI,	   /* libfcgi, one request at a time */
	WORKER_EVENT_LOOP, /* fcgi_loop.c: many connections, pipelined */
	WORKER_CGI	   /* one CGI request, then exit */
};

static enum worker_mode worker_mode = WORKER_LIBFCGI;

/* Serves requests in this process until stopped. Returns an exit status. */
static int worker_run(const struct config *cfg, int listen_fd,
		      enum worker_mode mode)
{
	struct app app;
	int rc;

	if (app_init(&app, cfg) != 0) {
		fprintf(stderr, "heartbeat.fcgi: out of memory\n");
		return 1;
	}
	if (mode == WORKER_CGI)
		rc = cgi_serve_one(&app);
	else if (mode == WORKER_EVENT_LOOP)
		rc = fcgi_loop_serve(&app, listen_fd);
	else
		rc = fcgi_serve(&app, listen_fd);
	app_free(&app);
	return rc == 0 ? 0 : 1;
}

/* The settings every worker process serves with. */
static const struct config *worker_cfg;
static int worker_listen_fd;

/* A pre-forked child's life (process_supervise). */
static int worker_child(void *arg)
{
	(void)arg;
	return worker_run(worker_cfg, worker_listen_fd, worker_mode);
}

int main(int argc, char **argv)
{
	static struct config cfg;
	char err[CONFIG_STR_MAX + 512];
	const char *socket_spec = NULL;
	int64_t workers = 1;
	int check_only = 0;
	int listen_fd = 0;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			socket_spec = argv[++i];
		} else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
			if (util_parse_int(argv[++i], 1, WORKER_MAX,
					   &workers) != 0) {
				fprintf(stderr,
					"heartbeat.fcgi: --workers must be 1 "
					"to %d\n",
					WORKER_MAX);
				return WORKER_EXIT_USAGE;
			}
		} else if (strcmp(argv[i], "--event-loop") == 0) {
			worker_mode = WORKER_EVENT_LOOP;
		} else if (strcmp(argv[i], "--check-config") == 0) {
			check_only = 1;
		} else if (strcmp(argv[i], "--version") == 0) {
			version_print(stdout, "heartbeat.fcgi",
				      VERSION_LIBS_WORKER);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0) {
			worker_usage(stdout);
			return 0;
		} else {
			worker_usage(stderr);
			return WORKER_EXIT_USAGE;
		}
	}
	worker_default_config();
	if (config_load_env(&cfg, err, sizeof err) != 0) {
		fprintf(stderr, "heartbeat.fcgi: configuration error: %s\n",
			err);
		return WORKER_EXIT_CONFIG;
	}
	if (check_only) {
		if (worker_check_reach(&cfg, err, sizeof err) != 0) {
			fprintf(stderr,
				"heartbeat.fcgi: configuration error: %s\n",
				err);
			return WORKER_EXIT_CONFIG;
		}
		printf("configuration ok\n");
		return 0;
	}
	log_set_level(cfg.log_level);
	if (metrics_init(cfg.metrics_file, err, sizeof err) != 0) {
		fprintf(stderr, "heartbeat.fcgi: configuration error: %s\n",
			err);
		return WORKER_EXIT_CONFIG;
	}

	if (socket_spec == NULL && fcgi_is_cgi()) {
		/* A plain CGI run: one request, then exit. */
		process_ignore_sigpipe();
		return worker_run(&cfg, -1, WORKER_CGI);
	}
	if (socket_spec != NULL) {
		listen_fd = process_open_socket(socket_spec);
		if (listen_fd < 0)
			return 1;
	}
	process_install_signals();
	if (workers == 1) {
		rc = worker_run(&cfg, listen_fd, worker_mode);
	} else {
		worker_cfg = &cfg;
		worker_listen_fd = listen_fd;
		rc = process_supervise((int)workers, worker_child, NULL);
	}
	if (socket_spec != NULL && (workers > 1 || rc == 0))
		process_remove_socket(socket_spec);
	return rc;
}
