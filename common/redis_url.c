/* redis_url.c - see redis_url.h. */
#define _GNU_SOURCE /* memrchr, explicit_bzero */
#include "herald/redis_url.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/plugin.h"
#include "herald/text.h"

/* The whole decimal number of s[0..n) (at most 9 digits) into *out: 0, or HERALD_EINVAL when
 * it is not one or not within min..max. */
static int redis_url_number(const char *s, size_t n, long min, long max, long *out)
{
	long v = 0;

	if (n == 0 || n > 9)
		return HERALD_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return HERALD_EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return HERALD_EINVAL;
	*out = v;
	return 0;
}

void redis_url_free(redis_url *u)
{
	if (u->password)
		explicit_bzero(u->password, u->password_len);
	free(u->host);
	free(u->path);
	free(u->user);
	free(u->password);
	memset(u, 0, sizeof *u);
}

/* [user][:password] of s[0..n) into u. */
static int redis_url_credentials(const char *s, size_t n, redis_url *u, const char **why)
{
	const char *colon = memchr(s, ':', n);
	size_t ulen = colon ? (size_t)(colon - s) : n;
	int rc = 0;

	if (ulen)
		rc = text_pct_decode(s, ulen, &u->user, &u->user_len);
	if (!rc && colon)
		rc = text_pct_decode(colon + 1, n - ulen - 1, &u->password, &u->password_len);
	if (rc == HERALD_EINVAL) {
		*why = "a bad %-escape in the url's user or password";
		return HERALD_ECONFIG;
	}
	return rc;
}

int redis_url_parse(const char *url, redis_url *u, const char **why)
{
	const char *s, *end, *at, *host, *hend;
	long v = 0;
	int rc = HERALD_ECONFIG, bracket;

	memset(u, 0, sizeof *u);
	u->port = 6379;
	if (strncmp(url, "unix://", 7) == 0) {
		s = url + 7;
		end = s + strcspn(s, "?");
		*why = "a unix socket url needs an absolute path: unix:///path/to/socket[?db=N]";
		if (*s != '/' || end == s + 1)
			goto fail;
		*why = "the only query of a unix socket url is ?db=N";
		if (*end && (strncmp(end, "?db=", 4) != 0 ||
		             redis_url_number(end + 4, strlen(end + 4), 0, INT_MAX, &v)))
			goto fail;
		u->db = *end ? (int)v : 0;
		u->port = 0;
		if (!(u->path = strndup(s, (size_t)(end - s))))
			goto nomem;
		snprintf(u->where, sizeof u->where, "unix://%.290s?db=%d", u->path, u->db);
		return 0;
	}
	*why = "TLS (rediss://) is not supported: use a local TLS tunnel or a unix socket";
	if (strncmp(url, "rediss://", 9) == 0)
		goto fail;
	*why = "the url must start with redis:// or unix://";
	if (strncmp(url, "redis://", 8) != 0)
		goto fail;
	s = url + 8;
	end = s + strcspn(s, "/?#");
	if ((at = memrchr(s, '@', (size_t)(end - s)))) {
		if ((rc = redis_url_credentials(s, (size_t)(at - s), u, why)) == HERALD_ENOMEM)
			goto nomem;
		if (rc)
			goto fail;
		rc = HERALD_ECONFIG;
		s = at + 1;
	}
	if ((bracket = *s == '[')) {
		host = s + 1;
		*why = "an IPv6 address needs its closing ]";
		if (!(hend = memchr(s, ']', (size_t)(end - s))))
			goto fail;
		s = hend + 1;
	} else {
		host = s;
		if (!(hend = memchr(s, ':', (size_t)(end - s))))
			hend = end;
		s = hend;
	}
	*why = "the url has no host";
	if (hend == host)
		goto fail;
	/* A name or an IPv4 address, or between brackets an IPv6 one: nothing a resolver or a
	 * log line would read otherwise. */
	*why = "the url's host must be a name, an IPv4 address or an [IPv6] address";
	if (strspn(host,
	           bracket ? "0123456789abcdefABCDEF:."
	                   : "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-_") <
	    (size_t)(hend - host))
		goto fail;
	*why = "the url's port must be a number from 1 to 65535";
	if (s != end && (*s != ':' || redis_url_number(s + 1, (size_t)(end - s - 1), 1, 65535, &v)))
		goto fail;
	if (s != end)
		u->port = (int)v;
	*why = "the url's path must be the database number: redis://host:port/0";
	if (*end && strcmp(end, "/") != 0) {
		if (*end != '/' || redis_url_number(end + 1, strlen(end + 1), 0, INT_MAX, &v))
			goto fail;
		u->db = (int)v;
	}
	if (!(u->host = strndup(host, (size_t)(hend - host))))
		goto nomem;
	snprintf(u->where, sizeof u->where,
	         strchr(u->host, ':') ? "redis://[%.280s]:%d/%d" : "redis://%.280s:%d/%d", u->host,
	         u->port, u->db);
	return 0;
nomem:
	rc = HERALD_ENOMEM;
	*why = "out of memory";
fail:
	redis_url_free(u);
	return rc;
}
