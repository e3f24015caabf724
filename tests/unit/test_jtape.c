/* test_jtape.c - the strict JSON parser and its tape (core/jtape.c), against jansson. */
#include "jtape.h"

#include <stdlib.h>

#include "check.h"
#include "herald/plugin.h"

/* jtape_parse takes `text` exactly when json_loadb does (with the flags event.c used), and
 * then writes it back as json_dumps does. */
static void same_n(const char *text, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	jtape t = {0};
	jtape_error e;
	int rc = jtape_parse(&t, text, len, &e);

	if ((rc == 0) != (j != NULL)) {
		CHECK_INT(rc == 0, j != NULL);
		fprintf(stderr, "  text %.*s: jtape %s, jansson %s\n", (int)(len < 80 ? len : 80),
		        text, rc ? e.text : "ok", j ? "ok" : jerr.text);
	} else if (rc) {
		CHECK_INT(rc, HERALD_EINVAL);
		CHECK(e.text[0] != '\0' && e.line >= 1 && e.column >= 1);
		CHECK_INT(t.len, 0);
	} else {
		jsonw w = JSONW_INIT;
		size_t n;
		char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY), *got;
		jtape_write(&w, t.p);
		got = jsonw_take(&w, &n);
		CHECK_STR(got, want);
		CHECK(jtape_next(t.p) == t.p + t.len);
		/* A tape from the tree is the same bytes. */
		jtape t2 = {0};
		CHECK_INT(jtape_from_json(&t2, j), 0);
		CHECK(t2.len == t.len && memcmp(t2.p, t.p, t.len) == 0);
		free(t2.p);
		free(want);
		free(got);
	}
	json_decref(j);
	free(t.p);
}

static void same(const char *text)
{
	same_n(text, strlen(text));
}

