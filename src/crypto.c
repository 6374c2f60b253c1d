/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crypto.c - SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104), random bytes from
 * the kernel (getrandom(2)) and constant-time comparison. Small enough to
 * keep here, so a worker maps no crypto library: libcrypto alone would
 * double a worker's resident memory for two hash functions.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "crypto.h"
#include "util.h"

#define SHA256_BLOCK 64
#define SHA256_DIGEST 32

struct sha256 {
	uint32_t h[8];
	uint64_t bytes; /* hashed so far */
	unsigned char block[SHA256_BLOCK];
	size_t used; /* bytes of block filled */
};

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
				       0xa54ff53a, 0x510e527f, 0x9b05688c,
				       0x1f83d9ab, 0x5be0cd19};

	memcpy(s->h, h0, sizeof h0);
	s->bytes = 0;
	s->used = 0;
}

/* Processes one 64-byte block. */
static void sha256_block(struct sha256 *s, const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 =
		    ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 =
		    ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
	e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) +
			      ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) +
			      ((a & b) ^ (a & c) ^ (b & c));
		h = g, g = f, f = e, e = d + t1;
		d = c, c = b, b = a, a = t1 + t2;
	}
	s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
	s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const unsigned char *p = data;

	s->bytes += len;
	while (len > 0) {
		size_t n = SHA256_BLOCK - s->used;

		if (s->used == 0 && len >= SHA256_BLOCK) {
			sha256_block(s, p);
			p += SHA256_BLOCK;
			len -= SHA256_BLOCK;
			continue;
		}
		if (n > len)
			n = len;
		memcpy(s->block + s->used, p, n);
		s->used += n;
		p += n;
		len -= n;
		if (s->used == SHA256_BLOCK) {
			sha256_block(s, s->block);
			s->used = 0;
		}
	}
}

static void sha256_final(struct sha256 *s, unsigned char out[SHA256_DIGEST])
{
	uint64_t bits = s->bytes * 8;
	unsigned char pad[SHA256_BLOCK + 8] = {0x80};
	size_t padlen = (s->used < 56 ? 56 : 120) - s->used;

	for (int i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
	sha256_update(s, pad, padlen + 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(s->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)s->h[i];
	}
}

void crypto_sha256_hex(const void *data, size_t len, char *out)
{
	struct sha256 s;
	unsigned char md[SHA256_DIGEST];

	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_final(&s, md);
	util_hex(md, sizeof md, out);
}

void crypto_hmac_sha256_hex(const void *key, size_t keylen, const void *data,
			    size_t len, char *out)
{
	unsigned char k[SHA256_BLOCK] = {0}, pad[SHA256_BLOCK];
	unsigned char md[SHA256_DIGEST];
	struct sha256 s;

	/* A key longer than a block is replaced by its digest. */
	if (keylen > SHA256_BLOCK) {
		sha256_init(&s);
		sha256_update(&s, key, keylen);
		sha256_final(&s, k);
	} else if (keylen > 0) {
		memcpy(k, key, keylen);
	}
	for (int i = 0; i < SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	sha256_init(&s);
	sha256_update(&s, pad, sizeof pad);
	sha256_update(&s, data, len);
	sha256_final(&s, md);
	for (int i = 0; i < SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	sha256_init(&s);
	sha256_update(&s, pad, sizeof pad);
	sha256_update(&s, md, sizeof md);
	sha256_final(&s, md);
	util_hex(md, sizeof md, out);
}

/*
 * Random bytes for ids (crypto_random_id) are read from the kernel
 * CRYPTO_POOL at a time and each handed out once (then wiped), so a request
 * does not pay a system call for its 8-byte id. Secrets (tokens, session
 * ids) never come from the pool, so no future secret waits in memory. A
 * forked child starts with an empty pool: parent and child never share
 * bytes.
 */
#define CRYPTO_POOL 1024
/* Requests larger than this go to the kernel directly. */
#define CRYPTO_POOL_DIRECT 64

static unsigned char crypto_pool[CRYPTO_POOL];
static size_t crypto_pool_left; /* unused bytes, at the end of the pool */
static int crypto_pool_hooked;

static void crypto_pool_forget(void)
{
	explicit_bzero(crypto_pool, sizeof crypto_pool);
	crypto_pool_left = 0;
}

int crypto_random(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

int crypto_random_id(void *buf, size_t n)
{
	unsigned char *from;

	if (!crypto_pool_hooked) {
		if (pthread_atfork(NULL, NULL, crypto_pool_forget) != 0)
			return crypto_random(buf, n);
		crypto_pool_hooked = 1;
	}
	if (n > CRYPTO_POOL_DIRECT)
		return crypto_random(buf, n);
	if (crypto_pool_left < n) {
		if (crypto_random(crypto_pool, sizeof crypto_pool) != 0)
			return -1;
		crypto_pool_left = sizeof crypto_pool;
	}
	from = crypto_pool + sizeof crypto_pool - crypto_pool_left;
	memcpy(buf, from, n);
	explicit_bzero(from, n);
	crypto_pool_left -= n;
	return 0;
}

int crypto_random_token(const char *prefix, size_t nbytes, char *out)
{
	unsigned char raw[64];
	size_t plen = strlen(prefix);

	if (nbytes > sizeof raw || crypto_random(raw, nbytes) != 0)
		return -1;
	memcpy(out, prefix, plen);
	util_hex(raw, nbytes, out + plen);
	return 0;
}

int crypto_uuid4(char *out)
{
	unsigned char b[16];
	char hex[33];

	if (crypto_random(b, sizeof b) != 0)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	util_hex(b, sizeof b, hex);
	memcpy(out, hex, 8);
	out[8] = '-';
	memcpy(out + 9, hex + 8, 4);
	out[13] = '-';
	memcpy(out + 14, hex + 12, 4);
	out[18] = '-';
	memcpy(out + 19, hex + 16, 4);
	out[23] = '-';
	memcpy(out + 24, hex + 20, 12);
	out[36] = '\0';
	return 0;
}

int crypto_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char diff = 0;

	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}
