/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.c - table-driven settings with one checked parser per kind.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The longest line of a configuration file. */
#define CONFIG_LINE_MAX 2048
/* The most settings a file may hold. */
#define CONFIG_FILE_MAX 64

struct file_entry {
	char name[64];
	char value[CONFIG_STR_MAX];
};

struct file_settings {
	size_t count;
	struct file_entry items[CONFIG_FILE_MAX];
};

static int config_known_name(const char *name)
{
#define CONFIG_NAME_INT(field, n, def, min, max)                               \
	if (strcmp(name, n) == 0)                                              \
		return 1;
	CONFIG_INT_TABLE(CONFIG_NAME_INT)
#undef CONFIG_NAME_INT
#define CONFIG_NAME_STR(field, n, def)                                         \
	if (strcmp(name, n) == 0)                                              \
		return 1;
	CONFIG_STR_TABLE(CONFIG_NAME_STR)
#undef CONFIG_NAME_STR
	return 0;
}

static char *config_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* Reads KEY=VALUE lines; '#' starts a comment line. */
static int config_read_file(const char *path, struct file_settings *fs,
			    char *err, size_t errlen)
{
	char line[CONFIG_LINE_MAX];
	FILE *f = fopen(path, "r");
	int lineno = 0;

	fs->count = 0;
	if (f == NULL) {
		snprintf(err, errlen, "HB_CONFIG_FILE: cannot open %s: %s",
			 path, strerror(errno));
		return -1;
	}
	for (;;) {
		char *eq, *name, *value;

		/* fgets writes the last byte only when a line fills the buffer.
		 */
		line[sizeof line - 1] = 'x';
		if (fgets(line, sizeof line, f) == NULL)
			break;
		lineno++;
		/*
		 * The rest of a longer line would be read as a line of its own
		 * (the tail of a long comment as a setting): refuse it.
		 */
		if (line[sizeof line - 1] == '\0' &&
		    line[sizeof line - 2] != '\n' && getc(f) != EOF) {
			snprintf(err, errlen,
				 "HB_CONFIG_FILE: %s:%d: longer than %d bytes",
				 path, lineno, CONFIG_LINE_MAX - 2);
			goto fail;
		}
		name = config_trim(line);
		if (*name == '\0' || *name == '#')
			continue;
		eq = strchr(name, '=');
		if (eq == NULL) {
			snprintf(err, errlen,
				 "HB_CONFIG_FILE: %s:%d: not KEY=VALUE", path,
				 lineno);
			goto fail;
		}
		*eq = '\0';
		name = config_trim(name);
		value = config_trim(eq + 1);
		if (!config_known_name(name)) {
			snprintf(err, errlen,
				 "HB_CONFIG_FILE: %s:%d: unknown setting %.64s",
				 path, lineno, name);
			goto fail;
		}
		if (strlen(value) >= CONFIG_STR_MAX ||
		    fs->count == CONFIG_FILE_MAX) {
			snprintf(err, errlen, "HB_CONFIG_FILE: %s:%d: too long",
				 path, lineno);
			goto fail;
		}
		snprintf(fs->items[fs->count].name,
			 sizeof fs->items[fs->count].name, "%s", name);
		snprintf(fs->items[fs->count].value,
			 sizeof fs->items[fs->count].value, "%s", value);
		fs->count++;
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	return -1;
}

/* The value of name: from lookup first, then the file, else NULL. */
static const char *config_value(const char *name, config_lookup_fn lookup,
				void *ctx, const struct file_settings *fs)
{
	const char *v = lookup(name, ctx);

	if (v != NULL)
		return v;
	for (size_t i = 0; i < fs->count; i++)
		if (strcmp(fs->items[i].name, name) == 0)
			return fs->items[i].value;
	return NULL;
}

/* Whether text is a comma-separated list of HOST:PORT. Returns 0, or -1. */
static int config_check_hostports(const char *text)
{
	const char *p = text;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		const char *colon;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int64_t port;

		colon = memrchr(p, ':', len);
		if (colon == NULL || colon == p ||
		    util_parse_int64(colon + 1, len - (size_t)(colon + 1 - p),
				     1, 65535, &port) != 0)
			return -1;
		p += len;
		if (*p == ',' && *++p == '\0')
			return -1; /* a trailing comma */
	}
	return 0;
}

