/* test_auth.c - auth.c against real libjwt tokens (HS*, RS256, ES256), PyJWT fixtures and
 * hand-crafted hostile ones. Runs in tests/unit (the keys are read from keys/). */
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "check.h"

#define NOW 1761316200LL /* 2025-10-24T14:30:00Z */
#define SECRET "unit-test-secret-0123456789abcdef"
#define JTI "\"jti\":\"0123456789abcdef0123456789abcdef\""

/* A Django SimpleJWT access token for user 42, expiring 300 s after NOW; `extra` is spliced in
 * after the opening brace (with its trailing comma). */
#define ACCESS(extra)                                                                              \
	"{" extra "\"token_type\":\"access\",\"exp\":1761316500,\"iat\":1761316200," JTI           \
	",\"user_id\":42}"

/*
 * Made once with Debian's PyJWT 2.6.0 (/usr/bin/python3), secret "herald-interop-secret":
 *   claims = {"token_type": "access", "exp": 4102444800, "iat": 1761316200,
 *             "jti": "8f14e45fceea167a5a36dedd4bea2543", "user_id": 42}
 *   PY_HS256 = jwt.encode(claims, secret, algorithm="HS256")
 *   PY_TYP   = jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "at+jwt"})
 *   PY_ES256 = jwt.encode(claims, open("keys/ec_private.pem").read(), algorithm="ES256")
 * exp is 2100-01-01T00:00:00Z.
 */
#define PY_SECRET "herald-interop-secret"
#define PY_PAYLOAD                                                                                 \
	"eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3NjEzMTYyMDAsImp0aSI6Ij"   \
	"hmMTRlNDVmY2VlYTE2N2E1YTM2ZGVkZDRiZWEyNTQzIiwidXNlcl9pZCI6NDJ9"
static const char PY_HS256[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." PY_PAYLOAD
                               ".Qp6SaqGGkdDCdEZssIrBlvjps73dgQZR7YyjsRSJ4tU";
static const char PY_TYP[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9." PY_PAYLOAD
                             ".Wa78igVUR-6GnvUsekBhnYar2gxx9XREw4lkAy9slUs";
/* PY_HS256 with the header {"alg":"hs256","typ":"JWT"}, signed the same way (HMAC-SHA256 of
 * header.payload with PY_SECRET, by Python's hmac module: PyJWT refuses to write it). */
static const char PY_LOWER[] = "eyJhbGciOiJoczI1NiIsInR5cCI6IkpXVCJ9." PY_PAYLOAD
                               ".79HjpDxXjhs_TcOXEhkCAVUAs3GYoQ4erdqQsqBhKwI";
static const char PY_ES256[] =
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9." PY_PAYLOAD
    ".2Kxx-mhS0qr16G39jSpB3m95iVztIuHpJJgUh0kgBDo91vAf2OXfT_QgyobO2ySeF63N51zjle050yVuaCM5tg";

static char *rsa_pub, *rsa_priv, *ec_pub, *ec_priv;

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 8192);
	size_t n = 0;

	if (f && buf)
		n = fread(buf, 1, 8191, f);
	if (f)
		fclose(f);
	if (!n) {
		fprintf(stderr, "cannot read %s (run from tests/unit)\n", path);
		exit(1);
	}
	return buf;
}

static herald_config config(unsigned algs)
{
	herald_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.auth_algs = algs;
	cfg.auth_secret = SECRET;
	cfg.auth_secret_len = strlen(SECRET);
	cfg.auth_user_claim = "user_id";
	cfg.auth_token_type = "access";
	return cfg;
}

static auth *make(const herald_config *cfg)
{
	char err[256] = "";
	auth *a = NULL;

	CHECK_INT(auth_create(cfg, &a, err, sizeof(err)), 0);
	if (!a) {
		fprintf(stderr, "auth_create: %s\n", err);
		exit(1);
	}
	return a;
}

