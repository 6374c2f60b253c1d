/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * metrics.c - the shared counters. Updates are relaxed atomic additions, so
 * processes never lock each other out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"

/* Identifies a mapping of this layout; a file of another layout is reset. */
#define METRICS_MAGIC 0x6862747300000002ULL

struct metrics_shm {
	uint64_t magic;
	struct metrics_snapshot data;
};

static struct metrics_shm *metrics_map;

int metrics_init(const char *path, char *err, size_t errlen)
{
	void *p;

	if (path == NULL || *path == '\0') {
		p = mmap(NULL, sizeof *metrics_map, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	} else {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		struct stat sb;

		if (fd < 0) {
			snprintf(err, errlen,
				 "HB_METRICS_FILE: cannot open %s: %s", path,
				 strerror(errno));
			return -1;
		}
		if (fstat(fd, &sb) != 0 ||
		    ((size_t)sb.st_size < sizeof *metrics_map &&
		     ftruncate(fd, sizeof *metrics_map) != 0)) {
			snprintf(err, errlen,
				 "HB_METRICS_FILE: cannot size %s: %s", path,
				 strerror(errno));
			close(fd);
			return -1;
		}
		p = mmap(NULL, sizeof *metrics_map, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
		close(fd);
	}
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "metrics: mmap failed: %s",
			 strerror(errno));
		return -1;
	}
	metrics_map = p;
	if (__atomic_load_n(&metrics_map->magic, __ATOMIC_ACQUIRE) !=
	    METRICS_MAGIC) {
		memset(&metrics_map->data, 0, sizeof metrics_map->data);
		__atomic_store_n(&metrics_map->magic, METRICS_MAGIC,
				 __ATOMIC_RELEASE);
	}
	return 0;
}

static void metrics_bump(uint64_t *slot, uint64_t n)
{
	__atomic_fetch_add(slot, n, __ATOMIC_RELAXED);
}

void metrics_add(enum metrics_counter c, uint64_t n)
{
	if (metrics_map != NULL && (unsigned)c < METRICS_COUNTER_COUNT)
		metrics_bump(&metrics_map->data.counters[c], n);
}

void metrics_request(int route, enum hb_status st, int64_t elapsed_ms)
{
	static const int64_t bounds[] = METRICS_LATENCY_BUCKETS_MS;
	struct metrics_snapshot *d;
	int b = 0;

	if (metrics_map == NULL)
		return;
	d = &metrics_map->data;
	if (route < 0 || route >= METRICS_ROUTES)
		route = METRICS_ROUTES - 1;
	if ((unsigned)st >= HB_STATUS_COUNT)
		st = HB_INTERNAL_ERROR;
	if (elapsed_ms < 0)
		elapsed_ms = 0;
	metrics_bump(&d->requests[route][st], 1);
	while (b < METRICS_LATENCY_BUCKETS && elapsed_ms > bounds[b])
		b++;
	metrics_bump(&d->latency[b], 1);
	metrics_bump(&d->latency_count, 1);
	metrics_bump(&d->latency_sum_ms, (uint64_t)elapsed_ms);
}

void metrics_snapshot(struct metrics_snapshot *out)
{
	const uint64_t *src;
	uint64_t *dst = (uint64_t *)out;

	memset(out, 0, sizeof *out);
	if (metrics_map == NULL)
		return;
	src = (const uint64_t *)&metrics_map->data;
	for (size_t i = 0; i < sizeof *out / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
