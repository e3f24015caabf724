/* metrics.c - see metrics.h. Every series is described in core/README.md. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct text {
	char *p;
	size_t len, cap;
	int failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t space = t->cap - t->len;
		va_start(ap, fmt);
		n = t->failed ? 0 : vsnprintf(t->p ? t->p + t->len : NULL, space, fmt, ap);
		va_end(ap);
		if (t->failed || n < 0 || (size_t)n < space)
			break;
		char *bigger = realloc(t->p, t->cap = t->cap * 2 + (size_t)n + 1);
		if (!bigger) {
			t->failed = 1;
			return;
		}
		t->p = bigger;
	}
	if (!t->failed && n > 0)
		t->len += (size_t)n;
}

/* The HELP and TYPE lines of a family. */
static void family(text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP herald_%s %s\n# TYPE herald_%s %s\n", name, help, name, type);
}

char *metrics_render(const metrics_sources *src, size_t *len)
{
	static const char *const disc[DISC_COUNT] = {"slow_reader", "rate_limit", "message_too_big",
						     "token_expired"};
	static const char *const refused[REFUSE_COUNT] = {"auth", "server_full", "origin",
							  "user_limit"};
	static const double bounds[WS_LATENCY_BUCKETS] = WS_LATENCY_BOUNDS;
	const ws_stats *st = src->ws;
	const formatter_faults *faults;
	text t = {0};
	uint64_t cum = 0;
	size_t n;

	family(&t, "connections", "gauge", "Open WebSocket connections.");
	put(&t, "herald_connections %zu\n", st->connections);
	family(&t, "connections_total", "counter", "WebSocket connections accepted.");
	put(&t, "herald_connections_total %llu\n", (unsigned long long)st->connections_total);
	family(&t, "rooms", "gauge", "Rooms with members or history.");
	put(&t, "herald_rooms{kind=\"user\"} %zu\n", rooms_count(src->rooms, ROOM_USER));
	put(&t, "herald_rooms{kind=\"project\"} %zu\n", rooms_count(src->rooms, ROOM_PROJECT));
	rooms_usage ru = rooms_stats(src->rooms);
	family(&t, "rooms_bytes", "gauge", "Bytes of rooms and their history (history.max_bytes).");
	put(&t, "herald_rooms_bytes %zu\n", ru.bytes);
	family(&t, "rooms_max_bytes", "gauge", "The bound of herald_rooms_bytes (0: none).");
	put(&t, "herald_rooms_max_bytes %zu\n", ru.max_bytes);
	family(&t, "history_evictions_total", "counter",
	       "Room histories dropped to stay under history.max_bytes.");
	put(&t, "herald_history_evictions_total %llu\n", (unsigned long long)ru.evictions);
	family(&t, "subscriptions", "gauge", "Project rooms joined by connections.");
	put(&t, "herald_subscriptions %llu\n", (unsigned long long)st->subscriptions);

	family(&t, "events_ingested_total", "counter", "Events accepted from a source.");
	for (uint32_t i = 0; i < plugin_loader_count(src->plugins); i++) {
		uint64_t ok, invalid, full;
		plugin_loader_stats(src->plugins, i, &ok, &invalid, &full);
		put(&t, "herald_events_ingested_total{source=\"%s\"} %llu\n",
		    plugin_loader_name(src->plugins, i), (unsigned long long)ok);
	}
	family(&t, "events_rejected_total", "counter", "Events refused, by source and reason.");
	for (uint32_t i = 0; i < plugin_loader_count(src->plugins); i++) {
		uint64_t ok, invalid, full;
		const char *name = plugin_loader_name(src->plugins, i);
		plugin_loader_stats(src->plugins, i, &ok, &invalid, &full);
		put(&t, "herald_events_rejected_total{source=\"%s\",reason=\"invalid\"} %llu\n",
		    name, (unsigned long long)invalid);
		put(&t, "herald_events_rejected_total{source=\"%s\",reason=\"queue_full\"} %llu\n",
		    name, (unsigned long long)full);
	}
	family(&t, "events_dropped_total", "counter", "Accepted events the formatter dropped.");
	put(&t, "herald_events_dropped_total %llu\n", (unsigned long long)src->events_dropped);
	family(&t, "events_duplicate_total", "counter",
	       "Events acknowledged and dropped: their id was accepted within ingest.dedup_window.");
	put(&t, "herald_events_duplicate_total %llu\n", (unsigned long long)src->duplicates);
	family(&t, "ingest_queue_depth", "gauge", "Events waiting for the event loop.");
	put(&t, "herald_ingest_queue_depth %zu\n", ingest_depth(src->queue));

	family(&t, "notifications_delivered_total", "counter",
	       "Notifications queued to connections (one per recipient).");
	put(&t, "herald_notifications_delivered_total %llu\n", (unsigned long long)st->deliveries);
	family(&t, "disconnects_total", "counter", "Connections closed by a limit, by reason.");
	for (int i = 0; i < DISC_COUNT; i++)
		put(&t, "herald_disconnects_total{reason=\"%s\"} %llu\n", disc[i],
		    (unsigned long long)st->disconnects[i]);
	family(&t, "handshakes_refused_total", "counter", "WebSocket handshakes refused, by reason.");
	for (int i = 0; i < REFUSE_COUNT; i++)
		put(&t, "herald_handshakes_refused_total{reason=\"%s\"} %llu\n", refused[i],
		    (unsigned long long)st->refused[i]);

	faults = formatter_faults_get(src->fmt, &n);
	family(&t, "lua_errors_total", "counter", "Formatter runs that failed, by script.");
	for (size_t i = 0; i < n; i++)
		put(&t, "herald_lua_errors_total{script=\"%s.lua\"} %llu\n", faults[i].script,
		    (unsigned long long)faults[i].errors);
	family(&t, "lua_budget_overruns_total", "counter",
	       "Formatter runs stopped by a budget, by script and budget.");
	for (size_t i = 0; i < n; i++) {
		put(&t, "herald_lua_budget_overruns_total{script=\"%s.lua\",budget=\"instructions\"} "
			"%llu\n", faults[i].script, (unsigned long long)faults[i].instructions);
		put(&t, "herald_lua_budget_overruns_total{script=\"%s.lua\",budget=\"memory\"} %llu\n",
		    faults[i].script, (unsigned long long)faults[i].memory);
		put(&t, "herald_lua_budget_overruns_total{script=\"%s.lua\",budget=\"time\"} %llu\n",
		    faults[i].script, (unsigned long long)faults[i].time);
	}

	family(&t, "delivery_latency_seconds", "histogram",
	       "From an event's ingest to its notification's write to a socket.");
	for (int i = 0; i <= WS_LATENCY_BUCKETS; i++) {
		cum += st->latency[i];
		if (i < WS_LATENCY_BUCKETS)
			put(&t, "herald_delivery_latency_seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
			    (unsigned long long)cum);
		else
			put(&t, "herald_delivery_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)cum);
	}
	put(&t, "herald_delivery_latency_seconds_sum %.6f\n", st->latency_sum);
	put(&t, "herald_delivery_latency_seconds_count %llu\n",
	    (unsigned long long)st->latency_count);
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	*len = t.len;
	return t.p;
}
