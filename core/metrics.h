/*
 * metrics.h - the hub's counters for GET /metrics: text that both the Prometheus text format
 * (0.0.4) and OpenMetrics 1.0 parsers accept (counter families named without `_total`, and
 * `# EOF` at the end).
 */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "formatter.h"
#include "ingest.h"
#include "plugin_loader.h"
#include "rooms.h"
#include "ws.h"

/* What the page shows, borrowed for one call. */
typedef struct metrics_sources {
	const ws_stats *ws;
	rooms *rooms;
	plugin_set *plugins;
	formatter *fmt;
	ingest *queue;
	uint64_t events_dropped;
	uint64_t duplicates;  /* appends the log dropped for an id it took within the window */
	const char *log_name; /* the notification log: "memory", "disk" or "redis" */
	int log_up;           /* the log takes appends */
	int reload_failed;    /* the last script reload failed */
	int64_t reload_ms;    /* when it was tried (real time, ms), 0: never */
	size_t limit_windows; /* notification_limit windows open (shown when limit_on) */
	uint64_t limit_held, limit_digests, limit_uncounted;
	int limit_on;
} metrics_sources;

/* The figures of the embedded log on disk (disklog.c), shown while one is open. */
typedef struct metrics_storage {
	uint64_t write_errors; /* writes or syncs of the log that failed (intake paused) */
	uint64_t bytes;        /* bytes of its segment files */
} metrics_storage;

/* Show `s` on the page (borrowed until detached with NULL). The disk log attaches itself, so
 * the hub needs not know which log it runs. Loop thread only. */
void metrics_storage_attach(const metrics_storage *s);

/* Show the resets and gaps of log `l` on the page (borrowed until detached with NULL): the
 * cluster log attaches itself, as the disk log does. Loop thread only. */
struct nlog;
void metrics_log_attach(const struct nlog *l);

/* The exposition text (malloc'd, NUL-terminated; length in *len), or NULL on ENOMEM. */
char *metrics_render(const metrics_sources *src, size_t *len);

#endif
