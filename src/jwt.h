/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jwt.h - HS256 JSON Web Tokens: base64url, signature and claims. The clock
 * checks (exp, nbf) are left to the caller, which uses Redis's clock.
 */
#ifndef HB_JWT_H
#define HB_JWT_H

#include <stddef.h>
#include <stdint.h>

/* The longest token accepted. */
#define JWT_MAX 4096
/* Room for sub and sid claims (at most 128 bytes each) and their NUL. */
#define JWT_CLAIM_MAX 129

enum jwt_result {
	JWT_OK,
	JWT_MALFORMED,	   /* not three base64url parts of JSON objects */
	JWT_BAD_ALG,	   /* alg is not HS256 */
	JWT_BAD_SIGNATURE, /* the HMAC does not match */
	JWT_BAD_CLAIMS	   /* sub missing or not a string, exp missing, ... */
};

struct jwt_claims {
	char sub[JWT_CLAIM_MAX];
	char sid[JWT_CLAIM_MAX]; /* empty when absent */
	int64_t exp;		 /* seconds since the epoch */
	int64_t nbf;		 /* 0 when absent */
};

/*
 * Decodes base64url (no padding required; '=' padding accepted) into out,
 * which must hold len * 3 / 4 + 3 bytes. Returns the decoded length, or -1
 * on a character outside the alphabet or an impossible length.
 */
long jwt_base64url_decode(const char *in, size_t len, unsigned char *out);

/*
 * Verifies token (len bytes) as an HS256 JWT signed with secret and fills
 * *claims. The header must say alg HS256; the payload must have a string sub
 * (1..128 bytes) and an integer exp; nbf (integer) and sid (string) are
 * optional.
 */
enum jwt_result jwt_verify_hs256(const char *token, size_t len,
				 const void *secret, size_t secret_len,
				 struct jwt_claims *claims);

#endif
