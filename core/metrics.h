/* metrics.h - the hub's counters in the Prometheus text format (GET /metrics). */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H

#include <stddef.h>

#include "hub.h"

/* The exposition text (malloc'd, NUL-terminated; length in *len), or NULL on ENOMEM. */
char *metrics_render(hub *h, size_t *len);

#endif
