/* hfifo.c - see hfifo.h. */
#include "hfifo.h"

#include <stdlib.h>

#include "herald/plugin.h"

int hfifo_init(hfifo *t)
{
	*t = (hfifo){.buckets = calloc(64, sizeof *t->buckets), .n_buckets = 64};
	return t->buckets ? 0 : HERALD_ENOMEM;
}

static int hfifo_grow(hfifo *t)
{
	size_t n = t->n_buckets * 2;
	hfifo_node **b = calloc(n, sizeof *b);

	if (!b)
		return HERALD_ENOMEM;
	for (hfifo_node *e = t->oldest; e; e = e->next) {
		e->chain = b[e->hash & (n - 1)];
		b[e->hash & (n - 1)] = e;
	}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = n;
	return 0;
}

int hfifo_push(hfifo *t, hfifo_node *n)
{
	hfifo_node **bucket;

	if (t->count >= t->n_buckets && hfifo_grow(t) != 0)
		return HERALD_ENOMEM;
	bucket = &t->buckets[n->hash & (t->n_buckets - 1)];
	n->chain = *bucket;
	*bucket = n;
	n->next = NULL;
	if (t->newest)
		t->newest->next = n;
	else
		t->oldest = n;
	t->newest = n;
	t->count++;
	return 0;
}

hfifo_node *hfifo_pop(hfifo *t)
{
	hfifo_node *n = t->oldest, **at;

	if (!n)
		return NULL;
	for (at = &t->buckets[n->hash & (t->n_buckets - 1)]; *at != n;)
		at = &(*at)->chain;
	*at = n->chain;
	t->oldest = n->next;
	if (!t->oldest)
		t->newest = NULL;
	t->count--;
	return n;
}

void hfifo_free(hfifo *t)
{
	free(t->buckets);
	t->buckets = NULL;
}
