/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.h - settings, read once at start-up from the environment and an
 * optional file. A bad value stops the program at start with a message naming
 * the setting; nothing is parsed per request.
 */
#ifndef HB_CONFIG_H
#define HB_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

/* X(field, NAME, default, min, max): integer settings. */
#define CONFIG_INT_TABLE(X)                                                    \
	X(redis_port, "HB_REDIS_PORT", 6379, 1, 65535)                         \
	X(redis_db, "HB_REDIS_DB", 0, 0, 10000)                                \
	X(redis_connect_timeout_ms, "HB_REDIS_CONNECT_TIMEOUT_MS", 500, 1,     \
	  60000)                                                               \
	X(redis_timeout_ms, "HB_REDIS_TIMEOUT_MS", 1000, 1, 60000)             \
	X(body_limit, "HB_BODY_LIMIT", 65536, 256, 16777216)                   \
	X(game_ttl_sec, "HB_GAME_TTL_SEC", 240, 1, 86400)                      \
	X(heartbeat_interval_sec, "HB_HEARTBEAT_INTERVAL_SEC", 120, 1, 86400)  \
	X(grace_sec, "HB_GRACE_SEC", 120, 0, 86400)                            \
	X(ott_ttl_sec, "HB_OTT_TTL_SEC", 60, 1, 86400)                         \
	X(ott_record_sec, "HB_OTT_RECORD_SEC", 600, 1, 604800)                 \
	X(launcher_ttl_sec, "HB_LAUNCHER_TTL_SEC", 240, 1, 86400)              \
	X(launcher_interval_sec, "HB_LAUNCHER_INTERVAL_SEC", 60, 1, 86400)     \
	X(signature_window_sec, "HB_SIGNATURE_WINDOW_SEC", 300, 1, 86400)      \
	X(tombstone_sec, "HB_TOMBSTONE_SEC", 86400, 1, 2592000)                \
	X(settle_margin_sec, "HB_SETTLE_MARGIN_SEC", 3600, 1, 2592000)         \
	X(sweep_interval_sec, "HB_SWEEP_INTERVAL_SEC", 5, 0, 86400)            \
	X(sweep_batch, "HB_SWEEP_BATCH", 100, 1, 100000)                       \
	X(shards, "HB_SHARDS", 1, 1, 1024)                                     \
	X(retry_after_sec, "HB_RETRY_AFTER_SEC", 1, 1, 3600)                   \
	X(fcgi_stall_sec, "HB_FCGI_STALL_SEC", 30, 1, 86400)                   \
	X(rate_key_per_sec, "HB_RATE_KEY_PER_SEC", 1000, 0, 1000000)           \
	X(rate_session_per_min, "HB_RATE_SESSION_PER_MIN", 30, 0, 1000000)     \
	X(rate_launcher_per_min, "HB_RATE_LAUNCHER_PER_MIN", 30, 0, 1000000)   \
	X(rate_device_user_per_min, "HB_RATE_DEVICE_USER_PER_MIN", 120, 0,     \
	  1000000)                                                             \
	X(jwt_leeway_sec, "HB_JWT_LEEWAY_SEC", 30, 0, 3600)                    \
	X(device_idle_sec, "HB_DEVICE_IDLE_SEC", 1800, 1, 31536000)            \
	X(device_max_sec, "HB_DEVICE_MAX_SEC", 2592000, 1, 31536000)           \
	X(device_trust_sec, "HB_DEVICE_TRUST_SEC", 2592000, 1, 31536000)       \
	X(ledger_batch, "HB_LEDGER_BATCH", 500, 1, 10000)                      \
	X(ledger_block_ms, "HB_LEDGER_BLOCK_MS", 500, 1, 59000)                \
	X(ledger_claim_idle_ms, "HB_LEDGER_CLAIM_IDLE_MS", 30000, 100,         \
	  86400000)                                                            \
	X(ledger_interval_ms, "HB_LEDGER_INTERVAL_MS", 1000, 10, 3600000)

/* X(field, NAME, default): string settings, validated in config.c. */
#define CONFIG_STR_TABLE(X)                                                    \
	X(redis_host, "HB_REDIS_HOST", "127.0.0.1")                            \
	X(redis_socket, "HB_REDIS_SOCKET", "")                                 \
	X(redis_password, "HB_REDIS_PASSWORD", "")                             \
	X(redis_sentinels, "HB_REDIS_SENTINELS", "")                           \
	X(redis_master_name, "HB_REDIS_MASTER_NAME", "mymaster")               \
	X(redis_cluster, "HB_REDIS_CLUSTER", "")                               \
	X(key_prefix, "HB_KEY_PREFIX", "hb:")                                  \
	X(key_tag, "HB_KEY_TAG", "core")                                       \
	X(trusted_proxies, "HB_TRUSTED_PROXIES", "")                           \
	X(base_path, "HB_BASE_PATH", "")                                       \
	X(log_level, "HB_LOG_LEVEL", "info")                                   \
	X(jwt_secret, "HB_JWT_SECRET", "")                                     \
	X(metrics_file, "HB_METRICS_FILE", "")                                 \
	X(metrics_allow, "HB_METRICS_ALLOW", "127.0.0.1/32,::1/128")           \
	X(ledger_pg, "HB_LEDGER_PG", "")                                       \
	X(ledger_group, "HB_LEDGER_GROUP", "ledger")                           \
	X(ledger_consumer, "HB_LEDGER_CONSUMER", "")                           \
	X(ledger_trim_groups, "HB_LEDGER_TRIM_GROUPS", "")                     \
	X(ledger_metrics_file, "HB_LEDGER_METRICS_FILE", "")

/* The longest string setting accepted. */
#define CONFIG_STR_MAX 1024

struct config {
#define CONFIG_INT_FIELD(field, name, def, min, max) int64_t field;
	CONFIG_INT_TABLE(CONFIG_INT_FIELD)
#undef CONFIG_INT_FIELD
#define CONFIG_STR_FIELD(field, name, def) char field[CONFIG_STR_MAX];
	CONFIG_STR_TABLE(CONFIG_STR_FIELD)
#undef CONFIG_STR_FIELD
	/* HB_TRUSTED_PROXIES and HB_METRICS_ALLOW, parsed. */
	struct cidr_list proxies;
	struct cidr_list metrics_from;
	/* The prefix of every key: key_prefix followed by "{core}:". */
	char key_base[CONFIG_STR_MAX + 16];
};

/*
 * A source of settings: returns the value of name, or NULL when unset. The
 * string is borrowed and must live until config_load returns.
 */
typedef const char *(*config_lookup_fn)(const char *name, void *ctx);

/*
 * Fills cfg from lookup (the environment in production; a table in tests),
 * after the KEY=VALUE file named by HB_CONFIG_FILE if lookup names one: values
 * from lookup win over the file. Returns 0, or -1 with a message naming the
 * setting in err.
 */
int config_load(struct config *cfg, config_lookup_fn lookup, void *ctx,
		char *err, size_t errlen);

/* config_load from the process environment. */
int config_load_env(struct config *cfg, char *err, size_t errlen);

#endif