/* A token signed by libjwt with `key` (an HMAC secret or a private key PEM). */
static char *sign(jwt_alg_t alg, const char *key, const char *claims)
{
	jwt_t *jwt = NULL;
	char *out = NULL;

	if (jwt_new(&jwt) == 0 &&
	    jwt_set_alg(jwt, alg, (const unsigned char *)key, (int)strlen(key)) == 0 &&
	    jwt_add_grants_json(jwt, claims) == 0)
		out = jwt_encode_str(jwt);
	jwt_free(jwt);
	if (!out) {
		fprintf(stderr, "cannot sign %s\n", claims);
		exit(1);
	}
	return out;
}

static char *b64url(const char *s)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(s), i, o = 0;
	char *out = malloc(n * 4 / 3 + 4);
	unsigned long v;

	for (i = 0; i < n; i += 3) {
		v = (unsigned long)(unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)(unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = abc[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = abc[v & 63];
	}
	out[o] = '\0';
	return out;
}

/* header.payload.sig from raw JSON texts, with no signing at all. */
static char *craft(const char *header, const char *payload, const char *sig)
{
	char *h = b64url(header), *p = b64url(payload);
	size_t len = strlen(h) + strlen(p) + strlen(sig) + 3;
	char *out = malloc(len);

	snprintf(out, len, "%s.%s.%s", h, p, sig);
	free(h);
	free(p);
	return out;
}

/* The reason must never echo the token (nor any long piece of it) or the secret. */
static void check_why(const char *why, const char *token)
{
	CHECK(strlen(why) < 64);
	CHECK(!strstr(why, SECRET));
	if (token && strlen(token) >= 8) {
		char piece[9] = "";
		int echoed = 0;

		for (size_t i = 0; i + 8 <= strlen(token); i += 8) {
			memcpy(piece, token + i, 8);
			echoed |= strstr(why, piece) != NULL;
		}
		CHECK(!echoed);
	}
}

#define ACCEPTED(a, tok, now, uid) accepted_at(__LINE__, a, tok, now, uid)
#define REFUSED(a, tok, now, reason) refused_at(__LINE__, a, tok, now, reason)

/* Both take ownership of `tok`. */
static void accepted_at(int line, const auth *a, char *tok, long long now, long long uid)
{
	auth_claims c = {0};
	char why[128] = "";
	int rc = auth_verify(a, tok, (time_t)now, &c, why, sizeof(why));

	CHECK_INT(rc, 0);
	CHECK_INT(c.user_id, uid);
	if (rc || c.user_id != uid)
		fprintf(stderr, "  at line %d: refused with \"%s\"\n", line, why);
	free(tok);
}

static void refused_at(int line, const auth *a, char *tok, long long now, const char *reason)
{
	auth_claims c = {0};
	char why[128] = "";
	int rc = auth_verify(a, tok, (time_t)now, &c, why, sizeof(why));

	CHECK_INT(rc, HERALD_EINVAL);
	CHECK_STR(why, reason);
	if (rc != HERALD_EINVAL || strcmp(why, reason) != 0)
		fprintf(stderr, "  at line %d\n", line);
	check_why(why, tok);
	free(tok);
}

static void test_hs(void)
{
	static const struct {
		unsigned bit;
		jwt_alg_t alg;
	} hs[] = {
	    {AUTH_HS256, JWT_ALG_HS256}, {AUTH_HS384, JWT_ALG_HS384}, {AUTH_HS512, JWT_ALG_HS512}};

	for (size_t i = 0; i < 3; i++) {
		herald_config cfg = config(hs[i].bit);
		auth *a = make(&cfg);
		auth_claims c = {0};
		char why[128] = "", *tok = sign(hs[i].alg, SECRET, ACCESS(""));

		CHECK_INT(auth_verify(a, tok, NOW, &c, why, sizeof(why)), 0);
		CHECK_INT(c.user_id, 42);
		CHECK_INT(c.exp, NOW + 300);
		free(tok);
		REFUSED(a, sign(hs[i].alg, "another secret", ACCESS("")), NOW,
		        "bad signature or malformed");
		/* The same secret with another HS algorithm is still refused. */
		snprintf(why, sizeof(why), "algorithm %s not allowed",
		         jwt_alg_str(hs[(i + 1) % 3].alg));
		REFUSED(a, sign(hs[(i + 1) % 3].alg, SECRET, ACCESS("")), NOW, why);
		auth_destroy(a);
	}
}

static void test_tampered(void)
{
	herald_config cfg = config(AUTH_HS256);
	auth *a = make(&cfg);
	char *tok = sign(JWT_ALG_HS256, SECRET, ACCESS(""));
	char *forged = craft("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	                     "{\"token_type\":\"access\",\"exp\":1761316500,\"user_id\":1}",
	                     strrchr(tok, '.') + 1);

	REFUSED(a, forged, NOW, "bad signature or malformed");
	/* One signature character changed. */
	tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
	REFUSED(a, tok, NOW, "bad signature or malformed");
	auth_destroy(a);
}

static void test_mint(void)
{
	herald_config cfg = config(AUTH_HS256 | AUTH_HS384 | AUTH_HS512);
	auth *a = make(&cfg), *b;
	char err[128] = "", *tok = NULL, *tok2 = NULL;
	auth_claims c = {0};
	jwt_t *jwt = NULL, *jwt2 = NULL;
	const char *jti;

	CHECK_INT(auth_mint(a, 7, 600, NOW, &tok, err, sizeof(err)), 0);
	CHECK_INT(auth_verify(a, tok, NOW + 599, &c, err, sizeof(err)), 0);
	CHECK_INT(c.user_id, 7);
	CHECK_INT(c.exp, NOW + 600);
	/* The strongest configured algorithm, and SimpleJWT's claims. */
	CHECK_INT(jwt_decode(&jwt, tok, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
	CHECK_INT(jwt_get_alg(jwt), JWT_ALG_HS512);
	CHECK_INT(jwt_get_grant_int(jwt, "user_id"), 7);
	CHECK_INT(jwt_get_grant_int(jwt, "iat"), NOW);
	CHECK_STR(jwt_get_grant(jwt, "token_type"), "access");
	jti = jwt_get_grant(jwt, "jti");
	CHECK(jti && strlen(jti) == 32 && strspn(jti, "0123456789abcdef") == 32);
	CHECK_INT(auth_mint(a, 7, 600, NOW, &tok2, err, sizeof(err)), 0);
	CHECK_INT(jwt_decode(&jwt2, tok2, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
	CHECK(jti && jwt2 && strcmp(jti, jwt_get_grant(jwt2, "jti")) != 0); /* fresh each time */
	jwt_free(jwt);
	jwt_free(jwt2);
	REFUSED(a, tok, NOW + 600, "expired");
	free(tok2);
	tok = NULL;
	CHECK_INT(auth_mint(a, 0, 600, NOW, &tok, err, sizeof(err)), HERALD_EINVAL);
	CHECK(tok == NULL);
	auth_destroy(a);

	/* Configured claims travel in the minted token. */
	cfg = config(AUTH_HS384);
	cfg.auth_user_claim = "uid";
	cfg.auth_issuer = "herald-tests";
	cfg.auth_audience = "web";
	cfg.auth_token_type = "ws";
	a = make(&cfg);
	CHECK_INT(auth_mint(a, 9, 60, NOW, &tok, err, sizeof(err)), 0);
	CHECK_INT(jwt_decode(&jwt, tok, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
	CHECK_INT(jwt_get_alg(jwt), JWT_ALG_HS384);
	CHECK_STR(jwt_get_grant(jwt, "iss"), "herald-tests");
	CHECK_STR(jwt_get_grant(jwt, "aud"), "web");
	CHECK_STR(jwt_get_grant(jwt, "token_type"), "ws");
	jwt_free(jwt);
	ACCEPTED(a, tok, NOW, 9);
	auth_destroy(a);

	/* No HS algorithm, or no secret: nothing to mint with. */
	cfg = config(AUTH_RS256);
	cfg.auth_public_key = rsa_pub;
	a = make(&cfg);
	CHECK_INT(auth_mint(a, 7, 600, NOW, &tok, err, sizeof(err)), HERALD_ECONFIG);
	CHECK(tok == NULL);
	CHECK_CONTAINS(err, "HS");
	auth_destroy(a);
	cfg = config(AUTH_HS256);
	cfg.auth_secret = NULL;
	cfg.auth_secret_len = 0;
	CHECK_INT(auth_create(&cfg, &b, err, sizeof(err)), HERALD_ECONFIG);
	CHECK(b == NULL);
}

static void test_pk(void)
{
	herald_config cfg = config(AUTH_RS256);
	auth *a;
	char *tok;

	cfg.auth_public_key = rsa_pub;
	a = make(&cfg);
	ACCEPTED(a, sign(JWT_ALG_RS256, rsa_priv, ACCESS("")), NOW, 42);
	REFUSED(a, sign(JWT_ALG_ES256, ec_priv, ACCESS("")), NOW, "algorithm ES256 not allowed");
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("")), NOW, "algorithm HS256 not allowed");
	tok = sign(JWT_ALG_RS256, rsa_priv, ACCESS(""));
	tok[strlen(tok) - 5] = tok[strlen(tok) - 5] == 'A' ? 'B' : 'A';
	REFUSED(a, tok, NOW, "bad signature or malformed");
	REFUSED(a, sign(JWT_ALG_RS256, rsa_priv, ACCESS("")), NOW + 300, "expired");
	auth_destroy(a);

	cfg = config(AUTH_ES256);
	cfg.auth_public_key = ec_pub;
	a = make(&cfg);
	ACCEPTED(a, sign(JWT_ALG_ES256, ec_priv, ACCESS("")), NOW, 42);
	ACCEPTED(a, strdup(PY_ES256), NOW, 42);
	REFUSED(a, sign(JWT_ALG_RS256, rsa_priv, ACCESS("")), NOW, "algorithm RS256 not allowed");
	tok = sign(JWT_ALG_ES256, ec_priv, ACCESS(""));
	tok[strlen(tok) - 5] = tok[strlen(tok) - 5] == 'A' ? 'B' : 'A';
	REFUSED(a, tok, NOW, "bad signature or malformed");
	auth_destroy(a);
}

static void test_alg_none(void)
{
	herald_config cfg = config(AUTH_HS256 | AUTH_HS384 | AUTH_HS512);
	auth *a = make(&cfg);

	REFUSED(a, craft("{\"alg\":\"none\",\"typ\":\"JWT\"}", ACCESS(""), ""), NOW,
	        "algorithm none not allowed");
	REFUSED(a, craft("{\"alg\":\"none\"}", ACCESS(""), ""), NOW, "algorithm none not allowed");
	/* Names are case-sensitive (RFC 7515): "NONE" is no algorithm at all. */
	REFUSED(a, craft("{\"alg\":\"NONE\",\"typ\":\"JWT\"}", ACCESS(""), ""), NOW,
	        "malformed token");
	/* An algorithm libjwt does not know, and none at all. */
	REFUSED(a, craft("{\"alg\":\"PS256\",\"typ\":\"JWT\"}", ACCESS(""), "c2ln"), NOW,
	        "malformed token");
	REFUSED(a, craft("{\"typ\":\"JWT\"}", ACCESS(""), "c2ln"), NOW, "malformed token");
	auth_destroy(a);
}

/* An HS256 token whose HMAC key is the RSA public key PEM, which anyone can read. */
static void test_alg_confusion(void)
{
	herald_config cfg = config(AUTH_RS256);
	char *tok = sign(JWT_ALG_HS256, rsa_pub, ACCESS(""));
	jwt_t *jwt = NULL;
	auth *a;

	/* The trap is real: libjwt alone accepts it given the PEM. */
	CHECK_INT(jwt_decode(&jwt, tok, (const unsigned char *)rsa_pub, (int)strlen(rsa_pub)), 0);
	jwt_free(jwt);

	cfg.auth_public_key = rsa_pub;
	a = make(&cfg);
	REFUSED(a, strdup(tok), NOW, "algorithm HS256 not allowed");
	auth_destroy(a);

	/* With HS256 configured too, its key is the secret and never the PEM. */
	cfg.auth_algs = AUTH_HS256 | AUTH_RS256;
	a = make(&cfg);
	REFUSED(a, tok, NOW, "bad signature or malformed");
	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("")), NOW, 42);
	ACCEPTED(a, sign(JWT_ALG_RS256, rsa_priv, ACCESS("")), NOW, 42);
	REFUSED(a, sign(JWT_ALG_HS512, SECRET, ACCESS("")), NOW, "algorithm HS512 not allowed");
	auth_destroy(a);
}

static void test_time(void)
{
	herald_config cfg = config(AUTH_HS256);
	auth *a = make(&cfg);
	const char *nbf_future = ACCESS("\"nbf\":1761316260,");

	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("")), NOW + 299, 42);
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("")), NOW + 300, "expired");
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("")), NOW + 10000, "expired");
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, nbf_future), NOW, "not yet valid");
	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, nbf_future), NOW + 60, 42);
	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("\"nbf\":1761316200,")), NOW, 42);
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("\"nbf\":\"1761316200\",")), NOW,
	        "nbf is not an integer");
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, "{\"user_id\":42,\"token_type\":\"access\"}"), NOW,
	        "missing exp");
	REFUSED(a,
	        sign(JWT_ALG_HS256, SECRET,
	             "{\"user_id\":42,\"token_type\":\"access\",\"exp\":\"4102444800\"}"),
	        NOW, "exp is not an integer");
	REFUSED(a,
	        sign(JWT_ALG_HS256, SECRET,
	             "{\"user_id\":42,\"token_type\":\"access\",\"exp\":4102444800.5}"),
	        NOW, "exp is not an integer");
	/* iat is not checked, even in the future. */
	ACCEPTED(a,
	         sign(JWT_ALG_HS256, SECRET,
	              "{\"user_id\":42,\"token_type\":\"access\",\"exp\":1761316500,"
	              "\"iat\":1900000000}"),
	         NOW, 42);
	auth_destroy(a);

	cfg.auth_leeway = 30;
	a = make(&cfg);
	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("")), NOW + 310, 42);
	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("")), NOW + 329, 42);
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("")), NOW + 330, "expired");
	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, nbf_future), NOW + 30, 42);
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, nbf_future), NOW + 29, "not yet valid");
	auth_destroy(a);
}

