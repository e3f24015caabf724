/*
 * ingest.h - the bounded queue that carries events from source threads to the event loop.
 *
 * A queue.c queue of events. Pushes come from any thread; the loop drains. A push that turns
 * the queue from empty to non-empty calls `wake` once (coalesced), which the hub points at
 * lws_cancel_service().
 */
#ifndef HERALD_INGEST_H
#define HERALD_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

typedef struct ingest_item {
	event *ev;         /* owned by the queue while queued, then by whoever drained it */
	uint32_t source;   /* index of the submitting plugin */
	uint64_t tag;      /* the plugin's tag, passed back in its ack */
	int64_t queued_ns; /* CLOCK_MONOTONIC time of the push */
} ingest_item;

typedef struct ingest ingest;

/* A queue of at most `capacity` events. `wake(arg)` is called, from the pushing thread,
 * when a push finds no wake-up pending. */
int ingest_create(size_t capacity, void (*wake)(void *arg), void *arg, ingest **out);

/* Queue *item (taking ownership of item->ev). Thread-safe, never blocks for long.
 * Returns 0, HERALD_EFULL (nothing queued) or HERALD_ESHUTDOWN (closed). */
int ingest_push(ingest *q, const ingest_item *item);

/* Queue n items at once, all or none (HERALD_EFULL when they do not all fit). */
int ingest_push_many(ingest *q, const ingest_item *items, size_t n);

/* The queue's capacity. */
size_t ingest_capacity(const ingest *q);

/* Move up to `max` items, oldest first, into out[]. Returns how many. When it leaves the queue
 * empty, the next push wakes the loop again; when it does not, the caller must come back
 * (the hub wakes itself). Loop thread only. */
size_t ingest_drain(ingest *q, ingest_item *out, size_t max);

/* Events currently queued. */
size_t ingest_depth(ingest *q);

/* While paused, pushes are refused with HERALD_EFULL (sources back off and retry): the hub
 * pauses intake while it cannot log what it would accept. Thread-safe. */
void ingest_pause(ingest *q, int paused);

/* Refuse further pushes (HERALD_ESHUTDOWN). Queued items stay to be drained. */
void ingest_close(ingest *q);

/* Frees the queue and any events still in it. */
void ingest_destroy(ingest *q);

#endif
