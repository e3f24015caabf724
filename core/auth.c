/* auth.c - JWT verification (HS* by Herald with OpenSSL, RS256/ES256 by libjwt 1.10.2) and
 * minting with libjwt (see auth.h). */
#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "auth.h"

#define AUTH_HS (AUTH_HS256 | AUTH_HS384 | AUTH_HS512)
#define AUTH_PK (AUTH_RS256 | AUTH_ES256)

/* From the weakest to the strongest HS algorithm, which auth_mint uses. */
static const struct {
	unsigned bit;
	jwt_alg_t alg;
	const char *digest; /* HS: OpenSSL's name of the HMAC's hash */
} auth_algs[] = {
    {AUTH_HS256, JWT_ALG_HS256, "SHA256"}, {AUTH_HS384, JWT_ALG_HS384, "SHA384"},
    {AUTH_HS512, JWT_ALG_HS512, "SHA512"}, {AUTH_RS256, JWT_ALG_RS256, NULL},
    {AUTH_ES256, JWT_ALG_ES256, NULL},
};

struct auth {
	/* The key of each accepted algorithm, NULL for every other one. libjwt takes the use of a
	 * key (HMAC secret or PEM) from the token's own header, so this table is what keeps an
	 * HS256 token signed with the public key from being checked against that key. */
	const unsigned char *key[JWT_ALG_TERM];
	int key_len[JWT_ALG_TERM];
	/* HS: an HMAC context keyed with the secret once, copied for each token (the copy keeps
	 * the hashed key pads, and verifiers on several threads share nothing they write). */
	EVP_MAC *hmac;
	EVP_MAC_CTX *mac[JWT_ALG_TERM];
	size_t mac_len[JWT_ALG_TERM];
	unsigned char *secret;
	int secret_len;
	char *pem;
	char *user_claim, *issuer, *audience, *token_type;
	char *projects_claim; /* subscriptions.policy claim, else NULL */
	char **required;      /* auth.required_claims: names a token must carry */
	size_t n_required;
	long leeway;
	jwt_alg_t mint_alg; /* JWT_ALG_NONE when no HS algorithm is configured */
};

/* A copy of src in *dst (NULL stays NULL). */
static int copy_str(char **dst, const char *src)
{
	if (src && !(*dst = strdup(src)))
		return HERALD_ENOMEM;
	return 0;
}

