/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_jwt.c - HS256 JWTs and base64url (jwt.h).
 *
 * Input: a token, verified as it stands with FUZZ_JWT_SECRET. When it holds
 * a newline, the text before the first one is also taken as the header JSON
 * and the rest as the payload JSON of a token the harness encodes and signs
 * itself, so the fuzzer reaches the claim checks behind the signature. A
 * token "h.p.sig" is also signed again as "h.p", and "h.p" as it stands.
 * The input bytes also go through a base64url encode / decode round trip.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "harness.h"
#include "jwt.h"

/* Room jwt_base64url_decode needs for len input bytes (jwt.h). */
#define FUZZ_B64_ROOM(len) ((len)*3 / 4 + 3)

static const char fuzz_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Base64url without padding; out holds 4 * ((n + 2) / 3) + 1 bytes. */
static size_t fuzz_b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = fuzz_b64[(v >> 18) & 63];
		out[o++] = fuzz_b64[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = fuzz_b64[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = fuzz_b64[v & 63];
	}
	out[o] = '\0';
	return o;
}

static void *fuzz_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fuzz_fail("out of memory");
	return p;
}

/* Verifies len bytes (copied to an exact block) and checks the claims. */
static enum jwt_result fuzz_verify(const char *token, size_t len)
{
	char *copy = fuzz_malloc(len);
	struct jwt_claims c;
	enum jwt_result res;

	memcpy(copy, token, len);
	res = jwt_verify_hs256(copy, len, FUZZ_JWT_SECRET,
			       strlen(FUZZ_JWT_SECRET), &c);
	free(copy);
	if (res == JWT_OK) {
		size_t sub = strnlen(c.sub, sizeof c.sub);
		size_t sid = strnlen(c.sid, sizeof c.sid);

		if (sub == 0 || sub >= sizeof c.sub || sid >= sizeof c.sid)
			fuzz_fail("accepted claims of %zu and %zu bytes", sub,
				  sid);
		if (c.exp < 0 || c.nbf < 0 || c.exp > INT64_MAX / 1000 ||
		    c.nbf > INT64_MAX / 1000)
			fuzz_fail("accepted exp %lld, nbf %lld",
				  (long long)c.exp, (long long)c.nbf);
	}
	return res;
}

/* Signs the n bytes of signing input and verifies the token it makes. */
static void fuzz_sign_and_verify(const char *input, size_t n)
{
	char hex[CRYPTO_SHA256_HEX];
	unsigned char mac[32];
	char *tok;
	size_t len;

	if (n > JWT_MAX)
		return;
	crypto_hmac_sha256_hex(FUZZ_JWT_SECRET, strlen(FUZZ_JWT_SECRET), input,
			       n, hex);
	for (size_t i = 0; i < 32; i++) {
		unsigned hi =
		    (unsigned)(hex[2 * i] <= '9' ? hex[2 * i] - '0'
						 : hex[2 * i] - 'a' + 10);
		unsigned lo = (unsigned)(hex[2 * i + 1] <= '9'
					     ? hex[2 * i + 1] - '0'
					     : hex[2 * i + 1] - 'a' + 10);
		mac[i] = (unsigned char)(hi << 4 | lo);
	}
	tok = fuzz_malloc(n + 1 + 44);
	memcpy(tok, input, n);
	tok[n] = '.';
	len = n + 1 + fuzz_b64_encode(mac, sizeof mac, tok + n + 1);
	fuzz_verify(tok, len);
	free(tok);
}

/* Encodes header and payload JSON into "h.p" and signs it. */
static void fuzz_json_token(const char *header, size_t hlen,
			    const char *payload, size_t plen)
{
	size_t room = 4 * ((hlen + 2) / 3) + 4 * ((plen + 2) / 3) + 2;
	char *input = fuzz_malloc(room);
	size_t n;

	n = fuzz_b64_encode((const unsigned char *)header, hlen, input);
	input[n++] = '.';
	n += fuzz_b64_encode((const unsigned char *)payload, plen, input + n);
	fuzz_sign_and_verify(input, n);
	free(input);
}

/* Decodes the input as it stands, then encodes and decodes it. */
static void fuzz_base64(const char *data, size_t size)
{
	unsigned char *out = fuzz_malloc(FUZZ_B64_ROOM(size));
	char *enc = fuzz_malloc(4 * ((size + 2) / 3) + 1);
	unsigned char *back;
	long n;
	size_t elen;

	n = jwt_base64url_decode(data, size, out);
	if (n > (long)FUZZ_B64_ROOM(size))
		fuzz_fail("decoded %ld bytes from %zu", n, size);
	free(out);

	elen = fuzz_b64_encode((const unsigned char *)data, size, enc);
	back = fuzz_malloc(FUZZ_B64_ROOM(elen));
	n = jwt_base64url_decode(enc, elen, back);
	if (n < 0 || (size_t)n != size || memcmp(back, data, size) != 0)
		fuzz_fail("base64url of %zu bytes came back as %ld bytes", size,
			  n);
	free(back);
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nl = memchr(s, '\n', size);
	const char *last_dot = NULL;
	size_t dots = 0;

	fuzz_verify(s, size);
	fuzz_base64(s, size);
	if (nl != NULL)
		fuzz_json_token(s, (size_t)(nl - s), nl + 1,
				size - (size_t)(nl - s) - 1);
	for (size_t i = 0; i < size; i++)
		if (s[i] == '.') {
			last_dot = s + i;
			dots++;
		}
	/* "h.p.sig" is signed again as "h.p", and "h.p" is signed as is. */
	if (dots >= 2)
		fuzz_sign_and_verify(s, (size_t)(last_dot - s));
	else if (dots == 1)
		fuzz_sign_and_verify(s, size);
	return 0;
}
