/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check_ledger.c - unit tests of ledger_entry.h: stream ids, the entry
 * parser (endings, wallet movements, dead letters), the dead-letter
 * renderings and the trimming rule.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_main.h"

#include "ledger_entry.h"
#include "util.h"

/* Builds fields from NULL-terminated name/value pairs of C strings. */
static size_t fields_of(struct ledger_field *f, const char *const *kv)
{
	size_t n = 0;

	for (; kv[2 * n] != NULL; n++) {
		f[n].name = kv[2 * n];
		f[n].name_len = strlen(kv[2 * n]);
		f[n].value = kv[2 * n + 1];
		f[n].value_len = strlen(kv[2 * n + 1]);
	}
	return n;
}

/* An ending as settle() in common.lua writes it. */
static const char *const ending[] = {"game_session_id",
				     "gs_6f1c2d3e-0000-4000-8000-000000000001",
				     "reason",
				     "normal",
				     "game_id",
				     "g1",
				     "venue_id",
				     "cafe-1",
				     "pc_id",
				     "pc-7",
				     "provider_user_id",
				     "123456789",
				     "started_at",
				     "2026-03-06T12:00:00.000Z",
				     "ended_at",
				     "2026-03-06T12:30:00.500Z",
				     "play_duration_sec",
				     "1800",
				     "charged_millicoins",
				     "500",
				     "rate_millicoins_per_hour",
				     "1000",
				     NULL};

/* Parses kv with one field replaced (value NULL: removed). */
static void parse_with(const char *const *kv, const char *name,
		       const char *value, struct ledger_entry *e)
{
	struct ledger_field f[LEDGER_FIELDS_MAX];
	size_t n = fields_of(f, kv), k = 0;

	for (size_t i = 0; i < n; i++) {
		if (name != NULL && strcmp(f[i].name, name) == 0) {
			if (value == NULL)
				continue;
			f[i].value = value;
			f[i].value_len = strlen(value);
		}
		f[k++] = f[i];
	}
	ledger_entry_parse("1700000000000-3", 15, f, k, e);
}

/* ---- stream ids ------------------------------------------------------- */

START_TEST(id_parse_format_compare)
{
	struct ledger_id a, b;
	char buf[LEDGER_STREAM_ID_BUF];

	ck_assert_int_eq(ledger_id_parse("1700000000000-3", 15, &a), 0);
	ck_assert(a.ms == 1700000000000ULL && a.seq == 3);
	ledger_id_format(a, buf, sizeof buf);
	ck_assert_str_eq(buf, "1700000000000-3");
	ck_assert_int_eq(
	    ledger_id_parse("18446744073709551615-18446744073709551615", 41,
			    &b),
	    0);
	ck_assert(b.ms == UINT64_MAX && b.seq == UINT64_MAX);
	ck_assert_int_eq(ledger_id_cmp(a, b), -1);
	ck_assert_int_eq(ledger_id_cmp(b, a), 1);
	ck_assert_int_eq(ledger_id_cmp(a, a), 0);
	ck_assert(ledger_id_cmp(ledger_id_next(b), b) == 0);
	b.seq = UINT64_MAX;
	b.ms = 5;
	b = ledger_id_next(b);
	ck_assert(b.ms == 6 && b.seq == 0);
	ck_assert(ledger_id_next(a).seq == 4);
}
END_TEST

START_TEST(id_parse_rejects_malformed)
{
	static const char *const bad[] = {"",
					  "-",
					  "1-",
					  "-1",
					  "1",
					  "a-1",
					  "1-a",
					  "1--1",
					  "1-1-1",
					  " 1-1",
					  "18446744073709551616-0",
					  "1-18446744073709551616",
					  "123456789012345678901-0",
					  "+1-1",
					  NULL};
	struct ledger_id id;

	for (int i = 0; bad[i] != NULL; i++)
		ck_assert_msg(ledger_id_parse(bad[i], strlen(bad[i]), &id) != 0,
			      "accepted %s", bad[i]);
}
END_TEST

/* ---- times -------------------------------------------------------------- */

