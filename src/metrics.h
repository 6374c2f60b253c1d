/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * metrics.h - counters shared by every worker process of a host, kept in a
 * shared memory mapping: anonymous (shared by the processes one
 * `--workers N` parent forks) or the file HB_METRICS_FILE (shared by any
 * processes that map it, such as mod_fcgid's or spawn-fcgi's).
 */
#ifndef HB_METRICS_H
#define HB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* The most routes counted apart; higher indexes share the last slot. */
#define METRICS_ROUTES 32
/* Upper bounds of the latency histogram's buckets, in milliseconds. */
#define METRICS_LATENCY_BUCKETS_MS                                             \
	{                                                                      \
		1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500                 \
	}
#define METRICS_LATENCY_BUCKETS 11

enum metrics_counter {
	METRICS_REDIS_ERRORS,	  /* calls that failed: unavailable or error */
	METRICS_REDIS_RECONNECTS, /* connections made after the first */
	METRICS_SCRIPTS_RELOADED, /* NOSCRIPT replies answered by a reload */
	METRICS_SWEEPS,		  /* opportunistic sweeps run */
	METRICS_SWEEP_SETTLED,	  /* sessions those sweeps settled */
	METRICS_REDIS_MOVED,	  /* cluster MOVED redirects followed */
	METRICS_REDIS_ASK,	  /* cluster ASK redirects followed */
	METRICS_COUNTER_COUNT
};

/*
 * Maps the counters: the file at path (created if missing, mode 0600) or,
 * with path NULL or empty, an anonymous shared mapping. Call before forking
 * workers. Returns 0, or -1 with a message in err; without a mapping every
 * count is dropped.
 */
int metrics_init(const char *path, char *err, size_t errlen);

/* Adds n to a counter. */
void metrics_add(enum metrics_counter c, uint64_t n);

/* Counts one answered request: route index, status, duration. */
void metrics_request(int route, enum hb_status st, int64_t elapsed_ms);

/* A point-in-time copy of the counters. */
struct metrics_snapshot {
	uint64_t requests[METRICS_ROUTES][HB_STATUS_COUNT];
	uint64_t latency[METRICS_LATENCY_BUCKETS + 1]; /* last: above all */
	uint64_t latency_count;
	uint64_t latency_sum_ms;
	uint64_t counters[METRICS_COUNTER_COUNT];
};

/* Copies the counters into *out (zeros without a mapping). */
void metrics_snapshot(struct metrics_snapshot *out);

#endif
