/*
 * fifo.h - a first-in first-out array of fixed-size items that grows by doubling: the acks and
 * entries the embedded logs (memlog.c, disklog.c) hold between an append and the loop's poll.
 * The caller keeps the array and its counts: items[head .. head + len) are live, cap
 * allocated. Loop thread only.
 */
#ifndef HERALD_FIFO_H
#define HERALD_FIFO_H

#include <stddef.h>

/* Make room for one more `size`-byte item at items[head + len] (sliding the live items to the
 * front, or doubling the array). 0 or HERALD_ENOMEM. */
int fifo_reserve(void **items, size_t size, size_t *head, size_t len, size_t *cap);

/* Move up to `max` of the oldest items, and no more than `ready` of them, into out[]; returns
 * how many (head and len move on; ready is the caller's to lower). */
size_t fifo_take(void *items, size_t size, size_t *head, size_t *len, size_t ready, void *out,
                 size_t max);

#endif