int auth_create(const herald_config *cfg, auth **out, char *err, size_t errlen)
{
	unsigned algs = cfg->auth_algs;
	auth *a = NULL;
	size_t i;

	*out = NULL;
	if (!algs || (algs & ~(unsigned)(AUTH_HS | AUTH_PK))) {
		snprintf(err, errlen, "auth: no algorithm, or an unknown one, is configured");
		return HERALD_ECONFIG;
	}
	if ((algs & AUTH_HS) &&
	    (!cfg->auth_secret || !cfg->auth_secret_len || cfg->auth_secret_len > INT_MAX)) {
		snprintf(err, errlen, "auth: HS256/HS384/HS512 need a secret");
		return HERALD_ECONFIG;
	}
	/* Caught here rather than as "bad signature" on every token: a certificate or a private
	 * key given by mistake. */
	if ((algs & AUTH_PK) &&
	    (!cfg->auth_public_key || !strstr(cfg->auth_public_key, "PUBLIC KEY-----"))) {
		snprintf(err, errlen, "auth: RS256/ES256 need a PEM public key (BEGIN PUBLIC KEY)");
		return HERALD_ECONFIG;
	}
	if (cfg->auth_leeway < 0) {
		snprintf(err, errlen, "auth: leeway must not be negative");
		return HERALD_ECONFIG;
	}

	a = calloc(1, sizeof(*a));
	if (!a)
		goto fail;
	if (algs & AUTH_HS) {
		a->secret = malloc(cfg->auth_secret_len);
		if (!a->secret)
			goto fail;
		memcpy(a->secret, cfg->auth_secret, cfg->auth_secret_len);
		a->secret_len = (int)cfg->auth_secret_len;
	}
	if ((algs & AUTH_PK) && copy_str(&a->pem, cfg->auth_public_key))
		goto fail;
	if (copy_str(&a->user_claim, cfg->auth_user_claim ? cfg->auth_user_claim : "user_id") ||
	    copy_str(&a->issuer, cfg->auth_issuer) || copy_str(&a->audience, cfg->auth_audience) ||
	    copy_str(&a->token_type, cfg->auth_token_type) ||
	    copy_str(&a->projects_claim, cfg->sub_policy == SUB_CLAIM ? cfg->sub_claim : NULL))
		goto fail;
	a->leeway = cfg->auth_leeway;
	if (cfg->n_auth_required_claims &&
	    !(a->required = calloc(cfg->n_auth_required_claims, sizeof *a->required)))
		goto fail;
	for (i = 0; i < cfg->n_auth_required_claims; i++, a->n_required++)
		if (copy_str(&a->required[i], cfg->auth_required_claims[i]))
			goto fail;

	if ((algs & AUTH_HS) && !(a->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)))
		goto fail_crypto;
	for (i = 0; i < sizeof(auth_algs) / sizeof(auth_algs[0]); i++) {
		jwt_alg_t alg = auth_algs[i].alg;

		if (!(algs & auth_algs[i].bit))
			continue;
		if (auth_algs[i].bit & AUTH_HS) {
			OSSL_PARAM params[] = {
			    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
			                                     (char *)auth_algs[i].digest, 0),
			    OSSL_PARAM_construct_end()};

			a->key[alg] = a->secret;
			a->key_len[alg] = a->secret_len;
			a->mint_alg = alg;
			if (!(a->mac[alg] = EVP_MAC_CTX_new(a->hmac)) ||
			    !EVP_MAC_init(a->mac[alg], a->secret, (size_t)a->secret_len, params))
				goto fail_crypto;
			a->mac_len[alg] = EVP_MAC_CTX_get_mac_size(a->mac[alg]);
			if (!a->mac_len[alg] || a->mac_len[alg] > EVP_MAX_MD_SIZE)
				goto fail_crypto;
		} else {
			a->key[alg] = (const unsigned char *)a->pem;
			a->key_len[alg] = (int)strlen(a->pem);
		}
	}
	*out = a;
	return 0;

fail_crypto:
	/* OpenSSL's error queue is per thread and lws reads it after TLS calls: leave it empty. */
	ERR_clear_error();
	auth_destroy(a);
	snprintf(err, errlen,
	         "auth: OpenSSL cannot key the HS256/HS384/HS512 HMAC with the secret (out of "
	         "memory, or a provider refusing it)");
	return HERALD_ECONFIG;
fail:
	auth_destroy(a);
	snprintf(err, errlen, "auth: out of memory");
	return HERALD_ENOMEM;
}

void auth_destroy(auth *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < JWT_ALG_TERM; i++)
		EVP_MAC_CTX_free(a->mac[i]);
	EVP_MAC_free(a->hmac);
	if (a->secret)
		explicit_bzero(a->secret, (size_t)a->secret_len);
	free(a->secret);
	free(a->pem);
	free(a->user_claim);
	free(a->issuer);
	free(a->audience);
	free(a->token_type);
	for (size_t i = 0; i < a->n_required; i++)
		free(a->required[i]);
	free(a->required);
	free(a->projects_claim);
	free(a);
}

int64_t auth_expiry_delay_us(int64_t exp, int64_t now)
{
	/* Compared before subtracting: exp - now overflows for far-apart values. */
	if (exp <= now)
		return 1;
	/* exp > now: exp - now overflows only when now is negative and exp far. */
	if ((now < 0 && exp > INT64_MAX + now) || exp - now > AUTH_EXPIRY_WAIT_MAX_US / 1000000)
		return AUTH_EXPIRY_WAIT_MAX_US;
	return (exp - now) * 1000000;
}

void auth_claims_free(auth_claims *claims)
{
	free(claims->projects);
	claims->projects = NULL;
	claims->n_projects = 0;
}

static int refuse(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return HERALD_EINVAL;
}

/* Three base64url segments (the signature may be empty), nothing else: libjwt's decoder stops
 * quietly at the first foreign character instead of failing. */
static bool well_formed(const char *token, size_t len)
{
	const char *dot;
	int dots = 0;

	if (strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") !=
	    len)
		return false;
	for (dot = token; (dot = strchr(dot, '.')) != NULL; dot++)
		dots++;
	return dots == 2;
}

