/* auth.c - JWT verification and minting with libjwt 1.10.2 (see auth.h). */
#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth.h"

/* Longer tokens are refused unread: libjwt copies each segment onto the stack with alloca. */

#define AUTH_HS (AUTH_HS256 | AUTH_HS384 | AUTH_HS512)
#define AUTH_PK (AUTH_RS256 | AUTH_ES256)

/* From the weakest to the strongest HS algorithm, which auth_mint uses. */
static const struct {
	unsigned bit;
	jwt_alg_t alg;
} auth_algs[] = {
    {AUTH_HS256, JWT_ALG_HS256}, {AUTH_HS384, JWT_ALG_HS384}, {AUTH_HS512, JWT_ALG_HS512},
    {AUTH_RS256, JWT_ALG_RS256}, {AUTH_ES256, JWT_ALG_ES256},
};

struct auth {
	/* The key of each accepted algorithm, NULL for every other one. libjwt takes the use of a
	 * key (HMAC secret or PEM) from the token's own header, so this table is what keeps an
	 * HS256 token signed with the public key from being checked against that key. */
	const unsigned char *key[JWT_ALG_TERM];
	int key_len[JWT_ALG_TERM];
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

	for (i = 0; i < sizeof(auth_algs) / sizeof(auth_algs[0]); i++) {
		jwt_alg_t alg = auth_algs[i].alg;

		if (!(algs & auth_algs[i].bit))
			continue;
		if (auth_algs[i].bit & AUTH_HS) {
			a->key[alg] = a->secret;
			a->key_len[alg] = a->secret_len;
			a->mint_alg = alg;
		} else {
			a->key[alg] = (const unsigned char *)a->pem;
			a->key_len[alg] = (int)strlen(a->pem);
		}
	}
	*out = a;
	return 0;

fail:
	auth_destroy(a);
	snprintf(err, errlen, "auth: out of memory");
	return HERALD_ENOMEM;
}

void auth_destroy(auth *a)
{
	if (!a)
		return;
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

	claims->user_id = json_integer_value(uid);
	claims->exp = json_integer_value(exp);
	return a->projects_claim
	           ? read_projects(a, json_object_get(g, a->projects_claim), claims, why, whylen)
	           : 0;
}

int auth_verify(const auth *a, const char *token, time_t now, auth_claims *claims, char *why,
                size_t whylen)
{
	size_t len = token ? strnlen(token, AUTH_MAX_TOKEN + 1) : 0;
	jwt_t *jwt = NULL;
	json_t *grants;
	const char *name;
	char *text;
	jwt_alg_t alg;
	int exact, rc;

	if (len == 0)
		return refuse(why, whylen, "missing token");
	if (len > AUTH_MAX_TOKEN)
		return refuse(why, whylen, "token too long");
	if (!well_formed(token, len))
		return refuse(why, whylen, "malformed token");

	/* Read the header's algorithm first (a decode without a key checks no signature and
	 * reports "none" as the algorithm), then verify with the one key configured for it. */
	if (jwt_decode(&jwt, token, NULL, 0))
		return refuse(why, whylen, "malformed token");
	/* libjwt reads the name without regard to case ("hs256"); RFC 7515 names are exact, as
	 * PyJWT has them, so any other spelling is an unknown algorithm. */
	name = jwt_get_header(jwt, "alg");
	alg = jwt_str_alg(name);
	exact = name && jwt_alg_str(alg) && strcmp(name, jwt_alg_str(alg)) == 0;
	jwt_free(jwt);
	jwt = NULL;
	if (!exact)
		return refuse(why, whylen, "malformed token");
	if (!a->key[alg])
		return refuse(why, whylen, "algorithm %s not allowed", jwt_alg_str(alg));
	if (jwt_decode(&jwt, token, a->key[alg], a->key_len[alg]) || jwt_get_alg(jwt) != alg) {
		jwt_free(jwt);
		return refuse(why, whylen, "bad signature or malformed");
	}

	text = jwt_get_grants_json(jwt, NULL);
	grants = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	jwt_free(jwt);
	if (!grants) {
		refuse(why, whylen, "out of memory");
		return HERALD_ENOMEM;
	}
	rc = check_claims(a, grants, now, claims, why, whylen);
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
