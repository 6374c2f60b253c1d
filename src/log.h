/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log.h - one line per event on stderr (the web server's error log), as
 * key=value pairs. Never pass a secret to these functions.
 */
#ifndef HB_LOG_H
#define HB_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the lowest level written, by name ("debug", "info", "warn", "error"). */
void log_set_level(const char *name);

/* Whether a line at level would be written. */
int log_enabled(enum log_level level);

/*
 * Writes "ts=... level=... pid=... " followed by the formatted pairs and a
 * newline, in one write so lines of several workers do not interleave.
 */
void log_line(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
