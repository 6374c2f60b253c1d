/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_util.c - the checked number parsers every number from outside goes
 * through (util_parse_int64, util_parse_int, util_parse_milli: timestamps,
 * lengths, ports, amounts), compared with a plain 128-bit reference; and
 * the pieces of a request signature: SHA-256 and HMAC-SHA256 as hex, the
 * constant-time comparison, hex encoding, timestamps as text.
 *
 * Input: the number text as is; for the signature, the key before the first
 * newline and the message after it.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "harness.h"
#include "util.h"

typedef __int128 wide;

/* Above every int64 magnitude: where the reference stops counting. */
#define FUZZ_WIDE_CAP ((wide)INT64_MAX + 2)

/* The reference of util_parse_int64: -?[0-9]+ in [min, max]. */
static int ref_parse_int64(const char *s, size_t len, int64_t min, int64_t max,
			   int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	wide v = 0;

	if (len == 0)
		return -1;
	if (s[0] == '-') {
		neg = 1;
		i = 1;
		if (len == 1)
			return -1;
	}
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > FUZZ_WIDE_CAP)
			v = FUZZ_WIDE_CAP;
	}
	if (neg)
		v = -v;
	if (v < min || v > max)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* The reference of util_parse_milli: [0-9]+(.[0-9]{1,3})? in [0, max]. */
static int ref_parse_milli(const char *s, int64_t max, int64_t *out)
{
	size_t i = 0, digits = 0;
	wide whole = 0, frac = 0;

	while (s[i] >= '0' && s[i] <= '9') {
		whole = whole * 10 + (s[i++] - '0');
		if (whole > FUZZ_WIDE_CAP)
			whole = FUZZ_WIDE_CAP;
	}
	if (i == 0)
		return -1;
	if (s[i] == '.') {
		i++;
		while (s[i] >= '0' && s[i] <= '9' && digits < 4) {
			frac = frac * 10 + (s[i++] - '0');
			digits++;
		}
		if (digits == 0 || digits > 3)
			return -1;
		for (size_t k = digits; k < 3; k++)
			frac *= 10;
	}
	if (s[i] != '\0')
		return -1;
	if (whole * 1000 + frac > max)
		return -1;
	*out = (int64_t)(whole * 1000 + frac);
	return 0;
}

static const struct {
	int64_t min, max;
} fuzz_int_ranges[] = {
    {INT64_MIN, INT64_MAX}, /* any integer */
    {0, INT64_MAX},	    /* CONTENT_LENGTH */
    {0, INT64_MAX / 1000},  /* X-Timestamp */
    {1, 65535},		    /* ports */
    {-5, -1},		    /* a negative range */
    {INT64_MIN, INT64_MIN}, /* one value */
};

static const int64_t fuzz_milli_max[] = {
    INT64_MAX, INT64_MAX / 2, 1000000000, 1000000, 1500, 999, 0,
};

static void fuzz_numbers(const char *s, size_t len, const char *z)
{
	for (size_t i = 0;
	     i < sizeof fuzz_int_ranges / sizeof fuzz_int_ranges[0]; i++) {
		int64_t min = fuzz_int_ranges[i].min,
			max = fuzz_int_ranges[i].max;
		int64_t got = 7, want = 7;
		int rc = util_parse_int64(s, len, min, max, &got);
		int ref = ref_parse_int64(s, len, min, max, &want);

		if (rc != ref || got != want)
			fuzz_fail("util_parse_int64 [%lld, %lld]: %d %lld, the "
				  "reference %d %lld",
				  (long long)min, (long long)max, rc,
				  (long long)got, ref, (long long)want);
		got = want = 7;
		rc = util_parse_int(z, min, max, &got);
		ref = ref_parse_int64(z, strlen(z), min, max, &want);
		if (rc != ref || got != want)
			fuzz_fail(
			    "util_parse_int [%lld, %lld] \"%s\": %d %lld, "
			    "the reference %d %lld",
			    (long long)min, (long long)max, z, rc,
			    (long long)got, ref, (long long)want);
	}
	for (size_t i = 0; i < sizeof fuzz_milli_max / sizeof fuzz_milli_max[0];
	     i++) {
		int64_t got = 7, want = 7;
		int rc = util_parse_milli(z, fuzz_milli_max[i], &got);
		int ref = ref_parse_milli(z, fuzz_milli_max[i], &want);

		if (rc != ref || got != want)
			fuzz_fail(
			    "util_parse_milli max %lld \"%s\": %d %lld, the "
			    "reference %d %lld",
			    (long long)fuzz_milli_max[i], z, rc, (long long)got,
			    ref, (long long)want);
	}
}