static void test_user_claim(void)
{
	static const char *bad[] = {"\"42\"", "4.5", "0", "-3", "true", "null", "[42]"};
	herald_config cfg = config(AUTH_HS256);
	char claims[256];
	auth *a = make(&cfg);

	REFUSED(a, sign(JWT_ALG_HS256, SECRET, "{\"token_type\":\"access\",\"exp\":1761316500}"),
	        NOW, "missing user_id claim");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(claims, sizeof(claims),
		         "{\"token_type\":\"access\",\"exp\":1761316500,\"user_id\":%s}", bad[i]);
		REFUSED(a, sign(JWT_ALG_HS256, SECRET, claims), NOW,
		        "user_id claim is not a positive integer");
	}
	ACCEPTED(
	    a,
	    sign(JWT_ALG_HS256, SECRET,
	         "{\"token_type\":\"access\",\"exp\":1761316500,\"user_id\":9007199254740993}"),
	    NOW, 9007199254740993LL);
	auth_destroy(a);

	cfg.auth_user_claim = "sub_id";
	a = make(&cfg);
	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("\"sub_id\":5,")), NOW, 5);
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("")), NOW, "missing sub_id claim");
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("\"sub_id\":\"5\",")), NOW,
	        "sub_id claim is not a positive integer");
	auth_destroy(a);
}

