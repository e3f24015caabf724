/*
 * plugin_loader.h - loading source plugins (dlopen), checking their ABI, running their
 * lifecycle, and the host functions they call (submit, log, options).
 */
#ifndef HERALD_PLUGIN_LOADER_H
#define HERALD_PLUGIN_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ingest.h"

typedef struct plugin_set plugin_set;

/*
 * dlopen every plugin of cfg, check its ABI number and size, check its options against its
 * schema, and create() it. A descriptor shorter than the core's herald_plugin (down to
 * HERALD_PLUGIN_MIN_SIZE) is accepted, its missing fields taken as NULL. Accepted events go to `q`.
 * On failure nothing stays loaded and err names the file and the reason, e.g. "plugins/x.so: built
 * for ABI 42, core speaks 1". Events larger than server.max_notification_size are refused;
 * `max_body` bounds the JSON text of one submit_many() call.
 */
int plugin_loader_open(const herald_config *cfg, ingest *q, size_t max_body, plugin_set **out,
                       char *err, size_t errlen);

/* start() every plugin in order; on the first failure stops those already started. */
int plugin_loader_start(plugin_set *ps, char *err, size_t errlen);

/* stop() every started plugin, in reverse order. Their threads are joined on return. */
void plugin_loader_stop(plugin_set *ps);

/* Deliver one acknowledgement to plugin `source` (loop thread). */
void plugin_loader_ack(plugin_set *ps, uint32_t source, uint64_t tag, int status);

/* How many plugins there are. */
size_t plugin_loader_count(const plugin_set *ps);

/* Events plugin `source` submitted: accepted, refused as invalid, refused for a full queue. */
void plugin_loader_stats(plugin_set *ps, uint32_t source, uint64_t *accepted, uint64_t *invalid,
                         uint64_t *full);

/* The name of plugin `source`, for logs and metrics. */
const char *plugin_loader_name(const plugin_set *ps, uint32_t source);

/* destroy() every plugin and dlclose it. Accepts NULL. */
void plugin_loader_close(plugin_set *ps);

#endif
