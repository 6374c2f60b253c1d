/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check_config.c - unit tests of config.h: the defaults of the tables of
 * docs/configuration.md, every integer setting's bounds, the string settings'
 * checks, the HB_CONFIG_FILE file under the environment, and messages that
 * name the setting at fault.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_main.h"

#include "config.h"

/* ---- helpers ------------------------------------------------------------- */

static const char *table_lookup(const char *name, void *ctx)
{
	for (const char *const *p = ctx; p && p[0]; p += 2)
		if (strcmp(p[0], name) == 0)
			return p[1];
	return NULL;
}

static struct config cfg;
static char err[512];

/* config_load from name/value pairs (NULL-terminated). */
static int load(const char *const *pairs)
{
	memset(err, 0, sizeof err);
	return config_load(&cfg, table_lookup, (void *)pairs, err, sizeof err);
}

static void load_ok(const char *const *pairs)
{
	ck_assert_msg(load(pairs) == 0, "refused: %s", err);
}

/* Loading must fail with a message that starts "NAME:". */
static void load_fails_naming(const char *const *pairs, const char *name)
{
	size_t n = strlen(name);

	ck_assert_msg(load(pairs) == -1, "accepted a bad %s", name);
	ck_assert_msg(strncmp(err, name, n) == 0 && err[n] == ':',
		      "message \"%s\" does not name %s", err, name);
}

/* One setting set to value, everything else default. */
static int load_one(const char *name, const char *value)
{
	const char *pairs[] = {name, value, NULL};

	return load(pairs);
}

static void one_ok(const char *name, const char *value)
{
	ck_assert_msg(load_one(name, value) == 0, "%s=\"%s\" refused: %s", name,
		      value, err);
}

static void one_fails(const char *name, const char *value)
{
	const char *pairs[] = {name, value, NULL};

	load_fails_naming(pairs, name);
}

/* The integer settings, walked from the X-macro. */
static const struct int_setting {
	const char *name;
	size_t offset;
	int64_t def, min, max;
} int_settings[] = {
#define INT_ROW(field, name, def, min, max)                                    \
	{name, offsetof(struct config, field), def, min, max},
    CONFIG_INT_TABLE(INT_ROW)
#undef INT_ROW
};

#define INT_SETTINGS ((int)(sizeof int_settings / sizeof int_settings[0]))

static int64_t int_field(const struct config *c, const struct int_setting *s)
{
	int64_t v;

	memcpy(&v, (const char *)c + s->offset, sizeof v);
	return v;
}

static const struct int_setting *int_setting(const char *name)
{
	for (int i = 0; i < INT_SETTINGS; i++)
		if (strcmp(int_settings[i].name, name) == 0)
			return &int_settings[i];
	return NULL;
}

static const char *const str_names[] = {
#define STR_ROW(field, name, def) name,
    CONFIG_STR_TABLE(STR_ROW)
#undef STR_ROW
};

#define STR_SETTINGS ((int)(sizeof str_names / sizeof str_names[0]))

static const char *const NO_SETTINGS[] = {NULL};

