/*
 * cluster_log.c - the cluster (cluster.c) as the hub's notification log (nlog.h), on the loop
 * thread: the newest entries read at start come out first, then what the reader hands on. An
 * epoch item switches nlog.epoch between two polls, never within one (the hub formats a
 * poll's entries with the epoch it finds after it); a gap raises the floor under which
 * positions are NLOG_MISSED; `behind` compares a client's position with the newest one
 * delivered.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cluster.h"
#include "herald/plugin.h"
#include "log.h"
#include "metrics.h"

enum { HELD_MAX = 64 };

typedef struct redislog {
	nlog base;
	cluster *c;
	void (*wake)(void *arg); /* the loop's, to come back for what a poll left */
	void *arg;
	cluster_entry *warm; /* the newest entries read at start, handed out first */
	size_t n_warm, warm_at;
	log_id start; /* the newest id of the log at start: the reader goes on after it */
	cluster_entry held[HELD_MAX]; /* polled from the cluster, not yet handed out */
	size_t held_at, held_n;
	log_id delivered; /* the newest position handed out (an epoch's marker included) */
	log_id floor;     /* positions before it are NLOG_MISSED */
} redislog;

static int redislog_start(nlog *l)
{
	return cluster_start(((redislog *)l)->c);
}

static int redislog_append(nlog *l, char *payload, size_t len, const route *r, const char *id,
                           size_t id_len, uint32_t source, uint64_t tag, int64_t ingest_ns)
{
	char *text;
	int rc = route_format(r, &text);

	(void)ingest_ns; /* the entry comes back through Redis: latency counts from there */
	if (rc == 0)
		rc =
		    cluster_append(((redislog *)l)->c, payload, len, text, id, id_len, source, tag);
	free(text);
	free(payload);
	return rc;
}

static size_t redislog_poll_acks(nlog *l, nlog_ack *out, size_t max)
{
	cluster_ack acks[256];
	size_t n = cluster_poll_acks(((redislog *)l)->c, acks, max < 256 ? max : 256);

	for (size_t i = 0; i < n; i++) {
		out[i] = (nlog_ack){acks[i].source, acks[i].tag, acks[i].status};
		l->duplicates += (uint64_t)acks[i].duplicate;
	}
	return n;
}

/* Move a cluster entry into an nlog entry; 0, or HERALD_EINVAL for a bad route (logged). */
static int redislog_take(cluster_entry *e, nlog_entry *out, int64_t ingest_ns)
{
	int rc = route_parse(e->route, &out->route);

	if (rc != 0) {
		LOG_ERROR("log entry %" PRIu64 "-%" PRIu64 " not delivered: bad route \"%.64s\"",
		          e->id.ms, e->id.seq, e->route);
		cluster_entry_free(e);
		return rc;
	}
	out->id = e->id;
	out->payload = e->payload;
	out->len = e->len;
	out->ingest_ns = ingest_ns;
	free(e->route);
	return 0;
}

/* Applies an epoch or gap item at the head of what is held. */
static void redislog_mark(redislog *rl, cluster_entry *e)
{
	char id[48];

	snprintf(id, sizeof id, "%" PRIu64 "-%" PRIu64, e->id.ms, e->id.seq);
	if (e->kind == CLUSTER_EPOCH && strcmp(e->payload, rl->base.epoch)) {
		LOG_WARN("cluster: the log lost entries: epoch %s from entry %s on (was %s); "
		         "resumes from the old epoch are answered resume_failed reset",
		         e->payload, id, rl->base.epoch);
		snprintf(rl->base.epoch, sizeof rl->base.epoch, "%s", e->payload);
		rl->base.resets++;
		rl->delivered = e->id;
		rl->floor = (log_id){0, 0};
	} else if (e->kind == CLUSTER_GAP) {
		LOG_WARN("cluster: entries before %s were trimmed from the log before this node "
		         "read them (cluster.log_max is too small for how far it fell behind); "
		         "resumes from before are answered resume_failed expired",
		         id);
		rl->base.gaps++;
		if (log_id_cmp(e->id, rl->floor) > 0)
			rl->floor = e->id;
	}
	cluster_entry_free(e);
}