static void test_iss_aud(void)
{
	herald_config cfg = config(AUTH_HS256);
	auth *a;

	cfg.auth_issuer = "https://api.example.com";
	a = make(&cfg);
	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("\"iss\":\"https://api.example.com\",")),
	         NOW, 42);
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("\"iss\":\"https://evil.example.com\",")),
	        NOW, "wrong issuer");
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("")), NOW, "wrong issuer");
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("\"iss\":[\"https://api.example.com\"],")),
	        NOW, "wrong issuer");
	auth_destroy(a);

	cfg.auth_issuer = NULL;
	cfg.auth_audience = "herald";
	a = make(&cfg);
	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("\"aud\":\"herald\",")), NOW, 42);
	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("\"aud\":[\"api\",\"herald\"],")), NOW, 42);
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("\"aud\":\"api\",")), NOW, "wrong audience");
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("\"aud\":[\"api\",7],")), NOW,
	        "wrong audience");
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("\"aud\":[],")), NOW, "wrong audience");
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("")), NOW, "wrong audience");
	auth_destroy(a);

	/* Neither configured: whatever the token says is ignored. */
	cfg.auth_audience = NULL;
	a = make(&cfg);
	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("\"iss\":\"x\",\"aud\":[\"y\"],")), NOW, 42);
	auth_destroy(a);
}

