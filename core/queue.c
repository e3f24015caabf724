/* queue.c - see queue.h. */
#include "queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "herald/plugin.h"

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t items, room; /* signalled on push / on drain and close */
	unsigned char *ring;
	size_t size, cap, head, len;
	int wake_pending, closed, paused;
	void (*wake)(void *arg);
	void *arg;
};

int queue_create(size_t capacity, size_t item_size, void (*wake)(void *arg), void *arg, queue **out)
{
	queue *q = calloc(1, sizeof *q);

	if (!q || !capacity || !(q->ring = calloc(capacity, item_size))) {
		free(q);
		return HERALD_ENOMEM;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->items, NULL);
	pthread_cond_init(&q->room, NULL);
	q->size = item_size;
	q->cap = capacity;
	q->wake = wake;
	q->arg = arg;
	*out = q;
	return 0;
}

/* Copies n items in at the tail; the lock is held and they fit. Returns 1 when the consumer
 * is to be woken. */
static int queue_put(queue *q, const void *items, size_t n)
{
	const unsigned char *src = items;
	int wake;

	for (size_t i = 0; i < n; i++)
		memcpy(q->ring + (q->head + q->len + i) % q->cap * q->size, src + i * q->size,
		       q->size);
	q->len += n;
	pthread_cond_signal(&q->items);
	wake = !q->wake_pending;
	q->wake_pending = 1;
	return wake;
}

/* queue_push (wait 0) and queue_push_wait (wait 1, which also ignores a pause). */
static int queue_add(queue *q, const void *items, size_t n, int wait)
{
	int wake = 0, rc = 0;

	pthread_mutex_lock(&q->lock);
	while (wait && !q->closed && n > q->cap - q->len)
		pthread_cond_wait(&q->room, &q->lock);
	if (q->closed)
		rc = HERALD_ESHUTDOWN;
	else if ((q->paused && !wait) || n > q->cap - q->len)
		rc = HERALD_EFULL;
	else if (n)
		wake = queue_put(q, items, n);
	pthread_mutex_unlock(&q->lock);
	/* Outside the lock: the wake-up may take the consumer's own locks. */
	if (wake && q->wake)
		q->wake(q->arg);
	return rc;
}

int queue_push(queue *q, const void *items, size_t n)
{
	return queue_add(q, items, n, 0);
}

int queue_push_wait(queue *q, const void *items, size_t n)
{
	return queue_add(q, items, n, 1);
}

/* Moves up to max items out; the lock is held. */
static size_t queue_take(queue *q, void *out, size_t max)
{
	unsigned char *dst = out;
	size_t n = 0;

	for (; n < max && q->len; n++, q->len--) {
		memcpy(dst + n * q->size, q->ring + q->head * q->size, q->size);
		q->head = (q->head + 1) % q->cap;
	}
	if (!q->len)
		q->wake_pending = 0;
	if (n)
		pthread_cond_broadcast(&q->room);
	return n;
}

size_t queue_drain(queue *q, void *out, size_t max)
{
	pthread_mutex_lock(&q->lock);
	size_t n = queue_take(q, out, max);
	pthread_mutex_unlock(&q->lock);
	return n;
}

size_t queue_wait(queue *q, void *out, size_t max)
{
	pthread_mutex_lock(&q->lock);
	while (!q->len && !q->closed)
		pthread_cond_wait(&q->items, &q->lock);
	size_t n = queue_take(q, out, max);
	pthread_mutex_unlock(&q->lock);
	return n;
}

size_t queue_depth(queue *q)
{
	pthread_mutex_lock(&q->lock);
	size_t n = q->len;
	pthread_mutex_unlock(&q->lock);
	return n;
}

size_t queue_capacity(const queue *q)
{
	return q->cap;
}

void queue_pause(queue *q, int paused)
{
	pthread_mutex_lock(&q->lock);
	q->paused = paused;
	pthread_mutex_unlock(&q->lock);
}

void queue_close(queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	pthread_cond_broadcast(&q->items);
	pthread_cond_broadcast(&q->room);
	pthread_mutex_unlock(&q->lock);
}

void queue_destroy(queue *q, void (*free_item)(void *item))
{
	if (!q)
		return;
	for (; free_item && q->len; q->len--, q->head = (q->head + 1) % q->cap)
		free_item(q->ring + q->head * q->size);
	pthread_cond_destroy(&q->items);
	pthread_cond_destroy(&q->room);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	free(q);
}
