/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * keys.c - the key layout's tables (keys.h) and its key builder.
 */
#include <stdio.h>

#include "keys.h"

#define KEYS_DEF(id, name, lua) {name, lua},
const struct keys_def keys_defs[KEYS_COUNT] = {KEYS_TABLE(KEYS_DEF)};
#undef KEYS_DEF

#define KEYS_FIELD_DEF(rec, field, name, lua) {name, lua},
const struct keys_def keys_field_defs[KEYS_FIELD_COUNT] = {
    KEYS_FIELD_TABLE(KEYS_FIELD_DEF)};
#undef KEYS_FIELD_DEF

int keys_make(char *out, size_t size, const char *base, enum keys_key k,
	      const char *member, const char *sub)
{
	int n = snprintf(out, size, "%s%s%s%s%s", base, keys_defs[k].name,
			 member ? member : "", sub ? ":" : "", sub ? sub : "");

	return n >= 0 && (size_t)n < size ? 0 : -1;
}