static void test_token_type(void)
{
	herald_config cfg = config(AUTH_HS256);
	const char *refresh = "{\"token_type\":\"refresh\",\"exp\":1761316500,\"user_id\":42}";
	const char *untyped = "{\"exp\":1761316500,\"user_id\":42}";
	auth *a = make(&cfg);

	REFUSED(a, sign(JWT_ALG_HS256, SECRET, refresh), NOW, "token_type is not access");
	REFUSED(a, sign(JWT_ALG_HS256, SECRET, untyped), NOW, "token_type is not access");
	auth_destroy(a);

	cfg.auth_token_type = NULL;
	a = make(&cfg);
	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, refresh), NOW, 42);
	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, untyped), NOW, 42);
	auth_destroy(a);
}

/* subscriptions.policy claim: the token's project list, sorted and unique. */
static void test_projects_claim(void)
{
	herald_config cfg = config(AUTH_HS256);
	auth_claims c = {0};
	char why[128] = "";
	char *tok;
	auth *a;

	cfg.sub_policy = SUB_CLAIM;
	cfg.sub_claim = "proj";
	a = make(&cfg);
	tok =
	    sign(JWT_ALG_HS256, SECRET,
	         "{\"token_type\":\"access\",\"exp\":1761316500,\"user_id\":4,\"proj\":[9,2,9,5]}");
	CHECK_INT(auth_verify(a, tok, NOW, &c, why, sizeof why), 0);
	CHECK_INT(c.n_projects, 3);
	if (c.n_projects == 3)
		CHECK(c.projects[0] == 2 && c.projects[1] == 5 && c.projects[2] == 9);
	auth_claims_free(&c);
	free(tok);
	/* no claim: no project */
	tok = sign(JWT_ALG_HS256, SECRET,
	           "{\"token_type\":\"access\",\"exp\":1761316500,\"user_id\":4}");
	CHECK_INT(auth_verify(a, tok, NOW, &c, why, sizeof why), 0);
	CHECK_INT(c.n_projects, 0);
	CHECK(c.projects == NULL);
	free(tok);
	REFUSED(a,
	        sign(JWT_ALG_HS256, SECRET,
	             "{\"token_type\":\"access\",\"exp\":1761316500,\"user_id\":4,\"proj\":3}"),
	        NOW, "proj claim is not a list");
	REFUSED(
	    a,
	    sign(JWT_ALG_HS256, SECRET,
	         "{\"token_type\":\"access\",\"exp\":1761316500,\"user_id\":4,\"proj\":[1,\"2\"]}"),
	    NOW, "proj claim holds something other than positive integers");
	auth_destroy(a);
}