static bool has_audience(const json_t *aud, const char *want)
{
	const char *s;
	size_t i;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	for (i = 0; i < json_array_size(aud); i++) {
		s = json_string_value(json_array_get(aud, i));
		if (s && strcmp(s, want) == 0)
			return true;
	}
	return false;
}

static int id_order(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The project ids of the policy claim, sorted and unique, into claims. */
static int read_projects(const auth *a, const json_t *list, auth_claims *claims, char *why,
                         size_t whylen)
{
	size_t n = json_array_size(list), i, kept = 0;
	const json_t *v;

	claims->projects = NULL;
	claims->n_projects = 0;
	if (!list)
		return 0;
	if (!json_is_array(list))
		return refuse(why, whylen, "%s claim is not a list", a->projects_claim);
	if (n && !(claims->projects = malloc(n * sizeof *claims->projects))) {
		refuse(why, whylen, "out of memory");
		return HERALD_ENOMEM;
	}
	json_array_foreach(list, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) <= 0) {
			auth_claims_free(claims);
			return refuse(why, whylen,
			              "%s claim holds something other than positive "
			              "integers",
			              a->projects_claim);
		}
		claims->projects[i] = json_integer_value(v);
	}
	if (n)
		qsort(claims->projects, n, sizeof *claims->projects, id_order);
	for (i = 0; i < n; i++)
		if (!kept || claims->projects[kept - 1] != claims->projects[i])
			claims->projects[kept++] = claims->projects[i];
	claims->n_projects = kept;
	return 0;
}

static int check_claims(const auth *a, const json_t *g, time_t now, auth_claims *claims, char *why,
                        size_t whylen)
{
	const json_t *exp = json_object_get(g, "exp"), *nbf = json_object_get(g, "nbf");
	const json_t *uid = json_object_get(g, a->user_claim);
	const char *iss = json_string_value(json_object_get(g, "iss"));
	const char *type = json_string_value(json_object_get(g, "token_type"));

	if (!exp)
		return refuse(why, whylen, "missing exp");
	if (!json_is_integer(exp))
		return refuse(why, whylen, "exp is not an integer");
	if (json_integer_value(exp) <= (json_int_t)now - a->leeway)
		return refuse(why, whylen, "expired");
	if (nbf && !json_is_integer(nbf))
		return refuse(why, whylen, "nbf is not an integer");
	if (nbf && json_integer_value(nbf) > (json_int_t)now + a->leeway)
		return refuse(why, whylen, "not yet valid");
	if (!uid)
		return refuse(why, whylen, "missing %s claim", a->user_claim);
	/* A JSON integer only, as SimpleJWT emits: "42" or 42.0 are refused, not converted. */
	if (!json_is_integer(uid) || json_integer_value(uid) <= 0)
		return refuse(why, whylen, "%s claim is not a positive integer", a->user_claim);
	if (a->issuer && (!iss || strcmp(iss, a->issuer) != 0))
		return refuse(why, whylen, "wrong issuer");
	if (a->audience && !has_audience(json_object_get(g, "aud"), a->audience))
		return refuse(why, whylen, "wrong audience");
	if (a->token_type && (!type || strcmp(type, a->token_type) != 0))
		return refuse(why, whylen, "token_type is not %s", a->token_type);
	for (size_t i = 0; i < a->n_required; i++) {
		const json_t *v = json_object_get(g, a->required[i]);
		if (!v || json_is_null(v))
			return refuse(why, whylen, "missing %.40s claim", a->required[i]);
	}

	/* The user only once the token is accepted: a caller may look at it after a refusal. */
	int rc = a->projects_claim
	             ? read_projects(a, json_object_get(g, a->projects_claim), claims, why, whylen)
	             : 0;
	if (rc == 0) {
		claims->user_id = json_integer_value(uid);
		claims->exp = json_integer_value(exp);
	}
	return rc;
}