static int config_validate(struct config *cfg, char *err, size_t errlen)
{
	char cerr[128];
	const char *lv = cfg->log_level;

	if (strpbrk(cfg->key_prefix, "{} \t\r\n") != NULL ||
	    strlen(cfg->key_prefix) > 64) {
		snprintf(err, errlen,
			 "HB_KEY_PREFIX: at most 64 characters, without braces "
			 "or spaces");
		return -1;
	}
	if (cfg->key_tag[0] == '\0' ||
	    strpbrk(cfg->key_tag, "{} \t\r\n") != NULL ||
	    strlen(cfg->key_tag) > 64) {
		snprintf(err, errlen,
			 "HB_KEY_TAG: 1 to 64 characters, without braces or "
			 "spaces");
		return -1;
	}
	if (cfg->base_path[0] != '\0' &&
	    (cfg->base_path[0] != '/' ||
	     cfg->base_path[strlen(cfg->base_path) - 1] == '/')) {
		snprintf(err, errlen,
			 "HB_BASE_PATH: must start with '/' and not end with "
			 "'/' (or be empty)");
		return -1;
	}
	if (strcmp(lv, "debug") != 0 && strcmp(lv, "info") != 0 &&
	    strcmp(lv, "warn") != 0 && strcmp(lv, "error") != 0) {
		snprintf(err, errlen,
			 "HB_LOG_LEVEL: must be debug, info, warn or error");
		return -1;
	}
	if (cidr_list_parse(cfg->trusted_proxies, &cfg->proxies, cerr,
			    sizeof cerr) != 0) {
		snprintf(err, errlen, "HB_TRUSTED_PROXIES: %s", cerr);
		return -1;
	}
	if (cidr_list_parse(cfg->metrics_allow, &cfg->metrics_from, cerr,
			    sizeof cerr) != 0) {
		snprintf(err, errlen, "HB_METRICS_ALLOW: %s", cerr);
		return -1;
	}
	if (cfg->redis_sentinels[0] != '\0' &&
	    config_check_hostports(cfg->redis_sentinels) != 0) {
		snprintf(
		    err, errlen,
		    "HB_REDIS_SENTINELS: must be HOST:PORT[,HOST:PORT...]");
		return -1;
	}
	if (cfg->redis_cluster[0] != '\0' &&
	    config_check_hostports(cfg->redis_cluster) != 0) {
		snprintf(err, errlen,
			 "HB_REDIS_CLUSTER: must be HOST:PORT[,HOST:PORT...]");
		return -1;
	}
	if (cfg->redis_cluster[0] != '\0' && cfg->redis_sentinels[0] != '\0') {
		snprintf(err, errlen,
			 "HB_REDIS_CLUSTER: not with HB_REDIS_SENTINELS (set "
			 "one of them)");
		return -1;
	}
	if (cfg->redis_cluster[0] != '\0' && cfg->redis_db != 0) {
		snprintf(err, errlen,
			 "HB_REDIS_DB: a Redis Cluster has only database 0");
		return -1;
	}
	if (cfg->redis_socket[0] == '\0' && cfg->redis_host[0] == '\0') {
		snprintf(err, errlen,
			 "HB_REDIS_HOST: empty (set it or HB_REDIS_SOCKET)");
		return -1;
	}
	snprintf(cfg->key_base, sizeof cfg->key_base,
		 "%s{%s}:", cfg->key_prefix, cfg->key_tag);
	return 0;
}

int config_load(struct config *cfg, config_lookup_fn lookup, void *ctx,
		char *err, size_t errlen)
{
	static struct file_settings fs;
	const char *file = lookup("HB_CONFIG_FILE", ctx);
	const char *v;

	memset(cfg, 0, sizeof *cfg);
	fs.count = 0;
	if (file != NULL && *file != '\0' &&
	    config_read_file(file, &fs, err, errlen) != 0)
		return -1;

#define CONFIG_LOAD_INT(field, name, def, min, max)                            \
	cfg->field = def;                                                      \
	v = config_value(name, lookup, ctx, &fs);                              \
	if (v != NULL && util_parse_int(v, min, max, &cfg->field) != 0) {      \
		snprintf(err, errlen,                                          \
			 "%s: must be an integer from %lld to %lld, got "      \
			 "\"%.64s\"",                                          \
			 name, (long long)(min), (long long)(max), v);         \
		return -1;                                                     \
	}
	CONFIG_INT_TABLE(CONFIG_LOAD_INT)
#undef CONFIG_LOAD_INT

#define CONFIG_LOAD_STR(field, name, def)                                      \
	v = config_value(name, lookup, ctx, &fs);                              \
	if (v == NULL)                                                         \
		v = def;                                                       \
	if (strlen(v) >= CONFIG_STR_MAX) {                                     \
		snprintf(err, errlen, "%s: longer than %d bytes", name,        \
			 CONFIG_STR_MAX - 1);                                  \
		return -1;                                                     \
	}                                                                      \
	snprintf(cfg->field, sizeof cfg->field, "%s", v);
	CONFIG_STR_TABLE(CONFIG_LOAD_STR)
#undef CONFIG_LOAD_STR

	return config_validate(cfg, err, errlen);
}

static const char *config_getenv(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

int config_load_env(struct config *cfg, char *err, size_t errlen)
{
	return config_load(cfg, config_getenv, NULL, err, errlen);
}
