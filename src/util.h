/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * util.h - small checked helpers shared by every module: number parsing,
 * time formatting and hex encoding.
 */
#ifndef HB_UTIL_H
#define HB_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Room for an RFC 3339 timestamp with milliseconds and its NUL. */
#define UTIL_TIME_BUF 32

/*
 * Parses the len bytes at s as a base-10 integer in [min, max]: an optional
 * '-' and at least one digit, nothing else (no spaces, no '+', no overflow).
 * Returns 0 and sets *out, or -1 and leaves *out alone.
 */
int util_parse_int64(const char *s, size_t len, int64_t min, int64_t max,
		     int64_t *out);

/* util_parse_int64 on a NUL-terminated string. */
int util_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/*
 * Parses a non-negative decimal amount with at most three fractional digits
 * ("12", "1.5", "0.001") into thousandths (12000, 1500, 1). The result must be
 * in [0, max]. Returns 0 and sets *out, or -1.
 */
int util_parse_milli(const char *s, int64_t max, int64_t *out);

/* Writes ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf. */
void util_format_time_ms(int64_t ms, char *buf, size_t size);

/* The wall clock in milliseconds since the epoch. */
int64_t util_now_ms(void);

/* Writes n bytes as 2n lowercase hex digits and a NUL into out. */
void util_hex(const unsigned char *in, size_t n, char *out);

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0) of len bytes. */
unsigned util_crc16(const char *p, size_t len);

/*
 * The Redis Cluster hash slot of a key (0..16383): CRC16 (XMODEM) of the
 * key, or of its hash tag (the text between the first '{' and the next '}',
 * when not empty), modulo 16384.
 */
int util_key_slot(const char *key, size_t len);

/*
 * The length (1 to 4) of the valid UTF-8 sequence at the start of the len
 * bytes at p, or 0 when they do not start with one (an overlong form, a
 * surrogate, a code point past U+10FFFF, a cut sequence, or len 0).
 */
size_t util_utf8_seq(const char *p, size_t len);

/* Whether len bytes are valid UTF-8 (NUL bytes are valid). */
int util_valid_utf8(const char *s, size_t len);

#endif
