/* ingest.c - see ingest.h. The queue of events from the sources to the loop, on queue.c: what
 * it adds is the item type and that events left in it at the end are freed. */
#include "ingest.h"

#include <stdlib.h>

#include "herald/plugin.h"
#include "queue.h"

struct ingest {
	queue *q;
};

int ingest_create(size_t capacity, void (*wake)(void *arg), void *arg, ingest **out)
{
	ingest *in = calloc(1, sizeof *in);

	if (!in || queue_create(capacity, sizeof(ingest_item), wake, arg, &in->q) != 0) {
		free(in);
		return HERALD_ENOMEM;
	}
	*out = in;
	return 0;
}

int ingest_push_many(ingest *in, const ingest_item *items, size_t n)
{
	return queue_push(in->q, items, n);
}

int ingest_push(ingest *in, const ingest_item *item)
{
	return queue_push(in->q, item, 1);
}

size_t ingest_capacity(const ingest *in)
{
	return queue_capacity(in->q);
}

size_t ingest_drain(ingest *in, ingest_item *out, size_t max)
{
	return queue_drain(in->q, out, max);
}

size_t ingest_depth(ingest *in)
{
	return queue_depth(in->q);
}

void ingest_pause(ingest *in, int paused)
{
	queue_pause(in->q, paused);
}

void ingest_close(ingest *in)
{
	queue_close(in->q);
}

static void ingest_free_item(void *item)
{
	event_free(((ingest_item *)item)->ev);
}

void ingest_destroy(ingest *in)
{
	if (!in)
		return;
	queue_destroy(in->q, ingest_free_item);
	free(in);
}