START_TEST(time_parse)
{
	int64_t ms;
	char buf[UTIL_TIME_BUF];

	ck_assert_int_eq(ledger_parse_time("1970-01-01T00:00:00.000Z", 24, &ms),
			 0);
	ck_assert(ms == 0);
	ck_assert_int_eq(ledger_parse_time("2026-03-06T12:00:00.123Z", 24, &ms),
			 0);
	util_format_time_ms(ms, buf, sizeof buf);
	ck_assert_str_eq(buf, "2026-03-06T12:00:00.123Z");
	ck_assert_int_eq(ledger_parse_time("2024-02-29T23:59:59Z", 20, &ms), 0);
	util_format_time_ms(ms, buf, sizeof buf);
	ck_assert_str_eq(buf, "2024-02-29T23:59:59.000Z");
	ck_assert_int_eq(ledger_parse_time("2000-02-29T00:00:00.5Z", 22, &ms),
			 0);
	ck_assert(ms % 1000 == 500);
	/* Every instant the scripts can write reads back as itself. */
	for (int64_t t = 0; t < 400LL * 366 * 86400000;
	     t += 86400000LL * 7 + 1234567) {
		util_format_time_ms(t, buf, sizeof buf);
		ck_assert_int_eq(ledger_parse_time(buf, strlen(buf), &ms), 0);
		ck_assert(ms == t);
	}
}
END_TEST

START_TEST(time_parse_rejects_malformed)
{
	static const char *const bad[] = {"",
					  "2026-03-06",
					  "2026-03-06T12:00:00.000",
					  "2026-03-06 12:00:00Z",
					  "2026-02-29T00:00:00Z",
					  "1900-02-29T00:00:00Z",
					  "2026-13-01T00:00:00Z",
					  "2026-00-01T00:00:00Z",
					  "2026-04-31T00:00:00Z",
					  "2026-01-00T00:00:00Z",
					  "2026-01-01T24:00:00Z",
					  "2026-01-01T00:60:00Z",
					  "2026-01-01T00:00:60Z",
					  "2026-01-01T00:00:00.Z",
					  "2026-01-01T00:00:00.1234Z",
					  "2026-01-01T00:00:00+00:00",
					  "1969-12-31T23:59:59Z",
					  "2026-01-01T00:00:0aZ",
					  "2026-01-01T00:00:00.00aZ",
					  "+026-01-01T00:00:00Z",
					  "2026-1-01T00:00:00.0Z",
					  NULL};
	int64_t ms;

	for (int i = 0; bad[i] != NULL; i++)
		ck_assert_msg(ledger_parse_time(bad[i], strlen(bad[i]), &ms) !=
				  0,
			      "accepted %s", bad[i]);
}
END_TEST

/* ---- entries --------------------------------------------------------------
 */

static int text_is(struct ledger_text t, const char *s)
{
	return t.len == strlen(s) && memcmp(t.p, s, t.len) == 0;
}

START_TEST(ending_parses)
{
	struct ledger_entry e;

	parse_with(ending, NULL, NULL, &e);
	ck_assert_int_eq(e.kind, LEDGER_SETTLEMENT);
	ck_assert_str_eq(e.stream_id, "1700000000000-3");
	ck_assert(text_is(e.game_session_id,
			  "gs_6f1c2d3e-0000-4000-8000-000000000001"));
	ck_assert(text_is(e.reason, "normal"));
	ck_assert(text_is(e.venue_id, "cafe-1"));
	ck_assert(text_is(e.ended_at, "2026-03-06T12:30:00.500Z"));
	ck_assert(e.play_duration_sec == 1800);
	ck_assert(e.charged_millicoins == 500);
	ck_assert(e.rate_millicoins_per_hour == 1000);
}
END_TEST

START_TEST(ending_every_reason_and_optional_rate)
{
	struct ledger_entry e;
	int i;

	for (i = 0; ledger_reasons[i] != NULL; i++) {
		parse_with(ending, "reason", ledger_reasons[i], &e);
		ck_assert_int_eq(e.kind, LEDGER_SETTLEMENT);
	}
	ck_assert_int_eq(i, 6);
	parse_with(ending, "rate_millicoins_per_hour", NULL, &e);
	ck_assert_int_eq(e.kind, LEDGER_SETTLEMENT);
	ck_assert(e.rate_millicoins_per_hour == -1);
	/* Fields the contract does not name are ignored. */
	{
		static const char *const more[] = {"game_session_id",
						   "gs_1",
						   "reason",
						   "expired",
						   "game_id",
						   "g",
						   "venue_id",
						   "v",
						   "pc_id",
						   "p",
						   "provider_user_id",
						   "u",
						   "started_at",
						   "2026-03-06T12:00:00.000Z",
						   "ended_at",
						   "2026-03-06T12:00:00.000Z",
						   "play_duration_sec",
						   "0",
						   "charged_millicoins",
						   "0",
						   "future_field",
						   "\xff",
						   NULL};
		struct ledger_field f[16];
		size_t n = fields_of(f, more);

		ledger_entry_parse("1-0", 3, f, n, &e);
		ck_assert_int_eq(e.kind, LEDGER_SETTLEMENT);
	}
}
END_TEST

