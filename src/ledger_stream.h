/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ledger_stream.h - the settlement ledger's Redis side: the event log read
 * through a consumer group (XREADGROUP, XAUTOCLAIM, XACK), trimmed by the
 * rule of ledger_entry.h (XINFO GROUPS, XPENDING, XTRIM MINID), and measured
 * for the metrics. Every command goes through the store (store.h), so
 * Sentinel and Cluster work as for the workers, and no hiredis type shows.
 */
#ifndef HB_LEDGER_STREAM_H
#define HB_LEDGER_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "ledger_pg.h"
#include "store.h"

/* The most consumer groups of the log that the trimming rule reads. */
#define LEDGER_GROUPS_MAX 32

/* Where the ledger reads: the log's key, its group and its consumer name. */
struct ledger_names {
	char key[CONFIG_STR_MAX + 32];
	const char *group;    /* borrowed */
	const char *consumer; /* borrowed */
};

/* The entries of one read; items borrow from the reply it keeps. */
struct ledger_batch {
	struct store_reply *reply;   /* owned; NULL when empty */
	struct ledger_item *items;   /* owned, cap entries */
	struct ledger_field *fields; /* owned pool the items' fields use */
	size_t n, cap, fields_cap;
	/* XAUTOCLAIM: where the next claim starts ("0-0": done). */
	char cursor[LEDGER_STREAM_ID_BUF];
};

/* Makes an empty batch of at most cap entries. Returns 0, or -1 (memory). */
int ledger_batch_init(struct ledger_batch *b, size_t cap);

/* Empties the batch, freeing its reply. */
void ledger_batch_clear(struct ledger_batch *b);

/* Frees everything. Accepts a zeroed batch. */
void ledger_batch_free(struct ledger_batch *b);

/*
 * Creates the group at the start of the log (and the log, when missing),
 * unless it exists. Returns STORE_OK when it exists afterwards.
 */
enum store_result ledger_stream_ensure_group(struct store *st,
					     const struct ledger_names *nm);

/*
 * Reads up to b->cap entries into b (emptied first): with history, the
 * entries delivered to this consumer and not acknowledged (from the
 * start, no waiting); else new entries, waiting up to block_ms.
 */
enum store_result ledger_stream_read(struct store *st,
				     const struct ledger_names *nm, int history,
				     int64_t block_ms, struct ledger_batch *b);

/*
 * Takes over up to b->cap entries that other consumers of the group left
 * unacknowledged for min_idle_ms, from b->cursor on, into b (emptied first);
 * b->cursor becomes where the next claim starts.
 */
enum store_result ledger_stream_claim(struct store *st,
				      const struct ledger_names *nm,
				      int64_t min_idle_ms,
				      struct ledger_batch *b);

/* Acknowledges every entry of b. */
enum store_result ledger_stream_ack(struct store *st,
				    const struct ledger_names *nm,
				    const struct ledger_batch *b);

/*
 * Trims the log below the oldest entry that one of the groups named in
 * names (comma-separated) has not acknowledged; *trimmed is set to the
 * entries removed (0 when a named group does not exist: nothing is).
 */
enum store_result ledger_stream_trim(struct store *st,
				     const struct ledger_names *nm,
				     const char *names, int64_t *trimmed);

/* The log as the metrics show it. */
struct ledger_stream_stats {
	int64_t length;	     /* XLEN */
	int64_t pending;     /* delivered to the group, not acknowledged */
	int64_t lag_entries; /* pending + not yet delivered */
	double lag_seconds;  /* age of the oldest of those (0: none) */
};

enum store_result ledger_stream_stats(struct store *st,
				      const struct ledger_names *nm,
				      struct ledger_stream_stats *out);

#endif
