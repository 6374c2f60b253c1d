/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shard.h - which shard a key, an id or a call belongs to. A deployment has
 * HB_SHARDS shards (1 by default), each a hash tag of its own, so that a
 * Redis Cluster places and moves them like any slot:
 *
 *   shard 0      "<prefix>{<tag>}:"     (the layout of an unsharded one)
 *   shard i > 0  "<prefix>{<tag>.<i>}:"
 *
 * What belongs together lives in one shard: a venue's wallet, PCs and
 * sessions in the venue's, a device user's tokens, devices and sessions in
 * the user's. An owner (a venue id, a user id) has a home, a 16-bit hash of
 * its name, and its shard is home % HB_SHARDS. The ids the service hands
 * out for an owner (game session ids, launcher tokens, OTTs, device access
 * tokens) carry the owner's home as their first four hex digits, so a call
 * finds its shard from the id alone, and still does after the number of
 * shards changes (heartbeatctl reshard). Games and API keys, which every
 * game call reads, are written into every shard (heartbeatctl).
 */
#ifndef HB_SHARD_H
#define HB_SHARD_H

#include <stddef.h>

#include "config.h"

/* The most shards a deployment can have (HB_SHARDS). */
#define SHARD_MAX 1024
/* The hex digits of an id that carry its owner's home. */
#define SHARD_HOME_HEX 4
/*
 * A device access token heartbeatctl issues: the prefix, the user's home,
 * then 48 hex digits of randomness (one without the home, 52 bytes long,
 * was issued before tokens carried one and goes to shard 0).
 */
#define SHARD_TOKEN_PREFIX "dvt_"
#define SHARD_TOKEN_LEN (4 + SHARD_HOME_HEX + 48)
/* The longest key base of a shard. */
#define SHARD_BASE_MAX (CONFIG_STR_MAX + 24)

/* The home of an owner named by s (len bytes): CRC16 of the name. */
unsigned shard_home(const char *s, size_t len);

/* The shard of home in cfg's deployment. */
int shard_of_home(const struct config *cfg, unsigned home);

/* The shard of an owner named by s (len bytes). */
int shard_of_owner(const struct config *cfg, const char *s, size_t len);

/*
 * Reads the home an id carries at hex (the id after its prefix), of len
 * bytes, into *home. Returns 0, or -1 when it does not start with
 * SHARD_HOME_HEX lowercase hex digits.
 */
int shard_id_home(const char *hex, size_t len, unsigned *home);

/*
 * The shard of an id whose home starts at hex (the id after its prefix:
 * "gs_", "lt_", ...), of len bytes. An id too short or not starting with
 * hex digits (an id made before ids carried a home cannot be told apart,
 * and one made by a client is unknown anyway) goes to shard 0.
 */
int shard_of_id(const struct config *cfg, const char *hex, size_t len);

/* Writes home as SHARD_HOME_HEX lowercase hex digits at out (no NUL). */
void shard_put_home(unsigned home, char *out);

/*
 * Writes shard's key base into out (size bytes, terminated). Returns 0, or
 * -1 when it did not fit.
 */
int shard_base(const struct config *cfg, int shard, char *out, size_t size);

#endif
