/* metrics.h - the hub's counters in the Prometheus text format (GET /metrics). */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H

#include <stddef.h>

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
	uint64_t duplicates; /* appends the log dropped for an id it took within the window */
} metrics_sources;

/* The exposition text (malloc'd, NUL-terminated; length in *len), or NULL on ENOMEM. */
char *metrics_render(const metrics_sources *src, size_t *len);

#endif