static void test_cases(void)
{
	static const char *const cases[] = {
	    "",
	    " ",
	    "{}",
	    "[]",
	    " {} ",
	    "\t\r\n[ ]\n",
	    "{",
	    "}",
	    "[",
	    "]",
	    "{]",
	    "[}",
	    "[1,]",
	    "[,1]",
	    "{,}",
	    "{\"a\"}",
	    "{\"a\":}",
	    "{\"a\":1,}",
	    "{\"a\" : 1 , \"b\":[ 1 , 2 ]}",
	    "{1:2}",
	    "{'a':1}",
	    "[1 2]",
	    "[1,,2]",
	    "null",
	    "nul",
	    "nulll",
	    "true",
	    "tRue",
	    "false",
	    "falsey",
	    "[true,false,null]",
	    "0",
	    "-0",
	    "01",
	    "-01",
	    "1.",
	    ".5",
	    "-",
	    "-a",
	    "1e",
	    "1e+",
	    "1e5",
	    "1E+2",
	    "1e-2",
	    "-1.5e-3",
	    "0.1",
	    "1.0",
	    "100",
	    "123456789012",
	    "9223372036854775807",
	    "9223372036854775808",
	    "-9223372036854775808",
	    "-9223372036854775809",
	    "99999999999999999999",
	    "1e308",
	    "1e309",
	    "-1e400",
	    "1e-400",
	    "4.9e-324",
	    "2.2250738585072014e-308",
	    "0.30000000000000004",
	    "12345678901234567890.5",
	    "1.7976931348623157e308",
	    "[0.0,-0.0,1e0]",
	    "\"\"",
	    "\"a\"",
	    "\"a",
	    "a\"",
	    "\"\\\"\"",
	    "\"\\\\\"",
	    "\"\\/\"",
	    "\"\\b\\f\\n\\r\\t\"",
	    "\"\\x\"",
	    "\"\\u\"",
	    "\"\\u12\"",
	    "\"\\u00e9\"",
	    "\"\\u00E9\\u20AC\"",
	    "\"\\u0000\"",
	    "\"\\u0001\"",
	    "\"\\ud83d\\ude00\"",
	    "\"\\uD83D\\uDE00\"",
	    "\"\\ud83d\"",
	    "\"\\ud83dx\"",
	    "\"\\ud83d\\u0041\"",
	    "\"\\ude00\"",
	    "\"\\ud83d\\ud83d\"",
	    "\"\\udbff\\udfff\"",
	    "\"\\uffff\"",
	    "\"\\ufffe\"",
	    "\"\\u2028\"",
	    "\"\t\"",
	    "\"\n\"",
	    "\"\x1f\"",
	    "\"\x7f\"",
	    "\"caf\xc3\xa9\"",
	    "\"\xc3\"",
	    "\"\xc3x\"",
	    "\"\xc0\x80\"",
	    "\"\xed\xa0\x80\"",
	    "\"\xf4\x90\x80\x80\"",
	    "\"\xf0\x9f\x98\x80\"",
	    "\"\xff\"",
	    "\xef\xbb\xbf{}",
	    "{\"a\":1,\"a\":2}",
	    "{\"a\":1,\"b\":{\"a\":1,\"a\":2}}",
	    "{\"a\":{\"a\":1},\"b\":{\"a\":2}}",
	    "{\"\\u0061\":1,\"a\":2}",
	    "{\"a\":1,\"A\":2}",
	    "{\"ab\":1,\"a\":2,\"\":3}",
	    "[1]x",
	    "{} {}",
	    "{}/",
	    "[\"a\",{\"b\":[null]}]",
	    "{\"event_type\":\"x\",\"users\":[1],\"actor\":{\"n\":\"\\u00e9\"}}",
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		same(cases[i]);
	/* NUL bytes in and out of strings. */
	same_n("[1]\0", 4);
	same_n("\"a\0b\"", 5);
	same_n("{\"a\":\"1\"\0}", 10);
}

/* jansson 2.14 reads a NUL byte right after a number as nothing ({"a":1<NUL>} is {"a":1}); a
 * NUL is no JSON token, and jtape refuses it there as everywhere. */
static void test_nul_after_number(void)
{
	static const char *const texts[] = {"{\"a\":1\0}", "[1\0]", "1\0", "[1.5\0,2]"};
	static const size_t lens[] = {8, 4, 2, 8};
	for (size_t i = 0; i < 4; i++) {
		jtape t = {0};
		jtape_error e;
		CHECK_INT(jtape_parse(&t, texts[i], lens[i], &e), HERALD_EINVAL);
		free(t.p);
	}
}

/* Keys past the linear duplicate check: sorted, and found wherever the duplicate is. */
static void test_many_keys(void)
{
	char text[4096];
	for (int dup = -1; dup < 40; dup++) {
		size_t n = 0;
		n += (size_t)snprintf(text + n, sizeof text - n, "{");
		for (int k = 0; k < 40; k++)
			n += (size_t)snprintf(text + n, sizeof text - n, "%s\"k%d\":%d",
			                      k ? "," : "", k == dup && k > 0 ? 0 : k, k);
		snprintf(text + n, sizeof text - n, "}");
		same(text);
	}
}

/* Depth: jansson's limit, the top value being 1. */
static void test_depth(void)
{
	size_t max = JTAPE_MAX_DEPTH;
	char *text = malloc(2 * max + 16);
	for (size_t d = max - 1; d <= max + 1; d++) {
		memset(text, '[', d);
		memset(text + d, ']', d);
		same_n(text, 2 * d);
		memset(text, '[', d);
		text[d] = '1';
		memset(text + d + 1, ']', d);
		same_n(text, 2 * d + 1);
	}
	free(text);
}

/* A tape appended after other bytes keeps them, and a refused text leaves none of itself. */
static void test_append(void)
{
	jtape t = {0};
	jtape_error e;
	CHECK_INT(jtape_reserve(&t, 8), 0);
	memcpy(t.p, "HEADHEAD", 8);
	t.len = 8;
	CHECK_INT(jtape_parse(&t, "{\"a\":[1,\"x\"]}", 13, &e), 0);
	CHECK(memcmp(t.p, "HEADHEAD", 8) == 0);
	const unsigned char *a = jtape_get(t.p + 8, "a", 1);
	CHECK(a && jtape_type(a) == JT_ARRAY && jtape_count(a) == 2);
	CHECK(jtape_get(t.p + 8, "b", 1) == NULL);
	size_t len = t.len;
	CHECK_INT(jtape_parse(&t, "[1,2", 4, &e), HERALD_EINVAL);
	CHECK_INT(t.len, len);
	CHECK_STR(e.text, "']' expected near end of file");
	CHECK_INT(jtape_parse(&t, "{\n \"a\": x}", 10, &e), HERALD_EINVAL);
	CHECK_INT(e.line, 2);
	CHECK_INT(e.column, 7);
	free(t.p);
}

int main(void)
{
	test_cases();
	test_nul_after_number();
	test_many_keys();
	test_depth();
	test_append();
	return check_done();
}
