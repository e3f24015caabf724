/* protocol.c - see protocol.h. */
#include "protocol.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/plugin.h"

static const struct {
	const char *code, *message;
} errors[PROTO_ERROR_COUNT] = {
    [PROTO_INVALID_JSON] = {"invalid_json", "message must be a JSON object"},
    [PROTO_UNKNOWN_TYPE] = {"unknown_type", "type must be subscribe_project, "
                                            "unsubscribe_project or refresh_token"},
    [PROTO_INVALID_PROJECT_ID] = {"invalid_project_id",
                                  "project_id must be a whole number from 1 to 2^53-1 "
                                  "(project_ids: a list of 1 to 10000 of them)"},
    [PROTO_INVALID_SINCE] = {"invalid_since", "since must be a position string (or, with "
                                              "project_ids, an object of them by project id)"},
    [PROTO_INVALID_TOKEN] = {"invalid_token", "the token is missing, invalid or of another user"},
};

/* The ids of `project_id` (one) or `project_ids` (a list) into out->ids. */
static int parse_ids(const json_t *m, proto_msg *out)
{
	const json_t *one = json_object_get(m, "project_id"),
	             *list = json_object_get(m, "project_ids");
	size_t n = list ? json_array_size(list) : 1, i;
	const json_t *v;

	if (!one == !list || (list && (!json_is_array(list) || n == 0 || n > PROTO_IDS_MAX)))
		return PROTO_INVALID_PROJECT_ID;
	if (!(out->ids = malloc(n * sizeof *out->ids)))
		return -1;
	out->n_ids = n;
	if (one)
		return id_from_json(one, &out->ids[0]) ? 0 : PROTO_INVALID_PROJECT_ID;
	json_array_foreach(list, i,
	                   v) if (!id_from_json(v, &out->ids[i])) return PROTO_INVALID_PROJECT_ID;
	return 0;
}

/* `since`: a string for a single project_id; with project_ids, an object whose keys are ids in
 * decimal (positions for the ids it names; the others start live). */
static int parse_since(const json_t *m, proto_msg *out)
{
	const json_t *since = json_object_get(m, "since");
	char key[24];

	if (!since || json_is_null(since))
		return 0;
	if (json_object_get(m, "project_id") ? !json_is_string(since) : !json_is_object(since))
		return PROTO_INVALID_SINCE;
	if (!(out->since = calloc(out->n_ids, sizeof *out->since)))
		return -1;
	for (size_t i = 0; i < out->n_ids; i++) {
		const json_t *pos = since;
		if (json_is_object(since)) {
			snprintf(key, sizeof key, "%lld", (long long)out->ids[i]);
			if (!(pos = json_object_get(since, key)) || json_is_null(pos))
				continue;
			if (!json_is_string(pos))
				return PROTO_INVALID_SINCE;
		}
		if (!(out->since[i] = strdup(json_string_value(pos))))
			return -1;
	}
	return 0;
}

int proto_parse(const char *in, size_t len, proto_msg *out, int *why)
{
	/* Integers are decoded as reals so that an id too large for int64 is reported as a bad
	 * project_id rather than as bad JSON (reals hold every id up to 2^53 exactly). */
	json_t *m = json_loadb(in, len, JSON_DECODE_INT_AS_REAL, NULL);
	const char *type = json_string_value(json_object_get(m, "type"));
	const char *token = json_string_value(json_object_get(m, "token"));
	int rc = 0;

	memset(out, 0, sizeof *out);
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
	if (rc == 0 && out->type == PROTO_REFRESH) {
		if (!token || !*token)
			rc = PROTO_INVALID_TOKEN;
		else if (!(out->token = strdup(token)))
			rc = -1;
	} else if (rc == 0) {
		rc = parse_ids(m, out);
		if (rc == 0 && out->type == PROTO_SUBSCRIBE)
			rc = parse_since(m, out);
	}
	json_decref(m);
	if (rc == 0)
		return 0;
	proto_msg_free(out);
	*why = rc > 0 ? rc : PROTO_INVALID_JSON;
	return rc > 0 ? HERALD_EINVAL : HERALD_ENOMEM;
}

void proto_msg_free(proto_msg *m)
{
	for (size_t i = 0; m->since && i < m->n_ids; i++)
		free(m->since[i]);
	free(m->since);
	free(m->ids);
	free(m->token);
	memset(m, 0, sizeof *m);
}

const char *proto_error_code(int why)
{
	return why > 0 && why < PROTO_ERROR_COUNT ? errors[why].code : "internal";
}

const char *proto_error_message(int why)
{
	return why > 0 && why < PROTO_ERROR_COUNT ? errors[why].message : "internal error";
}
