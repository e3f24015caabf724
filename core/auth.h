/*
 * auth.h - JWT verification for the WebSocket handshake: HS256/384/512 by Herald with
 * OpenSSL's HMAC, RS256 and ES256 signatures by libjwt (core/README.md, "Tokens").
 *
 * The accepted algorithms come from the config, never from the token. HS256/384/512 verify
 * with the secret, RS256 and ES256 with the PEM public key. `exp` is required, `nbf` honoured,
 * both with the configured leeway; `iss`, `aud` and `token_type` are checked when configured.
 * No function here ever logs or copies the token.
 */
#ifndef HERALD_AUTH_H
#define HERALD_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

/* Longest token accepted, in bytes (longer ones are refused unread). */
#define AUTH_MAX_TOKEN 8192

typedef struct auth auth;

/* The claims Herald uses from an accepted token. */
typedef struct auth_claims {
	int64_t user_id;   /* > 0 */
	int64_t exp;       /* expiry, seconds since the epoch */
	int64_t *projects; /* subscriptions.policy claim: the allowed project ids, sorted, without
	                    * duplicates (malloc'd, free with auth_claims_free); else NULL */
	size_t n_projects;
} auth_claims;

/* Frees what auth_verify() allocated in *claims. */
void auth_claims_free(auth_claims *claims);

/* Build a verifier from cfg (copies what it needs). Returns 0, or HERALD_ECONFIG with a
 * message in err (e.g. an RS256 algorithm without a public key, or OpenSSL refusing to key the
 * HMAC), or HERALD_ENOMEM. */
int auth_create(const herald_config *cfg, auth **out, char *err, size_t errlen);
void auth_destroy(auth *a);

/*
 * Verify `token` at time `now`. Returns 0 and fills *claims (with subscriptions.policy
 * `claim`, the token must carry the configured claim as an array of positive integers, and
 * a missing claim is an empty list), or HERALD_EINVAL with a short
 * reason in `why` ("expired", "bad signature", "algorithm not allowed", ...) that never
 * contains the token, or HERALD_ENOMEM. Safe to call from one thread at a time per `a`.
 */
int auth_verify(const auth *a, const char *token, time_t now, auth_claims *claims, char *why,
                size_t whylen);

/* Longest wait auth_expiry_delay_us() returns: one day. */
#define AUTH_EXPIRY_WAIT_MAX_US (86400LL * 1000000)

/*
 * Microseconds from `now` until `exp` (both seconds since the epoch, any values), at least 1
 * and at most AUTH_EXPIRY_WAIT_MAX_US: a timer armed with it fires at exp, or earlier for a
 * far expiry, when it is armed again. Never overflows.
 */
int64_t auth_expiry_delay_us(int64_t exp, int64_t now);

/*
 * Mint an HS-signed token for `user_id` valid `ttl` seconds from `now`, with the claims a
 * Django SimpleJWT access token has (user_id claim as configured, exp, iat, jti, token_type).
 * Uses the strongest configured HS algorithm. Returns 0 and a malloc'd string in *out, or
 * with a message in err: HERALD_ECONFIG when no HS algorithm/secret is configured,
 * HERALD_EINVAL for a user id or ttl that is not positive (or a claim libjwt refuses),
 * HERALD_EIO when no random bytes could be had, HERALD_ENOMEM.
 */
int auth_mint(const auth *a, int64_t user_id, long ttl, time_t now, char **out, char *err,
              size_t errlen);

#endif
