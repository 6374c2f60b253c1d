/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * scripts.h - the Lua scripts that hold the session rules. Their sources are
 * the files in src/lua/, embedded at build time by lua2c.sh, with common.lua;
 * the store loads them once per connection, after a line of the settings as
 * constants, as one function library (FCALL) or each by SHA (EVALSHA).
 */
#ifndef HB_SCRIPTS_H
#define HB_SCRIPTS_H

/* X(enum constant, file name): the order is the order of script_defs[]. */
#define SCRIPT_TABLE(X)                                                        \
	X(SCRIPT_GAME_VERIFY, game_verify)                                     \
	X(SCRIPT_GAME_HEARTBEAT, game_heartbeat)                               \
	X(SCRIPT_GAME_END, game_end)                                           \
	X(SCRIPT_LAUNCHER_START, launcher_start)                               \
	X(SCRIPT_LAUNCHER_HEARTBEAT, launcher_heartbeat)                       \
	X(SCRIPT_LAUNCHER_OTT, launcher_ott)                                   \
	X(SCRIPT_LAUNCHER_END, launcher_end)                                   \
	X(SCRIPT_SWEEP, sweep)                                                 \
	X(SCRIPT_SESSION_REVOKE, session_revoke)                               \
	X(SCRIPT_WALLET_TOPUP, wallet_topup)                                   \
	X(SCRIPT_DEVICE, device)                                               \
	X(SCRIPT_METRICS, metrics)                                             \
	X(SCRIPT_SESSION_GET, session_get)                                     \
	X(SCRIPT_WALLET_SET, wallet_set)                                       \
	X(SCRIPT_LEDGER_ACK, ledger_ack)

enum script_id {
#define SCRIPT_ENUM(id, file) id,
	SCRIPT_TABLE(SCRIPT_ENUM)
#undef SCRIPT_ENUM
	    SCRIPT_COUNT
};

struct script_def {
	const char *name;
	const char *source;
};

extern const struct script_def script_defs[SCRIPT_COUNT];

/* common.lua: the definitions every script shares. */
extern const char script_common[];

#endif
