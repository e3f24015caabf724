/* notif.c - see notif.h. */
#include "notif.h"

#include <libwebsockets.h>
#include <string.h>

#include "jsonw.h"
#include "jtape.h"

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
	size_t rlen = strlen(room), plen = strlen(pos), tlen = rlen + plen + 20;
	unsigned char *p;
	notif *n;

	/* The message is an object's text ending in '}': the fields go in front of it. */
	if (len < 2 || message[len - 1] != '}' || rlen > 64 || plen > 64)
		return NULL;
	n = frame_alloc(len - 1 + tlen, &p);
	if (!n)
		return NULL;
	memcpy(p, message, len - 1);
	p += len - 1;
	memcpy(p, ",\"room\":\"", 9);
	memcpy(p + 9, room, rlen);
	p += 9 + rlen;
	memcpy(p, "\",\"pos\":\"", 9);
	memcpy(p + 9, pos, plen);
	p += 9 + plen;
	memcpy(p, "\"}", 2);
	return n;
}

const char *notif_payload(const notif *n, size_t *len)
{
	size_t hdr = n->frame[1] < 126 ? 2 : n->frame[1] == 126 ? 4 : 10;
	*len = n->len - hdr;
	return (const char *)n->frame + hdr;
}

char *notif_build(const event *ev, const formatted *fmt, size_t *len)
{
	jsonw w = JSONW_INIT;

	/* The fixed parts and the formatter's texts, plus room for the event's own fields. */
	jsonw_grow(&w, 224 + fmt->title_len + fmt->message_len + fmt->data_len);
	jsonw_lit(&w, "{\"type\":\"notification_received\",\"title\":");
	jsonw_raw(&w, fmt->title, fmt->title_len);
	jsonw_lit(&w, ",\"message\":");
	jsonw_raw(&w, fmt->message, fmt->message_len);
	jsonw_lit(&w, ",\"event_type\":");
	jsonw_string(&w, ev->type, strlen(ev->type));
	jsonw_lit(&w, ",\"timestamp\":");
	jsonw_string(&w, ev->timestamp, strlen(ev->timestamp));
	jsonw_lit(&w, ",\"actor\":");
	if (ev->actor)
		jtape_write(&w, ev->actor);
	else
		jsonw_lit(&w, "null");
	jsonw_lit(&w, ",\"project_id\":");
	if (ev->project_id)
		jsonw_int(&w, ev->project_id);
	else
		jsonw_lit(&w, "null");
	jsonw_lit(&w, ",\"project_title\":");
	if (ev->project_title)
		jsonw_string(&w, ev->project_title, ev->project_title_len);
	else
		jsonw_lit(&w, "null");
	jsonw_lit(&w, ",\"data\":");
	jsonw_raw(&w, fmt->data, fmt->data_len);
	jsonw_lit(&w, "}");
	return jsonw_take(&w, len);
}

char *notif_message(const event *ev, const json_t *fmt, size_t *len)
{
	static const char *const keys[] = {"title", "message", "data"};
	jsonw parts[3] = {JSONW_INIT, JSONW_INIT, JSONW_INIT};
	char *text = NULL;
	int ok = 1;

	for (int i = 0; i < 3; i++) {
		const json_t *v = json_object_get(fmt, keys[i]);
		if (v)
			jsonw_value(&parts[i], v);
		else
			jsonw_lit(&parts[i], "null");
		ok &= !parts[i].oom;
	}
	if (ok) {
		formatted f = {parts[0].p,   parts[1].p,   parts[2].p,
		               parts[0].len, parts[1].len, parts[2].len};
		text = notif_build(ev, &f, len);
	}
	for (int i = 0; i < 3; i++)
		jsonw_free(&parts[i]);
	return text;
}
