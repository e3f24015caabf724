/*
 * redis_url.h - the one parser of Redis URLs, for the cluster log and the redis source.
 *
 *   redis://[user][:password]@host[:port][/db]   host a name, an IPv4 or an [IPv6] address;
 *                                                  port 6379, db 0 when absent
 *   unix:///path/to/socket[?db=N]
 *
 * User and password are percent-decoded. `user@` alone names a user whose password comes from
 * elsewhere (the caller's `password` option). rediss:// (TLS) is refused with its own reason.
 */
#ifndef HERALD_REDIS_URL_H
#define HERALD_REDIS_URL_H

#include <stddef.h>

typedef struct redis_url {
	char *host;            /* TCP host (brackets of an IPv6 address removed), or NULL */
	char *path;            /* unix socket path, or NULL: exactly one of host and path is set */
	char *user, *password; /* decoded, NUL-terminated (lengths beside); NULL when absent */
	size_t user_len, password_len;
	int port, db;
	char where[320]; /* the url without credentials, for messages */
} redis_url;

/* Parses url into *u. 0; HERALD_ECONFIG with the reason in *why (a static string); or
 * HERALD_ENOMEM. *u holds nothing to free after a failure. */
int redis_url_parse(const char *url, redis_url *u, const char **why);

/* Frees the strings of *u (the password wiped first) and zeroes it. */
void redis_url_free(redis_url *u);

#endif
