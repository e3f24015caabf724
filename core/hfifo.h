/*
 * hfifo.h - a chained hash table whose entries are also on a list in the order they were
 * added: found by their hash, removed oldest first. For sets whose entries expire in the order
 * they came (dedup.c's ids, limit.c's windows).
 *
 * Entries embed an hfifo_node as their first member; the table never allocates or frees them.
 * Loop thread only.
 */
#ifndef HERALD_HFIFO_H
#define HERALD_HFIFO_H

#include <stddef.h>
#include <stdint.h>

typedef struct hfifo_node {
	struct hfifo_node *chain; /* the next node of its bucket */
	struct hfifo_node *next;  /* the next node added after it */
	uint64_t hash;
} hfifo_node;

typedef struct hfifo {
	hfifo_node **buckets; /* a power of two, at least as many as nodes */
	size_t n_buckets, count;
	hfifo_node *oldest, *newest;
} hfifo;

/* An empty table. 0 or HERALD_ENOMEM. */
int hfifo_init(hfifo *t);

/* The first node of the bucket of `hash` (follow ->chain; compare ->hash, then the key). */
static inline hfifo_node *hfifo_bucket(const hfifo *t, uint64_t hash)
{
	return t->buckets[hash & (t->n_buckets - 1)];
}

/* Add `n` (its hash set) as the newest node. 0 or HERALD_ENOMEM (n is not added). */
int hfifo_push(hfifo *t, hfifo_node *n);

/* Remove the oldest node and return it; NULL when the table is empty. */
hfifo_node *hfifo_pop(hfifo *t);

/* Free the buckets (the caller pops and frees its nodes first). */
void hfifo_free(hfifo *t);

#endif
