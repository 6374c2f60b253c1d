/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_config.c - settings (config.h): config_load with a lookup function
 * over the input's parameters, and the KEY=VALUE file of HB_CONFIG_FILE.
 * A loaded configuration must hold every integer inside its range and every
 * string inside its rules, and every setting must be the one a plain
 * reading of the file (whole lines) and the environment gives; a refused
 * one must say why.
 *
 * Input: "NAME=VALUE" lines (the environment), an empty line, then the
 * configuration file. The file is a memfd, rewritten for each input and
 * named to config_load as /proc/self/fd/N whenever the input has a file
 * part or an HB_CONFIG_FILE line (whose own value is ignored: the harness
 * opens no other file).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"
#include "util.h"

struct fuzz_env {
	const struct fuzz_input *in;
	const char *file; /* the memfd's path, or NULL */
};

static const char *fuzz_lookup(const char *name, void *ctx)
{
	const struct fuzz_env *env = ctx;

	if (strcmp(name, "HB_CONFIG_FILE") == 0)
		return env->file;
	return fuzz_input_get(env->in, name);
}

/* The memfd the file part goes to, made once per process. */
static const char *fuzz_file(const char *body, size_t len)
{
	static int fd = -1;
	static char path[64];

	if (fd < 0) {
		fd = memfd_create("fuzz_config", 0);
		if (fd < 0)
			fuzz_fail("memfd_create failed");
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 ||
	    (len > 0 && pwrite(fd, body, len, 0) != (ssize_t)len))
		fuzz_fail("cannot write the configuration file");
	return path;
}

/* ---- a reference reading of the file ------------------------------------- */

/* The most settings the reference keeps (config.c refuses more than 64). */
#define FUZZ_FILE_MAX 128

struct fuzz_file {
	size_t count;
	struct {
		char *name, *value; /* owned */
	} items[FUZZ_FILE_MAX];
};

/* Trims spaces and tabs on the left, those and CR/LF on the right. */
static void fuzz_trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' ||
			  (*s)[*n - 1] == '\r' || (*s)[*n - 1] == '\n'))
		(*n)--;
}

/*
 * Reads the file as its documentation says, one whole line at a time:
 * blank lines and lines starting with '#' are skipped, every other line is
 * NAME=VALUE with spaces and tabs around both trimmed. Text after a NUL byte
 * of a line is not seen (config.c reads lines as C strings).
 */
static void fuzz_file_read(const char *body, size_t len, struct fuzz_file *ff)
{
	const char *p = body, *end = body + len;

	ff->count = 0;
	while (p < end && ff->count < FUZZ_FILE_MAX) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line = p, *eq;
		size_t n = (size_t)((nl ? nl : end) - p);
		const char *nul = memchr(line, '\0', n);
		size_t nlen, vlen;
		const char *name, *value;

		p = nl ? nl + 1 : end;
		if (nul != NULL)
			n = (size_t)(nul - line);
		fuzz_trim(&line, &n);
		if (n == 0 || line[0] == '#')
			continue;
		eq = memchr(line, '=', n);
		if (eq == NULL)
			continue; /* config_load refuses the file */
		name = line;
		nlen = (size_t)(eq - line);
		value = eq + 1;
		vlen = n - nlen - 1;
		fuzz_trim(&name, &nlen);
		fuzz_trim(&value, &vlen);
		ff->items[ff->count].name = fuzz_strndup(name, nlen);
		ff->items[ff->count].value = fuzz_strndup(value, vlen);
		ff->count++;
	}
}

static void fuzz_file_free(struct fuzz_file *ff)
{
	for (size_t i = 0; i < ff->count; i++) {
		free(ff->items[i].name);
		free(ff->items[i].value);
	}
	ff->count = 0;
}

/* What a setting should be: the environment's, the file's first, or NULL. */
static const char *fuzz_expected(const struct fuzz_env *env,
				 const struct fuzz_file *ff, const char *name)
{
	const char *v = fuzz_input_get(env->in, name);

	if (v != NULL)
		return v;
	if (env->file == NULL)
		return NULL;
	for (size_t i = 0; i < ff->count; i++)
		if (strcmp(ff->items[i].name, name) == 0)
			return ff->items[i].value;
	return NULL;
}