/* Each base64url character's value with the bit B64_DIGIT set; 0 for every other byte. */
#define B64_DIGIT 0x40
static const unsigned char b64url_digit[256] = {
    ['A'] = B64_DIGIT | 0,  ['B'] = B64_DIGIT | 1,  ['C'] = B64_DIGIT | 2,  ['D'] = B64_DIGIT | 3,
    ['E'] = B64_DIGIT | 4,  ['F'] = B64_DIGIT | 5,  ['G'] = B64_DIGIT | 6,  ['H'] = B64_DIGIT | 7,
    ['I'] = B64_DIGIT | 8,  ['J'] = B64_DIGIT | 9,  ['K'] = B64_DIGIT | 10, ['L'] = B64_DIGIT | 11,
    ['M'] = B64_DIGIT | 12, ['N'] = B64_DIGIT | 13, ['O'] = B64_DIGIT | 14, ['P'] = B64_DIGIT | 15,
    ['Q'] = B64_DIGIT | 16, ['R'] = B64_DIGIT | 17, ['S'] = B64_DIGIT | 18, ['T'] = B64_DIGIT | 19,
    ['U'] = B64_DIGIT | 20, ['V'] = B64_DIGIT | 21, ['W'] = B64_DIGIT | 22, ['X'] = B64_DIGIT | 23,
    ['Y'] = B64_DIGIT | 24, ['Z'] = B64_DIGIT | 25, ['a'] = B64_DIGIT | 26, ['b'] = B64_DIGIT | 27,
    ['c'] = B64_DIGIT | 28, ['d'] = B64_DIGIT | 29, ['e'] = B64_DIGIT | 30, ['f'] = B64_DIGIT | 31,
    ['g'] = B64_DIGIT | 32, ['h'] = B64_DIGIT | 33, ['i'] = B64_DIGIT | 34, ['j'] = B64_DIGIT | 35,
    ['k'] = B64_DIGIT | 36, ['l'] = B64_DIGIT | 37, ['m'] = B64_DIGIT | 38, ['n'] = B64_DIGIT | 39,
    ['o'] = B64_DIGIT | 40, ['p'] = B64_DIGIT | 41, ['q'] = B64_DIGIT | 42, ['r'] = B64_DIGIT | 43,
    ['s'] = B64_DIGIT | 44, ['t'] = B64_DIGIT | 45, ['u'] = B64_DIGIT | 46, ['v'] = B64_DIGIT | 47,
    ['w'] = B64_DIGIT | 48, ['x'] = B64_DIGIT | 49, ['y'] = B64_DIGIT | 50, ['z'] = B64_DIGIT | 51,
    ['0'] = B64_DIGIT | 52, ['1'] = B64_DIGIT | 53, ['2'] = B64_DIGIT | 54, ['3'] = B64_DIGIT | 55,
    ['4'] = B64_DIGIT | 56, ['5'] = B64_DIGIT | 57, ['6'] = B64_DIGIT | 58, ['7'] = B64_DIGIT | 59,
    ['8'] = B64_DIGIT | 60, ['9'] = B64_DIGIT | 61, ['-'] = B64_DIGIT | 62, ['_'] = B64_DIGIT | 63};

/* The base64url text s[0..n) decoded into out (room for n / 4 * 3 + 2 bytes). Strict, so that a
 * byte string has exactly one text (RFC 7515 base64url, RFC 4648 section 3.5): no padding, no
 * length of 1 mod 4, and the bits after the last whole byte are zero. Returns the length, or -1.
 * The shifts drop B64_DIGIT off the top of each byte; the low parts are masked. */
static long b64url_decode(const char *s, size_t n, unsigned char *out)
{
	const unsigned char *in = (const unsigned char *)s;
	unsigned char *o = out;
	unsigned v[4], valid = B64_DIGIT;
	size_t i, k;

	if (n % 4 == 1)
		return -1;
	for (i = 0; i + 4 <= n; i += 4) {
		for (k = 0; k < 4; k++)
			valid &= v[k] = b64url_digit[in[i + k]];
		*o++ = (unsigned char)(v[0] << 2 | (v[1] & 63) >> 4);
		*o++ = (unsigned char)(v[1] << 4 | (v[2] & 63) >> 2);
		*o++ = (unsigned char)(v[2] << 6 | (v[3] & 63));
	}
	if (i < n) { /* 2 or 3 characters left: 1 or 2 bytes */
		v[0] = b64url_digit[in[i]];
		v[1] = b64url_digit[in[i + 1]];
		v[2] = n - i == 3 ? b64url_digit[in[i + 2]] : B64_DIGIT;
		valid &= v[0] & v[1] & v[2];
		*o++ = (unsigned char)(v[0] << 2 | (v[1] & 63) >> 4);
		if (n - i == 2 && (v[1] & 0x0f))
			return -1;
		if (n - i == 3)
			*o++ = (unsigned char)(v[1] << 4 | (v[2] & 63) >> 2);
		if (n - i == 3 && (v[2] & 0x03))
			return -1;
	}
	return valid ? (long)(o - out) : -1;
}

