/* Unit tests of ingest.c: bound, order, coalesced wake-ups, close, and pushes from threads. */
#include "ingest.h"

#include "herald/plugin.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check.h"

static atomic_int wakes;

static void count_wake(void *arg)
{
	(void)arg;
	atomic_fetch_add(&wakes, 1);
}

static event *new_event(void)
{
	event *ev;
	char err[128];
	const char *json = "{\"event_type\":\"x\",\"users\":[1]}";
	return event_parse(json, strlen(json), 0, &ev, err, sizeof err) == 0 ? ev : NULL;
}

static void test_bound_order_wake(void)
{
	ingest *q;
	ingest_item out[8];

	CHECK_INT(ingest_create(4, count_wake, NULL, &q), 0);
	for (uint64_t i = 1; i <= 4; i++)
		CHECK_INT(ingest_push(q, &(ingest_item){.ev = new_event(), .tag = i}), 0);
	CHECK_INT(atomic_load(&wakes), 1); /* one wake for the whole burst */
	event *extra = new_event();
	CHECK_INT(ingest_push(q, &(ingest_item){.ev = extra, .tag = 5}), HERALD_EFULL);
	event_free(extra);
	CHECK_INT(ingest_depth(q), 4);

	CHECK_INT(ingest_drain(q, out, 3), 3);
	CHECK_INT(out[0].tag, 1);
	CHECK_INT(out[2].tag, 3);
	for (int i = 0; i < 3; i++)
		event_free(out[i].ev);
	/* not drained empty: a push does not wake again (the loop comes back by itself) */
	CHECK_INT(ingest_push(q, &(ingest_item){.ev = new_event(), .tag = 6}), 0);
	CHECK_INT(atomic_load(&wakes), 1);
	CHECK_INT(ingest_drain(q, out, 8), 2);
	CHECK_INT(out[0].tag, 4);
	CHECK_INT(out[1].tag, 6);
	for (int i = 0; i < 2; i++)
		event_free(out[i].ev);
	/* drained empty: the next push wakes */
	CHECK_INT(ingest_push(q, &(ingest_item){.ev = new_event(), .tag = 7}), 0);
	CHECK_INT(atomic_load(&wakes), 2);

	ingest_close(q);
	extra = new_event();
	CHECK_INT(ingest_push(q, &(ingest_item){.ev = extra}), HERALD_ESHUTDOWN);
	event_free(extra);
	ingest_destroy(q); /* frees the event still queued */
}

enum { THREADS = 4, PER_THREAD = 5000 };

static void *pusher(void *arg)
{
	ingest *q = arg;
	for (uint64_t i = 0; i < PER_THREAD; i++) {
		event *ev = new_event();
		while (ingest_push(q, &(ingest_item){.ev = ev, .tag = i}) == HERALD_EFULL)
			;
	}
	return NULL;
}

static void test_threads(void)
{
	ingest *q;
	pthread_t t[THREADS];
	ingest_item out[64];
	size_t got = 0;

	CHECK_INT(ingest_create(64, NULL, NULL, &q), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, pusher, q);
	while (got < THREADS * PER_THREAD) {
		size_t n = ingest_drain(q, out, 64);
		for (size_t i = 0; i < n; i++)
			event_free(out[i].ev);
		got += n;
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(got, THREADS * PER_THREAD);
	CHECK_INT(ingest_depth(q), 0);
	ingest_destroy(q);
}

int main(void)
{
	test_bound_order_wake();
	test_threads();
	return check_done();
}
