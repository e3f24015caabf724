/*
 * nlog.h - the notification log: the one order in which notifications are delivered, and the
 * positions clients resume from.
 *
 * The hub appends each formatted notification with its route; the log gives it a position and
 * hands it back, in log order, for delivery (on this node, and in cluster mode on every node);
 * the source is acknowledged once the log holds it. Two implementations:
 *   - memlog.c, the embedded default: positions from the clock, the log in this process;
 *   - cluster.c, a Redis stream shared by the nodes of a cluster.
 * Every function is called on the loop thread. A log that works on other threads wakes the loop
 * with the `wake(arg)` given at its creation when acks or entries are ready.
 */
#ifndef HERALD_NLOG_H
#define HERALD_NLOG_H

#include <stddef.h>
#include <stdint.h>

#include "position.h"
#include "route.h"

/* One notification read back from the log. */
typedef struct nlog_entry {
	log_id id;
	char *payload; /* the notification's JSON text without room and pos (malloc'd) */
	size_t len;
	route route;       /* owned: route_free() */
	int64_t ingest_ns; /* CLOCK_MONOTONIC time its event was queued here; 0: another node's */
} nlog_entry;

/* The outcome of one append: 0, the log holds it; HERALD_ESHUTDOWN, stopped before that. */
typedef struct nlog_ack {
	uint32_t source;
	uint64_t tag;
	int status;
} nlog_ack;

typedef struct nlog nlog;

typedef struct nlog_ops {
	/* Start its threads, if any. 0 or a negative HERALD_E*. */
	int (*start)(nlog *l);
	/* Queue one notification: takes `payload` (malloc'd) and copies `r` and `id`. `id` (NULL,
	 * or id_len bytes, 1 .. 128) is the event's idempotency id: an append whose id the log
	 * took within ingest.dedup_window is acknowledged (status 0) and produces no entry. Each
	 * accepted append produces exactly one ack with the same source and tag. 0, HERALD_EFULL
	 * (the log cannot take more now: append again later) or HERALD_ESHUTDOWN; on error
	 * `payload` is freed. */
	int (*append)(nlog *l, char *payload, size_t len, const route *r, const char *id,
	              size_t id_len, uint32_t source, uint64_t tag, int64_t ingest_ns);
	/* Take up to `max` acks / entries, oldest first. */
	size_t (*poll_acks)(nlog *l, nlog_ack *out, size_t max);
	size_t (*poll_entries)(nlog *l, nlog_entry *out, size_t max);
	/* 1 while appends can be taken, else 0 (the hub then pauses intake). */
	int (*healthy)(const nlog *l);
	/* Stop taking appends; what is still queued is acked HERALD_ESHUTDOWN. */
	void (*stop)(nlog *l);
	void (*destroy)(nlog *l);
	/*
	 * May a client resume from `since`, a position of the current epoch (pos_parse gave
	 * POS_OK), on this node now? Positions mean the same on every node, but a node may not
	 * have read as far as the node that gave the client its position.
	 *   NLOG_SERVE:  yes: every entry up to `since` has come out of poll_entries here, so the
	 *                history holds what follows it (or rooms_replay says it expired);
	 *   NLOG_BEHIND: not yet: `since` is after the newest entry this node has delivered.
	 *                The node is behind the log (or `since` is not in it: it cannot tell);
	 *                poll again after more entries came out (bounded: at a deadline answer
	 *                resume_failed "unavailable"). Replaying now would send nothing, then
	 *                the catch-up would send what the client has;
	 *   NLOG_MISSED: never on this node: it missed entries after `since` (trimmed from the
	 *                log before it read them): answer resume_failed "expired".
	 * Cheap (no I/O); loop thread. NULL for a log whose entries come out in this process
	 * as they go in (never behind): call nlog_behind().
	 */
	int (*behind)(const nlog *l, log_id since);
} nlog_ops;

enum { NLOG_SERVE = 0, NLOG_BEHIND = 1, NLOG_MISSED = 2 };

/* Every log starts with this header. */
struct nlog {
	const nlog_ops *ops;
	char epoch[24]; /* names the log: [0-9a-f], changes exactly when the log was reset */
	const char *name;
	uint64_t duplicates; /* appends dropped for an id taken within the window */
	uint64_t resets;     /* epoch changes since the start: the log lost entries */
	uint64_t gaps;       /* times this node found entries trimmed before it read them */
};

/* l->ops->behind(l, since), or NLOG_SERVE when the log has none. */
static inline int nlog_behind(const nlog *l, log_id since)
{
	return l->ops->behind ? l->ops->behind(l, since) : NLOG_SERVE;
}

void nlog_entry_free(nlog_entry *e);

/* The embedded log (memlog.c): a new random epoch, positions from the real-time clock, ids
 * remembered for `dedup_window_ms` (0: no de-duplication). */
int memlog_create(int64_t dedup_window_ms, nlog **out);

/* The embedded log the config asks for (disklog.c): on disk in storage.dir, or memlog's with
 * `storage: memory`. At start it cuts a torn or corrupt tail (logged at warn), takes the epoch
 * and the last position back, re-learns the ids of the last ingest.dedup_window and hands out
 * first, with ingest_ns 0, what the history keeps (the last history.ttl). 0 or a negative
 * HERALD_E*, err set. */
struct herald_config;
int disklog_create(const struct herald_config *cfg, nlog **out, char *err, size_t errlen);

#endif
