/* SPDX-License-Identifier: BSD-3-Clause */
/* shard.c - shards, homes and ids (shard.h). */
#include <stdio.h>

#include "shard.h"
#include "util.h"

unsigned shard_home(const char *s, size_t len)
{
	return util_crc16(s, len) & 0xffffu;
}

int shard_of_home(const struct config *cfg, unsigned home)
{
	return cfg->shards > 1 ? (int)(home % (unsigned)cfg->shards) : 0;
}

int shard_of_owner(const struct config *cfg, const char *s, size_t len)
{
	return shard_of_home(cfg, shard_home(s, len));
}

/* The value of hex digit ch, or -1. */
static int shard_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

int shard_id_home(const char *hex, size_t len, unsigned *home)
{
	*home = 0;
	if (len < SHARD_HOME_HEX)
		return -1;
	for (int i = 0; i < SHARD_HOME_HEX; i++) {
		int v = shard_hexval(hex[i]);

		if (v < 0)
			return -1;
		*home = *home << 4 | (unsigned)v;
	}
	return 0;
}

int shard_of_id(const struct config *cfg, const char *hex, size_t len)
{
	unsigned home;

	if (cfg->shards <= 1 || shard_id_home(hex, len, &home) != 0)
		return 0;
	return shard_of_home(cfg, home);
}

void shard_put_home(unsigned home, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = SHARD_HOME_HEX - 1; i >= 0; i--) {
		out[i] = digits[home & 0xf];
		home >>= 4;
	}
}

int shard_base(const struct config *cfg, int shard, char *out, size_t size)
{
	int n = shard == 0 ? snprintf(out, size, "%s", cfg->key_base)
			   : snprintf(out, size, "%s{%s.%d}:", cfg->key_prefix,
				      cfg->key_tag, shard);

	return n >= 0 && (size_t)n < size ? 0 : -1;
}