/* Writes text to a new temporary file; the caller unlinks path. */
static void temp_file(char *path, size_t size, const char *text)
{
	const char *dir = getenv("TMPDIR");
	FILE *f;
	int fd;

	snprintf(path, size, "%s/check_config.XXXXXX",
		 dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* config_load with HB_CONFIG_FILE naming a file of text, plus pairs. */
static int load_with_file(const char *text, const char *name, const char *value)
{
	char path[256];
	const char *pairs[] = {"HB_CONFIG_FILE", path, name, value, NULL};
	int rc;

	if (name == NULL)
		pairs[2] = NULL;
	temp_file(path, sizeof path, text);
	rc = load(pairs);
	unlink(path);
	return rc;
}

/* ---- defaults ------------------------------------------------------------ */

/* The defaults of docs/configuration.md's tables, written out independently. */
START_TEST(defaults_match_the_contract)
{
	static const struct {
		const char *name;
		int64_t value;
	} want[] = {
	    {"HB_REDIS_PORT", 6379},
	    {"HB_REDIS_DB", 0},
	    {"HB_REDIS_CONNECT_TIMEOUT_MS", 500},
	    {"HB_REDIS_TIMEOUT_MS", 1000},
	    {"HB_BODY_LIMIT", 65536},
	    {"HB_GAME_TTL_SEC", 240},
	    {"HB_HEARTBEAT_INTERVAL_SEC", 120},
	    {"HB_GRACE_SEC", 120},
	    {"HB_OTT_TTL_SEC", 60},
	    {"HB_OTT_RECORD_SEC", 600},
	    {"HB_LAUNCHER_TTL_SEC", 240},
	    {"HB_LAUNCHER_INTERVAL_SEC", 60},
	    {"HB_SIGNATURE_WINDOW_SEC", 300},
	    {"HB_TOMBSTONE_SEC", 86400},
	    {"HB_SETTLE_MARGIN_SEC", 3600},
	    {"HB_SWEEP_INTERVAL_SEC", 5},
	    {"HB_SWEEP_BATCH", 100},
	    {"HB_SHARDS", 1},
	    {"HB_RETRY_AFTER_SEC", 1},
	    {"HB_FCGI_STALL_SEC", 30},
	    {"HB_RATE_KEY_PER_SEC", 1000},
	    {"HB_RATE_SESSION_PER_MIN", 30},
	    {"HB_RATE_LAUNCHER_PER_MIN", 30},
	    {"HB_RATE_DEVICE_USER_PER_MIN", 120},
	    {"HB_JWT_LEEWAY_SEC", 30},
	    {"HB_DEVICE_IDLE_SEC", 1800},
	    {"HB_DEVICE_MAX_SEC", 2592000},
	    {"HB_DEVICE_TRUST_SEC", 2592000},
	    /* The settlement ledger's (docs/ledger.md). */
	    {"HB_LEDGER_BATCH", 500},
	    {"HB_LEDGER_BLOCK_MS", 500},
	    {"HB_LEDGER_CLAIM_IDLE_MS", 30000},
	    {"HB_LEDGER_INTERVAL_MS", 1000},
	};

	load_ok(NO_SETTINGS);
	ck_assert_int_eq((int)(sizeof want / sizeof want[0]), INT_SETTINGS);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct int_setting *s = int_setting(want[i].name);

		ck_assert_msg(s != NULL, "no setting %s", want[i].name);
		ck_assert_msg(int_field(&cfg, s) == want[i].value,
			      "%s is %lld, not %lld", want[i].name,
			      (long long)int_field(&cfg, s),
			      (long long)want[i].value);
	}
	/* The four the API's answers are built on, by field. */
	ck_assert(cfg.game_ttl_sec == 240);
	ck_assert(cfg.grace_sec == 120);
	ck_assert(cfg.ott_ttl_sec == 60);
	ck_assert(cfg.heartbeat_interval_sec == 120);
}
END_TEST

START_TEST(string_defaults_match_the_contract)
{
	load_ok(NO_SETTINGS);
	ck_assert_str_eq(cfg.redis_host, "127.0.0.1");
	ck_assert_str_eq(cfg.redis_socket, "");
	ck_assert_str_eq(cfg.redis_password, "");
	ck_assert_str_eq(cfg.redis_sentinels, "");
	ck_assert_str_eq(cfg.redis_master_name, "mymaster");
	ck_assert_str_eq(cfg.key_prefix, "hb:");
	ck_assert_str_eq(cfg.key_base, "hb:{core}:");
	ck_assert_str_eq(cfg.trusted_proxies, "");
	ck_assert_uint_eq(cfg.proxies.count, 0);
	ck_assert_str_eq(cfg.base_path, "");
	ck_assert_str_eq(cfg.log_level, "info");
	ck_assert_str_eq(cfg.jwt_secret, "");
	ck_assert_str_eq(cfg.metrics_file, "");
	ck_assert_str_eq(cfg.metrics_allow, "127.0.0.1/32,::1/128");
	ck_assert_uint_eq(cfg.metrics_from.count, 2);
}
END_TEST

/* ---- integer settings ---------------------------------------------------- */

/* Loop test: i indexes int_settings. */
START_TEST(int_setting_accepts_its_bounds)
{
	const struct int_setting *s = &int_settings[_i];
	char v[32];

	snprintf(v, sizeof v, "%lld", (long long)s->min);
	one_ok(s->name, v);
	ck_assert(int_field(&cfg, s) == s->min);
	snprintf(v, sizeof v, "%lld", (long long)s->max);
	one_ok(s->name, v);
	ck_assert(int_field(&cfg, s) == s->max);
	/* The default lies within the bounds. */
	ck_assert(s->min <= s->def && s->def <= s->max);
}
END_TEST

START_TEST(int_setting_refuses_bad_values)
{
	const struct int_setting *s = &int_settings[_i];
	static const char *const bad[] = {
	    "",	   "abc", "12abc", " 5",  "5 ", "+5",
	    "1.5", "1e3", "0x10",  "--1", "-",	"99999999999999999999",
	};
	char v[32];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		one_fails(s->name, bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "must be an integer"));
	}
	snprintf(v, sizeof v, "%lld", (long long)s->min - 1);
	one_fails(s->name, v);
	snprintf(v, sizeof v, "%lld", (long long)s->max + 1);
	one_fails(s->name, v);
	/* The message gives the range and echoes the value. */
	{
		char range[96];

		snprintf(range, sizeof range, "from %lld to %lld",
			 (long long)s->min, (long long)s->max);
		ck_assert_msg(strstr(err, range) != NULL, "\"%s\" lacks \"%s\"",
			      err, range);
		ck_assert_ptr_nonnull(strstr(err, v));
	}
}
END_TEST

