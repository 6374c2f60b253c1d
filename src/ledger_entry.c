/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ledger_entry.c - stream entry ids, the entry parser, the dead-letter
 * renderings and the trimming rule of the settlement ledger. No I/O.
 */
#include "ledger_entry.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

/* The most decimal digits of a 64-bit part of a stream id. */
#define LEDGER_ID_DIGITS 20
/* U+FFFD, which stands for bytes a JSON text cannot hold. */
#define LEDGER_REPLACEMENT "\xef\xbf\xbd"

const char *const ledger_reasons[] = {
    "normal",  "replaced", "launcher_timeout", "charge_exhausted", "expired",
    "revoked", NULL};

/* ---- Stream entry ids ------------------------------------------------- */

/* Parses 1 to 20 digits as a uint64_t. Returns 0, or -1. */
static int ledger_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > LEDGER_ID_DIGITS)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int ledger_id_parse(const char *s, size_t len, struct ledger_id *out)
{
	const char *dash = memchr(s, '-', len);
	struct ledger_id id;

	if (dash == NULL ||
	    ledger_parse_u64(s, (size_t)(dash - s), &id.ms) != 0 ||
	    ledger_parse_u64(dash + 1, len - (size_t)(dash + 1 - s), &id.seq) !=
		0)
		return -1;
	*out = id;
	return 0;
}

void ledger_id_format(struct ledger_id id, char *buf, size_t size)
{
	snprintf(buf, size, "%llu-%llu", (unsigned long long)id.ms,
		 (unsigned long long)id.seq);
}

int ledger_id_cmp(struct ledger_id a, struct ledger_id b)
{
	if (a.ms != b.ms)
		return a.ms < b.ms ? -1 : 1;
	if (a.seq != b.seq)
		return a.seq < b.seq ? -1 : 1;
	return 0;
}

struct ledger_id ledger_id_next(struct ledger_id id)
{
	if (id.seq < UINT64_MAX) {
		id.seq++;
	} else if (id.ms < UINT64_MAX) {
		id.ms++;
		id.seq = 0;
	}
	return id;
}

