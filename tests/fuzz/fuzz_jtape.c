/* fuzz_jtape.c - the strict JSON parser (core/jtape.c) against jansson, the parser it replaced:
 * the same texts taken, the same values read, written back as the same bytes. */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "herald/plugin.h"
#include "jsonw.h"
#include "jtape.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(HERALD_LOG_ERROR, 0);
	return 0;
}

/* Walks a tape value as a reader would and checks its sizes: returns the end. */
static const unsigned char *walk(const unsigned char *v, const unsigned char *end)
{
	const unsigned char *m;
	size_t len;

	REQUIRE(v < end);
	switch (jtape_type(v)) {
	case JT_OBJECT:
		m = jtape_first(v);
		for (uint32_t i = jtape_count(v); i > 0; i--) {
			const char *k = jtape_key(m, &len);
			REQUIRE(k[len] == '\0' && jsonw_utf8_valid(k, len) && !memchr(k, 0, len));
			REQUIRE(jtape_get(v, k, len) ==
			        jtape_member_value(m)); /* keys are unique */
			m = walk(jtape_member_value(m), end);
		}
		REQUIRE(m == jtape_next(v));
		return m;
	case JT_ARRAY:
		m = jtape_first(v);
		for (uint32_t i = jtape_count(v); i > 0; i--)
			m = walk(m, end);
		REQUIRE(m == jtape_next(v));
		return m;
	case JT_STRING: {
		const char *s = jtape_str(v, &len);
		REQUIRE(s[len] == '\0' && jsonw_utf8_valid(s, len) && !memchr(s, 0, len));
		break;
	}
	case JT_INT:
	case JT_REAL:
	case JT_TRUE:
	case JT_FALSE:
	case JT_NULL:
		break;
	default:
		REQUIRE(!"unknown tag");
	}
	REQUIRE(jtape_next(v) <= end);
	return jtape_next(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *j =
	    json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	jtape t = {0};
	jtape_error e;
	int rc;

	memset(&e, 'x', sizeof e);
	rc = jtape_parse(&t, (const char *)data, size, &e);
	if (rc == 0) {
		REQUIRE(j != NULL);
		REQUIRE(walk(t.p, t.p + t.len) == t.p + t.len);

		jsonw w = JSONW_INIT;
		size_t len;
		char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY), *got;
		jtape_write(&w, t.p);
		got = jsonw_take(&w, &len);
		REQUIRE(want && got && strcmp(want, got) == 0);
		free(want);
		free(got);

		jtape t2 = {0};
		REQUIRE(jtape_from_json(&t2, j) == 0);
		REQUIRE(t2.len == t.len && memcmp(t2.p, t.p, t.len) == 0);
		free(t2.p);
	} else {
		REQUIRE(rc == HERALD_EINVAL);
		REQUIRE(t.len == 0);
		REQUIRE(fuzz_message_ok(e.text, sizeof e.text) && e.line >= 1 && e.column >= 1);
		/* jansson 2.14 reads a NUL byte right after a number as nothing; jtape refuses
		 * every NUL outside a string. Any other text jansson takes, jtape takes. */
		REQUIRE(!j || memchr(data, 0, size));
	}
	json_decref(j);
	free(t.p);
	return 0;
}
