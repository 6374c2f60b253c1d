/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * keys.h - the Redis key layout and the fields of the records the admin
 * tool, the handlers and the scripts share: the one place a key name or
 * such a field name is written. Every key is the key base
 * ("<prefix>{<tag>}:", config.h) followed by a name of this table.
 *
 * The C side builds keys with keys_make and names fields with KEYS_FIELD.
 * The scripts name them by the lua column, constants the store writes in as
 * Lua strings when it loads a script (store_expand_keys in store_script.c):
 * a key's with the key base in front, so a script writes K_GAME .. id, and
 * a field's as its name. (Locals on the settings line would cost every
 * call: common.lua's functions capture them.) tests/keys_literals.sh fails when
 * one of these names appears as a literal anywhere else under src/, and when
 * the key table of README.md disagrees with this one.
 */
#ifndef HB_KEYS_H
#define HB_KEYS_H

#include <stddef.h>

/*
 * X(ID, name, lua): a key, or a family of keys when name ends in ':' (the
 * rest of the key names its member); lua is the scripts' constant, or NULL
 * when no script names the key.
 */
#define KEYS_TABLE(X)                                                          \
	X(ANCHOR, "anchor", NULL)                                              \
	X(CONFIG_VERSION, "config_version", NULL)                              \
	X(GAME, "game:", "K_GAME")                                             \
	X(GAMES, "games", "K_GAMES")                                           \
	X(APIKEY, "apikey:", "K_APIKEY")                                       \
	X(GAMEKEYS, "gamekeys:", NULL)                                         \
	X(VENUE, "venue:", "K_VENUE")                                          \
	X(VENUES, "venues", NULL)                                              \
	X(LT, "lt:", "K_LT")                                                   \
	X(PC, "pc:", "K_PC")                                                   \
	X(OTT, "ott:", "K_OTT")                                                \
	X(GSB, "gsb:", "K_GSB")                                                \
	X(GS, "gs:", "K_GS")                                                   \
	X(DEADLINES, "deadlines", "K_DEADLINES")                               \
	X(SIG, "sig:", "K_SIG")                                                \
	X(EVENTS, "events", "K_EVENTS")                                        \
	X(STATS, "stats", "K_STATS")                                           \
	X(RL, "rl:", "K_RL")                                                   \
	X(DTOK, "dtok:", "K_DTOK")                                             \
	X(DTOKENS, "dtokens:", NULL)                                           \
	X(DU, "du:", "K_DU")                                                   \
	X(DD, "dd:", "K_DD")                                                   \
	X(DS, "ds:", "K_DS")

/*
 * X(RECORD, FIELD, name, lua): a field of a record the admin tool and the
 * service both name: the records the admin tool writes, and the owners of
 * the records heartbeatctl reshard moves (lua: the scripts' constant, or
 * NULL). A launcher session's and a device token's home is the one its
 * token carries (shard.h), written since tokens carry one.
 */
#define KEYS_FIELD_TABLE(X)                                                    \
	X(GAME, NAME, "name", "F_GAME_NAME")                                   \
	X(GAME, RATE, "rate", "F_GAME_RATE")                                   \
	X(GAME, ACTIVE, "active", "F_GAME_ACTIVE")                             \
	X(GAME, CREATED, "created", NULL)                                      \
	X(VENUE, SECRET, "secret", NULL)                                       \
	X(VENUE, CIDRS, "cidrs", NULL)                                         \
	X(VENUE, BILLING, "billing", "F_VENUE_BILLING")                        \
	X(VENUE, WALLET, "wallet", "F_VENUE_WALLET")                           \
	X(VENUE, CREATED, "created", NULL)                                     \
	X(APIKEY, GAME, "game", "F_APIKEY_GAME")                               \
	X(APIKEY, REVOKED, "revoked", "F_APIKEY_REVOKED")                      \
	X(APIKEY, CREATED, "created", NULL)                                    \
	X(DTOK, USER, "user", "F_DTOK_USER")                                   \
	X(DTOK, REVOKED, "revoked", "F_DTOK_REVOKED")                          \
	X(DTOK, CREATED, "created", NULL)                                      \
	X(DTOK, HOME, "home", NULL)                                            \
	X(LT, VENUE, "venue", NULL)                                            \
	X(LT, HOME, "home", "F_LT_HOME")                                       \
	X(OTT, VENUE, "venue", NULL)                                           \
	X(OTT, USED, "used", NULL)                                             \
	X(DD, USER, "user", NULL)                                              \
	X(DS, USER, "user", NULL)

#define KEYS_ENUM(id, name, lua) KEYS_##id,
enum keys_key { KEYS_TABLE(KEYS_ENUM) KEYS_COUNT };
#undef KEYS_ENUM

#define KEYS_FIELD_ENUM(rec, field, name, lua) KEYS_F_##rec##_##field,
enum keys_field { KEYS_FIELD_TABLE(KEYS_FIELD_ENUM) KEYS_FIELD_COUNT };
#undef KEYS_FIELD_ENUM

/* One row of a table: the name, and the scripts' constant (or NULL). */
struct keys_def {
	const char *name;
	const char *lua;
};

extern const struct keys_def keys_defs[KEYS_COUNT];
extern const struct keys_def keys_field_defs[KEYS_FIELD_COUNT];

/* The name of key id (after the key base): "game:", "games". */
#define KEYS_NAME(id) (keys_defs[KEYS_##id].name)
/* The name of a record's field: KEYS_FIELD(VENUE, SECRET) is "secret". */
#define KEYS_FIELD(rec, field) (keys_field_defs[KEYS_F_##rec##_##field].name)

/*
 * Writes into out (size bytes, always terminated) the key base (borrowed,
 * may be "" for a name relative to it), key k's name, then member (NULL:
 * none) and, when sub is not NULL, ':' and sub: keys_make(.., base,
 * KEYS_PC, venue, pc) is "<base>pc:<venue>:<pc>". Returns 0, or -1 when it
 * did not fit.
 */
int keys_make(char *out, size_t size, const char *base, enum keys_key k,
	      const char *member, const char *sub);

#endif
