/* test_auth.c - auth.c against real libjwt tokens (HS*, RS256, ES256), PyJWT fixtures and
 * hand-crafted hostile ones. Runs in tests/unit (the keys are read from keys/). */
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
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

/* The base64url text (unpadded) of the n bytes at s. */
static char *b64url_n(const void *s, size_t n)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *in = s;
	size_t i, o = 0;
	char *out = malloc(n * 4 / 3 + 4);
	unsigned long v;

	for (i = 0; i < n; i += 3) {
		v = (unsigned long)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
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

static char *b64url(const char *s)
{
	return b64url_n(s, strlen(s));
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

/* The base64url HMAC-SHA-`bits` of `text` under `key`, as a JWS signature. */
static char *hmac_sig(int bits, const char *key, const char *text)
{
	unsigned char mac[64];
	char digest[8];
	size_t n = 0;

	snprintf(digest, sizeof digest, "SHA%d", bits);
	if (!EVP_Q_mac(NULL, "HMAC", NULL, digest, NULL, key, strlen(key),
	               (const unsigned char *)text, strlen(text), mac, sizeof mac, &n)) {
		fprintf(stderr, "EVP_Q_mac failed\n");
		exit(1);
	}
	return b64url_n(mac, n);
}

/* The segments h and p joined and signed with HMAC-SHA-`bits` under `key`: a token whose
 * signature is right whatever the segments hold. */
static char *sign_segments(int bits, const char *key, const char *h, const char *p)
{
	size_t len = strlen(h) + strlen(p) + 2;
	char *text = malloc(len), *sig, *out;

	snprintf(text, len, "%s.%s", h, p);
	sig = hmac_sig(bits, key, text);
	out = malloc(len + strlen(sig) + 1);
	snprintf(out, len + strlen(sig) + 1, "%s.%s", text, sig);
	free(text);
	free(sig);
	return out;
}

/* Header and claims texts of hlen and plen bytes (NUL bytes allowed), signed with HS`bits` and
 * SECRET, whatever they say. */
static char *forge_n(int bits, const char *header, size_t hlen, const char *payload, size_t plen)
{
	char *h = b64url_n(header, hlen), *p = b64url_n(payload, plen);
	char *out = sign_segments(bits, SECRET, h, p);

	free(h);
	free(p);
	return out;
}

static char *forge(int bits, const char *header, const char *payload)
{
	return forge_n(bits, header, strlen(header), payload, strlen(payload));
}

/* Header and claims texts signed with RS256 and the test's RSA private key, whatever they say. */
static char *forge_rs256(const char *header, const char *payload)
{
	char *h = b64url(header), *p = b64url(payload), *text, *sig, *out;
	BIO *bio = BIO_new_mem_buf(rsa_priv, -1);
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char raw[512];
	size_t len = strlen(h) + strlen(p) + 2, n = sizeof raw;

	text = malloc(len);
	snprintf(text, len, "%s.%s", h, p);
	if (!key || !md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, raw, &n, (const unsigned char *)text, strlen(text)) != 1) {
		fprintf(stderr, "cannot sign with RS256\n");
		exit(1);
	}
	sig = b64url_n(raw, n);
	out = malloc(len + strlen(sig) + 1);
	snprintf(out, len + strlen(sig) + 1, "%s.%s", text, sig);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	BIO_free(bio);
	free(text);
	free(sig);
	free(h);
	free(p);
	return out;
}

/* tok (freed) with its signature replaced by sig. */
static char *resign(char *tok, const char *sig)
{
	size_t n = (size_t)(strrchr(tok, '.') + 1 - tok);
	char *out = malloc(n + strlen(sig) + 1);

	memcpy(out, tok, n);
	strcpy(out + n, sig);
	free(tok);
	return out;
}

/* The base64url character whose value is that of c plus `add` (mod 64). */
static char b64url_shift(char c, int add)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	return abc[((int)(strchr(abc, c) - abc) + add) & 63];
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
	/* A refused token names no user (a refresh logs "another user's token" when it does). */
	tok = sign(JWT_ALG_HS256, SECRET,
	           "{\"token_type\":\"access\",\"exp\":1761316500,\"user_id\":4,\"proj\":3}");
	c = (auth_claims){0};
	CHECK(auth_verify(a, tok, NOW, &c, why, sizeof why) != 0);
	CHECK_INT(c.user_id, 0);
	auth_claims_free(&c);
	free(tok);
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
	/* Header typ other than JWT, validly signed (PyJWT): refused, as libjwt 1.10.2 does. */
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

#define HS256_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* Tokens an attacker can send, most of them correctly signed with the secret, so that what
 * refuses them is the parsing and not the signature. */
static void test_hostile_alg(void)
{
	herald_config cfg = config(AUTH_HS256 | AUTH_HS384 | AUTH_HS512);
	auth *a = make(&cfg);
	char *tok;

	/* The reverse confusion: a public-key token where only a secret is configured. */
	REFUSED(a, sign(JWT_ALG_RS256, rsa_priv, ACCESS("")), NOW, "algorithm RS256 not allowed");
	REFUSED(a, strdup(PY_ES256), NOW, "algorithm ES256 not allowed");
	/* RS384 is a name libjwt knows, PS256 one it does not. */
	REFUSED(a, forge(256, "{\"alg\":\"RS384\"}", ACCESS("")), NOW,
	        "algorithm RS384 not allowed");
	REFUSED(a, forge(256, "{\"alg\":\"PS256\"}", ACCESS("")), NOW, "malformed token");

	/* "none" is an algorithm never allowed, signed or not, with any typ (libjwt reads typ only
	 * for the others); any other spelling is no algorithm at all. */
	REFUSED(a, forge(256, "{\"alg\":\"none\"}", ACCESS("")), NOW, "algorithm none not allowed");
	REFUSED(a, craft("{\"alg\":\"none\",\"typ\":\"at+jwt\"}", ACCESS(""), ""), NOW,
	        "algorithm none not allowed");
	REFUSED(a, craft("{\"alg\":\"None\",\"typ\":\"JWT\"}", ACCESS(""), ""), NOW,
	        "malformed token");
	REFUSED(a, forge(256, "{\"alg\":\"None\"}", ACCESS("")), NOW, "malformed token");
	REFUSED(a, forge(256, "{\"alg\":\"hS256\"}", ACCESS("")), NOW, "malformed token");
	REFUSED(a, forge(256, "{\"alg\":\"HS256 \"}", ACCESS("")), NOW, "malformed token");
	REFUSED(a, forge(256, "{\"alg\":256}", ACCESS("")), NOW, "malformed token");
	REFUSED(a, forge(256, "{\"alg\":[\"HS256\"]}", ACCESS("")), NOW, "malformed token");
	REFUSED(a, forge(256, "{\"alg\":null}", ACCESS("")), NOW, "malformed token");
	/* The name is read after JSON unescaping: "HS\u0032\u00356" is HS256. */
	ACCEPTED(a, forge(256, "{\"alg\":\"HS\\u0032\\u00356\"}", ACCESS("")), NOW, 42);
	/* An algorithm not configured is refused even when the secret signed it. */
	auth_destroy(a);
	cfg = config(AUTH_HS384);
	a = make(&cfg);
	REFUSED(a, forge(256, HS256_HEADER, ACCESS("")), NOW, "algorithm HS256 not allowed");
	ACCEPTED(a, forge(384, "{\"alg\":\"HS384\"}", ACCESS("")), NOW, 42);
	auth_destroy(a);

	/* With HS256 and RS256 both configured: an RS256 header over an HMAC made with the secret
	 * goes to the RSA check, which refuses it. */
	cfg = config(AUTH_HS256 | AUTH_RS256);
	cfg.auth_public_key = rsa_pub;
	a = make(&cfg);
	REFUSED(a, forge(256, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", ACCESS("")), NOW,
	        "bad signature or malformed");
	/* Herald's header and claims rules hold for RS256 tokens too, which libjwt then verifies:
	 * correctly signed, a name twice or a NUL byte is malformed, as for HS. */
	ACCEPTED(a, forge_rs256("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", ACCESS("")), NOW, 42);
	REFUSED(a, forge_rs256("{\"alg\":\"RS256\",\"alg\":\"RS256\"}", ACCESS("")), NOW,
	        "malformed token");
	REFUSED(a, forge_rs256("{\"alg\":\"RS256\"}", ACCESS("\"user_id\":7,")), NOW,
	        "malformed token");
	REFUSED(a, forge_rs256("{\"alg\":\"RS256\"}", "[" ACCESS("") "]"), NOW, "malformed token");
	REFUSED(a, forge_rs256("{\"alg\":\"rs256\"}", ACCESS("")), NOW, "malformed token");
	tok = forge_rs256("{\"alg\":\"RS256\"}", ACCESS(""));
	tok[strlen(tok) - 3] = b64url_shift(tok[strlen(tok) - 3], 1);
	REFUSED(a, tok, NOW, "bad signature or malformed");
	auth_destroy(a);
}

/* typ as libjwt 1.10.2 reads it: a string other than "JWT" (in any case) is refused, anything
 * else (absent, null, a number, an array) is ignored. */
static void test_hostile_typ(void)
{
	static const char *taken[] = {"\"JWT\"", "\"jwt\"", "\"jWt\"", "null",
	                              "5",       "[\"x\"]", "{}"};
	static const char *refused[] = {"\"at+jwt\"", "\"\"", "\"JWT \"", "\"JWS\"",
	                                "\"application/jwt\""};
	herald_config cfg = config(AUTH_HS256);
	auth *a = make(&cfg);
	char header[128];

	for (size_t i = 0; i < sizeof taken / sizeof *taken; i++) {
		snprintf(header, sizeof header, "{\"alg\":\"HS256\",\"typ\":%s}", taken[i]);
		ACCEPTED(a, forge(256, header, ACCESS("")), NOW, 42);
	}
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		snprintf(header, sizeof header, "{\"alg\":\"HS256\",\"typ\":%s}", refused[i]);
		REFUSED(a, forge(256, header, ACCESS("")), NOW, "malformed token");
	}
	/* Checked before the key: a typ refused with an algorithm not allowed is malformed. */
	REFUSED(a, forge(256, "{\"alg\":\"HS512\",\"typ\":\"at+jwt\"}", ACCESS("")), NOW,
	        "malformed token");
	auth_destroy(a);
}

static void test_hostile_signature(void)
{
	static const int bits[] = {256, 384, 512};
	herald_config cfg = config(AUTH_HS256 | AUTH_HS384 | AUTH_HS512);
	auth *a = make(&cfg);
	char header[64], *tok, *sig, *text;

	for (size_t i = 0; i < 3; i++) {
		snprintf(header, sizeof header, "{\"alg\":\"HS%d\",\"typ\":\"JWT\"}", bits[i]);
		tok = forge(bits[i], header, ACCESS(""));
		sig = strdup(strrchr(tok, '.') + 1);
		text = strndup(tok, (size_t)(strrchr(tok, '.') - tok));
		ACCEPTED(a, strdup(tok), NOW, 42);
		/* Empty, one character short or long, a byte more, one bit flipped. */
		REFUSED(a, resign(strdup(tok), ""), NOW, "bad signature or malformed");
		sig[strlen(sig) - 1] = '\0';
		REFUSED(a, resign(strdup(tok), sig), NOW, "bad signature or malformed");
		sig = realloc(sig, strlen(sig) + 8);
		strcpy(sig, strrchr(tok, '.') + 1);
		strcat(sig, "A");
		REFUSED(a, resign(strdup(tok), sig), NOW, "bad signature or malformed");
		strcat(sig, "AA");
		REFUSED(a, resign(strdup(tok), sig), NOW, "bad signature or malformed");
		strcpy(sig, strrchr(tok, '.') + 1);
		sig[0] = b64url_shift(sig[0], 1);
		REFUSED(a, resign(strdup(tok), sig), NOW, "bad signature or malformed");
		/* The same bytes with the unused low bits of the last character set: libjwt
		 * compared texts, Herald decodes strictly; both refuse. */
		strcpy(sig, strrchr(tok, '.') + 1);
		sig[strlen(sig) - 1] = b64url_shift(sig[strlen(sig) - 1], 1);
		REFUSED(a, resign(strdup(tok), sig), NOW, "bad signature or malformed");
		/* The right HMAC under the wrong hash (length) or the wrong secret. */
		free(sig);
		sig = hmac_sig(bits[(i + 1) % 3], SECRET, text);
		REFUSED(a, resign(strdup(tok), sig), NOW, "bad signature or malformed");
		free(sig);
		sig = hmac_sig(bits[i], "unit-test-secret-0123456789abcdeF", text);
		REFUSED(a, resign(strdup(tok), sig), NOW, "bad signature or malformed");
		/* The signature of the same claims under another header. */
		free(sig);
		sig = strdup(strrchr(tok, '.') + 1);
		snprintf(header, sizeof header, "{\"typ\":\"JWT\",\"alg\":\"HS%d\"}", bits[i]);
		REFUSED(a, resign(forge(bits[i], header, ACCESS("")), sig), NOW,
		        "bad signature or malformed");
		free(sig);
		free(text);
		free(tok);
	}
	auth_destroy(a);
}

static void test_hostile_json(void)
{
	static const char with_nul[] = "{\"alg\":\"HS256\"}\0junk";
	static const char claims_nul[] = ACCESS("") "\0";
	static const char num_nul[] = ACCESS("\"n\":1\0,");
	static const char hdr_num_nul[] = "{\"alg\":\"HS256\",\"x\":1\0}";
	herald_config cfg = config(AUTH_HS256);
	auth *a = make(&cfg);
	char *h, *p;

	/* Duplicate names, in the header or the claims: refused whichever copy wins elsewhere. */
	REFUSED(a, forge(256, "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", ACCESS("")), NOW,
	        "malformed token");
	REFUSED(a, forge(256, "{\"alg\":\"none\",\"alg\":\"HS256\"}", ACCESS("")), NOW,
	        "malformed token");
	REFUSED(a, forge(256, "{\"alg\":\"HS256\",\"kid\":\"a\",\"kid\":\"b\"}", ACCESS("")), NOW,
	        "malformed token");
	REFUSED(a, forge(256, HS256_HEADER, ACCESS("\"user_id\":7,")), NOW, "malformed token");
	REFUSED(a, forge(256, HS256_HEADER, ACCESS("\"exp\":4102444800,")), NOW, "malformed token");

	/* Header or claims not an object. */
	REFUSED(a, forge(256, "[{\"alg\":\"HS256\"}]", ACCESS("")), NOW, "malformed token");
	REFUSED(a, forge(256, "\"HS256\"", ACCESS("")), NOW, "malformed token");
	REFUSED(a, forge(256, "", ACCESS("")), NOW, "malformed token");
	REFUSED(a, forge(256, HS256_HEADER, "[" ACCESS("") "]"), NOW, "malformed token");
	REFUSED(a, forge(256, HS256_HEADER, "[]"), NOW, "malformed token");
	REFUSED(a, forge(256, HS256_HEADER, "42"), NOW, "malformed token");
	REFUSED(a, forge(256, HS256_HEADER, "\"user_id\""), NOW, "malformed token");
	REFUSED(a, forge(256, HS256_HEADER, ""), NOW, "malformed token");
	REFUSED(a, forge(256, HS256_HEADER, "null"), NOW, "malformed token");
	/* An empty object is an object: the claims checks refuse it. */
	REFUSED(a, forge(256, HS256_HEADER, "{}"), NOW, "missing exp");

	/* Text after the value; white space around it is JSON's and taken. */
	REFUSED(a, forge(256, HS256_HEADER, ACCESS("") " x"), NOW, "malformed token");
	REFUSED(a, forge(256, HS256_HEADER, ACCESS("") "{}"), NOW, "malformed token");
	REFUSED(a, forge(256, "{\"alg\":\"HS256\"},", ACCESS("")), NOW, "malformed token");
	ACCEPTED(a, forge(256, " {\"alg\":\"HS256\"}\n", "\t" ACCESS("") "\r\n "), NOW, 42);

	/* NUL bytes: libjwt read each segment as a C string, so what followed a NUL was dropped;
	 * now the segment is refused, as are \u0000 escapes (jansson without JSON_ALLOW_NUL). */
	REFUSED(a, forge_n(256, with_nul, sizeof with_nul - 1, ACCESS(""), strlen(ACCESS(""))), NOW,
	        "malformed token");
	REFUSED(a, forge_n(256, with_nul, strlen(with_nul) + 1, ACCESS(""), strlen(ACCESS(""))),
	        NOW, "malformed token");
	REFUSED(a, forge_n(256, HS256_HEADER, strlen(HS256_HEADER), claims_nul, sizeof claims_nul),
	        NOW, "malformed token");
	/* jansson skips a NUL byte right after a number (found by tests/fuzz/fuzz_auth). */
	REFUSED(a, forge_n(256, HS256_HEADER, strlen(HS256_HEADER), num_nul, sizeof num_nul - 1),
	        NOW, "malformed token");
	REFUSED(a,
	        forge_n(256, hdr_num_nul, sizeof hdr_num_nul - 1, ACCESS(""), strlen(ACCESS(""))),
	        NOW, "malformed token");
	REFUSED(a, forge(256, HS256_HEADER, ACCESS("\"x\":\"a\\u0000b\",")), NOW,
	        "malformed token");
	REFUSED(a, forge(256, "{\"alg\":\"HS256\\u0000\"}", ACCESS("")), NOW, "malformed token");
	/* Invalid UTF-8 in a string. */
	REFUSED(a, forge(256, HS256_HEADER, ACCESS("\"x\":\"\xff\",")), NOW, "malformed token");

	/* Numbers: beyond int64 or double is malformed (jansson), the edges are the claim checks'.
	 */
	REFUSED(a, forge(256, HS256_HEADER, "{\"user_id\":42,\"exp\":99999999999999999999}"), NOW,
	        "malformed token");
	REFUSED(a, forge(256, HS256_HEADER, "{\"user_id\":42,\"exp\":1e400}"), NOW,
	        "malformed token");
	REFUSED(a, forge(256, HS256_HEADER, ACCESS("\"x\":-1e99999,")), NOW, "malformed token");
	REFUSED(a,
	        forge(256, HS256_HEADER,
	              "{\"token_type\":\"access\",\"user_id\":42,\"exp\":-9223372036854775808}"),
	        NOW, "expired");
	REFUSED(a,
	        forge(256, HS256_HEADER,
	              "{\"token_type\":\"access\",\"exp\":1761316500,"
	              "\"user_id\":-9223372036854775808}"),
	        NOW, "user_id claim is not a positive integer");
	REFUSED(a,
	        forge(256, HS256_HEADER,
	              "{\"token_type\":\"access\",\"exp\":1761316500,\"user_id\":4.2e1}"),
	        NOW, "user_id claim is not a positive integer");
	REFUSED(a,
	        forge(256, HS256_HEADER, "{\"token_type\":\"access\",\"exp\":1e10,\"user_id\":42}"),
	        NOW, "exp is not an integer");
	ACCEPTED(a,
	         forge(256, HS256_HEADER,
	               "{\"token_type\":\"access\",\"exp\":9223372036854775807,"
	               "\"nbf\":-9223372036854775808,\"user_id\":9223372036854775807}"),
	         NOW, 9223372036854775807LL);

	/* Deep nesting stops at jansson's depth limit, not the stack. */
	p = malloc(6001);
	memset(p, '[', 3000);
	memset(p + 3000, ']', 3000);
	p[6000] = '\0';
	h = malloc(6100);
	snprintf(h, 6100, "{\"user_id\":42,\"x\":%s}", p);
	REFUSED(a, forge(256, HS256_HEADER, h), NOW, "malformed token");
	free(h);
	free(p);
	auth_destroy(a);
}

/* base64url as RFC 7515 has it: no padding, no length of 1 mod 4, no bits set past the data.
 * A correctly signed token whose header or claims text breaks one of these is malformed. */
static void test_hostile_base64(void)
{
	/* 28 bytes: 38 characters, the last carrying 4 unused bits; 29 bytes: 39, 2 unused. */
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\" }";
	static const char claims[] = ACCESS("") " ";
	herald_config cfg = config(AUTH_HS256);
	auth *a = make(&cfg);
	char *h = b64url(header), *p = b64url(claims), *h2, *p2;
	size_t hn = strlen(h), pn = strlen(p);

	CHECK_INT(hn % 4, 2);
	ACCEPTED(a, sign_segments(256, SECRET, h, p), NOW, 42);
	/* The same bytes, with unused bits set: libjwt's decoder read them as the same JSON. */
	h2 = strdup(h);
	h2[hn - 1] = b64url_shift(h2[hn - 1], 1);
	REFUSED(a, sign_segments(256, SECRET, h2, p), NOW, "malformed token");
	h2[hn - 1] = b64url_shift(h[hn - 1], 8);
	REFUSED(a, sign_segments(256, SECRET, h2, p), NOW, "malformed token");
	free(h2);
	if (pn % 4 > 1) {
		p2 = strdup(p);
		p2[pn - 1] = b64url_shift(p2[pn - 1], 1);
		REFUSED(a, sign_segments(256, SECRET, h, p2), NOW, "malformed token");
		free(p2);
	}
	/* One character more: a length of 1 mod 4 (h is 2 mod 4, so three more is 1). */
	h2 = malloc(hn + 4);
	snprintf(h2, hn + 4, "%sAAA", h);
	REFUSED(a, sign_segments(256, SECRET, h2, p), NOW, "malformed token");
	free(h2);
	/* Padding and characters outside base64url are refused before anything is decoded. */
	h2 = malloc(hn + 3);
	snprintf(h2, hn + 3, "%s==", h);
	REFUSED(a, sign_segments(256, SECRET, h2, p), NOW, "malformed token");
	h2[hn] = '+';
	h2[hn + 1] = '/';
	REFUSED(a, sign_segments(256, SECRET, h2, p), NOW, "malformed token");
	free(h2);
	free(h);
	free(p);
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
	test_hostile_alg();
	test_hostile_typ();
	test_hostile_signature();
	test_hostile_json();
	test_hostile_base64();
	test_create();

	free(rsa_pub);
	free(rsa_priv);
	free(ec_pub);
	free(ec_priv);
	return check_done();
}
