/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store.h - the session store: one Redis connection per process (with a
 * Redis Cluster, one per node it uses), the Lua scripts loaded on it, and
 * replies read through accessors so no other module sees hiredis.
 */
#ifndef HB_STORE_H
#define HB_STORE_H

#include <stddef.h>

#include "config.h"
#include "scripts.h"

/* The most arguments one call passes (a script's: with EVALSHA, SHA, 1, key).
 */
#define STORE_ARGS_MAX 32
/* The most arguments of a script (store_script adds EVALSHA, SHA, 1, key). */
#define STORE_SCRIPT_ARGS_MAX (STORE_ARGS_MAX - 4)

enum store_result {
	STORE_OK,	   /* a reply arrived */
	STORE_UNAVAILABLE, /* Redis unreachable, timed out, loading, read-only
			    */
	STORE_ERROR	   /* Redis answered an error (a bug: logged) */
};

enum store_type { STORE_T_NIL, STORE_T_INT, STORE_T_STR, STORE_T_ARRAY };

struct store;
struct store_reply;

/*
 * Creates a store for cfg (borrowed: it must outlive the store). Does not
 * connect: the first call does. Returns NULL when out of memory (or, which
 * the settings' limits rule out, when they do not fit in the scripts'
 * settings line).
 */
struct store *store_new(const struct config *cfg);

/* Closes the connection and frees the store. Accepts NULL. */
void store_free(struct store *st);

/* How many shards the store serves (HB_SHARDS; shard.h). */
int store_shards(const struct store *st);

/*
 * Calls script id on shard (0 .. store_shards() - 1: the script's keys are
 * that shard's) (loaded with the settings as constants: see common.lua)
 * with the argc arguments in argv (lens gives their lengths; NULL means
 * NUL-terminated), at most STORE_SCRIPT_ARGS_MAX. Connects, loads scripts and
 * retries once after NOSCRIPT as needed. On STORE_OK, *out is a
 * reply the caller owns (free with store_reply_free). On any other result *out
 * is NULL; after STORE_UNAVAILABLE the connection is dropped and the next call
 * reconnects.
 */
enum store_result store_script(struct store *st, int shard, enum script_id id,
			       int argc, const char *const *argv,
			       const size_t *lens, struct store_reply **out);

/*
 * Sends one plain command on the node of shard (its keys must be that
 * shard's), with the same ownership and results.
 */
enum store_result store_command(struct store *st, int shard, int argc,
				const char *const *argv, const size_t *lens,
				struct store_reply **out);

/*
 * Whether the last call answered STORE_UNAVAILABLE because the service is
 * paused (heartbeatctl pause), not because Redis failed.
 */
int store_paused(const struct store *st);

/* The last error of the store, for the log. Never NULL. */
const char *store_last_error(const struct store *st);

/* How the store reaches Redis: "standalone", "sentinel" or "cluster". */
const char *store_mode(const struct store *st);

/* The full name of a key of shard: its key base followed by name. */
void store_key(const struct store *st, int shard, const char *name, char *out,
	       size_t size);

/*
 * Writes shard's anchor key (the first key of every script: common.lua)
 * into out. Returns 0, or -1 when it did not fit in size.
 */
int store_anchor(const struct store *st, int shard, char *out, size_t size);

/* ---- Pipelining, for the event loop (fcgi_loop.c) ------------------------ */

/*
 * How the event loop runs requests as coroutines. With these set, a command
 * sent on behalf of a request (self() returns it, not NULL) is only
 * appended to the connection's output buffer and the request suspended
 * (suspend() returns when the loop resumes it); store_pipeline_flush later
 * sends every appended command at once and reads the replies in order. For
 * each suspended request whose reply has arrived, or whose command failed
 * with the connection, ready() is called once, in the order the commands
 * were appended, and the request may then be resumed; the call it made
 * returns exactly what it would have returned unpipelined (a dropped
 * connection: STORE_UNAVAILABLE for every request still waiting on it).
 * Connecting (AUTH, SELECT, SCRIPT LOAD, Sentinel) stays one blocking
 * exchange while nothing else waits. Outside a request (self() NULL)
 * commands are sent and answered at once, which needs the pipeline empty.
 */
struct store_pipeline_ops {
	void *(*self)(void *ctx);	     /* the calling request, or NULL */
	void (*suspend)(void *ctx);	     /* suspends the calling request */
	void (*ready)(void *ctx, void *req); /* req may be resumed */
	void *ctx;
};

/* Turns pipelining on with ops (borrowed; NULL: off). */
void store_set_pipeline(struct store *st, const struct store_pipeline_ops *ops);

/* How many appended commands wait for store_pipeline_flush. */
size_t store_pipeline_pending(const struct store *st);

/*
 * Sends the appended commands and reads all their replies, the whole batch
 * bounded by HB_REDIS_TIMEOUT_MS; calls ready() for each waiting request.
 * On a connection error or timeout the connection is dropped and every
 * request without its reply yet gets STORE_UNAVAILABLE.
 */
void store_pipeline_flush(struct store *st);

/* Frees a reply. Accepts NULL. */
void store_reply_free(struct store_reply *r);

/* Reply accessors. A reply or element of another type reads as empty. */
enum store_type store_reply_type(const struct store_reply *r);
size_t store_reply_count(const struct store_reply *r);
const struct store_reply *store_reply_at(const struct store_reply *r, size_t i);
/* The bytes of a string (or status) reply; *len set; NULL for other types. */
const char *store_reply_str(const struct store_reply *r, size_t *len);
long long store_reply_int(const struct store_reply *r);

#endif
