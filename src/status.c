/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * status.c - lookups generated from HB_STATUS_TABLE.
 */
#include <string.h>

#include "status.h"

struct status_row {
	const char *code;
	int http;
	const char *phrase;
	const char *message;
};

static const struct status_row status_rows[HB_STATUS_COUNT] = {
#define HB_STATUS_ROW(name, code, http, phrase, msg) {code, http, phrase, msg},
    HB_STATUS_TABLE(HB_STATUS_ROW)
#undef HB_STATUS_ROW
};

static const struct status_row *status_row(enum hb_status st)
{
	if ((unsigned)st >= HB_STATUS_COUNT)
		st = HB_INTERNAL_ERROR;
	return &status_rows[st];
}

const char *hb_status_code(enum hb_status st)
{
	return status_row(st)->code;
}

int hb_status_http(enum hb_status st)
{
	return status_row(st)->http;
}

const char *hb_status_phrase(enum hb_status st)
{
	return status_row(st)->phrase;
}

const char *hb_status_message(enum hb_status st)
{
	return status_row(st)->message;
}

int hb_status_from_code(const char *code, size_t len, enum hb_status *out)
{
	for (int i = 0; i < HB_STATUS_COUNT; i++) {
		if (strlen(status_rows[i].code) == len &&
		    memcmp(status_rows[i].code, code, len) == 0) {
			*out = (enum hb_status)i;
			return 0;
		}
	}
	return -1;
}
