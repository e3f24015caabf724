/*
 * protocol.h - parsing of the messages clients send over the WebSocket.
 *
 * Pure functions over bytes: no connection state, so the parser is fuzzed on its own.
 */
#ifndef HERALD_PROTOCOL_H
#define HERALD_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

/* Largest project id a client may name: integers beyond 2^53 do not survive JavaScript. */
#define PROTO_PROJECT_ID_MAX 9007199254740991LL

enum proto_type {
	PROTO_SUBSCRIBE = 1,   /* {"type":"subscribe_project","project_id":N[,"since":"POS"]} */
	PROTO_UNSUBSCRIBE = 2, /* {"type":"unsubscribe_project","project_id":N} */
	PROTO_REFRESH = 3,     /* {"type":"refresh_token","token":"JWT"} */
};

/* Why a message was refused; each has the code and message sent back to the client. */
enum proto_error {
	PROTO_OK = 0,
	PROTO_INVALID_JSON,       /* not JSON, or not an object */
	PROTO_UNKNOWN_TYPE,       /* `type` missing or unknown */
	PROTO_INVALID_PROJECT_ID, /* `project_id` missing, not whole, or out of range */
	PROTO_INVALID_TOKEN,      /* `token` missing or not a string (or refused later) */
	PROTO_INVALID_SINCE,      /* `since` present but not a string */
	PROTO_ERROR_COUNT
};

typedef struct proto_msg {
	int type;           /* enum proto_type */
	int64_t project_id; /* subscribe, unsubscribe: 1 .. PROTO_PROJECT_ID_MAX */
	char *since;        /* subscribe: the position to resume after (malloc'd), or NULL */
	char *token;        /* refresh_token: the new token (malloc'd) */
} proto_msg;

/* Parse one client message. Returns PROTO_OK and fills *out (release with proto_msg_free),
 * or an enum proto_error (nothing to release). */
int proto_parse(const char *in, size_t len, proto_msg *out);

void proto_msg_free(proto_msg *m);

/* The `code` and `message` of the error reply for an enum proto_error. */
const char *proto_error_code(int err);
const char *proto_error_message(int err);

#endif
