/* Unit tests of protocol.c: every kind of client message and every refusal. */
#include "protocol.h"

#include "check.h"

static int parse(const char *text, proto_msg *m)
{
	return proto_parse(text, strlen(text), m);
}

int main(void)
{
	proto_msg m = {0};

	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_id\":123}", &m), PROTO_OK);
	CHECK_INT(m.type, PROTO_SUBSCRIBE);
	CHECK_INT(m.project_id, 123);
	CHECK_INT(parse("{\"project_id\":9007199254740991,\"type\":\"unsubscribe_project\"}", &m),
		  PROTO_OK);
	CHECK_INT(m.type, PROTO_UNSUBSCRIBE);
	CHECK_INT(m.project_id, 9007199254740991LL);

	CHECK_INT(parse("", &m), PROTO_INVALID_JSON);
	CHECK_INT(parse("garbage", &m), PROTO_INVALID_JSON);
	CHECK_INT(parse("[1]", &m), PROTO_INVALID_JSON);
	CHECK_INT(parse("\"subscribe_project\"", &m), PROTO_INVALID_JSON);
	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_id\":1", &m), PROTO_INVALID_JSON);

	CHECK_INT(parse("{}", &m), PROTO_UNKNOWN_TYPE);
	CHECK_INT(parse("{\"type\":\"subscribe\",\"project_id\":1}", &m), PROTO_UNKNOWN_TYPE);
	CHECK_INT(parse("{\"type\":7,\"project_id\":1}", &m), PROTO_UNKNOWN_TYPE);

	const char *bad_ids[] = {"", ",\"project_id\":0", ",\"project_id\":-3",
				 ",\"project_id\":\"5\"", ",\"project_id\":5.5",
				 ",\"project_id\":9223372036854775808", ",\"project_id\":1e300",
				 ",\"project_id\":9007199254740992", ",\"project_id\":null",
				 ",\"project_id\":[1]"};
	for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
		char text[128];
		snprintf(text, sizeof text, "{\"type\":\"subscribe_project\"%s}", bad_ids[i]);
		CHECK_INT(parse(text, &m), PROTO_INVALID_PROJECT_ID);
	}

	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_id\":2,\"since\":\"e:1-2\"}", &m),
		  PROTO_OK);
	CHECK_STR(m.since, "e:1-2");
	proto_msg_free(&m);
	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_id\":2,\"since\":5}", &m),
		  PROTO_INVALID_SINCE);
	CHECK_INT(parse("{\"type\":\"subscribe_project\",\"project_id\":2,\"since\":null}", &m),
		  PROTO_OK);
	CHECK(m.since == NULL);
	CHECK_INT(parse("{\"type\":\"refresh_token\",\"token\":\"a.b.c\"}", &m), PROTO_OK);
	CHECK_INT(m.type, PROTO_REFRESH);
	CHECK_STR(m.token, "a.b.c");
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
	return check_done();
}