/* A table of one field's bad values and the reason's start. */
struct bad_case {
	const char *field;
	const char *value; /* NULL: the field removed */
	const char *reason;
};

/* Checks that each case, applied to kv, is a dead letter for its reason. */
static void expect_dead(const char *const *kv, const struct bad_case *cases)
{
	struct ledger_entry e;

	for (int i = 0; cases[i].field != NULL; i++) {
		parse_with(kv, cases[i].field, cases[i].value, &e);
		ck_assert_msg(e.kind == LEDGER_DEAD, "case %d (%s) read", i,
			      cases[i].field);
		ck_assert_msg(strncmp(e.dead_reason, cases[i].reason,
				      strlen(cases[i].reason)) == 0,
			      "case %d: %s", i, e.dead_reason);
		ck_assert_str_eq(e.stream_id, "1700000000000-3");
	}
}

START_TEST(ending_dead_letters)
{
	static const struct bad_case cases[] = {
	    {"game_session_id", NULL, "missing field game_session_id"},
	    {"game_session_id", "", "empty field game_session_id"},
	    {"reason", "crashed", "unknown reason"},
	    {"reason", NULL, "missing field reason"},
	    {"venue_id", "caf\xc3", "field venue_id is not UTF-8 text"},
	    {"pc_id", "\xc0\xaf", "field pc_id is not UTF-8 text"},
	    {"game_id", "\xed\xa0\x80", "field game_id is not UTF-8 text"},
	    {"started_at", "yesterday", "field started_at is not an RFC"},
	    {"ended_at", "2026-03-06T11:59:59.999Z",
	     "ended_at before started_at"},
	    {"play_duration_sec", "-1", "field play_duration_sec is not"},
	    {"play_duration_sec", "1e3", "field play_duration_sec is not"},
	    {"charged_millicoins", "99999999999999999999",
	     "field charged_millicoins is not"},
	    {"charged_millicoins", NULL, "missing field charged_millicoins"},
	    {"rate_millicoins_per_hour", "x",
	     "field rate_millicoins_per_hour is not"},
	    {NULL, NULL, NULL}};

	expect_dead(ending, cases);
}
END_TEST

START_TEST(dead_letters_of_shape)
{
	struct ledger_field f[LEDGER_FIELDS_MAX + 2];
	struct ledger_entry e;
	static const char nul_value[] = {'g', '\0', '1'};
	size_t n = fields_of(f, ending);

	/* A NUL inside a value. */
	f[2].value = nul_value;
	f[2].value_len = sizeof nul_value;
	ledger_entry_parse("1-1", 3, f, n, &e);
	ck_assert_int_eq(e.kind, LEDGER_DEAD);
	ck_assert_str_eq(e.dead_reason, "field game_id is not UTF-8 text");
	/* A duplicate field. */
	n = fields_of(f, ending);
	f[n] = f[1];
	ledger_entry_parse("1-1", 3, f, n + 1, &e);
	ck_assert_int_eq(e.kind, LEDGER_DEAD);
	ck_assert_str_eq(e.dead_reason, "duplicate field reason");
	/* Too many fields. */
	for (size_t i = 0; i < LEDGER_FIELDS_MAX + 1; i++)
		f[i] = f[0];
	ledger_entry_parse("1-1", 3, f, LEDGER_FIELDS_MAX + 1, &e);
	ck_assert_int_eq(e.kind, LEDGER_DEAD);
	/* No fields at all. */
	ledger_entry_parse("1-1", 3, f, 0, &e);
	ck_assert_int_eq(e.kind, LEDGER_DEAD);
	ck_assert_str_eq(e.dead_reason, "missing field game_session_id");
	/* A stream id that is not one. */
	n = fields_of(f, ending);
	ledger_entry_parse("x\n1", 3, f, n, &e);
	ck_assert_int_eq(e.kind, LEDGER_DEAD);
	ck_assert_str_eq(e.stream_id, "x?1");
	ck_assert_str_eq(e.dead_reason, "malformed stream id");
}
END_TEST

