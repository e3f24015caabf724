/*
 * ws.h - the connection layer: the libwebsockets context, the HTTP endpoints, the WebSocket
 * handshake (path, limits, JWT), client messages, per-connection bounded send queues and
 * coalesced writes. It owns every connection and their counters; the hub calls down into it
 * and hears back only through the hooks of ws_env.
 *
 * Everything here runs on the loop thread, except ws_cancel().
 */
#ifndef HERALD_WS_H
#define HERALD_WS_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"
#include "formatter.h"
#include "nlog.h"
#include "notif.h"
#include "rooms.h"

/* Close codes Herald sends (documented in core/README.md). */
enum {
	WS_CLOSE_GOING_AWAY = 1001, /* the server is shutting down: reconnect later */
	WS_CLOSE_TOO_BIG = 1009,    /* a client message exceeded server.max_message_size */
	WS_CLOSE_RECONNECT = 1013,  /* the send queue overflowed (slow reader): reconnect */
};

/* Bytes of coalesced frames handed to one lws_write(). */
#define WS_CHUNK 16384

/* Why connections were closed, and handshakes refused (indexes of ws_stats arrays). */
enum { DISC_SLOW, DISC_RATE, DISC_TOO_BIG, DISC_EXPIRED, DISC_COUNT };
enum { REFUSE_AUTH, REFUSE_FULL, REFUSE_ORIGIN, REFUSE_USER_LIMIT, REFUSE_COUNT };

/* Upper bounds, in seconds, of the ingest-to-write latency histogram's buckets. */
#define WS_LATENCY_BOUNDS                                                                          \
	{                                                                                          \
		0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5         \
	}
#define WS_LATENCY_BUCKETS 13

typedef struct ws_stats {
	size_t connections;         /* open now */
	uint64_t connections_total; /* accepted */
	uint64_t subscriptions;     /* project rooms joined, now */
	uint64_t deliveries;        /* notification frames queued to connections */
	uint64_t disconnects[DISC_COUNT];
	uint64_t refused[REFUSE_COUNT];
	uint64_t latency[WS_LATENCY_BUCKETS + 1]; /* per bucket (not cumulative), last: +Inf */
	uint64_t latency_count;
	double latency_sum; /* seconds */
	int64_t flush_ns;   /* how long the last round's writes took (ws_flush) */
} ws_stats;

/* What the connection layer works with; every pointer is borrowed and outlives the layer. */
typedef struct ws_env {
	const herald_config *cfg;
	auth *auth;
	formatter *fmt; /* for authorize.lua (subscriptions.policy: lua) */
	rooms *rooms;
	const nlog *log; /* its epoch (read at every resume: it may change) and behind() */
	/* Hooks, called on the loop thread with `arg`: */
	void (*wake)(void *arg); /* ws_cancel() was called: the hub's queues want draining */
	/* The body of GET /healthz into buf[len]; returns the HTTP status (200 or 503). */
	int (*health)(void *arg, char *buf, size_t len);
	/* The text of GET /metrics (malloc'd; its length in *len), or NULL on ENOMEM. */
	char *(*metrics)(void *arg, size_t *len);
	void *arg;
} ws_env;

typedef struct ws ws;

/* Create the lws context and listen on cfg->listen:port. 0, or a negative HERALD_E* with the
 * reason in err. */
int ws_create(const ws_env *env, ws **out, char *err, size_t errlen);

/* Serve one round of the loop (lws_service). 0, or a negative status when the loop ended. */
int ws_service(ws *w);

/* Serve an accepted stream socket `fd` as if it came through the listener (the layer takes
 * it). 0, or HERALD_EIO. */
int ws_adopt(ws *w, int fd);

/* Wake the loop, which then calls env.wake. Safe from any thread. */
void ws_cancel(ws *w);

/* Run cb(sul) after `us` microseconds on the loop thread (a timer of the lws loop); re-arming a
 * scheduled sul moves it. lws_sul_cancel(sul) cancels it. */
void ws_schedule(ws *w, lws_sorted_usec_list_t *sul, sul_cb_t cb, int64_t us);

/* Queue `n` to every member of `r` except the connections of user `exclude` (0: none). */
void ws_deliver(ws *w, const room *r, notif *n, int64_t exclude);

/* From now on, refuse handshakes with 503 (the server is stopping). */
void ws_refuse_new(ws *w);

/* Ask every connection to close with `code` once its queued notifications are written; after
 * ws_close_now(), without waiting for them. */
void ws_close_all(ws *w, int code);
void ws_close_now(ws *w);

/* Close connections silent (no message, no pong) for server.idle_timeout seconds; ping the
 * others every server.ping_interval. */
void ws_sweep(ws *w);

/* Tell every connection that it may have missed notifications of each of its rooms:
 * {"type":"resume_failed","room":...,"reason":reason} (the log lost entries). */
void ws_tell_missed(ws *w, const char *reason);

const ws_stats *ws_stats_get(const ws *w);

/* Closes what is still open (each connection leaves its rooms) and frees the layer. */
void ws_destroy(ws *w);

#endif
