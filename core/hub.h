/*
 * hub.h - the composition root: owns the config, the verifier, the formatter, the ingest
 * queue, the plugins, the rooms and the libwebsockets context, and runs the event loop.
 *
 * Everything here runs on the one event loop thread, except hub_signal_*(), which are safe to
 * call from signal handlers and other threads.
 */
#ifndef HERALD_HUB_H
#define HERALD_HUB_H

#include <libwebsockets.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "nlog.h"
#include "config.h"
#include "formatter.h"
#include "ingest.h"
#include "plugin_loader.h"
#include "position.h"
#include "rooms.h"

struct conn;

/* Why connections were closed, and handshakes refused (indexes of hub_stats arrays). */
enum { DISC_SLOW, DISC_RATE, DISC_TOO_BIG, DISC_EXPIRED, DISC_COUNT };
enum { REFUSE_AUTH, REFUSE_FULL, REFUSE_ORIGIN, REFUSE_USER_LIMIT, REFUSE_COUNT };

/* Upper bounds, in seconds, of the ingest-to-write latency histogram's buckets. */
#define HUB_LATENCY_BOUNDS                                                                         \
	{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
#define HUB_LATENCY_BUCKETS 13

typedef struct hub_stats {
	uint64_t events_dropped;         /* events the formatter could not format */
	uint64_t deliveries;             /* notification frames queued to connections */
	uint64_t disconnects[DISC_COUNT];
	uint64_t refused[REFUSE_COUNT];
	uint64_t connections_total;
	uint64_t subscriptions;          /* project rooms joined, now */
	uint64_t latency[HUB_LATENCY_BUCKETS + 1]; /* per bucket (not cumulative), last: +Inf */
	uint64_t latency_count;
	double latency_sum;              /* seconds */
} hub_stats;

typedef struct hub {
	herald_config *cfg; /* owned */
	auth *auth;
	formatter *fmt;
	ingest *queue;
	plugin_set *plugins;
	rooms *rooms;
	struct lws_context *lws;
	nlog *log;          /* the notification log: memory (embedded) or Redis (cluster) */
	int log_ok;         /* the log takes appends: intake is open */
	ingest_item backlog[256]; /* drained from the queue, not yet published */
	size_t backlog_len, backlog_at;
	unsigned char *scratch; /* LWS_PRE + WS_CHUNK bytes where frames are coalesced */
	struct notif *ping;     /* the ping frame every connection shares */

	struct conn *conns; /* every established connection, a doubly linked list */
	size_t n_conns;
	int stopping;       /* handshakes are refused with 503 */
	int deadline_passed;
	lws_sorted_usec_list_t prune_timer; /* drops history past its ttl */
	struct lws *pending_wsi; /* the handshake just accepted, and its token's claims */
	auth_claims pending_claims;
	lws_sorted_usec_list_t close_timer; /* ends the grace period of a shutdown */

	volatile sig_atomic_t stop_requested, reload_requested;
	hub_stats stats;
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

/* Milliseconds of the real-time clock (the time base of positions). */
int64_t hub_now_ms(void);

/* Nanoseconds of the monotonic clock (the time base of latencies). */
int64_t hub_now_ns(void);

void hub_destroy(hub *h);

/* Async-signal-safe requests to the loop. */
void hub_signal_stop(hub *h);
void hub_signal_reload(hub *h);

#endif
