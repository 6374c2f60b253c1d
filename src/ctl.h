/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl.h - heartbeatctl, the admin tool: the command table's shape, the
 * commands of each area (ctl_game.c, ctl_token.c, ctl_venue.c,
 * ctl_session.c, ctl_launcher.c) and the helpers they share (ctl_util.c).
 *
 * A command returns its exit status. It prints what it did on stdout and any
 * error on stderr as "heartbeatctl: ..."; the helpers below that touch Redis
 * print the store's error themselves and return CTL_EXIT_UNAVAILABLE.
 */
#ifndef HB_CTL_H
#define HB_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

/* Exit statuses. */
#define CTL_EXIT_OK 0
#define CTL_EXIT_REFUSED 1     /* not found, already exists, refused */
#define CTL_EXIT_USAGE 2       /* bad arguments; the usage goes to stderr */
#define CTL_EXIT_UNAVAILABLE 3 /* Redis unreachable or answering errors */
#define CTL_EXIT_CONFIG 78     /* a bad setting (sysexits' EX_CONFIG) */

/* How often a write tries again after a WATCHed key changed. */
#define CTL_WRITE_TRIES 5

/*
 * The field of an API key's record (KEYS_APIKEY, keys.h) naming the game the
 * key serves: its game's id while the key is not revoked and the game is
 * active, "" otherwise. It is what the scripts read on every game call
 * (open_game in src/lua/common.lua), one field instead of the key's record
 * and its game's, so heartbeatctl writes it with every change of either:
 * key create and revoke, game activate and deactivate. A record without it
 * (written before it existed) is read through its game's record.
 */
#define CTL_APIKEY_SERVES "serves"

/* The least time heartbeatctl waits for a Redis reply (ms). */
#define CTL_REDIS_TIMEOUT_MIN_MS 10000

/* The longest id (game, venue, PC, user, session), as the worker takes. */
#define CTL_ID_MAX 128
/* Room for a full key name: the base (at most 71 bytes) and two ids. */
#define CTL_KEY_MAX 512
/* The most options one command takes. */
#define CTL_OPTS_MAX 3
/* The most fields one ctl_hmget reads. */
#define CTL_ROW_MAX 8
/* Room for one field read by ctl_hmget; longer values are cut. */
#define CTL_FIELD_MAX CONFIG_STR_MAX
/* Room for an amount of coins printed by ctl_coins. */
#define CTL_COINS_BUF 32

/* What every command works with. */
struct ctl {
	const struct config *cfg; /* borrowed */
	struct store *store;	  /* borrowed */
	int anchored;		  /* the anchor key is known to exist */
	int shard;		  /* the shard commands go to (shard.h) */
	/*
	 * A change of the configuration every shard holds (games, API keys)
	 * being written into shard after shard: the version each write
	 * stamps on its shard in the same transaction, else 0.
	 */
	int64_t config_version;
	int quiet; /* a later shard of such a change: print nothing */
	/* When such a change was made (ms): every shard records the same. */
	int64_t changed_ms;
	/* A credential made for the first shard, written into every one. */
	char secret[128];
};

/*
 * Where a command's keys are (the table's route):
 *   CTL_ROUTE_SELF    one shard, which the command chooses (c->shard:
 *                     the owner's, or shard 0 for what every shard holds)
 *   CTL_ROUTE_EACH    every shard in turn (lists, sweep, pause)
 *   CTL_ROUTE_CONFIG  every shard in turn, as one versioned change of the
 *                     configuration every shard holds (ctl_main.c)
 */
enum ctl_route { CTL_ROUTE_SELF, CTL_ROUTE_EACH, CTL_ROUTE_CONFIG };

/*
 * One command: pos holds its npos positional arguments, opt the values of
 * its options in the order of ctl_cmd.opts (NULL when not given). All are
 * borrowed from argv.
 */
typedef int (*ctl_fn)(struct ctl *c, const char *const *pos,
		      const char *const *opt);

struct ctl_cmd {
	const char *group; /* "game" */
	const char *verb;  /* "add"; NULL when the group is the command */
	int npos;	   /* how many positional arguments, exactly */
	const char *opts[CTL_OPTS_MAX + 1]; /* "--NAME VALUE" options */
	ctl_fn run;
	const char *args; /* the arguments, for the usage text */
	enum ctl_route route;
	/*
	 * Bit k set: option k is a switch ("--force"), given without a value;
	 * its opt is "" when given.
	 */
	unsigned switches;
};

/* ---- Commands --------------------------------------------------------- */

