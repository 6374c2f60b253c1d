/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crypto.h - SHA-256, HMAC-SHA256, randomness and constant-time comparison.
 */
#ifndef HB_CRYPTO_H
#define HB_CRYPTO_H

#include <stddef.h>

/* Room for a SHA-256 digest as lowercase hex, with its NUL. */
#define CRYPTO_SHA256_HEX 65

/* Writes the lowercase hex SHA-256 of data into out (CRYPTO_SHA256_HEX). */
void crypto_sha256_hex(const void *data, size_t len, char *out);

/* Writes lowercase hex HMAC-SHA256(key, data) into out (CRYPTO_SHA256_HEX). */
void crypto_hmac_sha256_hex(const void *key, size_t keylen, const void *data,
			    size_t len, char *out);

/*
 * Fills buf with n cryptographically random bytes from getrandom(2), for
 * secrets. Returns 0, or -1.
 */
int crypto_random(void *buf, size_t n);

/*
 * The same for ids that are no secret (request ids), from a pool read from
 * the kernel 1 KiB at a time: no system call per id. Not thread-safe; a
 * forked child starts with an empty pool. Returns 0, or -1.
 */
int crypto_random_id(void *buf, size_t n);

/*
 * Writes prefix followed by 2*nbytes random hex digits and a NUL into out,
 * which must hold strlen(prefix) + 2*nbytes + 1. Returns 0, or -1.
 */
int crypto_random_token(const char *prefix, size_t nbytes, char *out);

/* Writes a random UUID v4 (36 chars) and a NUL into out. Returns 0, or -1. */
int crypto_uuid4(char *out);

/*
 * Compares two byte strings in time that depends only on their lengths.
 * Returns 1 when equal, 0 otherwise.
 */
int crypto_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
