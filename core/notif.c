/* notif.c - see notif.h. */
#include "notif.h"

#include <libwebsockets.h>
#include <string.h>

/* Largest WebSocket header a server text frame needs: opcode byte, 127, 8 length bytes. */
#define FRAME_HDR_MAX 10

/* A frame with room for a `len`-byte payload; the caller writes the payload at the address
 * returned in *payload. */
static notif *frame_alloc(size_t len, unsigned char **payload)
{
	size_t hdr = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
	notif *n;

	if (len > UINT32_MAX - FRAME_HDR_MAX)
		return NULL;
	n = malloc(sizeof *n + LWS_PRE + FRAME_HDR_MAX + len);
	if (!n)
		return NULL;
	n->refs = 1;
	n->kept = 0;
	n->len = (uint32_t)(hdr + len);
	n->id = (log_id){0, 0};
	n->exclude = 0;
	n->ingest_ns = 0;
	/* The header ends where the payload starts; the headroom before it is >= LWS_PRE. */
	n->frame = n->buf + LWS_PRE + FRAME_HDR_MAX - hdr;
	n->frame[0] = 0x81; /* FIN, text */
	if (hdr == 2) {
		n->frame[1] = (unsigned char)len;
	} else if (hdr == 4) {
		n->frame[1] = 126;
		n->frame[2] = (unsigned char)(len >> 8);
		n->frame[3] = (unsigned char)len;
	} else {
		n->frame[1] = 127;
		for (int i = 0; i < 8; i++)
			n->frame[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	*payload = n->frame + hdr;
	return n;
}

notif *notif_frame(const char *payload, size_t len)
{
	unsigned char *p;
	notif *n = frame_alloc(len, &p);
	if (n)
		memcpy(p, payload, len);
	return n;
}

notif *notif_frame_pos(const char *message, size_t len, const char *room, const char *pos)
{
	char tail[160];
	int tlen = snprintf(tail, sizeof tail, ",\"room\":\"%s\",\"pos\":\"%s\"}", room, pos);
	unsigned char *p;
	notif *n;

	/* The message is an object's text ending in '}': the fields go in front of it. */
	if (len < 2 || message[len - 1] != '}' || tlen < 0 || (size_t)tlen >= sizeof tail)
		return NULL;
	n = frame_alloc(len - 1 + (size_t)tlen, &p);
	if (!n)
		return NULL;
	memcpy(p, message, len - 1);
	memcpy(p + len - 1, tail, (size_t)tlen);
	return n;
}

const char *notif_payload(const notif *n, size_t *len)
{
	size_t hdr = n->frame[1] < 126 ? 2 : n->frame[1] == 126 ? 4 : 10;
	*len = n->len - hdr;
	return (const char *)n->frame + hdr;
}

/* Set key to a borrowed value, or to null when the value is missing. */
static int set_or_null(json_t *obj, const char *key, json_t *value)
{
	return json_object_set(obj, key, value ? value : json_null());
}

char *notif_message(const event *ev, const json_t *fmt, size_t *len)
{
	json_t *msg = json_object(), *actor = json_object_get(ev->root, "actor");
	char *text = NULL;
	int rc = 0;

	if (!msg)
		return NULL;
	rc |= json_object_set_new(msg, "type", json_string("notification_received"));
	rc |= set_or_null(msg, "title", json_object_get(fmt, "title"));
	rc |= set_or_null(msg, "message", json_object_get(fmt, "message"));
	rc |= json_object_set_new(msg, "event_type", json_string(ev->type));
	rc |= json_object_set_new(msg, "timestamp", json_string(ev->timestamp));
	rc |= set_or_null(msg, "actor", actor);
	rc |= json_object_set_new(msg, "project_id",
	                          ev->project_id ? json_integer(ev->project_id) : json_null());
	rc |= json_object_set_new(msg, "project_title",
	                          ev->project_title ? json_string(ev->project_title) : json_null());
	rc |= set_or_null(msg, "data", json_object_get(fmt, "data"));
	if (rc == 0)
		text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(msg);
	if (text)
		*len = strlen(text);
	return text;
}
