/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * util.c - checked number parsing, time formatting, hex.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util.h"

int util_parse_int64(const char *s, size_t len, int64_t min, int64_t max,
		     int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0;
	/* The magnitude limit: INT64_MAX, or INT64_MAX + 1 for negatives. */
	uint64_t limit;

	if (s == NULL || len == 0)
		return -1;
	if (s[0] == '-') {
		neg = 1;
		i = 1;
		if (len == 1)
			return -1;
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (limit - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	{
		int64_t r = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN
								: -(int64_t)v)
				: (int64_t)v;
		if (r < min || r > max)
			return -1;
		*out = r;
	}
	return 0;
}

int util_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	if (s == NULL)
		return -1;
	return util_parse_int64(s, strlen(s), min, max, out);
}

int util_parse_milli(const char *s, int64_t max, int64_t *out)
{
	const char *dot;
	int64_t whole, frac = 0;
	size_t wlen, flen;

	if (s == NULL || *s == '\0')
		return -1;
	dot = strchr(s, '.');
	wlen = dot ? (size_t)(dot - s) : strlen(s);
	if (wlen == 0 || s[0] == '-')
		return -1;
	if (util_parse_int64(s, wlen, 0, max / 1000, &whole) != 0)
		return -1;
	if (dot != NULL) {
		flen = strlen(dot + 1);
		if (flen == 0 || flen > 3 || dot[1] == '-')
			return -1;
		if (util_parse_int64(dot + 1, flen, 0, 999, &frac) != 0)
			return -1;
		for (size_t i = flen; i < 3; i++)
			frac *= 10;
	}
	/* whole <= max / 1000, so whole * 1000 cannot overflow; + frac can. */
	if (frac > max - whole * 1000)
		return -1;
	*out = whole * 1000 + frac;
	return 0;
}

void util_format_time_ms(int64_t ms, char *buf, size_t size)
{
	time_t secs = (time_t)(ms / 1000);
	int millis = (int)(ms % 1000);
	struct tm tm;

	if (millis < 0) {
		millis += 1000;
		secs -= 1;
	}
	gmtime_r(&secs, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, millis);
}

int64_t util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void util_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

unsigned util_crc16(const char *p, size_t len)
{
	unsigned crc = 0;

	for (size_t i = 0; i < len; i++) {
		crc ^= (unsigned)(unsigned char)p[i] << 8;
		for (int b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
		crc &= 0xffff;
	}
	return crc;
}

int util_key_slot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len);

	if (open != NULL) {
		size_t rest = len - (size_t)(open + 1 - key);
		const char *close = memchr(open + 1, '}', rest);

		if (close != NULL && close > open + 1)
			return (int)(util_crc16(open + 1,
						(size_t)(close - open - 1)) &
				     16383);
	}
	return (int)(util_crc16(key, len) & 16383);
}

size_t util_utf8_seq(const char *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p;
	unsigned c, cp;
	size_t n;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n >= len)
		return 0;
	for (size_t k = 1; k <= n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n + 1;
}

int util_valid_utf8(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = util_utf8_seq(s + i, len - i);

		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}
