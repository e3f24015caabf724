/* dedup.c - see dedup.h. A chained hash table of ids whose entries are also on a FIFO list in
 * the order they were recorded, so expiry (and eviction at `max`) pops from its head. */
#include "dedup.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "herald/plugin.h"

typedef struct entry {
	struct entry *chain; /* the next entry of its bucket */
	struct entry *next;  /* the next recorded after it */
	uint64_t hash;
	int64_t at_ms;
	uint8_t len;
	char id[];
} entry;

struct dedup {
	hash_key key;
	entry **buckets; /* a power of two, at least as many as entries */
	size_t n_buckets, count, max;
	int64_t window_ms;
	entry *oldest, *newest;
};

int dedup_create(int64_t window_ms, size_t max, dedup **out)
{
	dedup *d = calloc(1, sizeof *d);

	if (!d || !(d->buckets = calloc(64, sizeof *d->buckets))) {
		free(d);
		return HERALD_ENOMEM;
	}
	hash_key_random(&d->key);
	d->n_buckets = 64;
	d->window_ms = window_ms;
	d->max = max ? max : 1;
	*out = d;
	return 0;
}

static void dedup_unlink_oldest(dedup *d)
{
	entry *e = d->oldest, **at = &d->buckets[e->hash & (d->n_buckets - 1)];

	while (*at != e)
		at = &(*at)->chain;
	*at = e->chain;
	d->oldest = e->next;
	if (!d->oldest)
		d->newest = NULL;
	d->count--;
	free(e);
}

static int dedup_grow(dedup *d)
{
	size_t n = d->n_buckets * 2;
	entry **b = calloc(n, sizeof *b);

	if (!b)
		return HERALD_ENOMEM;
	for (entry *e = d->oldest; e; e = e->next) {
		e->chain = b[e->hash & (n - 1)];
		b[e->hash & (n - 1)] = e;
	}
	free(d->buckets);
	d->buckets = b;
	d->n_buckets = n;
	return 0;
}

int dedup_check(dedup *d, const char *id, size_t len, int64_t now_ms)
{
	uint64_t h = hash_bytes(&d->key, id, len);
	entry *e;

	while (d->oldest && d->oldest->at_ms <= now_ms - d->window_ms)
		dedup_unlink_oldest(d);
	for (e = d->buckets[h & (d->n_buckets - 1)]; e; e = e->chain)
		if (e->hash == h && e->len == len && memcmp(e->id, id, len) == 0)
			return 1;
	if (len == 0 || len > DEDUP_ID_MAX)
		return 0; /* not an id: nothing to remember */
	while (d->count >= d->max)
		dedup_unlink_oldest(d);
	if (d->count >= d->n_buckets && dedup_grow(d) != 0)
		return HERALD_ENOMEM;
	if (!(e = malloc(sizeof *e + len)))
		return HERALD_ENOMEM;
	e->hash = h;
	e->at_ms = now_ms;
	e->len = (uint8_t)len;
	memcpy(e->id, id, len);
	e->next = NULL;
	e->chain = d->buckets[h & (d->n_buckets - 1)];
	d->buckets[h & (d->n_buckets - 1)] = e;
	if (d->newest)
		d->newest->next = e;
	else
		d->oldest = e;
	d->newest = e;
	d->count++;
	return 0;
}

size_t dedup_count(const dedup *d)
{
	return d->count;
}

void dedup_destroy(dedup *d)
{
	if (!d)
		return;
	while (d->oldest)
		dedup_unlink_oldest(d);
	free(d->buckets);
	free(d);
}
