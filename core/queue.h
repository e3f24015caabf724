/*
 * queue.h - the one cross-thread hand-off of the core: a bounded FIFO of fixed-size items
 * under a mutex, with a coalesced wake-up of a consumer that is not waiting on the queue.
 *
 * Pushes are short, so a lock is cheaper and simpler than a lock-free queue at the rates
 * sources produce. Two ways to consume:
 *   - the loop drains (queue_drain): a push that finds no wake-up pending calls `wake(arg)`
 *     once (the hub points it at lws_cancel_service()); a drain that leaves the queue empty
 *     re-arms it, one that does not leaves the caller to come back by itself;
 *   - a thread waits (queue_wait) until there are items or the queue is closed.
 * A producer may likewise wait for room (queue_push_wait) instead of being refused.
 * Used by ingest.c (sources to the loop) and cluster.c (appends to its writer, acks and
 * entries back to the loop).
 */
#ifndef HERALD_QUEUE_H
#define HERALD_QUEUE_H

#include <stddef.h>

typedef struct queue queue;

/* A queue of at most `capacity` items of `item_size` bytes. `wake` may be NULL. 0 or
 * HERALD_ENOMEM. */
int queue_create(size_t capacity, size_t item_size, void (*wake)(void *arg), void *arg,
                 queue **out);

/* Copies n items in, all or none. Thread-safe, never blocks for long. 0, HERALD_EFULL (no
 * room, or paused: nothing queued) or HERALD_ESHUTDOWN (closed). */
int queue_push(queue *q, const void *items, size_t n);

/* Like queue_push, but waits for room (n <= capacity) instead of HERALD_EFULL. 0 or
 * HERALD_ESHUTDOWN (closed before or while waiting: nothing queued). */
int queue_push_wait(queue *q, const void *items, size_t n);

/* Moves up to `max` items, oldest first, into out. Returns how many. See above for wake-ups. */
size_t queue_drain(queue *q, void *out, size_t max);

/* Like queue_drain, but first waits until the queue holds an item or is closed. Returns 0 only
 * when it is closed (items queued before the close are still handed out first). */
size_t queue_wait(queue *q, void *out, size_t max);

size_t queue_depth(queue *q);
size_t queue_capacity(const queue *q);

/* While paused, queue_push answers HERALD_EFULL. */
void queue_pause(queue *q, int paused);

/* Refuse further pushes (HERALD_ESHUTDOWN) and end every wait. Queued items stay to be
 * drained. */
void queue_close(queue *q);

/* Frees the queue, calling `free_item` (if not NULL) on each item still in it. */
void queue_destroy(queue *q, void (*free_item)(void *item));

#endif
