/* test_jsonw.c - the JSON text writer (core/jsonw.c), against jansson's json_dumps. */
#include "jsonw.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "check.h"

/* jsonw_value(v) and json_dumps(v, JSON_COMPACT) give the same bytes. */
static void same(json_t *v)
{
	jsonw w = JSONW_INIT;
	size_t len;
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), *got;

	jsonw_value(&w, v);
	got = jsonw_take(&w, &len);
	CHECK(want != NULL && got != NULL);
	if (want && got) {
		CHECK_STR(got, want);
		CHECK_INT(len, strlen(want));
	}
	free(want);
	free(got);
	json_decref(v);
}

static void test_scalars(void)
{
	static const double reals[] = {0.0,
	                               -0.0,
	                               0.1,
	                               1.5,
	                               100.0,
	                               1e20,
	                               1e21,
	                               1e-5,
	                               1e-7,
	                               123e300,
	                               5e-324,
	                               1e308,
	                               -2.5e-8,
	                               DBL_MAX,
	                               DBL_MIN,
	                               1.0 / 3,
	                               12345678901234567890.0};
	static const long long ints[] = {0, 1, -1, 9, 10, -10, 1234567890123, INT64_MAX, INT64_MIN};

	for (size_t i = 0; i < sizeof reals / sizeof *reals; i++)
		same(json_real(reals[i]));
	for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
		same(json_integer(ints[i]));
	same(json_true());
	same(json_false());
	same(json_null());
	same(json_string(""));
	same(json_string("plain / text, caf\xc3\xa9 \xf0\x9f\x98\x80 \x7f"));
	/* Every byte below 0x20, quotes and backslashes, embedded NUL. */
	char all[40];
	for (int c = 0; c < 32; c++)
		all[c] = (char)c;
	memcpy(all + 32, "\"\\a\"\\", 5);
	same(json_stringn(all, 37));
}

/* A random value of depth at most `depth`: objects, arrays and scalars mixed. */
static json_t *random_value(int depth)
{
	static const char *const words[] = {
	    "a", "b\"c", "d\\e", "\n", "\xc3\xa9t\xc3\xa9", "x/y", "\x01", "long key with spaces"};
	int kind = rand() % (depth > 0 ? 8 : 6);
	json_t *v;

	switch (kind) {
	case 0:
		return json_integer((json_int_t)rand() * (rand() % 2 ? 1 : -1000003));
	case 1:
		return json_real((double)rand() / (rand() + 1) * (rand() % 2 ? 1e-9 : 1e12));
	case 2:
		return json_string(words[rand() % 8]);
	case 3:
		return json_boolean(rand() % 2);
	case 4:
		return json_null();
	case 5:
		return json_string("");
	case 6:
		v = json_array();
		for (int i = rand() % 5; i > 0; i--)
			json_array_append_new(v, random_value(depth - 1));
		return v;
	default:
		v = json_object();
		for (int i = rand() % 5; i > 0; i--)
			json_object_set_new(v, words[rand() % 8], random_value(depth - 1));
		return v;
	}
}

static void test_trees(void)
{
	srand(14);
	for (int i = 0; i < 2000; i++)
		same(random_value(5));
}

/* jsonw_utf8_valid agrees with jansson's check (json_stringn refuses what is not UTF-8). */
static void test_utf8(void)
{
	static const char *const cases[] = {"",
	                                    "abc",
	                                    "\xc3\xa9",
	                                    "\xc3",
	                                    "\xc0\x80",
	                                    "\xc1\xbf",
	                                    "\xe0\x80\x80",
	                                    "\xe0\xa0\x80",
	                                    "\xed\xa0\x80",
	                                    "\xed\x9f\xbf",
	                                    "\xee\x80\x80",
	                                    "\xef\xbf\xbf",
	                                    "\xf0\x80\x80\x80",
	                                    "\xf0\x90\x80\x80",
	                                    "\xf4\x8f\xbf\xbf",
	                                    "\xf4\x90\x80\x80",
	                                    "\xf5\x80\x80\x80",
	                                    "\xff",
	                                    "\x80",
	                                    "a\xe2\x82",
	                                    "\xe2\x82\xac",
	                                    "\xe2\x28\xa1",
	                                    "\xf0\x28\x8c\xbc"};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		json_t *s = json_stringn(cases[i], strlen(cases[i]));
		CHECK_INT(jsonw_utf8_valid(cases[i], strlen(cases[i])), s != NULL);
		json_decref(s);
	}
	/* Every 1-, 2- and 3-byte sequence. */
	unsigned char b[3];
	for (unsigned x = 0; x < 1u << 24; x += (x >> 16) >= 0x80 ? 1 : 0x10000) {
		b[0] = (unsigned char)(x >> 16);
		b[1] = (unsigned char)(x >> 8);
		b[2] = (unsigned char)x;
		json_t *s = json_stringn((const char *)b, 3);
		if (jsonw_utf8_valid((const char *)b, 3) != (s != NULL)) {
			CHECK_INT(jsonw_utf8_valid((const char *)b, 3), s != NULL);
			fprintf(stderr, "  bytes %02x %02x %02x\n", b[0], b[1], b[2]);
			json_decref(s);
			break;
		}
		json_decref(s);
	}
}

static void test_buffer(void)
{
	jsonw w = JSONW_INIT;
	size_t len;
	char *text;

	/* Growth across many doublings keeps every byte. */
	for (int i = 0; i < 10000; i++)
		jsonw_lit(&w, "0123456789");
	text = jsonw_take(&w, &len);
	CHECK_INT(len, 100000);
	CHECK(text && text[99999] == '9' && text[100000] == '\0');
	free(text);
	CHECK(w.p == NULL && w.len == 0);

	/* An empty writer still gives an empty string; a reset keeps the allocation. */
	text = jsonw_take(&w, &len);
	CHECK_STR(text, "");
	free(text);
	jsonw_string(&w, "a", 1);
	jsonw_reset(&w);
	CHECK_INT(w.len, 0);
	CHECK(w.cap > 0);
	jsonw_int(&w, -42);
	text = jsonw_take(&w, &len);
	CHECK_STR(text, "-42");
	free(text);

	/* A failed allocation is sticky: nothing more is written, take gives NULL. */
	w.oom = true;
	jsonw_lit(&w, "x");
	CHECK_INT(w.len, 0);
	CHECK(jsonw_take(&w, &len) == NULL);
	jsonw_free(&w);
}

int main(void)
{
	test_scalars();
	test_trees();
	test_utf8();
	test_buffer();
	return check_done();
}