/* Every setting of a loaded configuration is the one the reference reads. */
static void fuzz_check_values(const struct config *cfg,
			      const struct fuzz_env *env,
			      const struct fuzz_file *ff)
{
	const char *v;
	int64_t n;

#define FUZZ_VALUE_INT(field, name, def, min, max)                             \
	v = fuzz_expected(env, ff, name);                                      \
	n = def;                                                               \
	if (v != NULL && util_parse_int(v, min, max, &n) != 0)                 \
		fuzz_fail("%s = \"%s\" was accepted", name, v);                \
	if (cfg->field != n)                                                   \
		fuzz_fail("%s is %lld, where the file and environment give "   \
			  "%lld",                                              \
			  name, (long long)cfg->field, (long long)n);
	CONFIG_INT_TABLE(FUZZ_VALUE_INT)
#undef FUZZ_VALUE_INT
#define FUZZ_VALUE_STR(field, name, def)                                       \
	v = fuzz_expected(env, ff, name);                                      \
	if (strcmp(cfg->field, v ? v : def) != 0)                              \
		fuzz_fail("%s is \"%.64s\", where the file and environment "   \
			  "give \"%.64s\"",                                    \
			  name, cfg->field, v ? v : def);
	CONFIG_STR_TABLE(FUZZ_VALUE_STR)
#undef FUZZ_VALUE_STR
}

/* ---- checks of a loaded configuration ------------------------------------ */

static int fuzz_str_ok(const char *s)
{
	return memchr(s, '\0', CONFIG_STR_MAX) != NULL;
}

static void fuzz_check_config(const struct config *cfg)
{
	const char *lv = cfg->log_level;
	size_t blen;
	char base[CONFIG_STR_MAX + 16];

#define FUZZ_CHECK_INT(field, name, def, min, max)                             \
	if (cfg->field < (min) || cfg->field > (max))                          \
		fuzz_fail("%s = %lld is outside [%lld, %lld]", name,           \
			  (long long)cfg->field, (long long)(min),             \
			  (long long)(max));
	CONFIG_INT_TABLE(FUZZ_CHECK_INT)
#undef FUZZ_CHECK_INT
#define FUZZ_CHECK_STR(field, name, def)                                       \
	if (!fuzz_str_ok(cfg->field))                                          \
		fuzz_fail("%s is not terminated", name);
	CONFIG_STR_TABLE(FUZZ_CHECK_STR)
#undef FUZZ_CHECK_STR

	if (strcmp(lv, "debug") != 0 && strcmp(lv, "info") != 0 &&
	    strcmp(lv, "warn") != 0 && strcmp(lv, "error") != 0)
		fuzz_fail("log level %s passed", lv);
	blen = strlen(cfg->base_path);
	if (blen > 0 &&
	    (cfg->base_path[0] != '/' || cfg->base_path[blen - 1] == '/'))
		fuzz_fail("base path %s passed", cfg->base_path);
	if (strpbrk(cfg->key_prefix, "{} \t\r\n") != NULL ||
	    strlen(cfg->key_prefix) > 64)
		fuzz_fail("key prefix %s passed", cfg->key_prefix);
	if (cfg->key_tag[0] == '\0' ||
	    strpbrk(cfg->key_tag, "{} \t\r\n") != NULL ||
	    strlen(cfg->key_tag) > 64)
		fuzz_fail("key tag %s passed", cfg->key_tag);
	snprintf(base, sizeof base, "%s{%s}:", cfg->key_prefix, cfg->key_tag);
	if (strcmp(base, cfg->key_base) != 0)
		fuzz_fail("key base %s for prefix %s and tag %s", cfg->key_base,
			  cfg->key_prefix, cfg->key_tag);
	if (cfg->redis_cluster[0] != '\0' &&
	    (cfg->redis_sentinels[0] != '\0' || cfg->redis_db != 0))
		fuzz_fail("a cluster with sentinels or a database passed");
	if (cfg->proxies.count > CIDR_LIST_MAX ||
	    cfg->metrics_from.count > CIDR_LIST_MAX)
		fuzz_fail("more ranges than a list holds");
	if (cfg->redis_socket[0] == '\0' && cfg->redis_host[0] == '\0')
		fuzz_fail("neither a Redis host nor a socket");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in;
	struct fuzz_env env;
	struct config *cfg = malloc(sizeof *cfg);
	char err[256];

	if (cfg == NULL)
		fuzz_fail("out of memory");
	fuzz_input_parse(&in, data, size);
	env.in = &in;
	env.file = NULL;
	if (in.body_len > 0 || fuzz_input_get(&in, "HB_CONFIG_FILE") != NULL)
		env.file = fuzz_file(in.body, in.body_len);

	err[0] = '\0';
	if (config_load(cfg, fuzz_lookup, &env, err, sizeof err) == 0) {
		struct fuzz_file *ff = malloc(sizeof *ff);

		if (ff == NULL)
			fuzz_fail("out of memory");
		fuzz_check_config(cfg);
		fuzz_file_read(in.body ? in.body : "", in.body_len, ff);
		fuzz_check_values(cfg, &env, ff);
		fuzz_file_free(ff);
		free(ff);
	} else if (err[0] == '\0' || memchr(err, '\0', sizeof err) == NULL)
		fuzz_fail("a refused configuration has no reason");

	free(cfg);
	fuzz_input_free(&in);
	return 0;
}