int ctl_game_add(struct ctl *c, const char *const *pos, const char *const *opt);
int ctl_game_list(struct ctl *c, const char *const *pos,
		  const char *const *opt);
int ctl_game_rate(struct ctl *c, const char *const *pos,
		  const char *const *opt);
int ctl_game_activate(struct ctl *c, const char *const *pos,
		      const char *const *opt);
int ctl_game_deactivate(struct ctl *c, const char *const *pos,
			const char *const *opt);
int ctl_key_create(struct ctl *c, const char *const *pos,
		   const char *const *opt);
int ctl_key_list(struct ctl *c, const char *const *pos, const char *const *opt);
int ctl_key_revoke(struct ctl *c, const char *const *pos,
		   const char *const *opt);
int ctl_token_create(struct ctl *c, const char *const *pos,
		     const char *const *opt);
int ctl_token_list(struct ctl *c, const char *const *pos,
		   const char *const *opt);
int ctl_token_revoke(struct ctl *c, const char *const *pos,
		     const char *const *opt);
int ctl_venue_add(struct ctl *c, const char *const *pos,
		  const char *const *opt);
int ctl_venue_list(struct ctl *c, const char *const *pos,
		   const char *const *opt);
int ctl_venue_billing(struct ctl *c, const char *const *pos,
		      const char *const *opt);
int ctl_wallet_topup(struct ctl *c, const char *const *pos,
		     const char *const *opt);
int ctl_wallet_set(struct ctl *c, const char *const *pos,
		   const char *const *opt);
int ctl_wallet_show(struct ctl *c, const char *const *pos,
		    const char *const *opt);
int ctl_session_list(struct ctl *c, const char *const *pos,
		     const char *const *opt);
int ctl_session_show(struct ctl *c, const char *const *pos,
		     const char *const *opt);
int ctl_session_revoke(struct ctl *c, const char *const *pos,
		       const char *const *opt);
int ctl_sweep(struct ctl *c, const char *const *pos, const char *const *opt);
int ctl_events(struct ctl *c, const char *const *pos, const char *const *opt);
int ctl_pause(struct ctl *c, const char *const *pos, const char *const *opt);
int ctl_resume(struct ctl *c, const char *const *pos, const char *const *opt);
int ctl_launcher_list(struct ctl *c, const char *const *pos,
		      const char *const *opt);
int ctl_launcher_revoke(struct ctl *c, const char *const *pos,
			const char *const *opt);
int ctl_config_status(struct ctl *c, const char *const *pos,
		      const char *const *opt);
int ctl_config_sync(struct ctl *c, const char *const *pos,
		    const char *const *opt);
int ctl_reshard(struct ctl *c, const char *const *pos, const char *const *opt);

/* ---- The configuration every shard holds (ctl_config.c) ---------------- */

/*
 * Makes shard's games, games set, API keys, gamekeys sets and
 * config_version equal to shard 0's, in one transaction (shard > 0).
 * Writes what is missing or different, deletes what shard 0 lacks; counts
 * them into *written and *deleted (NULL: not wanted). Returns 0 or an exit
 * status after saying why.
 */
int ctl_config_copy(struct ctl *c, int shard, size_t *written, size_t *deleted);

/*
 * Deletes every key of the configuration (and config_version) from shard,
 * in one transaction: a shard that reshard leaves behind. *deleted counts
 * them. Returns 0 or an exit status.
 */
int ctl_config_drop(struct ctl *c, int shard, size_t *deleted);

/* Whether name (after the key base) is a key of the configuration. */
int ctl_config_key(const char *name);

/*
 * WATCHes the record of game and says what a key of it serves (see
 * CTL_APIKEY_SERVES): *serves is game (borrowed) when the game is active,
 * "" when it is not. A transaction that follows fails when the game changes
 * meanwhile. Returns 0, CTL_EXIT_REFUSED when there is no such game (nothing
 * printed, nothing left WATCHed), or CTL_EXIT_UNAVAILABLE.
 */
int ctl_game_watch(struct ctl *c, const char *game, const char **serves);

/* ---- Messages and checked input (ctl_util.c) -------------------------- */

/* Prints "heartbeatctl: " and the message to stderr; returns status. */
int ctl_fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* What an id may hold besides its length: ':' joins ids in key names. */
enum ctl_id_kind { CTL_ID_ANY, CTL_ID_NO_COLON };

/*
 * Checks an id of kind named what: 1 to CTL_ID_MAX bytes, no white space or
 * control character. Returns 0, or CTL_EXIT_USAGE after saying why.
 */
