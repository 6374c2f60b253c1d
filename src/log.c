/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log.c - key=value lines on stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* The longest line written; longer ones are cut. */
#define LOG_LINE_MAX 1024

static enum log_level log_min = LOG_INFO;

static const char *const log_names[] = {"debug", "info", "warn", "error"};

void log_set_level(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, log_names[i]) == 0)
			log_min = (enum log_level)i;
}

int log_enabled(enum log_level level)
{
	return level >= log_min;
}

void log_line(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	char ts[UTIL_TIME_BUF];
	va_list ap;
	int n, m;

	if (!log_enabled(level))
		return;
	util_format_time_ms(util_now_ms(), ts, sizeof ts);
	n = snprintf(line, sizeof line, "ts=%s level=%s pid=%d ", ts,
		     log_names[level], (int)getpid());
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nowhere left to report a failed log write. */
	}
}
