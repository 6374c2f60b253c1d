/*
 * store.h - the session store: one Redis connection per process, the Lua
 * scripts loaded on it, and replies read through accessors so no other module
 * sees hiredis.
 */
#ifndef HB_STORE_H
#define HB_STORE_H

#include <stddef.h>

#include "config.h"
#include "scripts.h"

/* The most arguments one call passes, including the script's common ones. */
#define STORE_ARGS_MAX 32

enum store_result {
	STORE_OK,	   /* a reply arrived */
	STORE_UNAVAILABLE, /* Redis unreachable, timed out, loading, read-only */
	STORE_ERROR	   /* Redis answered an error (a bug: logged) */
};

enum store_type { STORE_T_NIL, STORE_T_INT, STORE_T_STR, STORE_T_ARRAY };

struct store;
struct store_reply;

/*
 * Creates a store for cfg (borrowed: it must outlive the store). Does not
 * connect: the first call does. Returns NULL when out of memory.
 */
struct store *store_new(const struct config *cfg);

/* Closes the connection and frees the store. Accepts NULL. */
void store_free(struct store *st);

/*
 * Calls script id with the common arguments followed by the argc arguments in
 * argv (lens gives their lengths; NULL means NUL-terminated). Connects, loads
 * scripts and retries once after NOSCRIPT as needed. On STORE_OK, *out is a
 * reply the caller owns (free with store_reply_free). On any other result *out
 * is NULL; after STORE_UNAVAILABLE the connection is dropped and the next call
 * reconnects.
 */
enum store_result store_script(struct store *st, enum script_id id, int argc,
			       const char *const *argv, const size_t *lens,
			       struct store_reply **out);

/* Sends one plain command, with the same ownership and results. */
enum store_result store_command(struct store *st, int argc,
				const char *const *argv, const size_t *lens,
				struct store_reply **out);

/* The last error of the store, for the log. Never NULL. */
const char *store_last_error(const struct store *st);

/* The full name of a key: the configured base followed by name. */
void store_key(const struct store *st, const char *name, char *out,
	       size_t size);

/* Frees a reply. Accepts NULL. */
void store_reply_free(struct store_reply *r);

/* Reply accessors. A reply or element of another type reads as empty. */
enum store_type store_reply_type(const struct store_reply *r);
size_t store_reply_count(const struct store_reply *r);
const struct store_reply *store_reply_at(const struct store_reply *r,
					 size_t i);
/* The bytes of a string (or status) reply; *len set; NULL for other types. */
const char *store_reply_str(const struct store_reply *r, size_t *len);
long long store_reply_int(const struct store_reply *r);

#endif
