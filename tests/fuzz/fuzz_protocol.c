/* fuzz_protocol.c - proto_parse() (core/protocol.c) on arbitrary client messages. */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "herald/plugin.h"
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
	const json_t *one = json_object_get(root, "project_id");
	const json_t *list = json_object_get(root, "project_ids");
	const json_t *since = json_object_get(root, "since");
	const char *type = json_string_value(json_object_get(root, "type"));
	char key[24];

	/* Integers beyond int64 are refused by the plain parse only; nothing to compare then. */
	if (!root)
		return;
	REQUIRE(json_is_object(root) && type);
	if (m->type == PROTO_REFRESH) {
		REQUIRE(strcmp(type, "refresh_token") == 0);
		REQUIRE(strcmp(json_string_value(json_object_get(root, "token")), m->token) == 0);
		json_decref(root);
		return;
	}
	REQUIRE(strcmp(type, m->type == PROTO_SUBSCRIBE ? "subscribe_project"
	                                                : "unsubscribe_project") == 0);
	REQUIRE(!one != !list);
	REQUIRE(one ? m->n_ids == 1 : m->n_ids == json_array_size(list));
	for (size_t i = 0; i < m->n_ids; i++) {
		const json_t *v = one ? one : json_array_get(list, i);
		const char *pos;
		if (json_is_integer(v))
			REQUIRE(json_integer_value(v) == m->ids[i]);
		else
			REQUIRE(json_is_real(v) && json_real_value(v) == (double)m->ids[i]);
		if (one) {
			pos = json_string_value(since);
		} else {
			snprintf(key, sizeof key, "%lld", (long long)m->ids[i]);
			pos = json_string_value(json_object_get(since, key));
		}
		if (m->since && m->since[i])
			REQUIRE(pos && strcmp(pos, m->since[i]) == 0);
		else
			REQUIRE(m->type != PROTO_SUBSCRIBE || !pos);
	}
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	proto_msg m;
	int rc, why = 0;

	rc = proto_parse((const char *)data, size, &m, &why);
	if (rc == 0) {
		if (m.type == PROTO_REFRESH) {
			REQUIRE(m.token && *m.token && m.n_ids == 0);
		} else {
			REQUIRE((m.type == PROTO_SUBSCRIBE || m.type == PROTO_UNSUBSCRIBE) &&
			        m.n_ids >= 1 && m.n_ids <= PROTO_IDS_MAX);
			for (size_t i = 0; i < m.n_ids; i++)
				REQUIRE(m.ids[i] >= 1 && m.ids[i] <= ID_MAX);
		}
		cross_check(data, size, &m);
		proto_msg_free(&m);
	} else {
		REQUIRE(rc == HERALD_EINVAL || rc == HERALD_ENOMEM);
		REQUIRE(m.ids == NULL && m.since == NULL && m.token == NULL);
		REQUIRE(why > 0 && why < PROTO_ERROR_COUNT);
		REQUIRE(strcmp(proto_error_code(why), "internal") != 0);
		REQUIRE(strcmp(proto_error_message(why), "internal error") != 0);
	}
	return 0;
}