static size_t redislog_poll_entries(nlog *l, nlog_entry *out, size_t max)
{
	redislog *rl = (redislog *)l;
	size_t n = 0;

	while (n < max && rl->warm_at < rl->n_warm) {
		log_id id = rl->warm[rl->warm_at].id;
		if (redislog_take(&rl->warm[rl->warm_at++], &out[n], 0) == 0) {
			rl->delivered = id;
			n++;
		}
		if (rl->warm_at == rl->n_warm && log_id_cmp(rl->start, rl->delivered) > 0)
			rl->delivered = rl->start;
	}
	while (n < max) {
		if (rl->held_at == rl->held_n) {
			rl->held_at = 0;
			if (!(rl->held_n = cluster_poll_entries(rl->c, rl->held, HELD_MAX)))
				break;
		}
		cluster_entry *e = &rl->held[rl->held_at];
		if (e->kind == CLUSTER_ENTRY) {
			log_id id = e->id;
			rl->held_at++;
			if (redislog_take(e, &out[n], clock_mono_ns()) == 0) {
				rl->delivered = id;
				n++;
			}
		} else if (e->kind == CLUSTER_EPOCH && n) {
			/* The entries of a poll are delivered at the epoch of the poll's end:
			 * switch at the next one, and have the loop come back for it. */
			rl->wake(rl->arg);
			break;
		} else {
			rl->held_at++;
			redislog_mark(rl, e);
		}
	}
	return n;
}

static int redislog_healthy(const nlog *l)
{
	return cluster_healthy(((const redislog *)l)->c);
}

static void redislog_stop(nlog *l)
{
	cluster_stop(((redislog *)l)->c);
}

static void redislog_destroy(nlog *l)
{
	redislog *rl = (redislog *)l;

	if (!rl)
		return;
	while (rl->warm_at < rl->n_warm)
		cluster_entry_free(&rl->warm[rl->warm_at++]);
	while (rl->held_at < rl->held_n)
		cluster_entry_free(&rl->held[rl->held_at++]);
	free(rl->warm);
	cluster_destroy(rl->c);
	metrics_log_attach(NULL);
	free(rl);
}

static int redislog_behind(const nlog *l, log_id since)
{
	const redislog *rl = (const redislog *)l;

	if (log_id_cmp(since, rl->floor) < 0)
		return NLOG_MISSED;
	if (rl->warm_at < rl->n_warm || log_id_cmp(since, rl->delivered) > 0)
		return NLOG_BEHIND;
	return NLOG_SERVE;
}

static const nlog_ops redislog_ops = {
    .start = redislog_start,
    .append = redislog_append,
    .poll_acks = redislog_poll_acks,
    .poll_entries = redislog_poll_entries,
    .healthy = redislog_healthy,
    .stop = redislog_stop,
    .destroy = redislog_destroy,
    .behind = redislog_behind,
};

int cluster_log_create(const herald_config *cfg, void (*wake)(void *arg), void *arg, nlog **out,
                       char *err, size_t errlen)
{
	redislog *rl = calloc(1, sizeof *rl);
	int rc;

	if (!rl)
		return HERALD_ENOMEM;
	rc = cluster_create(cfg, wake, arg, &rl->c, &rl->warm, &rl->n_warm, err, errlen);
	if (rc) {
		free(rl);
		return rc;
	}
	rl->base.ops = &redislog_ops;
	rl->base.name = "redis";
	rl->wake = wake;
	rl->arg = arg;
	rl->start = cluster_start_id(rl->c);
	if (!rl->n_warm)
		rl->delivered = rl->start;
	snprintf(rl->base.epoch, sizeof rl->base.epoch, "%s", cluster_epoch(rl->c));
	LOG_INFO("cluster: log %s at %s, epoch %s, %zu notifications to read into the history",
	         cfg->cluster_log, cluster_where(rl->c), rl->base.epoch, rl->n_warm);
	metrics_log_attach(&rl->base); /* herald_log_resets_total, herald_log_gaps_total */
	*out = &rl->base;
	return 0;
}
