/*
 * notif.h - WebSocket text frames built once and shared by every recipient.
 *
 * Server-to-client frames are unmasked, so a notification's whole frame (opcode, length and
 * payload) is the same bytes for every connection. A notif holds that frame with LWS_PRE bytes
 * of headroom in front, so a large frame can be handed to lws_write() in place. Reference
 * counts are plain integers: notifs live on the event loop thread only.
 */
#ifndef HERALD_NOTIF_H
#define HERALD_NOTIF_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "event.h"
#include "formatter.h"
#include "position.h"

typedef struct notif {
	uint32_t refs;
	uint32_t len;         /* bytes of the frame */
	uint32_t kept;        /* rooms whose history holds it (rooms.c counts its bytes once) */
	log_id id;            /* position in the log (zero for frames outside it) */
	int64_t exclude;      /* user that never receives it (0: none), also on replay */
	int64_t ingest_ns;    /* CLOCK_MONOTONIC time its event was queued (0: not an event) */
	unsigned char *frame; /* header + payload; at least LWS_PRE bytes of headroom before it */
	unsigned char buf[];
} notif;

/* A text frame carrying `payload` (valid UTF-8, not copied after return). refs == 1. */
notif *notif_frame(const char *payload, size_t len);

/*
 * The `notification_received` message for `ev` as formatted (`fmt`: the formatter's title,
 * message and data as JSON text), as compact JSON text (malloc'd, NUL-terminated; its length in
 * *len), written directly, without a tree. Field order follows API.md: type, title, message,
 * event_type, timestamp, actor, project_id, project_title, data; the bytes are those
 * json_dumps(JSON_COMPACT) gives for the same fields. NULL on ENOMEM.
 */
char *notif_build(const event *ev, const formatted *fmt, size_t *len);

/* The same message from a formatter result held as a jansson object {title, message, data}
 * (`herald render`); a missing member is written null. NULL on ENOMEM. */
char *notif_message(const event *ev, const json_t *fmt, size_t *len);

/* A frame of `message` (a JSON object's text, as notif_build gives) with the fields
 * "room":"<room>","pos":"<pos>" added at its end (both plain ASCII: no escaping; at most 64
 * bytes each). refs == 1; NULL on ENOMEM, when `message` is not an object's text or a name is
 * longer. */
notif *notif_frame_pos(const char *message, size_t len, const char *room, const char *pos);

/* The payload of a frame (for tests and logs). */
const char *notif_payload(const notif *n, size_t *len);

static inline notif *notif_ref(notif *n)
{
	n->refs++;
	return n;
}

static inline void notif_unref(notif *n)
{
	if (n && --n->refs == 0)
		free(n);
}

#endif
