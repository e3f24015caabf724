/*
 * ws.h - the libwebsockets side: HTTP endpoints, the WebSocket handshake (path, limits, JWT),
 * client messages, per-connection bounded send queues and coalesced writes.
 */
#ifndef HERALD_WS_H
#define HERALD_WS_H

#include <stdint.h>

#include "hub.h"
#include "notif.h"

/* Close codes Herald sends (documented in core/README.md). */
enum {
	WS_CLOSE_GOING_AWAY = 1001, /* the server is shutting down: reconnect later */
	WS_CLOSE_TOO_BIG = 1009,    /* a client message exceeded server.max_message_size */
	WS_CLOSE_RECONNECT = 1013,  /* the send queue overflowed (slow reader): reconnect */
};

/* Bytes of coalesced frames handed to one lws_write(). */
#define WS_CHUNK 16384

/* Create the lws context and listen (h->lws). */
int ws_create(hub *h, char *err, size_t errlen);

/* Queue `n` to every member of `r` except the connections of user `exclude` (0: none). */
void ws_deliver(hub *h, const room *r, notif *n, int64_t exclude);

/* Ask every connection to close with `code` once its queued notifications are written. */
void ws_close_all(hub *h, int code);

/* Close connections silent (no message, no pong) for server.idle_timeout seconds. */
void ws_sweep(hub *h);

void ws_destroy(hub *h);

#endif
