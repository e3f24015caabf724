/* Unit tests of protocol.c: every kind of client message and every refusal. */
#include "protocol.h"

#include "check.h"
#include "herald/plugin.h"

/* 0 when the message parses (m filled), else the enum proto_error it is refused with. */
static int parse(const char *text, proto_msg *m)
{
	int why = 0, rc = proto_parse(text, strlen(text), m, &why);

	if (rc == 0)
		return 0;
	CHECK_INT(rc, HERALD_EINVAL);
	CHECK(m->ids == NULL && m->since == NULL && m->token == NULL);
	return why;
}

static void test_single(void)
{
	proto_msg m = {0};

	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_id\":123}", &m), 0);
	CHECK_INT(m.type, PROTO_SUBSCRIBE);
	CHECK_INT(m.n_ids, 1);
	CHECK_INT(m.ids[0], 123);
	CHECK(m.since == NULL);
	proto_msg_free(&m);
	CHECK_INT(parse("{\"project_id\":9007199254740991,\"type\":\"unsubscribe_project\"}", &m),
	          0);
	CHECK_INT(m.type, PROTO_UNSUBSCRIBE);
	CHECK_INT(m.ids[0], 9007199254740991LL);
	proto_msg_free(&m);
	/* the same rule as events' ids: a whole number, as an integer or a real */
	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_id\":5.0}", &m), 0);
	CHECK_INT(m.ids[0], 5);
	proto_msg_free(&m);

	CHECK_INT(parse("", &m), PROTO_INVALID_JSON);
	CHECK_INT(parse("garbage", &m), PROTO_INVALID_JSON);
	CHECK_INT(parse("[1]", &m), PROTO_INVALID_JSON);
	CHECK_INT(parse("\"subscribe_project\"", &m), PROTO_INVALID_JSON);
	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_id\":1", &m),
	          PROTO_INVALID_JSON);

	CHECK_INT(parse("{}", &m), PROTO_UNKNOWN_TYPE);
	CHECK_INT(parse("{\"type\":\"subscribe\",\"project_id\":1}", &m), PROTO_UNKNOWN_TYPE);
	CHECK_INT(parse("{\"type\":7,\"project_id\":1}", &m), PROTO_UNKNOWN_TYPE);

	const char *bad_ids[] = {"",
	                         ",\"project_id\":0",
	                         ",\"project_id\":-3",
	                         ",\"project_id\":\"5\"",
	                         ",\"project_id\":5.5",
	                         ",\"project_id\":9223372036854775808",
	                         ",\"project_id\":1e300",
	                         ",\"project_id\":9007199254740992",
	                         ",\"project_id\":null",
	                         ",\"project_id\":[1]",
	                         ",\"project_id\":1,\"project_ids\":[2]"};
	for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
		char text[128];
		snprintf(text, sizeof text, "{\"type\":\"subscribe_project\"%s}", bad_ids[i]);
		CHECK_INT(parse(text, &m), PROTO_INVALID_PROJECT_ID);
	}

	CHECK_INT(
	    parse("{\"type\":\"subscribe_project\",\"project_id\":2,\"since\":\"e:1-2\"}", &m), 0);
	CHECK_STR(m.since[0], "e:1-2");
	proto_msg_free(&m);
	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_id\":2,\"since\":5}", &m),
	          PROTO_INVALID_SINCE);
	CHECK_INT(
	    parse("{\"type\":\"subscribe_project\",\"project_id\":2,\"since\":{\"2\":\"a\"}}", &m),
	    PROTO_INVALID_SINCE);
	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_id\":2,\"since\":null}", &m), 0);
	CHECK(m.since == NULL);
	proto_msg_free(&m);
}

static void test_bulk(void)
{
	proto_msg m = {0};
	char *big;
	size_t at;

	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_ids\":[3,1,2]}", &m), 0);
	CHECK_INT(m.n_ids, 3);
	CHECK(m.ids[0] == 3 && m.ids[1] == 1 && m.ids[2] == 2);
	proto_msg_free(&m);
	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_ids\":[3,1],"
	                "\"since\":{\"1\":\"e:5-0\",\"9\":\"e:1-0\"}}",
	                &m),
	          0);
	CHECK(m.since && m.since[0] == NULL);
	CHECK_STR(m.since[1], "e:5-0");
	proto_msg_free(&m);
	CHECK_INT(parse("{\"type\":\"unsubscribe_project\",\"project_ids\":[7]}", &m), 0);
	CHECK_INT(m.type, PROTO_UNSUBSCRIBE);
	proto_msg_free(&m);

	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_ids\":[]}", &m),
	          PROTO_INVALID_PROJECT_ID);
	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_ids\":[1,0]}", &m),
	          PROTO_INVALID_PROJECT_ID);
	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_ids\":5}", &m),
	          PROTO_INVALID_PROJECT_ID);
	CHECK_INT(
	    parse("{\"type\":\"subscribe_project\",\"project_ids\":[1],\"since\":\"e:1-0\"}", &m),
	    PROTO_INVALID_SINCE);
	CHECK_INT(
	    parse("{\"type\":\"subscribe_project\",\"project_ids\":[1],\"since\":{\"1\":5}}", &m),
	    PROTO_INVALID_SINCE);

	/* at most PROTO_IDS_MAX ids */
	big = malloc(64 + 12 * (PROTO_IDS_MAX + 1));
	at = (size_t)sprintf(big, "{\"type\":\"subscribe_project\",\"project_ids\":[");
	for (int i = 1; i <= PROTO_IDS_MAX; i++)
		at += (size_t)sprintf(big + at, "%s%d", i > 1 ? "," : "", i);
	strcpy(big + at, "]}");
	CHECK_INT(parse(big, &m), 0);
	CHECK_INT(m.n_ids, PROTO_IDS_MAX);
	proto_msg_free(&m);
	strcpy(big + at, ",1]}");
	CHECK_INT(parse(big, &m), PROTO_INVALID_PROJECT_ID);
	free(big);
}

static void test_refresh(void)
{
	proto_msg m = {0};

	CHECK_INT(parse("{\"type\":\"refresh_token\",\"token\":\"a.b.c\"}", &m), 0);
	CHECK_INT(m.type, PROTO_REFRESH);
	CHECK_STR(m.token, "a.b.c");
	CHECK_INT(m.n_ids, 0);
	proto_msg_free(&m);
	CHECK(m.token == NULL);
	CHECK_INT(parse("{\"type\":\"refresh_token\"}", &m), PROTO_INVALID_TOKEN);
	CHECK_INT(parse("{\"type\":\"refresh_token\",\"token\":\"\"}", &m), PROTO_INVALID_TOKEN);
	CHECK_INT(parse("{\"type\":\"refresh_token\",\"token\":5}", &m), PROTO_INVALID_TOKEN);

	CHECK_STR(proto_error_code(PROTO_INVALID_TOKEN), "invalid_token");
	CHECK_STR(proto_error_code(PROTO_INVALID_JSON), "invalid_json");
	CHECK_STR(proto_error_code(PROTO_UNKNOWN_TYPE), "unknown_type");
	CHECK_STR(proto_error_code(PROTO_INVALID_PROJECT_ID), "invalid_project_id");
	CHECK_STR(proto_error_code(99), "internal");
}

int main(void)
{
	test_single();
	test_bulk();
	test_refresh();
	return check_done();
}
