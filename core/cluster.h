/*
 * cluster.h - scale-out on Redis: the shared notification log.
 *
 * In cluster mode every node appends the notifications its sources produce to one Redis
 * stream (the log) and every node reads the whole log and delivers to its own clients, so all
 * nodes deliver the same notifications in the same order. Positions in the log are the
 * stream's entry ids, prefixed with the log's epoch so a client can tell a reset log.
 *
 * Threads: cluster.c runs its own threads with synchronous hiredis connections (one writes,
 * one reads). The loop thread calls every function here; results come back through queues the
 * loop drains after `wake(arg)` (the hub points it at lws_cancel_service()).
 */
#ifndef HERALD_CLUSTER_H
#define HERALD_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "nlog.h"
#include "position.h"

typedef struct cluster cluster;

/* What an item read from the log is. */
enum {
	CLUSTER_ENTRY, /* a notification */
	CLUSTER_EPOCH, /* the log lost entries: from `id` on, it is the epoch in `payload` */
	CLUSTER_GAP,   /* entries before `id` were trimmed before this node read them */
};

/* One item read from the log. */
typedef struct cluster_entry {
	int kind;
	log_id id;
	char *payload; /* ENTRY: the notification JSON without its position; EPOCH: the new
	                * epoch; GAP: NULL (malloc'd, NUL-terminated) */
	size_t len;
	char *route; /* ENTRY: the routing line (malloc'd, NUL-terminated), see cluster_append */
} cluster_entry;

/* The outcome of one cluster_append. */
typedef struct cluster_ack {
	uint32_t source; /* as given to cluster_append */
	uint64_t tag;
	int status;    /* 0: in the log; HERALD_ESHUTDOWN: stopped before it was written */
	int duplicate; /* status 0, but nothing appended: the log took its id within the window */
} cluster_ack;

/*
 * Connect to cfg->cluster_url (redis_url.h; Redis 7.0 or later), adopt the log's epoch (or
 * make one: a new log, or one that lost its stream or its epoch), warn when Redis keeps no
 * persistence, and read the newest cfg->history_warm entries of the epoch (for the history),
 * oldest first, into *warm / *n_warm (free each with cluster_entry_free, then the array). The
 * live read starts after the newest entry of the log. Blocking; called before the loop serves.
 * Fails (HERALD_EIO, message in err) when Redis cannot be reached at start.
 */
int cluster_create(const herald_config *cfg, void (*wake)(void *arg), void *arg, cluster **out,
                   cluster_entry **warm, size_t *n_warm, char *err, size_t errlen);

/* The epoch at cluster_create, a short [0-9a-f] string. Later changes come as CLUSTER_EPOCH
 * items, in log order. */
const char *cluster_epoch(const cluster *c);

/* The url without credentials, for messages. */
const char *cluster_where(const cluster *c);

/* The newest id of the log at cluster_create: the live read goes on after it. */
log_id cluster_start_id(const cluster *c);

/* Start the writer and reader threads. */
int cluster_start(cluster *c);

/*
 * Queue one notification for the log (copies payload, route and id). `route` is a short text
 * the hub gives and gets back unchanged with the entry (e.g. "p2 x5" or "u7,9"). `id` (NULL,
 * or id_len bytes) is the event's idempotency id: when cfg->dedup_window is not 0, the script
 * that appends refuses an id taken within that many seconds by any node, in the same atomic
 * step (the ack then says `duplicate`). The writer XADDs it (MAXLEN ~ cfg->cluster_log_max);
 * while Redis is unreachable it retries, keeping order, and cluster_healthy() turns 0. Returns
 * 0, HERALD_EFULL (cfg->queue_size appends are not acknowledged yet: poll the acks),
 * HERALD_ENOMEM or HERALD_ESHUTDOWN. Each accepted append produces exactly one cluster_ack with
 * the same source and tag. Loop thread only (with the polls).
 */
int cluster_append(cluster *c, const char *payload, size_t len, const char *route_text,
                   const char *id, size_t id_len, uint32_t source, uint64_t tag);

/* Take up to `max` acks / entries, oldest first. Loop thread only. Entries come in log order,
 * each once, continuing after a reconnect from the last id read; CLUSTER_EPOCH and
 * CLUSTER_GAP items among them say where this node's view of the log changed. */
size_t cluster_poll_acks(cluster *c, cluster_ack *out, size_t max);
size_t cluster_poll_entries(cluster *c, cluster_entry *out, size_t max);

void cluster_entry_free(cluster_entry *e);

/* 1 while both connections are up, else 0. Thread-safe. */
int cluster_healthy(const cluster *c);

/* Stop the threads: appends still queued are acked HERALD_ESHUTDOWN. */
void cluster_stop(cluster *c);
void cluster_destroy(cluster *c);

/* The cluster as the hub's notification log (nlog.h): cluster_create(), then the newest
 * cfg->history_warm entries come first out of poll_entries (with ingest_ns 0). An epoch item
 * updates nlog.epoch between two polls (never within one: a poll's entries are all of one
 * epoch) and counts in nlog.resets; a gap counts in nlog.gaps and makes `behind` answer
 * NLOG_MISSED for the positions it covers. */
int cluster_log_create(const herald_config *cfg, void (*wake)(void *arg), void *arg, nlog **out,
                       char *err, size_t errlen);

#endif