static void test_malformed(void)
{
	herald_config cfg = config(AUTH_HS256);
	auth *a = make(&cfg);
	char why[128] = "";
	auth_claims c;
	char *big, *tok;
	size_t n;

	CHECK_INT(auth_verify(a, NULL, NOW, &c, why, sizeof(why)), HERALD_EINVAL);
	CHECK_STR(why, "missing token");
	REFUSED(a, strdup(""), NOW, "missing token");
	REFUSED(a, strdup("a.b"), NOW, "malformed token");
	REFUSED(a, strdup("garbage"), NOW, "malformed token");
	REFUSED(a, strdup("a.b.c"), NOW, "malformed token");
	REFUSED(a, strdup(".."), NOW, "malformed token");
	REFUSED(a, strdup("a.b.c.d"), NOW, "malformed token");
	REFUSED(a, strdup("\x01\x02\x03"), NOW, "malformed token");
	/* Bad JSON behind good base64url, in the header and in the payload. */
	REFUSED(a, craft("{\"alg\":\"HS256\"", ACCESS(""), "c2ln"), NOW, "malformed token");
	REFUSED(a, craft("{\"alg\":\"HS256\"}", "{\"user_id\":", "c2ln"), NOW, "malformed token");
	REFUSED(a, craft("[1]", ACCESS(""), "c2ln"), NOW, "malformed token");
	/* A valid token with a character outside base64url, padding, or a fourth segment added. */
	tok = sign(JWT_ALG_HS256, SECRET, ACCESS(""));
	n = strcspn(tok, ".");
	big = malloc(strlen(tok) + 2);
	snprintf(big, strlen(tok) + 2, "%.*s!%s", (int)n, tok, tok + n);
	REFUSED(a, big, NOW, "malformed token");
	big = malloc(strlen(tok) + 2);
	snprintf(big, strlen(tok) + 2, "%.*s=%s", (int)n, tok, tok + n);
	REFUSED(a, big, NOW, "malformed token");
	big = malloc(strlen(tok) + 3);
	snprintf(big, strlen(tok) + 3, "%s.x", tok);
	REFUSED(a, big, NOW, "malformed token");
	free(tok);
	/* Header typ other than JWT, validly signed (PyJWT): libjwt refuses it. */
	cfg.auth_secret = PY_SECRET;
	cfg.auth_secret_len = strlen(PY_SECRET);
	auth_destroy(a);
	a = make(&cfg);
	ACCEPTED(a, strdup(PY_HS256), NOW, 42);
	REFUSED(a, strdup(PY_TYP), NOW, "malformed token");
	auth_destroy(a);

	/* Size: validly signed, a 7.5 KiB token passes and a 10 KiB one is refused unread. */
	cfg = config(AUTH_HS256);
	a = make(&cfg);
	big = malloc(8000);
	snprintf(big, 8000, ACCESS("\"pad\":\"%5600s\","), "");
	tok = sign(JWT_ALG_HS256, SECRET, big);
	CHECK(strlen(tok) > 7168 && strlen(tok) <= 8192);
	ACCEPTED(a, tok, NOW, 42);
	snprintf(big, 8000, ACCESS("\"pad\":\"%7600s\","), "");
	tok = sign(JWT_ALG_HS256, SECRET, big);
	CHECK(strlen(tok) > 10240);
	REFUSED(a, tok, NOW, "token too long");
	free(big);
	auth_destroy(a);
}

