/* Unit tests of libherald_common: text.c (hex digits, %-decoding, JSON escapes) and
 * redis_url.c (the one Redis URL parser of the cluster log and the redis source). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "herald/plugin.h"
#include "herald/redis_url.h"
#include "herald/text.h"

static void test_text(void)
{
	char *d, out[64];
	size_t len;

	CHECK_INT(text_hexval('0'), 0);
	CHECK_INT(text_hexval('f'), 15);
	CHECK_INT(text_hexval('F'), 15);
	CHECK_INT(text_hexval('g'), -1);
	CHECK_INT(text_hexval('@'), -1);
	CHECK_INT(text_pct_decode("a%40b%3A%00c", 12, &d, &len), 0);
	CHECK_INT(len, 6);
	CHECK(d && memcmp(d, "a@b:\0c", 7) == 0);
	free(d);
	CHECK_INT(text_pct_decode("a%4", 3, &d, &len), HERALD_EINVAL);
	CHECK(d == NULL);
	CHECK_INT(text_pct_decode("%zz", 3, &d, &len), HERALD_EINVAL);
	CHECK_INT(text_json_escape(out, sizeof out, "a\"b\\c\n\x7f\xc3\xa9", 0), 16);
	CHECK_STR(out, "a\\\"b\\\\c\\u000a\x7f\xc3\xa9");
	text_json_escape(out, sizeof out, "\x7f\xc3\xa9", TEXT_ASCII);
	CHECK_STR(out, "\\u007f??");
	/* never past cap, never half an escape */
	CHECK_INT(text_json_escape(out, 8, "abc\n", 0), 3);
	CHECK_STR(out, "abc");
	CHECK_INT(text_json_escape(out, 1, "abc", 0), 0);
	CHECK_STR(out, "");
}

static void test_urls(void)
{
	redis_url u;
	const char *why;

	CHECK_INT(redis_url_parse("redis://127.0.0.1", &u, &why), 0);
	CHECK_STR(u.host, "127.0.0.1");
	CHECK_INT(u.port, 6379);
	CHECK_INT(u.db, 0);
	CHECK(!u.user && !u.password && !u.path);
	CHECK_STR(u.where, "redis://127.0.0.1:6379/0");
	redis_url_free(&u);

	CHECK_INT(redis_url_parse("redis://herald:p%40ss%3Aw@[::1]:7000/3", &u, &why), 0);
	CHECK_STR(u.host, "::1");
	CHECK_STR(u.user, "herald");
	CHECK_STR(u.password, "p@ss:w");
	CHECK_INT(u.password_len, 6);
	CHECK_INT(u.port, 7000);
	CHECK_INT(u.db, 3);
	CHECK_STR(u.where, "redis://[::1]:7000/3"); /* no credentials in messages */
	redis_url_free(&u);

	/* user@ alone (the password comes from elsewhere), :password@ alone */
	CHECK_INT(redis_url_parse("redis://herald@cache.internal/", &u, &why), 0);
	CHECK_STR(u.user, "herald");
	CHECK(!u.password);
	redis_url_free(&u);
	CHECK_INT(redis_url_parse("redis://:s3cr%3At@localhost:1/", &u, &why), 0);
	CHECK(!u.user);
	CHECK_STR(u.password, "s3cr:t");
	redis_url_free(&u);

	CHECK_INT(redis_url_parse("unix:///run/redis.sock?db=2", &u, &why), 0);
	CHECK_STR(u.path, "/run/redis.sock");
	CHECK(!u.host);
	CHECK_INT(u.db, 2);
	CHECK_STR(u.where, "unix:///run/redis.sock?db=2");
	redis_url_free(&u);

	static const struct {
		const char *url, *why;
	} bad[] = {
	    {"http://127.0.0.1", "must start with redis:// or unix://"},
	    {"rediss://127.0.0.1:6380", "TLS"},
	    {"redis://127.0.0.1:0", "port"},
	    {"redis://127.0.0.1:65536", "port"},
	    {"redis://127.0.0.1:", "port"},
	    {"redis://127.0.0.1/x", "database number"},
	    {"redis://127.0.0.1/0?x=1", "database number"},
	    {"redis://[::1", "closing ]"},
	    {"redis://[]:1", "no host"},
	    {"redis://:6379", "no host"},
	    {"redis://h st", "host"},
	    {"redis://[::g]", "host"},
	    {"redis://:%zz@127.0.0.1", "%-escape"},
	    {"unix://relative/path", "absolute path"},
	    {"unix:///", "absolute path"},
	    {"unix:///tmp/x?dbx=1", "?db=N"},
	    {"unix:///tmp/x?db=-1", "?db=N"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		why = NULL;
		CHECK_INT(redis_url_parse(bad[i].url, &u, &why), HERALD_ECONFIG);
		CHECK(why && strstr(why, bad[i].why));
		CHECK(!u.host && !u.path && !u.user && !u.password);
	}
}

int main(void)
{
	test_text();
	test_urls();
	return check_done();
}
