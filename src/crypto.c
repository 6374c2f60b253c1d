/*
 * crypto.c - thin wrappers over OpenSSL's libcrypto.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "crypto.h"
#include "util.h"

void crypto_sha256_hex(const void *data, size_t len, char *out)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	util_hex(md, sizeof md, out);
}

void crypto_hmac_sha256_hex(const void *key, size_t keylen, const void *data,
			    size_t len, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (HMAC(EVP_sha256(), key, (int)keylen, data, len, md, &mdlen) ==
	    NULL) {
		/* Out of memory inside OpenSSL: answer a value nobody matches. */
		memset(out, 'x', CRYPTO_SHA256_HEX - 1);
		out[CRYPTO_SHA256_HEX - 1] = '\0';
		return;
	}
	util_hex(md, mdlen, out);
}

int crypto_random(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
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
	if (alen != blen)
		return 0;
	return CRYPTO_memcmp(a, b, alen) == 0;
}
