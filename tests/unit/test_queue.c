/* Unit tests of queue.c beyond what test_ingest covers: items of any size, a consumer thread
 * waiting for items (queue_wait), a producer waiting for room (queue_push_wait), and close
 * ending both waits. */
#include "queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "herald/plugin.h"

typedef struct item {
	uint64_t n;
	char pad[13]; /* an odd size */
} item;

enum { COUNT = 100000 };

static atomic_int wakes;

static void on_wake(void *arg)
{
	(void)arg;
	atomic_fetch_add(&wakes, 1);
}

/* Pushes 1..COUNT, waiting for room, in bursts of 1 to 7. */
static void *producer(void *arg)
{
	queue *q = arg;
	item v[7] = {0};
	uint64_t n = 1;

	while (n <= COUNT) {
		size_t k = 1 + n % 7;
		for (size_t i = 0; i < k; i++)
			v[i].n = n + i <= COUNT ? n + i : 0;
		k = n + k - 1 <= COUNT ? k : COUNT - n + 1;
		if (queue_push_wait(q, v, k) != 0)
			return (void *)1;
		n += k;
	}
	return NULL;
}

static void *consumer(void *arg)
{
	queue *q = arg;
	item v[5];
	uint64_t want = 1;
	size_t n;

	while ((n = queue_wait(q, v, 5)) > 0)
		for (size_t i = 0; i < n; i++)
			if (v[i].n != want++)
				return (void *)1;
	return want == COUNT + 1 ? NULL : (void *)1;
}

static void test_threads(void)
{
	queue *q;
	pthread_t p, c;
	void *pr, *cr;

	CHECK_INT(queue_create(16, sizeof(item), NULL, NULL, &q), 0);
	pthread_create(&c, NULL, consumer, q);
	pthread_create(&p, NULL, producer, q);
	pthread_join(p, &pr);
	CHECK(pr == NULL);
	/* the consumer takes what is left, then its wait ends with the close */
	while (queue_depth(q))
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	queue_close(q);
	pthread_join(c, &cr);
	CHECK(cr == NULL);
	queue_destroy(q, NULL);
}

static void *blocked_push(void *arg)
{
	item v = {.n = 9};
	return (void *)(intptr_t)queue_push_wait(arg, &v, 1);
}

static void test_close_ends_waits(void)
{
	queue *q;
	pthread_t t;
	void *rc;
	item v[2] = {{.n = 1}, {.n = 2}};

	CHECK_INT(queue_create(2, sizeof(item), on_wake, NULL, &q), 0);
	CHECK_INT(queue_push(q, v, 2), 0);
	CHECK_INT(atomic_load(&wakes), 1);
	CHECK_INT(queue_push(q, v, 1), HERALD_EFULL);
	pthread_create(&t, NULL, blocked_push, q);
	nanosleep(&(struct timespec){0, 50000000}, NULL);
	queue_close(q);
	pthread_join(t, &rc);
	CHECK_INT((intptr_t)rc, HERALD_ESHUTDOWN);
	CHECK_INT(queue_push(q, v, 1), HERALD_ESHUTDOWN);
	/* items queued before the close still come out, then the wait returns 0 */
	CHECK_INT(queue_wait(q, v, 2), 2);
	CHECK_INT(v[0].n, 1);
	CHECK_INT(v[1].n, 2);
	CHECK_INT(queue_wait(q, v, 2), 0);
	queue_destroy(q, NULL);
}

int main(void)
{
	test_threads();
	test_close_ends_waits();
	return check_done();
}
