/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jwt.c - HS256 JWT verification.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "json.h"
#include "jwt.h"
#include "util.h"

static int jwt_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long jwt_base64url_decode(const char *in, size_t len, unsigned char *out)
{
	unsigned acc = 0;
	int bits = 0;
	long n = 0;

	while (len > 0 && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = jwt_b64_value((unsigned char)in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return n;
}

/* Decodes one part and parses it as a JSON object. */
static int jwt_decode_json(const char *part, size_t len, struct json_body **out)
{
	unsigned char *buf = malloc(len * 3 / 4 + 3);
	char err[64];
	long n;
	int rc = -1;

	if (buf == NULL)
		return -1;
	n = jwt_base64url_decode(part, len, buf);
	if (n > 0)
		rc = json_body_parse((const char *)buf, (size_t)n, out, err,
				     sizeof err);
	free(buf);
	return rc;
}

enum jwt_result jwt_verify_hs256(const char *token, size_t len,
				 const void *secret, size_t secret_len,
				 struct jwt_claims *claims)
{
	const char *dot1, *dot2, *end = token + len;
	struct json_body *header = NULL, *payload = NULL;
	unsigned char sig[64];
	char expect_hex[CRYPTO_SHA256_HEX], sig_hex[2 * sizeof sig + 1];
	const char *s;
	size_t slen;
	long siglen;
	enum jwt_result res = JWT_MALFORMED;

	memset(claims, 0, sizeof *claims);
	if (len == 0 || len > JWT_MAX || memchr(token, '\0', len) != NULL)
		return JWT_MALFORMED;
	dot1 = memchr(token, '.', len);
	if (dot1 == NULL)
		return JWT_MALFORMED;
	dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));
	if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
		return JWT_MALFORMED;
	if ((size_t)(end - dot2 - 1) > sizeof sig * 4 / 3)
		return JWT_BAD_SIGNATURE;

	if (jwt_decode_json(token, (size_t)(dot1 - token), &header) != 0 ||
	    jwt_decode_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload) != 0)
		goto done;
	res = JWT_BAD_ALG;
	if (json_body_string(header, "alg", &s, &slen) != JSON_FIELD_OK ||
	    slen != 5 || memcmp(s, "HS256", 5) != 0)
		goto done;

	res = JWT_BAD_SIGNATURE;
	siglen = jwt_base64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), sig);
	if (siglen != 32)
		goto done;
	crypto_hmac_sha256_hex(secret, secret_len, token,
			       (size_t)(dot2 - token), expect_hex);
	util_hex(sig, 32, sig_hex);
	if (!crypto_equal(expect_hex, 64, sig_hex, 64))
		goto done;

	res = JWT_BAD_CLAIMS;
	if (json_body_string(payload, "sub", &s, &slen) != JSON_FIELD_OK)
		goto done;
	memcpy(claims->sub, s, slen);
	claims->sub[slen] = '\0';
	if (json_body_int(payload, "exp", 0, INT64_MAX / 1000, &claims->exp) !=
	    JSON_FIELD_OK)
		goto done;
	switch (
	    json_body_int(payload, "nbf", 0, INT64_MAX / 1000, &claims->nbf)) {
	case JSON_FIELD_OK:
	case JSON_FIELD_MISSING:
		break;
	default:
		goto done;
	}
	switch (json_body_string(payload, "sid", &s, &slen)) {
	case JSON_FIELD_OK:
		memcpy(claims->sid, s, slen);
		claims->sid[slen] = '\0';
		break;
	case JSON_FIELD_MISSING:
		break;
	default:
		goto done;
	}
	res = JWT_OK;
done:
	json_body_free(header);
	json_body_free(payload);
	return res;
}