static const char *const topup[] = {"type",
				    "topup",
				    "venue_id",
				    "cafe-1",
				    "amount_millicoins",
				    "10000",
				    "balance_millicoins",
				    "12500",
				    "at",
				    "2026-03-06T12:00:00.000Z",
				    NULL};

static const char *const adjustment[] = {"type",
					 "adjustment",
					 "venue_id",
					 "cafe-1",
					 "amount_millicoins",
					 "-5500",
					 "balance_millicoins",
					 "4500",
					 "at",
					 "2026-03-06T12:00:00.000Z",
					 "actor",
					 "alice",
					 "note",
					 "refund, ticket #12",
					 NULL};

START_TEST(movements_parse)
{
	struct ledger_entry e;

	parse_with(topup, NULL, NULL, &e);
	ck_assert_int_eq(e.kind, LEDGER_TOPUP);
	ck_assert(text_is(e.venue_id, "cafe-1"));
	ck_assert(e.amount_millicoins == 10000 &&
		  e.balance_millicoins == 12500);
	ck_assert(text_is(e.at, "2026-03-06T12:00:00.000Z"));
	parse_with(adjustment, NULL, NULL, &e);
	ck_assert_int_eq(e.kind, LEDGER_ADJUSTMENT);
	ck_assert(e.amount_millicoins == -5500 && e.balance_millicoins == 4500);
	ck_assert(text_is(e.actor, "alice"));
	ck_assert(text_is(e.note, "refund, ticket #12"));
	parse_with(adjustment, "note", "", &e);
	ck_assert_int_eq(e.kind, LEDGER_ADJUSTMENT);
	ck_assert(e.note.len == 0);
	parse_with(adjustment, "note", NULL, &e);
	ck_assert_int_eq(e.kind, LEDGER_ADJUSTMENT);
	ck_assert(e.note.len == 0 && e.note.p != NULL);
	parse_with(adjustment, "amount_millicoins", "0", &e);
	ck_assert_int_eq(e.kind, LEDGER_ADJUSTMENT);
}
END_TEST

START_TEST(movements_dead_letters)
{
	static const struct bad_case topups[] = {
	    {"amount_millicoins", "0", "field amount_millicoins is not"},
	    {"amount_millicoins", "-5", "field amount_millicoins is not"},
	    {"balance_millicoins", NULL, "missing field balance_millicoins"},
	    {"at", "2026-03-06T12:00:00.000", "field at is not"},
	    {"venue_id", NULL, "missing field venue_id"},
	    {"type", "Topup", "unknown type"},
	    {"type", "", "unknown type"},
	    {NULL, NULL, NULL}};
	static const struct bad_case adjustments[] = {
	    {"actor", NULL, "missing field actor"},
	    {"actor", "", "empty field actor"},
	    {"note", "\xff", "field note is not UTF-8 text"},
	    {"amount_millicoins", "-9223372036854775808",
	     "field amount_millicoins is not"},
	    {NULL, NULL, NULL}};

	expect_dead(topup, topups);
	expect_dead(adjustment, adjustments);
}
END_TEST

/* ---- dead-letter renderings ------------------------------------------- */

START_TEST(fields_json_is_valid_utf8_without_nul)
{
	static const char nul_value[] = {'a', '\0', 'b'};
	struct ledger_field f[3] = {{"type", 4, "topup", 5},
				    {"v\"q", 3, "caf\xc3", 4},
				    {"n", 1, nul_value, sizeof nul_value}};
	char *json = ledger_fields_json(f, 3);

	ck_assert_ptr_nonnull(json);
	ck_assert_str_eq(json,
			 "{\"type\":\"topup\",\"v\\\"q\":\"caf\xef\xbf\xbd\","
			 "\"n\":\"a\xef\xbf\xbd"
			 "b\"}");
	ck_assert(util_valid_utf8(json, strlen(json)));
	free(json);
	json = ledger_fields_json(f, 0);
	ck_assert_str_eq(json, "{}");
	free(json);
}
END_TEST