int ctl_check_id(const char *what, const char *id, enum ctl_id_kind kind);

/*
 * Checks a free text (a name): 1 to max bytes, no control character.
 * Returns 0, or CTL_EXIT_USAGE after saying why.
 */
int ctl_check_text(const char *what, const char *s, size_t max);

/*
 * Parses an amount of coins ("12", "1.5", "0.001") into millicoins in
 * [min, max]. Returns 0, or CTL_EXIT_USAGE after saying why.
 */
int ctl_parse_coins(const char *what, const char *s, int64_t min, int64_t max,
		    int64_t *out);

/*
 * Parses an optional integer option in [min, max]; NULL gives def. Returns
 * 0, or CTL_EXIT_USAGE after saying why.
 */
int ctl_parse_count(const char *what, const char *s, int64_t min, int64_t max,
		    int64_t def, int64_t *out);

/* Parses "on" or "off" into "1" or "0"; NULL when it is neither. */
const char *ctl_parse_switch(const char *s);

/* Writes millicoins as coins with three decimals ("12.500"). */
void ctl_coins(int64_t milli, char *buf, size_t size);

/* Writes a stored millicoin amount (text) as coins; "-" when not a number. */
void ctl_coins_text(const char *milli, char *buf, size_t size);

/* Writes a stored ms timestamp (text) as RFC 3339; "-" when not a number. */
void ctl_time_text(const char *ms, char *buf, size_t size);

/* Writes an integer as decimal text. */
void ctl_itoa(int64_t v, char *buf, size_t size);

/*
 * The time a record made now is stamped with (ms): the change's own time
 * while a change is written into shard after shard, so that every shard
 * holds the same record; else the clock's.
 */
int64_t ctl_now_ms(const struct ctl *c);

