/* ingest.c - see ingest.h. A mutex-protected ring: pushes are short, so a lock is cheaper and
 * simpler than a lock-free queue at the rates sources produce. */
#include "ingest.h"

#include <pthread.h>
#include <stdlib.h>

#include "herald/plugin.h"

struct ingest {
	pthread_mutex_t lock;
	ingest_item *ring;
	size_t cap, head, len;
	int wake_pending, closed, paused;
	void (*wake)(void *arg);
	void *arg;
};

int ingest_create(size_t capacity, void (*wake)(void *arg), void *arg, ingest **out)
{
	ingest *q = calloc(1, sizeof *q);
	if (!q)
		return HERALD_ENOMEM;
	q->ring = calloc(capacity, sizeof *q->ring);
	if (!q->ring) {
		free(q);
		return HERALD_ENOMEM;
	}
	pthread_mutex_init(&q->lock, NULL);
	q->cap = capacity;
	q->wake = wake;
	q->arg = arg;
	*out = q;
	return 0;
}

int ingest_push_many(ingest *q, const ingest_item *items, size_t n)
{
	int wake = 0, rc = 0;

	pthread_mutex_lock(&q->lock);
	if (q->closed) {
		rc = HERALD_ESHUTDOWN;
	} else if (q->paused || n > q->cap - q->len) {
		rc = HERALD_EFULL;
	} else if (n) {
		for (size_t i = 0; i < n; i++)
			q->ring[(q->head + q->len + i) % q->cap] = items[i];
		q->len += n;
		wake = !q->wake_pending;
		q->wake_pending = 1;
	}
	pthread_mutex_unlock(&q->lock);
	if (wake && q->wake)
		q->wake(q->arg);
	return rc;
}

int ingest_push(ingest *q, const ingest_item *item)
{
	return ingest_push_many(q, item, 1);
}

size_t ingest_capacity(const ingest *q)
{
	return q->cap;
}

size_t ingest_drain(ingest *q, ingest_item *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&q->lock);
	while (n < max && q->len) {
		out[n++] = q->ring[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
	}
	if (!q->len)
		q->wake_pending = 0;
	pthread_mutex_unlock(&q->lock);
	return n;
}

size_t ingest_depth(ingest *q)
{
	pthread_mutex_lock(&q->lock);
	size_t n = q->len;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void ingest_pause(ingest *q, int paused)
{
	pthread_mutex_lock(&q->lock);
	q->paused = paused;
	pthread_mutex_unlock(&q->lock);
}

void ingest_close(ingest *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	pthread_mutex_unlock(&q->lock);
}

void ingest_destroy(ingest *q)
{
	if (!q)
		return;
	for (; q->len; q->len--, q->head = (q->head + 1) % q->cap)
		event_free(q->ring[q->head].ev);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	free(q);
}
