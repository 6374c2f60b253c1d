/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_ledger.c - the settlement ledger's reading of event-log entries
 * (ledger_entry.h): whatever the fields, an entry is either a dead letter
 * with a reason or fits the ledger's tables exactly; the dead-letter
 * renderings are always a JSON object PostgreSQL's jsonb takes (valid
 * UTF-8, no NUL) and netstrings of the exact bytes.
 *
 * Input: the first byte is the separator; the rest, split on it, is the
 * stream id followed by field names and values (a name without a value is
 * dropped), so that names and values may hold any byte, NUL included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "json.h"
#include "ledger_entry.h"
#include "util.h"

/* Checks one text member of an entry that was read. */
static void fuzz_check_text(struct ledger_text t, int may_be_empty,
			    const char *what)
{
	if (t.p == NULL || (t.len == 0 && !may_be_empty) ||
	    t.len > LEDGER_TEXT_MAX || memchr(t.p, '\0', t.len) != NULL ||
	    !util_valid_utf8(t.p, t.len))
		fuzz_fail("%s read, but not text the table takes", what);
}

/* Checks a time member: it parses, and reads back as itself. */
static int64_t fuzz_check_time(struct ledger_text t, const char *what)
{
	char buf[UTIL_TIME_BUF];
	int64_t ms;

	fuzz_check_text(t, 0, what);
	if (ledger_parse_time(t.p, t.len, &ms) != 0)
		fuzz_fail("%s read, but it is not a time", what);
	util_format_time_ms(ms, buf, sizeof buf);
	if (t.len == 24 && memcmp(buf, t.p, 24) != 0)
		fuzz_fail("%s reads as %s", what, buf);
	return ms;
}

static void fuzz_check_entry(const struct ledger_entry *e)
{
	struct ledger_id id;
	int known = 0;

	if (e->kind == LEDGER_DEAD) {
		if (e->dead_reason[0] == '\0')
			fuzz_fail("a dead letter without a reason");
		return;
	}
	if (ledger_id_parse(e->stream_id, strlen(e->stream_id), &id) != 0 ||
	    ledger_id_cmp(id, e->id) != 0)
		fuzz_fail("an entry read with a bad stream id");
	fuzz_check_text(e->venue_id, 0, "venue_id");
	if (e->kind == LEDGER_SETTLEMENT) {
		fuzz_check_text(e->game_session_id, 0, "game_session_id");
		fuzz_check_text(e->game_id, 0, "game_id");
		fuzz_check_text(e->pc_id, 0, "pc_id");
		fuzz_check_text(e->provider_user_id, 0, "provider_user_id");
		for (int i = 0; ledger_reasons[i] != NULL; i++)
			known |= strlen(ledger_reasons[i]) == e->reason.len &&
				 memcmp(ledger_reasons[i], e->reason.p,
					e->reason.len) == 0;
		if (!known)
			fuzz_fail("an unknown reason read");
		if (fuzz_check_time(e->ended_at, "ended_at") <
		    fuzz_check_time(e->started_at, "started_at"))
			fuzz_fail("an ending before its start read");
		if (e->play_duration_sec < 0 || e->charged_millicoins < 0 ||
		    e->rate_millicoins_per_hour < -1)
			fuzz_fail("a negative amount read");
		return;
	}
	fuzz_check_time(e->at, "at");
	if (e->kind == LEDGER_TOPUP && e->amount_millicoins <= 0)
		fuzz_fail("a top-up of nothing read");
	if (e->amount_millicoins == INT64_MIN ||
	    e->balance_millicoins == INT64_MIN)
		fuzz_fail("an amount PostgreSQL could not negate read");
	if (e->kind == LEDGER_ADJUSTMENT) {
		fuzz_check_text(e->actor, 0, "actor");
		fuzz_check_text(e->note, 1, "note");
	}
}

static void fuzz_check_renderings(const struct ledger_field *f, size_t n)
{
	struct json_body *body = NULL;
	char err[128], *json, *raw;
	size_t len, want = 0;

	json = ledger_fields_json(f, n);
	if (json == NULL)
		fuzz_fail("out of memory");
	if (!util_valid_utf8(json, strlen(json)))
		fuzz_fail("the dead letter's JSON is not UTF-8");
	/* Nesting is none, so any object parses when the escaping is right. */
	if (json_body_parse(json, strlen(json), &body, err, sizeof err) != 0)
		fuzz_fail("the dead letter's JSON does not parse: %s", err);
	json_body_free(body);
	free(json);
	raw = ledger_fields_raw(f, n, &len);
	if (raw == NULL)
		fuzz_fail("out of memory");
	for (size_t i = 0; i < n; i++) {
		char num[32];

		want +=
		    (size_t)snprintf(num, sizeof num, "%zu:,", f[i].name_len) +
		    f[i].name_len;
		want +=
		    (size_t)snprintf(num, sizeof num, "%zu:,", f[i].value_len) +
		    f[i].value_len;
	}
	if (len != want)
		fuzz_fail("netstrings of %zu bytes, not %zu", len, want);
	free(raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ledger_field f[LEDGER_FIELDS_MAX + 8];
	const char *p = (const char *)data + 1,
		   *end = (const char *)data + size;
	const char *tok[2 * (LEDGER_FIELDS_MAX + 8) + 1];
	size_t toklen[2 * (LEDGER_FIELDS_MAX + 8) + 1];
	size_t ntok = 0, n = 0;
	struct ledger_entry e;
	char sep;

	if (size < 1)
		return 0;
	sep = (char)data[0];
	while (ntok < sizeof tok / sizeof tok[0]) {
		const char *q = memchr(p, sep, (size_t)(end - p));

		tok[ntok] = p;
		toklen[ntok++] = q ? (size_t)(q - p) : (size_t)(end - p);
		if (q == NULL)
			break;
		p = q + 1;
	}
	for (size_t i = 1; i + 1 < ntok; i += 2) {
		f[n].name = tok[i];
		f[n].name_len = toklen[i];
		f[n].value = tok[i + 1];
		f[n].value_len = toklen[i + 1];
		n++;
	}
	ledger_entry_parse(tok[0], toklen[0], f, n, &e);
	fuzz_check_entry(&e);
	fuzz_check_renderings(f, n);
	return 0;
}