/* Prints like printf, unless c is quiet (a later shard of a change). */
void ctl_say(const struct ctl *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- Redis (ctl_util.c) ----------------------------------------------- */

/* Makes shard the one the commands that follow go to. */
void ctl_use_shard(struct ctl *c, int shard);

/* Goes to the shard of an owner (a venue id, a user id). */
void ctl_use_owner(struct ctl *c, const char *owner);

/* Goes to the shard an id names (the home after prefix; else shard 0). */
void ctl_use_id(struct ctl *c, const char *prefix, const char *id);

/* Writes the full name of the key named by fmt ("game:%s") into out. */
void ctl_key(const struct ctl *c, char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Sends the command whose words follow, ending with NULL. Returns 0 with *out
 * set (caller owns; out may be NULL to drop the reply), or
 * CTL_EXIT_UNAVAILABLE after printing the store's error.
 */
int ctl_redis(struct ctl *c, struct store_reply **out, ...)
    __attribute__((sentinel));

/* ctl_redis with the words in a NULL-terminated array. */
int ctl_redis_argv(struct ctl *c, struct store_reply **out,
		   const char *const *argv);

/* ctl_redis_argv with argc words of lens bytes each (binary-safe). */
int ctl_redis_bin(struct ctl *c, struct store_reply **out, int argc,
		  const char *const *argv, const size_t *lens);

/*
 * Copies the key named name (after the key base) from shard from to shard
 * to, with what remains of its time to live, over whatever to holds under
 * that name (DUMP, PTTL, RESTORE ... REPLACE: no command spans two shards,
 * so it works on a Redis Cluster), then, with del set, deletes it from
 * from. Leaves the current shard as it was. Returns 0, CTL_EXIT_REFUSED
 * when the key is gone (nothing done, nothing printed), or
 * CTL_EXIT_UNAVAILABLE.
 */
int ctl_copy_key(struct ctl *c, int from, int to, const char *name, int del);

/*
 * Runs script id with the NULL-terminated arguments argv. On "OK" returns 0
 * with *out set (caller owns). A refusal ({code}) prints "what: message" and
 * returns CTL_EXIT_REFUSED; a store failure returns CTL_EXIT_UNAVAILABLE.
 */
int ctl_script(struct ctl *c, enum script_id id, const char *what,
	       const char *const *argv, struct store_reply **out);

/* What ctl_write requires of its guard key. */
enum ctl_guard { CTL_GUARD_NONE, CTL_GUARD_EXISTS, CTL_GUARD_ABSENT };

/*
 * Runs the NULL-terminated list of commands cmds (each a NULL-terminated
 * list of words) in one MULTI/EXEC. With a guard,
 * the key guard is WATCHed and the write is made only while the guard holds
 * (tried again when the key changed meanwhile). Without one, a key the caller
 * WATCHed before stays watched. Returns 0, CTL_EXIT_REFUSED when the guard
 * does not hold or the caller's WATCHed key changed (nothing printed), or
 * CTL_EXIT_UNAVAILABLE.
 */
int ctl_write(struct ctl *c, const char *guard, enum ctl_guard g,
	      const char *const *const *cmds);

/*
 * Sets field to value in the existing hash key. Returns 0, CTL_EXIT_REFUSED
 * when the key does not exist (nothing printed), or CTL_EXIT_UNAVAILABLE.
 */
int ctl_set_field(struct ctl *c, const char *key, const char *field,
		  const char *value);

/*
 * ctl_set_field on the key of the noun ("game") named id, then prints
 * "<noun> <id> <done>"; or says "no such <noun>" and returns
 * CTL_EXIT_REFUSED.
 */
int ctl_update(struct ctl *c, const char *noun, const char *key, const char *id,
	       const char *field, const char *value, const char *done);

/* Whether key exists: 1 or 0 in *found. Returns 0 or CTL_EXIT_UNAVAILABLE. */
int ctl_exists(struct ctl *c, const char *key, int *found);

/* The fields of one hash, as read by ctl_hmget. */
struct ctl_row {
	int found;			    /* whether any field was set */
	char v[CTL_ROW_MAX][CTL_FIELD_MAX]; /* "" for a missing field */
};

/*
 * Reads the NULL-terminated fields (at most CTL_ROW_MAX) of the hash key
 * into row. Returns 0 or CTL_EXIT_UNAVAILABLE.
 */
int ctl_hmget(struct ctl *c, const char *key, const char *const *fields,
	      struct ctl_row *row);

/* A sorted list of names; free with ctl_names_free. */
struct ctl_names {
	char **v;
	size_t count;
};

/*
 * Runs the NULL-terminated command argv, whose reply is an array of names,
 * and copies the names into out (sorted when sort is set). Returns 0 or
 * CTL_EXIT_UNAVAILABLE; out is empty after a failure.
 */
int ctl_names_of(struct ctl *c, const char *const *argv, int sort,
		 struct ctl_names *out);

/* The members of the set named name (e.g. "games"), sorted. */
int ctl_members(struct ctl *c, const char *name, struct ctl_names *out);

/* Called by ctl_each_row for each hash found; returns 0 or an exit status. */
typedef int (*ctl_row_fn)(struct ctl *c, const char *name,
			  const struct ctl_row *row, void *ctx);

/*
 * For each name, reads the fields of the hash named prefix + name and calls
 * fn when it exists, until fn or Redis fails. Takes names (frees them).
 * Returns 0 or the first failure's exit status.
 */
int ctl_each_row(struct ctl *c, struct ctl_names *names, const char *prefix,
		 const char *const *fields, ctl_row_fn fn, void *ctx);

/* ctl_each_row over the members of the set named set, sorted. */
int ctl_each_member(struct ctl *c, const char *set, const char *prefix,
		    const char *const *fields, ctl_row_fn fn, void *ctx);

/*
 * The names of the keys that start with the key named prefix, without the
 * key base ("pc:cafe:pc-1"), sorted. Walks the keyspace with SCAN: for the
 * admin tool only, never on a request path.
 */
int ctl_scan(struct ctl *c, const char *prefix, struct ctl_names *out);

/* Called by ctl_scan_each for each key found; returns 0 or an exit status. */
typedef int (*ctl_key_fn)(struct ctl *c, const char *name, void *ctx);

/*
 * Calls fn with the name (borrowed, without the key base) of each key of
 * the current shard that starts with the key named prefix ("": every key),
 * a SCAN batch at a time, without keeping the names: fn may move or delete
 * keys (a key present for the whole walk is seen at least once; one added
 * meanwhile may or may not be). Returns 0 or the first failure's status.
 */
int ctl_scan_each(struct ctl *c, const char *prefix, ctl_key_fn fn, void *ctx);

/* Frees the names. Accepts an empty list. */
void ctl_names_free(struct ctl_names *n);

/*
 * Prints one JSON object on a line: "id" (unless NULL) followed by the
 * field/value pairs of the flat reply pairs. Values of the fields listed in
 * numeric (NULL-terminated) that are integers are written as numbers.
 */
void ctl_print_json(const char *id, size_t id_len,
		    const struct store_reply *pairs,
		    const char *const *numeric);

#endif
