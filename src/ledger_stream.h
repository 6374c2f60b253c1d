/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ledger_stream.h - the settlement ledger's Redis side: the event log read
 * through a consumer group (XREADGROUP, XAUTOCLAIM, XACK), trimmed by the
 * rule of ledger_entry.h (XINFO GROUPS, XPENDING, XTRIM MINID), and measured
 * for the metrics. Every command goes through the store (store.h), so
 * Sentinel and Cluster work as for the workers, and no hiredis type shows.
 *
 * Each shard (shard.h) has a log of its own, and every command names the
 * keys of one shard only (on a Redis Cluster, shards live on different
 * masters): the functions below take the shard they work on.
 */
#ifndef HB_LEDGER_STREAM_H
#define HB_LEDGER_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "ledger_pg.h"
#include "shard.h"
#include "store.h"

/* The most consumer groups of the log that the trimming rule reads. */
#define LEDGER_GROUPS_MAX 32
/* Room for the name of one shard's log. */
#define LEDGER_KEY_BUF (SHARD_BASE_MAX + 16)

/*
 * Where the ledger reads: each shard's log (store_key(st, i, "events")),
 * all read through one group name by one consumer name.
 */
struct ledger_names {
	int shards;
	char (*keys)[LEDGER_KEY_BUF]; /* owned: shard i's log at keys[i] */
	const char *group;	      /* borrowed */
	const char *consumer;	      /* borrowed */
};

/*
 * Fills nm with the logs of every shard st serves; group and consumer are
 * borrowed. Returns 0, or -1 (memory).
 */
int ledger_names_init(struct ledger_names *nm, const struct store *st,
		      const char *group, const char *consumer);

/* Frees the names. Accepts a zeroed one. */
void ledger_names_free(struct ledger_names *nm);

/* The entries one command read from one shard's log, and its reply. */
struct ledger_part {
	int shard;
	struct store_reply *reply; /* owned; the items borrow from it */
	size_t first, n;	   /* the part's items: items[first ..] */
};

/*
 * The entries of one batch, read from one or several shards' logs, written
 * in one transaction; items borrow from the parts' replies.
 */
struct ledger_batch {
	struct ledger_part *parts;   /* owned, parts_cap of them */
	struct ledger_item *items;   /* owned, cap entries */
	struct ledger_field *fields; /* owned pool the items' fields use */
	size_t nparts, parts_cap;
	size_t n, cap, fields_cap;
	/* XAUTOCLAIM: where the next claim starts ("0-0": done). */
	char cursor[LEDGER_STREAM_ID_BUF];
};

/*
 * Makes an empty batch of at most cap entries, from up to shards reads.
 * Returns 0, or -1 (memory).
 */
int ledger_batch_init(struct ledger_batch *b, size_t cap, int shards);

/* Empties the batch, freeing its replies. */
void ledger_batch_clear(struct ledger_batch *b);

/* Frees everything. Accepts a zeroed batch. */
void ledger_batch_free(struct ledger_batch *b);

/*
 * Creates the group at the start of shard's log (and the log, when
 * missing), unless it exists. Returns STORE_OK when it exists afterwards.
 */
enum store_result ledger_stream_ensure_group(struct store *st,
					     const struct ledger_names *nm,
					     int shard);

/*
 * Adds to b up to b->cap - b->n entries of shard's log, as one more part:
 * with history, the entries delivered to this consumer and not
 * acknowledged (from the start, no waiting); else new entries, waiting up
 * to block_ms for one when block_ms > 0, not at all else.
 */
enum store_result ledger_stream_read(struct store *st,
				     const struct ledger_names *nm, int shard,
				     int history, int64_t block_ms,
				     struct ledger_batch *b);

/*
 * Takes over up to b->cap entries of shard's log that other consumers of
 * the group left unacknowledged for min_idle_ms, from b->cursor on, into b
 * (emptied first); b->cursor becomes where the next claim starts.
 */
enum store_result ledger_stream_claim(struct store *st,
				      const struct ledger_names *nm, int shard,
				      int64_t min_idle_ms,
				      struct ledger_batch *b);

/*
 * Acknowledges every entry of b, in its own shard's log: one call per
 * part. On a failure, the parts before it stay acknowledged.
 */
enum store_result ledger_stream_ack(struct store *st,
				    const struct ledger_names *nm,
				    const struct ledger_batch *b);

/*
 * Trims shard's log below the oldest entry that one of the groups named in
 * names (comma-separated) has not acknowledged in it; *trimmed is set to
 * the entries removed (0 when a named group does not exist there: nothing
 * is).
 */
enum store_result ledger_stream_trim(struct store *st,
				     const struct ledger_names *nm, int shard,
				     const char *names, int64_t *trimmed);

/* One shard's log as the metrics show it. */
struct ledger_stream_stats {
	int64_t length;	     /* XLEN */
	int64_t pending;     /* delivered to the group, not acknowledged */
	int64_t lag_entries; /* pending + not yet delivered */
	double lag_seconds;  /* age of the oldest of those (0: none) */
};

enum store_result ledger_stream_stats(struct store *st,
				      const struct ledger_names *nm, int shard,
				      struct ledger_stream_stats *out);

#endif
