/* protocol.c - see protocol.h. */
#include "protocol.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *code, *message;
} errors[PROTO_ERROR_COUNT] = {
	[PROTO_OK] = {"ok", "ok"},
	[PROTO_INVALID_JSON] = {"invalid_json", "message must be a JSON object"},
	[PROTO_UNKNOWN_TYPE] = {"unknown_type", "type must be subscribe_project, "
						"unsubscribe_project or refresh_token"},
	[PROTO_INVALID_PROJECT_ID] = {"invalid_project_id", "project_id must be a positive integer"},
	[PROTO_INVALID_SINCE] = {"invalid_since", "since must be a position string"},
	[PROTO_INVALID_TOKEN] = {"invalid_token", "the token is missing, invalid or of another user"},
};

int proto_parse(const char *in, size_t len, proto_msg *out)
{
	/* Integers are decoded as reals so that an id too large for int64 is reported as a bad
	 * project_id rather than as bad JSON; ids are then checked to be whole and in range. */
	json_t *m = json_loadb(in, len, JSON_DECODE_INT_AS_REAL, NULL);
	const char *type = json_string_value(json_object_get(m, "type"));
	const char *token = json_string_value(json_object_get(m, "token"));
	json_t *since = json_object_get(m, "since");
	json_t *pid = json_object_get(m, "project_id");
	double id = json_is_real(pid) ? json_real_value(pid) : 0;
	int rc = PROTO_OK;

	out->token = out->since = NULL;
	if (!json_is_object(m))
		rc = PROTO_INVALID_JSON;
	else if (type && strcmp(type, "subscribe_project") == 0)
		out->type = PROTO_SUBSCRIBE;
	else if (type && strcmp(type, "unsubscribe_project") == 0)
		out->type = PROTO_UNSUBSCRIBE;
	else if (type && strcmp(type, "refresh_token") == 0)
		out->type = PROTO_REFRESH;
	else
		rc = PROTO_UNKNOWN_TYPE;
	if (rc == PROTO_OK && out->type == PROTO_REFRESH) {
		if (!token || !*token)
			rc = PROTO_INVALID_TOKEN;
		else if (!(out->token = strdup(token)))
			rc = PROTO_INVALID_JSON; /* out of memory: refused like a message not read */
	} else if (rc == PROTO_OK) {
		if (id >= 1 && id <= (double)PROTO_PROJECT_ID_MAX && id == (double)(int64_t)id)
			out->project_id = (int64_t)id;
		else
			rc = PROTO_INVALID_PROJECT_ID;
		if (rc == PROTO_OK && out->type == PROTO_SUBSCRIBE && since && !json_is_null(since)) {
			if (!json_is_string(since))
				rc = PROTO_INVALID_SINCE;
			else if (!(out->since = strdup(json_string_value(since))))
				rc = PROTO_INVALID_JSON;
		}
	}
	json_decref(m);
	return rc;
}

void proto_msg_free(proto_msg *m)
{
	free(m->token);
	free(m->since);
	m->token = m->since = NULL;
}

const char *proto_error_code(int err)
{
	return err > 0 && err < PROTO_ERROR_COUNT ? errors[err].code : "internal";
}

const char *proto_error_message(int err)
{
	return err > 0 && err < PROTO_ERROR_COUNT ? errors[err].message : "internal error";
}