/* ---- Times -------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; civil-to-days). */
static int64_t ledger_days(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Parses exactly len digits at s. Returns the value, or -1. */
static int64_t ledger_digits(const char *s, size_t len)
{
	int64_t v = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int ledger_parse_time(const char *s, size_t len, int64_t *ms)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int64_t y, mo, d, h, mi, sec, frac = 0;
	size_t nfrac = 0;

	if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || s[len - 1] != 'Z')
		return -1;
	if (len > 20) {
		nfrac = len - 21;
		if (s[19] != '.' || nfrac < 1 || nfrac > 3 ||
		    (frac = ledger_digits(s + 20, nfrac)) < 0)
			return -1;
		for (size_t i = nfrac; i < 3; i++)
			frac *= 10;
	}
	y = ledger_digits(s, 4);
	mo = ledger_digits(s + 5, 2);
	d = ledger_digits(s + 8, 2);
	h = ledger_digits(s + 11, 2);
	mi = ledger_digits(s + 14, 2);
	sec = ledger_digits(s + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || sec < 0 || sec > 59)
		return -1;
	if (d > mdays[mo - 1] +
		    (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	*ms = ((ledger_days(y, mo, d) * 24 + h) * 60 + mi) * 60000 +
	      sec * 1000 + frac;
	return 0;
}

/* ---- Entries --------------------------------------------------------------
 */

/* Makes out a dead letter for the reason given. Returns -1. */
static int ledger_dead(struct ledger_entry *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int ledger_dead(struct ledger_entry *out, const char *fmt, ...)
{
	va_list ap;

	out->kind = LEDGER_DEAD;
	va_start(ap, fmt);
	vsnprintf(out->dead_reason, sizeof out->dead_reason, fmt, ap);
	va_end(ap);
	return -1;
}

/* The fields of one entry while it is read. */
struct ledger_fields {
	const struct ledger_field *v;
	size_t n;
};

/*
 * The value of field name: 1 and *value set when it is there once, 0 when
 * it is absent; a duplicate makes out a dead letter (-1).
 */
static int ledger_get(const struct ledger_fields *f, const char *name,
		      struct ledger_text *value, struct ledger_entry *out)
{
	size_t len = strlen(name);
	int found = 0;

	for (size_t i = 0; i < f->n; i++) {
		if (f->v[i].name_len != len ||
		    memcmp(f->v[i].name, name, len) != 0)
			continue;
		if (found)
			return ledger_dead(out, "duplicate field %s", name);
		found = 1;
		value->p = f->v[i].value;
		value->len = f->v[i].value_len;
	}
	return found;
}

/* Whether a present field must hold something. */
enum ledger_need { LEDGER_NONEMPTY, LEDGER_MAY_BE_EMPTY };

/*
 * Reads a required text field: UTF-8 without NUL, at most LEDGER_TEXT_MAX
 * bytes. Returns 0, or -1 with out a dead letter.
 */
static int ledger_text_field(const struct ledger_fields *f, const char *name,
			     enum ledger_need need, struct ledger_text *dst,
			     struct ledger_entry *out)
{
	int rc = ledger_get(f, name, dst, out);

	if (rc < 0)
		return -1;
	if (rc == 0)
		return ledger_dead(out, "missing field %s", name);
	if (dst->len == 0 && need == LEDGER_NONEMPTY)
		return ledger_dead(out, "empty field %s", name);
	if (dst->len > LEDGER_TEXT_MAX)
		return ledger_dead(out, "field %s longer than %d bytes", name,
				   LEDGER_TEXT_MAX);
	if (memchr(dst->p, '\0', dst->len) != NULL ||
	    !util_valid_utf8(dst->p, dst->len))
		return ledger_dead(out, "field %s is not UTF-8 text", name);
	return 0;
}

/*
 * Reads an integer field in [min, max]; an absent optional one leaves *dst
 * alone. Returns 0, or -1 with out a dead letter.
 */
static int ledger_int_field(const struct ledger_fields *f, const char *name,
			    int required, int64_t min, int64_t max,
			    int64_t *dst, struct ledger_entry *out)
{
	struct ledger_text t;
	int rc = ledger_get(f, name, &t, out);

	if (rc < 0)
		return -1;
	if (rc == 0)
		return required ? ledger_dead(out, "missing field %s", name)
				: 0;
	if (util_parse_int64(t.p, t.len, min, max, dst) != 0)
		return ledger_dead(out,
				   "field %s is not an integer from %lld "
				   "to %lld",
				   name, (long long)min, (long long)max);
	return 0;
}

/* Reads a time field. Returns 0, or -1 with out a dead letter. */
static int ledger_time_field(const struct ledger_fields *f, const char *name,
			     struct ledger_text *dst, int64_t *ms,
			     struct ledger_entry *out)
{
	if (ledger_text_field(f, name, LEDGER_NONEMPTY, dst, out) != 0)
		return -1;
	if (ledger_parse_time(dst->p, dst->len, ms) != 0)
		return ledger_dead(out, "field %s is not an RFC 3339 UTC time",
				   name);
	return 0;
}

static int ledger_is_reason(struct ledger_text t)
{
	for (int i = 0; ledger_reasons[i] != NULL; i++)
		if (strlen(ledger_reasons[i]) == t.len &&
		    memcmp(ledger_reasons[i], t.p, t.len) == 0)
			return 1;
	return 0;
}

static int ledger_parse_settlement(const struct ledger_fields *f,
				   struct ledger_entry *out)
{
	int64_t started, ended;

	if (ledger_text_field(f, "game_session_id", LEDGER_NONEMPTY,
			      &out->game_session_id, out) != 0 ||
	    ledger_text_field(f, "reason", LEDGER_NONEMPTY, &out->reason,
			      out) != 0)
		return -1;
	if (!ledger_is_reason(out->reason))
		return ledger_dead(out, "unknown reason");
	if (ledger_text_field(f, "game_id", LEDGER_NONEMPTY, &out->game_id,
			      out) != 0 ||
	    ledger_text_field(f, "venue_id", LEDGER_NONEMPTY, &out->venue_id,
			      out) != 0 ||
	    ledger_text_field(f, "pc_id", LEDGER_NONEMPTY, &out->pc_id, out) !=
		0 ||
	    ledger_text_field(f, "provider_user_id", LEDGER_NONEMPTY,
			      &out->provider_user_id, out) != 0 ||
	    ledger_time_field(f, "started_at", &out->started_at, &started,
			      out) != 0 ||
	    ledger_time_field(f, "ended_at", &out->ended_at, &ended, out) !=
		0 ||
	    ledger_int_field(f, "play_duration_sec", 1, 0, INT64_MAX,
			     &out->play_duration_sec, out) != 0 ||
	    ledger_int_field(f, "charged_millicoins", 1, 0, INT64_MAX,
			     &out->charged_millicoins, out) != 0 ||
	    ledger_int_field(f, "rate_millicoins_per_hour", 0, 0, INT64_MAX,
			     &out->rate_millicoins_per_hour, out) != 0)
		return -1;
	if (ended < started)
		return ledger_dead(out, "ended_at before started_at");
	return 0;
}

static int ledger_parse_movement(const struct ledger_fields *f,
				 struct ledger_entry *out)
{
	int topup = out->kind == LEDGER_TOPUP;
	int64_t at;

	if (ledger_text_field(f, "venue_id", LEDGER_NONEMPTY, &out->venue_id,
			      out) != 0 ||
	    ledger_int_field(f, "amount_millicoins", 1, topup ? 1 : -INT64_MAX,
			     INT64_MAX, &out->amount_millicoins, out) != 0 ||
	    ledger_int_field(f, "balance_millicoins", 1, -INT64_MAX, INT64_MAX,
			     &out->balance_millicoins, out) != 0 ||
	    ledger_time_field(f, "at", &out->at, &at, out) != 0)
		return -1;
	if (topup)
		return 0;
	if (ledger_text_field(f, "actor", LEDGER_NONEMPTY, &out->actor, out) !=
	    0)
		return -1;
	/* The note is optional: an absent one reads as empty. */
	switch (ledger_get(f, "note", &out->note, out)) {
	case -1:
		return -1;
	case 0:
		out->note.p = "";
		out->note.len = 0;
		return 0;
	default:
		return ledger_text_field(f, "note", LEDGER_MAY_BE_EMPTY,
					 &out->note, out);
	}
}

/* Copies an id that is not one into stream_id, printable, for the record. */
static void ledger_copy_bad_id(const char *id, size_t len,
			       struct ledger_entry *out)
{
	size_t n =
	    len < sizeof out->stream_id - 1 ? len : sizeof out->stream_id - 1;

	for (size_t i = 0; i < n; i++)
		out->stream_id[i] = id[i] > 0x20 && id[i] < 0x7f ? id[i] : '?';
	out->stream_id[n] = '\0';
}

void ledger_entry_parse(const char *id, size_t id_len,
			const struct ledger_field *fields, size_t n,
			struct ledger_entry *out)
{
	struct ledger_fields f = {fields, n};
	struct ledger_text type;
	int rc;

	memset(out, 0, sizeof *out);
	out->rate_millicoins_per_hour = -1;
	if (ledger_id_parse(id, id_len, &out->id) != 0) {
		ledger_copy_bad_id(id, id_len, out);
		ledger_dead(out, "malformed stream id");
		return;
	}
	ledger_id_format(out->id, out->stream_id, sizeof out->stream_id);
	if (n > LEDGER_FIELDS_MAX) {
		ledger_dead(out, "more than %d fields", LEDGER_FIELDS_MAX);
		return;
	}
	rc = ledger_get(&f, "type", &type, out);
	if (rc < 0)
		return;
	if (rc == 0) {
		out->kind = LEDGER_SETTLEMENT;
		ledger_parse_settlement(&f, out);
	} else if (type.len == 5 && memcmp(type.p, "topup", 5) == 0) {
		out->kind = LEDGER_TOPUP;
		ledger_parse_movement(&f, out);
	} else if (type.len == 10 && memcmp(type.p, "adjustment", 10) == 0) {
		out->kind = LEDGER_ADJUSTMENT;
		ledger_parse_movement(&f, out);
	} else {
		ledger_dead(out, "unknown type");
	}
}

/* ---- Dead-letter renderings ------------------------------------------- */

/*
 * A NUL-terminated copy of len bytes with every byte that is not part of
 * valid UTF-8, and every NUL, replaced by U+FFFD. Caller frees; NULL when
 * out of memory.
 */
static char *ledger_utf8_copy(const char *s, size_t len)
{
	char *out = malloc(len * 3 + 1);
	size_t o = 0, i = 0;

	if (out == NULL)
		return NULL;
	while (i < len) {
		size_t k = s[i] == '\0' ? 0 : util_utf8_seq(s + i, len - i);

		if (k == 0) {
			memcpy(out + o, LEDGER_REPLACEMENT, 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
	return out;
}

char *ledger_fields_json(const struct ledger_field *fields, size_t n)
{
	struct jw w;
	char *text = NULL;

	jw_init(&w);
	jw_object_begin(&w);
	for (size_t i = 0; i < n; i++) {
		char *name =
		    ledger_utf8_copy(fields[i].name, fields[i].name_len);
		char *value =
		    ledger_utf8_copy(fields[i].value, fields[i].value_len);

		if (name == NULL || value == NULL) {
			free(name);
			free(value);
			jw_free(&w);
			return NULL;
		}
		jw_key(&w, name);
		jw_string(&w, value);
		free(name);
		free(value);
	}
	jw_object_end(&w);
	if (!w.failed && (text = malloc(w.len + 1)) != NULL) {
		memcpy(text, w.buf, w.len);
		text[w.len] = '\0';
	}
	jw_free(&w);
	return text;
}

/* Appends one netstring of len bytes at s to buf at *o. */
static void ledger_netstring(char *buf, size_t *o, const char *s, size_t len)
{
	*o += (size_t)sprintf(buf + *o, "%zu:", len);
	memcpy(buf + *o, s, len);
	*o += len;
	buf[(*o)++] = ',';
}

char *ledger_fields_raw(const struct ledger_field *fields, size_t n,
			size_t *len)
{
	/* Each netstring adds at most 20 digits, ':' and ','. */
	size_t size = 1, o = 0;
	char *buf;

	for (size_t i = 0; i < n; i++)
		size += fields[i].name_len + fields[i].value_len + 2 * 22;
	if ((buf = malloc(size)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		ledger_netstring(buf, &o, fields[i].name, fields[i].name_len);
		ledger_netstring(buf, &o, fields[i].value, fields[i].value_len);
	}
	*len = o;
	return buf;
}

/* ---- Trimming ------------------------------------------------------------ */

enum ledger_trim ledger_trim_floor(const char *names,
				   const struct ledger_group *groups, size_t n,
				   struct ledger_id *minid)
{
	const char *p = names;
	int seen = 0;

	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		const char *name = p;
		const struct ledger_group *g = NULL;
		struct ledger_id floor;

		p += len;
		if (*p == ',')
			p++;
		while (len > 0 && (*name == ' ' || *name == '\t')) {
			name++;
			len--;
		}
		while (len > 0 &&
		       (name[len - 1] == ' ' || name[len - 1] == '\t'))
			len--;
		if (len == 0)
			continue;
		for (size_t i = 0; i < n && g == NULL; i++)
			if (strlen(groups[i].name) == len &&
			    memcmp(groups[i].name, name, len) == 0)
				g = &groups[i];
		if (g == NULL)
			return LEDGER_TRIM_NONE;
		floor = g->pending > 0 ? g->oldest_pending
				       : ledger_id_next(g->last_delivered);
		if (!seen || ledger_id_cmp(floor, *minid) < 0)
			*minid = floor;
		seen = 1;
	}
	return seen ? LEDGER_TRIM_BELOW : LEDGER_TRIM_NONE;
}