/* A segment decoded and parsed into *out: 0 for a JSON object, else HERALD_EINVAL (or
 * HERALD_ENOMEM) and NULL. Duplicate member names are refused (RFC 7515 and 7519 allow refusing
 * them or keeping the last): a name that two parsers can read two ways has no one meaning to
 * check. So are NUL bytes and text after the value. */
static int segment_object(const char *s, size_t n, unsigned char *buf, json_t **out)
{
	long len = b64url_decode(s, n, buf);
	json_error_t error;

	*out = NULL;
	/* jansson refuses a NUL byte but one right after a number, which it skips. */
	if (len < 0 || memchr(buf, '\0', (size_t)len))
		return HERALD_EINVAL;
	*out = json_loadb((const char *)buf, (size_t)len, JSON_REJECT_DUPLICATES, &error);
	if (!*out)
		return json_error_code(&error) == json_error_out_of_memory ? HERALD_ENOMEM
		                                                           : HERALD_EINVAL;
	if (json_is_object(*out))
		return 0;
	json_decref(*out);
	*out = NULL;
	return HERALD_EINVAL;
}

/* The HS signature: the HMAC of the exact "header.claims" text, by a copy of the algorithm's
 * keyed context, against the decoded signature, which must have the digest's length (so its
 * text has the length of that many bytes in base64url); compared in constant time. Returns 0,
 * HERALD_EINVAL for a wrong signature, HERALD_ENOMEM. */
static int hs_verify(const auth *a, jwt_alg_t alg, const char *signed_text, size_t signed_len,
                     const char *sig_text, size_t sig_text_len)
{
	unsigned char mac[EVP_MAX_MD_SIZE], sig[EVP_MAX_MD_SIZE + 2];
	size_t mac_len = a->mac_len[alg], got = 0;
	EVP_MAC_CTX *ctx;
	int rc = HERALD_EINVAL;

	if (sig_text_len != (mac_len * 8 + 5) / 6 ||
	    b64url_decode(sig_text, sig_text_len, sig) != (long)mac_len)
		return HERALD_EINVAL;
	ctx = EVP_MAC_CTX_dup(a->mac[alg]);
	if (!ctx)
		rc = HERALD_ENOMEM;
	else if (EVP_MAC_update(ctx, (const unsigned char *)signed_text, signed_len) &&
	         EVP_MAC_final(ctx, mac, &got, sizeof mac) && got == mac_len)
		rc = CRYPTO_memcmp(mac, sig, mac_len) == 0 ? 0 : HERALD_EINVAL;
	/* OpenSSL failed: lws reads this thread's error queue after its TLS calls. */
	if (got != mac_len)
		ERR_clear_error();
	EVP_MAC_CTX_free(ctx);
	/* With the header and claims, the signature is the token: a bearer credential. */
	OPENSSL_cleanse(sig, sizeof sig);
	OPENSSL_cleanse(mac, sizeof mac);
	return rc;
}

