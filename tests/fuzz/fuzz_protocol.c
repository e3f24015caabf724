/* fuzz_protocol.c - proto_parse() (core/protocol.c) on arbitrary client messages. */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "protocol.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(HERALD_LOG_ERROR, 0);
	return 0;
}

/* An accepted message, read again by a plain jansson parse, must say what proto_parse said. */
static void cross_check(const uint8_t *data, size_t size, const proto_msg *m)
{
	json_t *root = json_loadb((const char *)data, size, 0, NULL);
	const json_t *pid = json_object_get(root, "project_id");
	const char *type = json_string_value(json_object_get(root, "type"));

	/* Integers beyond int64 are refused by the plain parse only; nothing to compare then. */
	if (!root)
		return;
	REQUIRE(json_is_object(root) && type);
	if (m->type == PROTO_REFRESH) {
		REQUIRE(strcmp(type, "refresh_token") == 0);
		REQUIRE(strcmp(json_string_value(json_object_get(root, "token")), m->token) == 0);
	} else {
		REQUIRE(strcmp(type, m->type == PROTO_SUBSCRIBE ? "subscribe_project"
		                                                : "unsubscribe_project") == 0);
		if (json_is_integer(pid))
			REQUIRE(json_integer_value(pid) == m->project_id);
		else
			REQUIRE(json_is_real(pid) && json_real_value(pid) == (double)m->project_id);
		if (m->since)
			REQUIRE(strcmp(json_string_value(json_object_get(root, "since")),
			               m->since) == 0);
		else
			REQUIRE(m->type != PROTO_SUBSCRIBE ||
			        json_is_null(json_object_get(root, "since")) ||
			        !json_object_get(root, "since"));
	}
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	proto_msg m;
	int rc;

	memset(&m, 0, sizeof m);
	rc = proto_parse((const char *)data, size, &m);
	if (rc == PROTO_OK) {
		if (m.type == PROTO_REFRESH)
			REQUIRE(m.token && *m.token);
		else
			REQUIRE((m.type == PROTO_SUBSCRIBE || m.type == PROTO_UNSUBSCRIBE) &&
			        m.project_id >= 1 && m.project_id <= PROTO_PROJECT_ID_MAX);
		cross_check(data, size, &m);
		proto_msg_free(&m);
	} else {
		REQUIRE(rc > PROTO_OK && rc < PROTO_ERROR_COUNT);
		REQUIRE(strcmp(proto_error_code(rc), "internal") != 0);
		REQUIRE(strcmp(proto_error_message(rc), "internal error") != 0);
	}
	return 0;
}
