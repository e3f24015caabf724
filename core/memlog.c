/* memlog.c - the embedded notification log (see nlog.h): positions come from the real-time
 * clock (never going back), appends are acknowledged at once, and entries come back in the
 * order they were appended. Nothing outlives the process: a new epoch at every start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "clock.h"
#include "dedup.h"
#include "fifo.h"
#include "herald/plugin.h"
#include "nlog.h"

/* Most ids remembered (about 200 bytes each): a window of 10 minutes at 1,600 events/s. */
#define DEDUP_IDS_MAX 1000000

typedef struct memlog {
	nlog base;
	dedup *ids; /* NULL: no de-duplication */
	log_id last;
	int stopped;
	nlog_entry *entries; /* appended, not yet polled: a FIFO in a growable array */
	size_t e_head, e_len, e_cap;
	nlog_ack *acks;
	size_t a_head, a_len, a_cap;
} memlog;

void nlog_entry_free(nlog_entry *e)
{
	free(e->payload);
	route_free(&e->route);
	e->payload = NULL;
}

static int memlog_start(nlog *l)
{
	(void)l;
	return 0;
}

static int memlog_append(nlog *l, char *payload, size_t len, const route *r, const char *id,
                         size_t id_len, uint32_t source, uint64_t tag, int64_t ingest_ns)
{
	memlog *m = (memlog *)l;
	nlog_entry *e;
	int dup = 0;

	if (m->stopped) {
		free(payload);
		return HERALD_ESHUTDOWN;
	}
	if (fifo_reserve((void **)&m->entries, sizeof *m->entries, &m->e_head, m->e_len,
	                 &m->e_cap) != 0 ||
	    fifo_reserve((void **)&m->acks, sizeof *m->acks, &m->a_head, m->a_len, &m->a_cap) !=
	        0) {
		free(payload);
		return HERALD_ENOMEM;
	}
	if (id && m->ids && (dup = dedup_check(m->ids, id, id_len, clock_real_ms())) != 0) {
		free(payload);
		if (dup < 0)
			return dup;
		m->base.duplicates++;
		m->acks[m->a_head + m->a_len++] = (nlog_ack){.source = source, .tag = tag};
		return 0;
	}
	e = &m->entries[m->e_head + m->e_len];
	if (route_copy(r, &e->route) != 0) {
		free(payload);
		return HERALD_ENOMEM;
	}
	m->last = pos_next(m->last, (uint64_t)clock_real_ms());
	e->id = m->last;
	e->payload = payload;
	e->len = len;
	e->ingest_ns = ingest_ns;
	m->e_len++;
	m->acks[m->a_head + m->a_len++] = (nlog_ack){.source = source, .tag = tag, .status = 0};
	return 0;
}

static size_t memlog_poll_acks(nlog *l, nlog_ack *out, size_t max)
{
	memlog *m = (memlog *)l;
	return fifo_take(m->acks, sizeof *m->acks, &m->a_head, &m->a_len, m->a_len, out, max);
}

static size_t memlog_poll_entries(nlog *l, nlog_entry *out, size_t max)
{
	memlog *m = (memlog *)l;
	return fifo_take(m->entries, sizeof *m->entries, &m->e_head, &m->e_len, m->e_len, out, max);
}

static int memlog_healthy(const nlog *l)
{
	(void)l;
	return 1;
}

static void memlog_stop(nlog *l)
{
	((memlog *)l)->stopped = 1;
}

static void memlog_destroy(nlog *l)
{
	memlog *m = (memlog *)l;

	if (!m)
		return;
	for (size_t i = 0; i < m->e_len; i++)
		nlog_entry_free(&m->entries[m->e_head + i]);
	free(m->entries);
	free(m->acks);
	dedup_destroy(m->ids);
	free(m);
}

static const nlog_ops memlog_ops = {
    .start = memlog_start,
    .append = memlog_append,
    .poll_acks = memlog_poll_acks,
    .poll_entries = memlog_poll_entries,
    .healthy = memlog_healthy,
    .stop = memlog_stop,
    .destroy = memlog_destroy,
    /* .behind NULL: entries come out of this process as they go in, never behind */
};

int memlog_create(int64_t dedup_window_ms, nlog **out)
{
	memlog *m = calloc(1, sizeof *m);
	unsigned char rnd[8] = {0};

	if (!m || (dedup_window_ms && dedup_create(dedup_window_ms, DEDUP_IDS_MAX, &m->ids) != 0)) {
		free(m);
		return HERALD_ENOMEM;
	}
	m->base.ops = &memlog_ops;
	m->base.name = "memory";
	/* A new random epoch: positions of an earlier run are recognised as void. */
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		int64_t t = clock_real_ms();
		memcpy(rnd, &t, sizeof rnd);
	}
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(m->base.epoch + 2 * i, 3, "%02x", rnd[i]);
	*out = &m->base;
	return 0;
}