START_TEST(fields_raw_are_netstrings)
{
	static const char nul_value[] = {'a', '\0', 'b'};
	struct ledger_field f[2] = {{"type", 4, "topup", 5},
				    {"n", 1, nul_value, sizeof nul_value}};
	size_t len;
	char *raw = ledger_fields_raw(f, 2, &len);
	static const char want[] = "4:type,5:topup,1:n,3:a\0b,";

	ck_assert_ptr_nonnull(raw);
	ck_assert_uint_eq(len, sizeof want - 1);
	ck_assert(memcmp(raw, want, len) == 0);
	free(raw);
}
END_TEST

/* ---- trimming ------------------------------------------------------------ */

static struct ledger_group group(const char *name, uint64_t last_ms,
				 int64_t pending, uint64_t oldest_ms)
{
	struct ledger_group g;

	memset(&g, 0, sizeof g);
	snprintf(g.name, sizeof g.name, "%s", name);
	g.last_delivered.ms = last_ms;
	g.pending = pending;
	g.oldest_pending.ms = oldest_ms;
	return g;
}

/* Checks that names over g trim below ms-seq. */
static void expect_floor(const char *names, const struct ledger_group *g,
			 uint64_t ms, uint64_t seq)
{
	struct ledger_id min;

	ck_assert_int_eq(ledger_trim_floor(names, g, 3, &min),
			 LEDGER_TRIM_BELOW);
	ck_assert_msg(min.ms == ms && min.seq == seq, "%s: %llu-%llu", names,
		      (unsigned long long)min.ms, (unsigned long long)min.seq);
}

START_TEST(trim_floor_rule)
{
	struct ledger_group g[3];
	struct ledger_id min;

	g[0] = group("ledger", 100, 0, 0);
	g[1] = group("audit", 40, 0, 0);
	g[2] = group("other", 1, 5, 1);
	/* Everything acknowledged up to 100: keep from 100-1. */
	expect_floor("ledger", g, 100, 1);
	/* The slower configured group holds the floor; others do not. */
	expect_floor("ledger, audit", g, 40, 1);
	/* A pending entry holds it below what was delivered. */
	g[0] = group("ledger", 100, 3, 70);
	expect_floor("ledger", g, 70, 0);
	/* A group that never read anything: where it was created. */
	g[1] = group("audit", 0, 0, 0);
	expect_floor("ledger,audit", g, 0, 1);
	/* A configured group that does not exist: nothing is trimmed. */
	ck_assert_int_eq(ledger_trim_floor("ledger,billing", g, 3, &min),
			 LEDGER_TRIM_NONE);
	ck_assert_int_eq(ledger_trim_floor("", g, 3, &min), LEDGER_TRIM_NONE);
	ck_assert_int_eq(ledger_trim_floor(" , ", g, 3, &min),
			 LEDGER_TRIM_NONE);
	ck_assert_int_eq(ledger_trim_floor("ledger", g, 0, &min),
			 LEDGER_TRIM_NONE);
}
END_TEST

Suite *check_suite(void)
{
	Suite *s = suite_create("ledger");
	TCase *tc = tcase_create("ids and times");

	tcase_add_test(tc, id_parse_format_compare);
	tcase_add_test(tc, id_parse_rejects_malformed);
	tcase_add_test(tc, time_parse);
	tcase_add_test(tc, time_parse_rejects_malformed);
	suite_add_tcase(s, tc);

	tc = tcase_create("entries");
	tcase_add_test(tc, ending_parses);
	tcase_add_test(tc, ending_every_reason_and_optional_rate);
	tcase_add_test(tc, ending_dead_letters);
	tcase_add_test(tc, dead_letters_of_shape);
	tcase_add_test(tc, movements_parse);
	tcase_add_test(tc, movements_dead_letters);
	tcase_add_test(tc, fields_json_is_valid_utf8_without_nul);
	tcase_add_test(tc, fields_raw_are_netstrings);
	suite_add_tcase(s, tc);

	tc = tcase_create("trimming");
	tcase_add_test(tc, trim_floor_rule);
	suite_add_tcase(s, tc);
	return s;
}