/* Whether text is exactly n lowercase hex digits. */
static int fuzz_is_hex(const char *text, size_t n)
{
	if (strlen(text) != n)
		return 0;
	return strspn(text, "0123456789abcdef") == n;
}

static void fuzz_signature(const char *s, size_t len)
{
	const char *nl = memchr(s, '\n', len);
	const char *key = s, *msg = nl ? nl + 1 : s + len;
	size_t klen = nl ? (size_t)(nl - s) : len;
	size_t mlen = (size_t)(s + len - msg);
	char hex[CRYPTO_SHA256_HEX], hex2[CRYPTO_SHA256_HEX];

	crypto_hmac_sha256_hex(key, klen, msg, mlen, hex);
	if (!fuzz_is_hex(hex, 64))
		fuzz_fail("HMAC hex is not 64 hex digits: %s", hex);
	crypto_hmac_sha256_hex(key, klen, msg, mlen, hex2);
	if (!crypto_equal(hex, 64, hex2, 64))
		fuzz_fail("HMAC is not repeatable");
	crypto_sha256_hex(s, len, hex);
	if (!fuzz_is_hex(hex, 64))
		fuzz_fail("SHA-256 hex is not 64 hex digits: %s", hex);

	/* The signature check compares the expected hex with the header. */
	if (crypto_equal(key, klen, msg, mlen) !=
	    (klen == mlen && memcmp(key, msg, klen) == 0))
		fuzz_fail("crypto_equal disagrees with memcmp");
	if (crypto_equal(hex, 64, msg, mlen) &&
	    (mlen != 64 || memcmp(hex, msg, 64) != 0))
		fuzz_fail("crypto_equal matched a different signature");
}

static void fuzz_hex_and_time(const char *s, size_t len)
{
	size_t n = len > 64 ? 64 : len;
	char hex[129], buf[UTIL_TIME_BUF];
	int64_t ms = 0;

	util_hex((const unsigned char *)s, n, hex);
	if (!fuzz_is_hex(hex, 2 * n))
		fuzz_fail("util_hex wrote %s", hex);
	for (size_t i = 0; i < n; i++) {
		unsigned v = (unsigned)strtoul(
		    (char[]){hex[2 * i], hex[2 * i + 1], '\0'}, NULL, 16);
		if (v != (unsigned char)s[i])
			fuzz_fail("util_hex does not decode back");
	}
	memcpy(&ms, s, len < sizeof ms ? len : sizeof ms);
	util_format_time_ms(ms, buf, sizeof buf);
	if (strlen(buf) < 24 || buf[strlen(buf) - 1] != 'Z')
		fuzz_fail("util_format_time_ms(%lld) wrote %s", (long long)ms,
			  buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact copies: the bytes as given, and a NUL-terminated string. */
	char *s = malloc(size ? size : 1);
	char *z = malloc(size + 1);

	if (s == NULL || z == NULL)
		fuzz_fail("out of memory");
	memcpy(s, data, size);
	memcpy(z, data, size);
	z[size] = '\0';
	fuzz_numbers(s, size, z);
	fuzz_signature(s, size);
	fuzz_hex_and_time(s, size);
	free(z);
	free(s);
	return 0;
}