START_TEST(int_settings_contract_bounds)
{
	/* A few bounds the docs and API depend on. */
	one_fails("HB_REDIS_PORT", "0");
	one_fails("HB_REDIS_PORT", "65536");
	one_ok("HB_GRACE_SEC", "0");
	ck_assert(cfg.grace_sec == 0);
	one_fails("HB_GAME_TTL_SEC", "0");
	one_ok("HB_SWEEP_INTERVAL_SEC", "0");
	one_ok("HB_RATE_KEY_PER_SEC", "0");
	one_fails("HB_BODY_LIMIT", "255");
	one_ok("HB_BODY_LIMIT", "256");
	ck_assert(cfg.body_limit == 256);
}
END_TEST

START_TEST(bad_value_message_is_bounded)
{
	char longv[2000];

	memset(longv, '9', sizeof longv - 1);
	longv[sizeof longv - 1] = '\0';
	one_fails("HB_GRACE_SEC", longv);
	ck_assert_uint_lt(strlen(err), 200);
}
END_TEST

/* ---- string settings ----------------------------------------------------- */

/* Loop test: i indexes str_names. */
START_TEST(str_setting_refuses_too_long)
{
	char *v = malloc(CONFIG_STR_MAX + 1);

	ck_assert_ptr_nonnull(v);
	memset(v, 'a', CONFIG_STR_MAX);
	v[CONFIG_STR_MAX] = '\0';
	one_fails(str_names[_i], v);
	ck_assert_ptr_nonnull(strstr(err, "longer than"));
	free(v);
}
END_TEST

START_TEST(str_setting_longest_fits)
{
	char *v = malloc(CONFIG_STR_MAX);

	ck_assert_ptr_nonnull(v);
	memset(v, 's', CONFIG_STR_MAX - 1);
	v[CONFIG_STR_MAX - 1] = '\0';
	one_ok("HB_JWT_SECRET", v);
	ck_assert_str_eq(cfg.jwt_secret, v);
	one_ok("HB_REDIS_PASSWORD", v);
	ck_assert_str_eq(cfg.redis_password, v);
	free(v);
}
END_TEST

START_TEST(key_base_is_prefix_and_core_tag)
{
	char p64[65];

	one_ok("HB_KEY_PREFIX", "myapp:");
	ck_assert_str_eq(cfg.key_prefix, "myapp:");
	ck_assert_str_eq(cfg.key_base, "myapp:{core}:");
	one_ok("HB_KEY_PREFIX", "");
	ck_assert_str_eq(cfg.key_base, "{core}:");

	memset(p64, 'p', 64);
	p64[64] = '\0';
	one_ok("HB_KEY_PREFIX", p64);
	ck_assert_uint_eq(strlen(cfg.key_base), 64 + 7);
}
END_TEST

START_TEST(key_tag_names_the_hash_tag)
{
	static const char *const both[] = {"HB_KEY_PREFIX", "a:", "HB_KEY_TAG",
					   "site-2", NULL};
	static const char *const bad[] = {"", "a{b", "a}b", "a b", "a\tb"};
	char t64[65], t65[66];

	load_ok(both);
	ck_assert_str_eq(cfg.key_base, "a:{site-2}:");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		one_fails("HB_KEY_TAG", bad[i]);
	memset(t64, 't', 64);
	t64[64] = '\0';
	one_ok("HB_KEY_TAG", t64);
	memset(t65, 't', 65);
	t65[65] = '\0';
	one_fails("HB_KEY_TAG", t65);
}
END_TEST

