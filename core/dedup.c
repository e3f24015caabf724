/* dedup.c - see dedup.h. The ids are an hfifo.c table in the order they were recorded, so
 * expiry (and eviction at `max`) pops the oldest. */
#include "dedup.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "herald/plugin.h"
#include "hfifo.h"

typedef struct entry {
	hfifo_node node; /* first: the table's */
	int64_t at_ms;
	uint8_t len;
	char id[];
} entry;

struct dedup {
	hash_key key;
	hfifo ids;
	size_t max;
	int64_t window_ms;
};

int dedup_create(int64_t window_ms, size_t max, dedup **out)
{
	dedup *d = calloc(1, sizeof *d);

	if (!d || hfifo_init(&d->ids) != 0) {
		free(d);
		return HERALD_ENOMEM;
	}
	hash_key_random(&d->key);
	d->window_ms = window_ms;
	d->max = max ? max : 1;
	*out = d;
	return 0;
}

int dedup_check(dedup *d, const char *id, size_t len, int64_t now_ms)
{
	uint64_t h = hash_bytes(&d->key, id, len);
	entry *e;

	while (d->ids.oldest && ((entry *)d->ids.oldest)->at_ms <= now_ms - d->window_ms)
		free(hfifo_pop(&d->ids));
	for (hfifo_node *n = hfifo_bucket(&d->ids, h); n; n = n->chain) {
		e = (entry *)n;
		if (n->hash == h && e->len == len && memcmp(e->id, id, len) == 0)
			return 1;
	}
	if (len == 0 || len > DEDUP_ID_MAX)
		return 0; /* not an id: nothing to remember */
	while (d->ids.count >= d->max)
		free(hfifo_pop(&d->ids));
	if (!(e = malloc(sizeof *e + len)))
		return HERALD_ENOMEM;
	e->node.hash = h;
	e->at_ms = now_ms;
	e->len = (uint8_t)len;
	memcpy(e->id, id, len);
	if (hfifo_push(&d->ids, &e->node) != 0) {
		free(e);
		return HERALD_ENOMEM;
	}
	return 0;
}

size_t dedup_count(const dedup *d)
{
	return d->ids.count;
}

void dedup_destroy(dedup *d)
{
	if (!d)
		return;
	while (d->ids.oldest)
		free(hfifo_pop(&d->ids));
	hfifo_free(&d->ids);
	free(d);
}
