/*
 * fuzz_auth.c - auth_verify() (core/auth.c) on arbitrary token bytes, against two verifiers:
 *   A: HS256, HS384, HS512 with SECRET, and RS256 with tests/unit/keys/rsa_public.pem;
 *   B: HS256 with SECRET and ES256 with tests/unit/keys/ec_public.pem, user claim "uid",
 *      issuer ISSUER, audience AUDIENCE, no token_type, LEEWAY seconds of leeway, and the
 *      subscription policy "claim" with the claim "projects".
 * An input that starts with '{' (never a token) is a claims text instead: the harness signs it
 * as the payload of an HS256 token, so that the claim checks see arbitrary claims too.
 * HS signatures are Herald's own code: where a token reaches that check, libjwt 1.10.2 given
 * the secret must come to the same verdict.
 * The seed corpus holds tokens each verifier accepts, near misses, and claims (see README.md).
 */
#include <jwt.h>
#include <stdbool.h>
#include <string.h>

#include "auth.h"
#include "fuzz.h"
#include "fuzz_jwt.h"
#include "log.h"

#ifndef HERALD_KEYS_DIR
#error "HERALD_KEYS_DIR must name tests/unit/keys (run.sh defines it)"
#endif

#define NOW 1761316200 /* 2025-10-24T14:30:00Z */
#define SECRET "fuzz-secret-0123456789abcdef0123"
#define ISSUER "herald-fuzz"
#define AUDIENCE "herald-clients"
#define LEEWAY 30

static auth *verifier_a, *verifier_b;

static char *slurp(const char *name)
{
	char path[4096];
	FILE *f;
	char *buf = calloc(1, 16384);
	size_t n = 0;

	snprintf(path, sizeof path, "%s/%s", HERALD_KEYS_DIR, name);
	if ((f = fopen(path, "r")) != NULL) {
		n = fread(buf, 1, 16383, f);
		fclose(f);
	}
	if (!buf || !n) {
		fprintf(stderr, "fuzz_auth: cannot read %s\n", path);
		exit(1);
	}
	return buf;
}

static auth *make(herald_config *cfg, const char *pem_file)
{
	char err[256];
	auth *a = NULL;

	cfg->auth_secret = SECRET;
	cfg->auth_secret_len = strlen(SECRET);
	cfg->auth_public_key = slurp(pem_file);
	if (auth_create(cfg, &a, err, sizeof err) != 0) {
		fprintf(stderr, "fuzz_auth: auth_create: %s\n", err);
		exit(1);
	}
	free(cfg->auth_public_key);
	return a;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	herald_config a = {.auth_algs = AUTH_HS256 | AUTH_HS384 | AUTH_HS512 | AUTH_RS256,
	                   .auth_user_claim = "user_id",
	                   .auth_token_type = "access"};
	herald_config b = {.auth_algs = AUTH_HS256 | AUTH_ES256,
	                   .auth_user_claim = "uid",
	                   .auth_issuer = ISSUER,
	                   .auth_audience = AUDIENCE,
	                   .auth_leeway = LEEWAY,
	                   .sub_policy = SUB_CLAIM,
	                   .sub_claim = "projects"};

	(void)argc;
	(void)argv;
	log_setup(HERALD_LOG_ERROR, 0);
	verifier_a = make(&a, "rsa_public.pem");
	verifier_b = make(&b, "ec_public.pem");
	return 0;
}

/*
 * A reason is a short line of plain ASCII and never holds the secret. (That it never echoes
 * the token is checked by tests/unit/test_auth.c on chosen tokens: here, a token may itself
 * spell out a reason, and libFuzzer's strstr hooks would soon find one that does.)
 */
static int reason_ok(const char *why)
{
	size_t n = strlen(why);

	for (size_t i = 0; i < n; i++)
		if (why[i] < 0x20 || why[i] > 0x7e)
			return 0;
	return n < 64 && !strstr(why, SECRET);
}

/* A refusal decided before the signature: the token's form, header, claims text, algorithm. */
static bool before_signature(const char *why)
{
	return strcmp(why, "missing token") == 0 || strcmp(why, "token too long") == 0 ||
	       strcmp(why, "malformed token") == 0 || strncmp(why, "algorithm ", 10) == 0 ||
	       strcmp(why, "out of memory") == 0;
}

/*
 * A token that reached the signature check has a header and claims that libjwt reads too (its
 * parsing takes more than Herald's), so for an HS algorithm libjwt given the secret must agree
 * with Herald's verdict on the signature: accepted (whatever the claims say after) or not.
 */
static void same_signature_verdict(const char *token, int rc, const char *why)
{
	jwt_t *jwt = NULL;
	const char *alg;
	bool hs, herald_ok;

	if (rc != 0 && (rc == HERALD_ENOMEM || before_signature(why)))
		return;
	REQUIRE(jwt_decode(&jwt, token, NULL, 0) == 0);
	alg = jwt_get_header(jwt, "alg");
	REQUIRE(alg != NULL);
	hs = strncmp(alg, "HS", 2) == 0;
	jwt_free(jwt);
	jwt = NULL;
	if (!hs)
		return;
	herald_ok = rc == 0 || strcmp(why, "bad signature or malformed") != 0;
	REQUIRE(herald_ok ==
	        (jwt_decode(&jwt, token, (const unsigned char *)SECRET, (int)strlen(SECRET)) == 0));
	jwt_free(jwt);
}

static void verify(const auth *a, const char *token, long leeway)
{
	auth_claims c;
	char why[128];
	int rc;

	memset(&c, 0, sizeof c);
	memset(why, 'x', sizeof why);
	rc = auth_verify(a, token, NOW, &c, why, sizeof why);
	if (rc == 0) {
		REQUIRE(c.user_id > 0);
		REQUIRE(c.exp > NOW - leeway);
		REQUIRE(!c.projects == !c.n_projects);
		for (size_t i = 0; i < c.n_projects; i++)
			REQUIRE(c.projects[i] > 0 && (i == 0 || c.projects[i - 1] < c.projects[i]));
		auth_claims_free(&c);
	} else {
		REQUIRE(rc == HERALD_EINVAL || rc == HERALD_ENOMEM);
		REQUIRE(!c.projects && fuzz_message_ok(why, sizeof why));
		REQUIRE(reason_ok(why));
	}
	same_signature_verdict(token, rc, why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *token;

	if (size && data[0] == '{') {
		token = fuzz_sign_claims(data, size, SECRET);
	} else if ((token = malloc(size + 1)) != NULL) {
		memcpy(token, data, size);
		token[size] = '\0';
	}
	if (!token)
		return 0;
	verify(verifier_a, token, 0);
	verify(verifier_b, token, LEEWAY);
	free(token);
	return 0;
}
