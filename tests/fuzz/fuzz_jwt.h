/* fuzz_jwt.h - HS256 tokens of arbitrary claims, for the targets that must get past the
 * signature check (fuzz_auth, fuzz_expiry). */
#ifndef HERALD_FUZZ_JWT_H
#define HERALD_FUZZ_JWT_H

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* Appends the base64url form of in[n], without padding, at out; returns the new end. */
static inline char *fuzz_b64url(char *out, const uint8_t *in, size_t n)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
		             (i + 2 < n ? in[i + 2] : 0);
		for (size_t k = 0; k < 4 && k <= n - i; k++)
			*out++ = abc[v >> (18 - 6 * k) & 63];
	}
	return out;
}

/* "header.payload.signature" of an HS256 token whose payload is claims[n], signed with
 * `secret` (malloc'd; NULL on ENOMEM). */
static inline char *fuzz_sign_claims(const uint8_t *claims, size_t n, const char *secret)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;
	char *token = malloc(4 * (n + sizeof header + sizeof mac) / 3 + 16), *p;

	if (!token)
		return NULL;
	p = fuzz_b64url(token, (const uint8_t *)header, strlen(header));
	*p++ = '.';
	p = fuzz_b64url(p, claims, n);
	REQUIRE(HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)token,
	             (size_t)(p - token), mac, &mac_len));
	*p++ = '.';
	p = fuzz_b64url(p, mac, mac_len);
	*p = '\0';
	return token;
}

#endif