/* The PyJWT fixture verifies today and until 2100 (exp 4102444800). */
static void test_pyjwt(void)
{
	herald_config cfg = config(AUTH_HS256);
	auth_claims c = {0};
	char why[128] = "";
	jwt_t *jwt = NULL;
	auth *a;

	cfg.auth_secret = PY_SECRET;
	cfg.auth_secret_len = strlen(PY_SECRET);
	a = make(&cfg);
	CHECK_INT(auth_verify(a, PY_HS256, time(NULL), &c, why, sizeof(why)), 0);
	CHECK_INT(c.user_id, 42);
	CHECK_INT(c.exp, 4102444800LL);
	REFUSED(a, strdup(PY_HS256), 4102444800LL, "expired");
	/* Found by tests/fuzz/fuzz_auth: libjwt reads "hs256" as HS256, so a correctly signed
	 * token naming its algorithm in another case was accepted; PyJWT and RFC 7515 refuse it. */
	CHECK_INT(
	    jwt_decode(&jwt, PY_LOWER, (const unsigned char *)PY_SECRET, (int)strlen(PY_SECRET)),
	    0);
	jwt_free(jwt);
	REFUSED(a, strdup(PY_LOWER), NOW, "malformed token");
	auth_destroy(a);

	cfg.auth_secret = SECRET;
	cfg.auth_secret_len = strlen(SECRET);
	a = make(&cfg);
	REFUSED(a, strdup(PY_HS256), NOW, "bad signature or malformed");
	auth_destroy(a);
}

