/*
 * hub.h - the composition root: owns the config, the verifier, the formatter, the ingest
 * queue, the plugins, the rooms, the notification log and the connection layer, and runs
 * the event loop.
 *
 * Everything here runs on the one event loop thread, except hub_signal_*(), which are safe to
 * call from signal handlers and other threads.
 */
#ifndef HERALD_HUB_H
#define HERALD_HUB_H

#include <libwebsockets.h> /* lws_sorted_usec_list_t: the loop's timers */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"
#include "formatter.h"
#include "ingest.h"
#include "limit.h"
#include "nlog.h"
#include "plugin_loader.h"
#include "position.h"
#include "rooms.h"
#include "ws.h"

/* Events taken from the ingest queue at a time. */
#define HUB_BATCH 256

typedef struct hub {
	herald_config *cfg; /* owned */
	auth *auth;
	formatter *fmt;
	ingest *queue;
	plugin_set *plugins;
	rooms *rooms;
	nlog *log;        /* the notification log: memory (embedded) or Redis (cluster) */
	ws *ws;           /* the connection layer */
	limiter *limiter; /* notification_limit (NULL: off) */
	int log_ok;       /* the log takes appends: intake is open */
	int stopping;
	ingest_item backlog[HUB_BATCH]; /* drained from the queue, not yet published */
	size_t backlog_len, backlog_at;
	uint64_t events_dropped; /* events the formatter could not format */
	/* notification_limit: notifications held, digests given, delivered uncounted */
	uint64_t limit_held, limit_digests, limit_uncounted;
	int reload_failed;                  /* the last script reload failed (metrics) */
	int64_t reload_ms;                  /* when it was tried (real time), 0: never */
	lws_sorted_usec_list_t prune_timer; /* drops history past its ttl, sweeps idle clients */
	lws_sorted_usec_list_t close_timer; /* ends the grace period of a shutdown */
	int deadline_passed;

	volatile sig_atomic_t stop_requested, reload_requested;
} hub;

/* Build everything from cfg (taking ownership of it) without serving yet: scripts compiled,
 * plugins loaded and created, port bound. On failure returns a negative status, err says why,
 * and cfg has been freed. */
int hub_create(herald_config *cfg, hub **out, char *err, size_t errlen);

/* Start the plugins and serve until hub_signal_stop(); then stop the sources, deliver what was
 * accepted, close every connection with 1001 and return 0. */
int hub_run(hub *h, char *err, size_t errlen);

/* Format and route queued events (called by the loop when the queue wakes it). */
void hub_process(hub *h);

void hub_destroy(hub *h);

/* Async-signal-safe requests to the loop. */
void hub_signal_stop(hub *h);
void hub_signal_reload(hub *h);

#endif
