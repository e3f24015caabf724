/*
 * fuzz_expiry.c - the token expiry path: auth_verify() at an arbitrary time of the input's
 * choosing, on a signed token of arbitrary claims, then auth_expiry_delay_us() (the wait of the
 * timer that closes a connection at its token's exp, core/auth.c) for what was accepted.
 *
 * Input: 8 bytes of `now` (big-endian, taken modulo 2^40 seconds: any date until year 36812),
 * 8 bytes of a second time for the bare delay arithmetic (any int64), then the claims text
 * that the harness signs as an HS256 token.
 */
#include <string.h>

#include "auth.h"
#include "fuzz.h"
#include "fuzz_jwt.h"
#include "log.h"

#define SECRET "fuzz-secret-0123456789abcdef0123"

static auth *verifier;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	herald_config cfg = {.auth_algs = AUTH_HS256,
	                     .auth_user_claim = "user_id",
	                     .auth_leeway = 60,
	                     .auth_secret = SECRET,
	                     .auth_secret_len = sizeof SECRET - 1};
	char err[256];

	(void)argc;
	(void)argv;
	log_setup(HERALD_LOG_ERROR, 0);
	if (auth_create(&cfg, &verifier, err, sizeof err) != 0) {
		fprintf(stderr, "fuzz_expiry: auth_create: %s\n", err);
		exit(1);
	}
	return 0;
}

static int64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

/* The promises of auth.h: 1 .. AUTH_EXPIRY_WAIT_MAX_US, exact when exp is near, never a
 * longer wait for a later now. */
static void check_delay(int64_t exp, int64_t now)
{
	int64_t d = auth_expiry_delay_us(exp, now);

	REQUIRE(d >= 1 && d <= AUTH_EXPIRY_WAIT_MAX_US);
	if (exp <= now)
		REQUIRE(d == 1);
	else if (now >= 0 && exp - now <= AUTH_EXPIRY_WAIT_MAX_US / 1000000)
		REQUIRE(d == (exp - now) * 1000000);
	if (now < INT64_MAX)
		REQUIRE(auth_expiry_delay_us(exp, now + 1) <= d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	auth_claims claims;
	char why[128], *token;
	int64_t now;

	if (size < 16)
		return 0;
	now = (int64_t)((uint64_t)be64(data) % (1ULL << 40));
	check_delay(be64(data + 8), now);
	check_delay(be64(data + 8), be64(data));
	check_delay(be64(data), be64(data + 8));
	if (!(token = fuzz_sign_claims(data + 16, size - 16, SECRET)))
		return 0;
	memset(&claims, 0, sizeof claims);
	if (auth_verify(verifier, token, (time_t)now, &claims, why, sizeof why) == 0) {
		REQUIRE(claims.exp > now - 60);
		check_delay(claims.exp, now);
		auth_claims_free(&claims);
	}
	free(token);
	return 0;
}