static void test_create(void)
{
	herald_config cfg = config(0);
	char err[256] = "";
	auth *a = NULL;

	CHECK_INT(auth_create(&cfg, &a, err, sizeof(err)), HERALD_ECONFIG);
	cfg.auth_algs = 1u << 7;
	CHECK_INT(auth_create(&cfg, &a, err, sizeof(err)), HERALD_ECONFIG);
	cfg.auth_algs = AUTH_RS256;
	CHECK_INT(auth_create(&cfg, &a, err, sizeof(err)), HERALD_ECONFIG);
	CHECK_CONTAINS(err, "public key");
	cfg.auth_public_key = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	CHECK_INT(auth_create(&cfg, &a, err, sizeof(err)), HERALD_ECONFIG);
	cfg.auth_public_key = rsa_priv;
	CHECK_INT(auth_create(&cfg, &a, err, sizeof(err)), HERALD_ECONFIG);
	cfg.auth_public_key = rsa_pub;
	cfg.auth_leeway = -1;
	CHECK_INT(auth_create(&cfg, &a, err, sizeof(err)), HERALD_ECONFIG);
	CHECK(a == NULL);
	CHECK(!strstr(err, SECRET));

	/* A NULL user claim means the default, user_id. */
	cfg = config(AUTH_HS256);
	cfg.auth_user_claim = NULL;
	a = make(&cfg);
	ACCEPTED(a, sign(JWT_ALG_HS256, SECRET, ACCESS("")), NOW, 42);
	auth_destroy(a);
	auth_destroy(NULL);
}

int main(void)
{
	rsa_pub = slurp("keys/rsa_public.pem");
	rsa_priv = slurp("keys/rsa_private.pem");
	ec_pub = slurp("keys/ec_public.pem");
	ec_priv = slurp("keys/ec_private.pem");

	test_hs();
	test_tampered();
	test_mint();
	test_pk();
	test_alg_none();
	test_alg_confusion();
	test_time();
	test_user_claim();
	test_iss_aud();
	test_token_type();
	test_projects_claim();
	test_malformed();
	test_pyjwt();
	test_create();

	free(rsa_pub);
	free(rsa_priv);
	free(ec_pub);
	free(ec_priv);
	return check_done();
}