START_TEST(key_prefix_refuses_braces_spaces_and_length)
{
	static const char *const bad[] = {
	    "a{b", "a}b", "{core}", "a b", "a\tb", "a\nb", "a\rb",
	};
	char p65[66];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		one_fails("HB_KEY_PREFIX", bad[i]);
	memset(p65, 'p', 65);
	p65[65] = '\0';
	one_fails("HB_KEY_PREFIX", p65);
}
END_TEST

START_TEST(base_path_shape)
{
	one_ok("HB_BASE_PATH", "/hb");
	ck_assert_str_eq(cfg.base_path, "/hb");
	one_ok("HB_BASE_PATH", "/api/v2/hb");
	one_ok("HB_BASE_PATH", "");
	one_fails("HB_BASE_PATH", "hb");
	one_fails("HB_BASE_PATH", "/hb/");
	one_fails("HB_BASE_PATH", "/");
}
END_TEST

START_TEST(log_level_values)
{
	static const char *const good[] = {"debug", "info", "warn", "error"};
	static const char *const bad[] = {"", "INFO", "verbose", "warning",
					  "info "};

	for (size_t i = 0; i < 4; i++) {
		one_ok("HB_LOG_LEVEL", good[i]);
		ck_assert_str_eq(cfg.log_level, good[i]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		one_fails("HB_LOG_LEVEL", bad[i]);
}
END_TEST

START_TEST(trusted_proxies_are_parsed)
{
	one_ok("HB_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.0/16,::1");
	ck_assert_uint_eq(cfg.proxies.count, 3);
	ck_assert_int_eq(cidr_list_contains(&cfg.proxies, "10.20.30.40"), 1);
	ck_assert_int_eq(cidr_list_contains(&cfg.proxies, "::1"), 1);
	ck_assert_int_eq(cidr_list_contains(&cfg.proxies, "11.0.0.1"), 0);
}
END_TEST

START_TEST(bad_cidr_is_refused_by_name)
{
	one_fails("HB_TRUSTED_PROXIES", "10.0.0.0/8,bogus");
	ck_assert_ptr_nonnull(strstr(err, "bogus"));
	one_fails("HB_TRUSTED_PROXIES", "10.0.0.0/33");
	one_fails("HB_TRUSTED_PROXIES", "2001:db8::/129");
	one_fails("HB_TRUSTED_PROXIES", "10.0.0.0/8;10.1.0.0/16");
	one_fails("HB_METRICS_ALLOW", "127.0.0.1/32,localhost");
	ck_assert_ptr_nonnull(strstr(err, "localhost"));
	one_ok("HB_METRICS_ALLOW", "");
	ck_assert_uint_eq(cfg.metrics_from.count, 0);
}
END_TEST

START_TEST(sentinels_are_host_port_lists)
{
	one_ok("HB_REDIS_SENTINELS", "10.0.0.1:26379");
	one_ok("HB_REDIS_SENTINELS", "10.0.0.1:26379,sentinel-b:26380");
	ck_assert_str_eq(cfg.redis_sentinels,
			 "10.0.0.1:26379,sentinel-b:26380");
	one_ok("HB_REDIS_SENTINELS", "[::1]:26379");
	one_fails("HB_REDIS_SENTINELS", "host");
	one_fails("HB_REDIS_SENTINELS", ":26379");
	one_fails("HB_REDIS_SENTINELS", "host:");
	one_fails("HB_REDIS_SENTINELS", "host:0");
	one_fails("HB_REDIS_SENTINELS", "host:65536");
	one_fails("HB_REDIS_SENTINELS", "host:port");
	one_fails("HB_REDIS_SENTINELS", "a:1,b");
	one_fails("HB_REDIS_SENTINELS", ",a:1");
}
END_TEST

START_TEST(cluster_is_a_host_port_list_exclusive_of_sentinels)
{
	static const char *const both[] = {"HB_REDIS_CLUSTER", "10.0.0.1:7000",
					   "HB_REDIS_SENTINELS",
					   "10.0.0.1:26379", NULL};
	static const char *const with_db[] = {
	    "HB_REDIS_CLUSTER", "10.0.0.1:7000", "HB_REDIS_DB", "2", NULL};

	one_ok("HB_REDIS_CLUSTER", "10.0.0.1:7000,node-b:7001,[::1]:7002");
	ck_assert_str_eq(cfg.redis_cluster,
			 "10.0.0.1:7000,node-b:7001,[::1]:7002");
	one_fails("HB_REDIS_CLUSTER", "node-a");
	one_fails("HB_REDIS_CLUSTER", "node-a:0");
	one_fails("HB_REDIS_CLUSTER", "a:7000,");
	load_fails_naming(both, "HB_REDIS_CLUSTER");
	load_fails_naming(with_db, "HB_REDIS_DB");
}
END_TEST

START_TEST(redis_host_or_socket_is_required)
{
	static const char *const with_socket[] = {
	    "HB_REDIS_HOST", "", "HB_REDIS_SOCKET", "/run/redis.sock", NULL};

	one_fails("HB_REDIS_HOST", "");
	load_ok(with_socket);
	ck_assert_str_eq(cfg.redis_socket, "/run/redis.sock");
}
END_TEST

START_TEST(first_bad_setting_is_reported)
{
	/* A good value next to a bad one: the bad one is named. */
	static const char *const p[] = {"HB_GAME_TTL_SEC", "300",
					"HB_OTT_TTL_SEC", "soon", NULL};

	load_fails_naming(p, "HB_OTT_TTL_SEC");
}
END_TEST

/* ---- HB_CONFIG_FILE ------------------------------------------------------ */

START_TEST(file_values_apply)
{
	static const char text[] = "# session-heartbeat settings\n"
				   "\n"
				   "HB_GAME_TTL_SEC=300\n"
				   "  HB_GRACE_SEC =  60  \n"
				   "\tHB_KEY_PREFIX=prod:\r\n"
				   "HB_REDIS_PASSWORD=a=b#c\n"
				   "   # indented comment\n"
				   "HB_TRUSTED_PROXIES=10.0.0.0/8, ::1\n"
				   "HB_LOG_LEVEL=debug";

	ck_assert_msg(load_with_file(text, NULL, NULL) == 0, "refused: %s",
		      err);
	ck_assert(cfg.game_ttl_sec == 300);
	ck_assert(cfg.grace_sec == 60);
	ck_assert_str_eq(cfg.key_prefix, "prod:");
	ck_assert_str_eq(cfg.key_base, "prod:{core}:");
	ck_assert_str_eq(cfg.redis_password, "a=b#c");
	ck_assert_uint_eq(cfg.proxies.count, 2);
	ck_assert_str_eq(cfg.log_level, "debug");
	/* What the file leaves out keeps its default. */
	ck_assert(cfg.ott_ttl_sec == 60);
}
END_TEST

START_TEST(environment_wins_over_file)
{
	static const char text[] = "HB_GAME_TTL_SEC=300\nHB_GRACE_SEC=60\n";

	ck_assert_msg(load_with_file(text, "HB_GAME_TTL_SEC", "500") == 0,
		      "refused: %s", err);
	ck_assert(cfg.game_ttl_sec == 500);
	ck_assert(cfg.grace_sec == 60);

	/* Even a bad environment value wins, and is reported. */
	ck_assert_int_eq(load_with_file(text, "HB_GAME_TTL_SEC", ""), -1);
	ck_assert_int_eq(strncmp(err, "HB_GAME_TTL_SEC:", 16), 0);
}
END_TEST

START_TEST(bad_value_in_file_names_the_setting)
{
	ck_assert_int_eq(load_with_file("HB_OTT_TTL_SEC=0\n", NULL, NULL), -1);
	ck_assert_int_eq(strncmp(err, "HB_OTT_TTL_SEC:", 15), 0);
	ck_assert_int_eq(
	    load_with_file("HB_TRUSTED_PROXIES=nope\n", NULL, NULL), -1);
	ck_assert_int_eq(strncmp(err, "HB_TRUSTED_PROXIES:", 19), 0);
}
END_TEST

START_TEST(file_unknown_key_is_refused)
{
	ck_assert_int_eq(
	    load_with_file("HB_GAME_TTL_SEC=300\nHB_GAME_TTL=5\n", NULL, NULL),
	    -1);
	ck_assert_int_eq(strncmp(err, "HB_CONFIG_FILE:", 15), 0);
	ck_assert_ptr_nonnull(strstr(err, "unknown setting HB_GAME_TTL"));
	ck_assert_ptr_nonnull(strstr(err, ":2:"));
}
END_TEST

START_TEST(file_line_without_equals_is_refused)
{
	ck_assert_int_eq(
	    load_with_file("# ok\nHB_GAME_TTL_SEC 300\n", NULL, NULL), -1);
	ck_assert_int_eq(strncmp(err, "HB_CONFIG_FILE:", 15), 0);
	ck_assert_ptr_nonnull(strstr(err, "not KEY=VALUE"));
	ck_assert_ptr_nonnull(strstr(err, ":2:"));
}
END_TEST

START_TEST(missing_file_is_refused)
{
	static const char *const p[] = {
	    "HB_CONFIG_FILE", "/nonexistent/dir/heartbeat.conf", NULL};

	load_fails_naming(p, "HB_CONFIG_FILE");
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dir/heartbeat.conf"));
}
END_TEST

START_TEST(empty_config_file_setting_is_ignored)
{
	static const char *const p[] = {"HB_CONFIG_FILE", "", NULL};

	load_ok(p);
	ck_assert(cfg.game_ttl_sec == 240);
}
END_TEST

START_TEST(file_settings_do_not_leak_into_the_next_load)
{
	ck_assert_int_eq(load_with_file("HB_GAME_TTL_SEC=300\n", NULL, NULL),
			 0);
	ck_assert(cfg.game_ttl_sec == 300);
	load_ok(NO_SETTINGS);
	ck_assert(cfg.game_ttl_sec == 240);
}
END_TEST

/* ---- the environment ------------------------------------------------------
 */

START_TEST(load_env_reads_the_environment)
{
	ck_assert_int_eq(setenv("HB_GAME_TTL_SEC", "321", 1), 0);
	ck_assert_int_eq(setenv("HB_KEY_PREFIX", "envtest:", 1), 0);
	unsetenv("HB_CONFIG_FILE");
	ck_assert_msg(config_load_env(&cfg, err, sizeof err) == 0, "%s", err);
	ck_assert(cfg.game_ttl_sec == 321);
	ck_assert_str_eq(cfg.key_base, "envtest:{core}:");

	ck_assert_int_eq(setenv("HB_GAME_TTL_SEC", "-3", 1), 0);
	ck_assert_int_eq(config_load_env(&cfg, err, sizeof err), -1);
	ck_assert_int_eq(strncmp(err, "HB_GAME_TTL_SEC:", 16), 0);
	unsetenv("HB_GAME_TTL_SEC");
	unsetenv("HB_KEY_PREFIX");
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

Suite *check_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("defaults");
	tcase_add_test(tc, defaults_match_the_contract);
	tcase_add_test(tc, string_defaults_match_the_contract);
	suite_add_tcase(s, tc);

	tc = tcase_create("integers");
	tcase_add_loop_test(tc, int_setting_accepts_its_bounds, 0,
			    INT_SETTINGS);
	tcase_add_loop_test(tc, int_setting_refuses_bad_values, 0,
			    INT_SETTINGS);
	tcase_add_test(tc, int_settings_contract_bounds);
	tcase_add_test(tc, bad_value_message_is_bounded);
	suite_add_tcase(s, tc);

	tc = tcase_create("strings");
	tcase_add_loop_test(tc, str_setting_refuses_too_long, 0, STR_SETTINGS);
	tcase_add_test(tc, str_setting_longest_fits);
	tcase_add_test(tc, key_base_is_prefix_and_core_tag);
	tcase_add_test(tc, key_tag_names_the_hash_tag);
	tcase_add_test(tc, key_prefix_refuses_braces_spaces_and_length);
	tcase_add_test(tc, base_path_shape);
	tcase_add_test(tc, log_level_values);
	tcase_add_test(tc, trusted_proxies_are_parsed);
	tcase_add_test(tc, bad_cidr_is_refused_by_name);
	tcase_add_test(tc, sentinels_are_host_port_lists);
	tcase_add_test(tc, cluster_is_a_host_port_list_exclusive_of_sentinels);
	tcase_add_test(tc, redis_host_or_socket_is_required);
	tcase_add_test(tc, first_bad_setting_is_reported);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_test(tc, file_values_apply);
	tcase_add_test(tc, environment_wins_over_file);
	tcase_add_test(tc, bad_value_in_file_names_the_setting);
	tcase_add_test(tc, file_unknown_key_is_refused);
	tcase_add_test(tc, file_line_without_equals_is_refused);
	tcase_add_test(tc, missing_file_is_refused);
	tcase_add_test(tc, empty_config_file_setting_is_ignored);
	tcase_add_test(tc, file_settings_do_not_leak_into_the_next_load);
	tcase_add_test(tc, load_env_reads_the_environment);
	suite_add_tcase(s, tc);
	return s;
}
