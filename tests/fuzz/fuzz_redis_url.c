/*
 * fuzz_redis_url.c - redis_url_parse() (common/redis_url.c) on arbitrary text: the url of the
 * cluster log and of the redis source, written by operators. An accepted url keeps the
 * promises of redis_url.h (exactly one of host and path, a port of 1..65535 for TCP, a db from
 * 0, a `where` without credentials); written back with every credential byte escaped it
 * parses to the same parts. A refused one has a reason and holds nothing to free.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "herald/plugin.h"
#include "herald/redis_url.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* Appends "%XX" for each of n bytes. */
static char *escape(char *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		o += sprintf(o, "%%%02X", (unsigned char)s[i]);
	return o;
}

static int same(const char *a, size_t alen, const char *b, size_t blen)
{
	return (!a && !b) || (a && b && alen == blen && memcmp(a, b, alen) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *back, *o;
	const char *why = NULL;
	redis_url u, v;
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = redis_url_parse(text, &u, &why);
	if (rc) {
		REQUIRE(rc == HERALD_ECONFIG || rc == HERALD_ENOMEM);
		REQUIRE(why && *why);
		REQUIRE(!u.host && !u.path && !u.user && !u.password);
		free(text);
		return 0;
	}
	REQUIRE(!u.host != !u.path);
	REQUIRE(u.path ? u.path[0] == '/' && u.port == 0 : u.port >= 1 && u.port <= 65535);
	REQUIRE(u.db >= 0);
	REQUIRE(memchr(u.where, '\0', sizeof u.where));
	REQUIRE(!u.user || u.user_len >= strlen(u.user));
	REQUIRE(!u.password || u.password_len >= strlen(u.password));
	/* Written back: same parts. */
	back = malloc(size * 3 + 64);
	REQUIRE(back);
	o = back;
	if (u.path) {
		o += sprintf(o, "unix://%s?db=%d", u.path, u.db);
	} else {
		o += sprintf(o, "redis://");
		if (u.user || u.password) {
			o = escape(o, u.user ? u.user : "", u.user_len);
			if (u.password) {
				*o++ = ':';
				o = escape(o, u.password, u.password_len);
			}
			*o++ = '@';
		}
		sprintf(o, strchr(u.host, ':') ? "[%s]:%d/%d" : "%s:%d/%d", u.host, u.port, u.db);
	}
	rc = redis_url_parse(back, &v, &why);
	REQUIRE(rc == 0);
	REQUIRE(same(u.host, u.host ? strlen(u.host) : 0, v.host, v.host ? strlen(v.host) : 0));
	REQUIRE(same(u.path, u.path ? strlen(u.path) : 0, v.path, v.path ? strlen(v.path) : 0));
	REQUIRE(same(u.user, u.user_len, v.user, v.user_len));
	REQUIRE(same(u.password, u.password_len, v.password, v.password_len));
	REQUIRE(u.port == v.port && u.db == v.db && strcmp(u.where, v.where) == 0);
	redis_url_free(&v);
	redis_url_free(&u);
	free(back);
	free(text);
	return 0;
}