int auth_verify(const auth *a, const char *token, time_t now, auth_claims *claims, char *why,
                size_t whylen)
{
	/* The decoded header, then claims: never more than 3/4 of the token. Longer tokens are
	 * refused unread, which also bounds what libjwt copies onto the stack with alloca. */
	unsigned char buf[AUTH_MAX_TOKEN / 4 * 3 + 2];
	size_t len = token ? strnlen(token, AUTH_MAX_TOKEN + 1) : 0;
	json_t *header = NULL, *grants = NULL;
	const char *dot1, *dot2, *name, *typ;
	jwt_t *jwt = NULL;
	jwt_alg_t alg;
	int rc;

	if (len == 0)
		return refuse(why, whylen, "missing token");
	if (len > AUTH_MAX_TOKEN)
		return refuse(why, whylen, "token too long");
	if (!well_formed(token, len))
		return refuse(why, whylen, "malformed token");
	dot1 = strchr(token, '.');
	dot2 = strchr(dot1 + 1, '.');

	/* Before any key, what libjwt 1.10.2's jwt_decode checked when it read the header for
	 * Herald: a header object whose `alg` is an algorithm's name, a `typ` that is "JWT" in any
	 * case when it is a string and the algorithm is not "none", and a claims object. Herald
	 * adds that names are exact (RFC 7515, as PyJWT has them; libjwt also reads "hs256"). Every
	 * one of these is a malformed token, even with an algorithm that is not allowed. */
	rc = segment_object(token, (size_t)(dot1 - token), buf, &header);
	name = json_string_value(json_object_get(header, "alg"));
	alg = jwt_str_alg(name);
	typ = json_string_value(json_object_get(header, "typ"));
	if (!rc && (!name || !jwt_alg_str(alg) || strcmp(name, jwt_alg_str(alg)) != 0 ||
	            (alg != JWT_ALG_NONE && typ && strcasecmp(typ, "JWT") != 0)))
		rc = HERALD_EINVAL;
	json_decref(header);
	if (!rc)
		rc = segment_object(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf, &grants);
	if (rc) {
		refuse(why, whylen, rc == HERALD_ENOMEM ? "out of memory" : "malformed token");
		return rc;
	}
	if (!a->key[alg]) {
		rc = refuse(why, whylen, "algorithm %s not allowed", jwt_alg_str(alg));
		goto done;
	}

	/* The claims are those of the signed text: HS tokens are verified here, RS256 and ES256 by
	 * libjwt, which reads the same bytes again. */
	if (a->mac[alg])
		rc = hs_verify(a, alg, token, (size_t)(dot2 - token), dot2 + 1,
		               len - (size_t)(dot2 + 1 - token));
	else if (jwt_decode(&jwt, token, a->key[alg], a->key_len[alg]) || jwt_get_alg(jwt) != alg)
		rc = HERALD_EINVAL;
	jwt_free(jwt);
	if (rc == HERALD_ENOMEM)
		refuse(why, whylen, "out of memory");
	else if (rc)
		refuse(why, whylen, "bad signature or malformed");
	else
		rc = check_claims(a, grants, now, claims, why, whylen);
done:
	json_decref(grants);
	return rc;
}

int auth_mint(const auth *a, int64_t user_id, long ttl, time_t now, char **out, char *err,
              size_t errlen)
{
	unsigned char rnd[16];
	char jti[2 * sizeof(rnd) + 1];
	jwt_t *jwt = NULL;
	size_t i;
	int e; /* libjwt answers 0 or an errno value */

	*out = NULL;
	if (a->mint_alg == JWT_ALG_NONE) {
		snprintf(err, errlen, "auth: minting needs an HS algorithm and a secret");
		return HERALD_ECONFIG;
	}
	if (user_id <= 0 || ttl <= 0) {
		snprintf(err, errlen, "auth: user id and ttl must be positive");
		return HERALD_EINVAL;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		snprintf(err, errlen, "auth: getrandom: %s", strerror(errno));
		return HERALD_EIO;
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(jti + 2 * i, 3, "%02x", rnd[i]);

	e = jwt_new(&jwt);
	if (!e)
		e = jwt_set_alg(jwt, a->mint_alg, a->secret, a->secret_len);
	if (!e)
		e = jwt_add_grant_int(jwt, a->user_claim, (long)user_id);
	if (!e)
		e = jwt_add_grant_int(jwt, "exp", (long)(now + ttl));
	if (!e)
		e = jwt_add_grant_int(jwt, "iat", (long)now);
	if (!e)
		e = jwt_add_grant(jwt, "jti", jti);
	if (!e)
		e = jwt_add_grant(jwt, "token_type", a->token_type ? a->token_type : "access");
	if (!e && a->issuer)
		e = jwt_add_grant(jwt, "iss", a->issuer);
	if (!e && a->audience)
		e = jwt_add_grant(jwt, "aud", a->audience);
	if (!e && !(*out = jwt_encode_str(jwt)))
		e = errno ? errno : ENOMEM;
	jwt_free(jwt);
	if (e) {
		snprintf(err, errlen, "auth: cannot mint a token: %s", strerror(e));
		return e == ENOMEM ? HERALD_ENOMEM : HERALD_EINVAL;
	}
	return 0;
}
