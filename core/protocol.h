/*
 * protocol.h - parsing of the messages clients send over the WebSocket.
 *
 * Pure functions over bytes: no connection state, so the parser is fuzzed on its own.
 */
#ifndef HERALD_PROTOCOL_H
#define HERALD_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "ids.h"

/* Most project ids one message may name (`project_ids`). */
#define PROTO_IDS_MAX 10000

enum proto_type {
	/* {"type":"subscribe_project","project_id":N[,"since":"POS"]} or
	 * {"type":"subscribe_project","project_ids":[N,...][,"since":{"N":"POS",...}]} */
	PROTO_SUBSCRIBE = 1,
	/* {"type":"unsubscribe_project","project_id":N} or ... "project_ids":[N,...] */
	PROTO_UNSUBSCRIBE = 2,
	PROTO_REFRESH = 3, /* {"type":"refresh_token","token":"JWT"} */
};

/* Why a message was refused; each has the code and message sent back to the client. */
enum proto_error {
	PROTO_INVALID_JSON = 1,   /* not JSON, or not an object */
	PROTO_UNKNOWN_TYPE,       /* `type` missing or unknown */
	PROTO_INVALID_PROJECT_ID, /* `project_id(s)` missing, not ids (see ids.h), or too many */
	PROTO_INVALID_TOKEN,      /* `token` missing or not a string (or refused later) */
	PROTO_INVALID_SINCE,      /* `since` not a position string (or map of them) */
	PROTO_ERROR_COUNT
};

typedef struct proto_msg {
	int type;     /* enum proto_type */
	int64_t *ids; /* subscribe, unsubscribe: 1 .. PROTO_IDS_MAX project ids, each
	               * 1 .. ID_MAX, in the order given (malloc'd) */
	char **since; /* subscribe: the position to resume after for each id, or NULL
	               * (n_ids entries, each malloc'd or NULL), or NULL when none */
	size_t n_ids;
	char *token; /* refresh_token: the new token (malloc'd) */
} proto_msg;

/*
 * Parse one client message. Returns 0 and fills *out (release with proto_msg_free), or
 * HERALD_EINVAL with the reason in *why (an enum proto_error), or HERALD_ENOMEM; nothing to
 * release on failure.
 */
int proto_parse(const char *in, size_t len, proto_msg *out, int *why);

void proto_msg_free(proto_msg *m);

/* The `code` and `message` of the error reply for an enum proto_error. */
const char *proto_error_code(int why);
const char *proto_error_message(int why);

#endif
