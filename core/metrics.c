/* metrics.c - see metrics.h. Every series is described in core/README.md. */
#include "metrics.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "nlog.h"

static const metrics_storage *storage; /* metrics_storage_attach() */

static const nlog *shared_log; /* metrics_log_attach() */

void metrics_log_attach(const nlog *l)
{
	shared_log = l;
}

void metrics_storage_attach(const metrics_storage *s)
{
	storage = s;
}

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

/*
 * The HELP and TYPE lines of a family. OpenMetrics names a counter's family without the
 * `_total` its samples carry (and refuses a page that declares `x_total` as a counter), while
 * the Prometheus text parsers take any TYPE line: so the family is written the OpenMetrics
 * way, and the page satisfies both parsers.
 */
static void family_named(text *t, const char *prefix, const char *name, const char *type,
                         const char *help)
{
	size_t len = strlen(name);

	if (strcmp(type, "counter") == 0 && len > 6 && strcmp(name + len - 6, "_total") == 0)
		len -= 6;
	put(t, "# HELP %s%.*s %s\n# TYPE %s%.*s %s\n", prefix, (int)len, name, help, prefix,
	    (int)len, name, type);
}

static void family(text *t, const char *name, const char *type, const char *help)
{
	family_named(t, "herald_", name, type, help);
}

/* The process' own series (the names every Prometheus client library uses), from /proc/self. */
static void metrics_process(text *t)
{
	long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
	long long rss = 0;
	char buf[1024], *p;
	size_t fds = 0;
	FILE *f;
	DIR *d;

	/* /proc/self/stat: the fields after the command name, which may hold spaces: 14-15 are
	 * utime and stime, 22 starttime (clock ticks since boot), 23 vsize, 24 rss in pages. */
	if ((f = fopen("/proc/self/stat", "r"))) {
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		buf[n] = '\0';
		fclose(f);
		if ((p = strrchr(buf, ')')))
			sscanf(
			    p + 2,
			    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
			    "%*d %*d %llu %llu %lld",
			    &utime, &stime, &start, &vsize, &rss);
	}
	if (ticks <= 0)
		ticks = 100;
	family_named(t, "", "process_cpu_seconds_total", "counter",
	             "User and system CPU time spent, in seconds.");
	put(t, "process_cpu_seconds_total %.2f\n", (double)(utime + stime) / (double)ticks);
	family_named(t, "", "process_resident_memory_bytes", "gauge", "Resident memory size.");
	put(t, "process_resident_memory_bytes %lld\n", rss * (long long)page);
	family_named(t, "", "process_virtual_memory_bytes", "gauge", "Virtual memory size.");
	put(t, "process_virtual_memory_bytes %llu\n", vsize);

	/* The boot time, to turn starttime into seconds since the epoch. */
	if ((f = fopen("/proc/stat", "r"))) {
		unsigned long long btime = 0;
		while (fgets(buf, sizeof buf, f))
			if (sscanf(buf, "btime %llu", &btime) == 1)
				break;
		fclose(f);
		if (btime) {
			family_named(t, "", "process_start_time_seconds", "gauge",
			             "Start time of the process since the epoch, in seconds.");
			put(t, "process_start_time_seconds %.2f\n",
			    (double)btime + (double)start / (double)ticks);
		}
	}
	if ((d = opendir("/proc/self/fd"))) {
		struct dirent *de;
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				fds++;
		closedir(d);
		fds--; /* the directory stream's own descriptor */
		family_named(t, "", "process_open_fds", "gauge", "Open file descriptors.");
		put(t, "process_open_fds %zu\n", fds);
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		family_named(t, "", "process_max_fds", "gauge",
		             "Maximum number of open file descriptors.");
		if (rl.rlim_cur == RLIM_INFINITY)
			put(t, "process_max_fds +Inf\n");
		else
			put(t, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	}
}

char *metrics_render(const metrics_sources *src, size_t *len)
{
	static const char *const disc[DISC_COUNT] = {"slow_reader", "rate_limit", "message_too_big",
	                                             "token_expired"};
	static const char *const refused[REFUSE_COUNT] = {"auth", "server_full", "origin",
	                                                  "notification_limit"};
	static const double bounds[WS_LATENCY_BUCKETS] = WS_LATENCY_BOUNDS;
	const ws_stats *st = src->ws;
	const formatter_faults *faults;
	text t = {0};
	uint64_t cum = 0;
	size_t n;

	family(&t, "build_info", "gauge", "Always 1; the version in its label.");
	put(&t, "herald_build_info{version=\"%s\"} 1\n", HERALD_VERSION);
	/* Not `herald_connections`: OpenMetrics gives the counter herald_connections_total the
	 * family name herald_connections, and refuses a page where a gauge has it too. */
	family(&t, "connections_open", "gauge", "Open WebSocket connections.");
	put(&t, "herald_connections_open %zu\n", st->connections);
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
	family(
	    &t, "events_duplicate_total", "counter",
	    "Events acknowledged and dropped: their id was accepted within ingest.dedup_window.");
	put(&t, "herald_events_duplicate_total %llu\n", (unsigned long long)src->duplicates);
	if (src->limit_on) {
		family(&t, "notification_limit_held_total", "counter",
		       "Notifications held back by notification_limit, told in digests.");
		put(&t, "herald_notification_limit_held_total %llu\n",
		    (unsigned long long)src->limit_held);
		family(&t, "notification_limit_digests_total", "counter",
		       "Digests given by notification_limit.");
		put(&t, "herald_notification_limit_digests_total %llu\n",
		    (unsigned long long)src->limit_digests);
		family(&t, "notification_limit_windows", "gauge",
		       "Users with a notification_limit window open.");
		put(&t, "herald_notification_limit_windows %zu\n", src->limit_windows);
		family(&t, "notification_limit_uncounted_total", "counter",
		       "Notifications delivered without the limit: too many users in one window.");
		put(&t, "herald_notification_limit_uncounted_total %llu\n",
		    (unsigned long long)src->limit_uncounted);
	}
	if (shared_log) {
		family(&t, "log_resets_total", "counter",
		       "Times the shared log lost entries (Redis restarted without persistence, "
		       "FLUSHALL, the key deleted): a new epoch, older positions answered reset.");
		put(&t, "herald_log_resets_total %llu\n", (unsigned long long)shared_log->resets);
		family(
		    &t, "log_gaps_total", "counter",
		    "Times this node found log entries trimmed before it read them (resumes from "
		    "before answered expired).");
		put(&t, "herald_log_gaps_total %llu\n", (unsigned long long)shared_log->gaps);
	}
	if (storage) {
		family(&t, "storage_write_errors_total", "counter",
		       "Writes of the on-disk log that failed (intake paused until one succeeds).");
		put(&t, "herald_storage_write_errors_total %llu\n",
		    (unsigned long long)storage->write_errors);
		family(&t, "storage_bytes", "gauge", "Bytes of the on-disk log's segment files.");
		put(&t, "herald_storage_bytes %llu\n", (unsigned long long)storage->bytes);
	}
	family(&t, "ingest_queue_depth", "gauge", "Events waiting for the event loop.");
	put(&t, "herald_ingest_queue_depth %zu\n", ingest_depth(src->queue));

	family(&t, "notifications_delivered_total", "counter",
	       "Notifications queued to connections (one per recipient).");
	put(&t, "herald_notifications_delivered_total %llu\n", (unsigned long long)st->deliveries);
	family(&t, "disconnects_total", "counter", "Connections closed by a limit, by reason.");
	for (int i = 0; i < DISC_COUNT; i++)
		put(&t, "herald_disconnects_total{reason=\"%s\"} %llu\n", disc[i],
		    (unsigned long long)st->disconnects[i]);
	family(&t, "handshakes_refused_total", "counter",
	       "WebSocket handshakes refused, by reason.");
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
		put(&t,
		    "herald_lua_budget_overruns_total{script=\"%s.lua\",budget=\"instructions\"} "
		    "%llu\n",
		    faults[i].script, (unsigned long long)faults[i].instructions);
		put(&t,
		    "herald_lua_budget_overruns_total{script=\"%s.lua\",budget=\"memory\"} %llu\n",
		    faults[i].script, (unsigned long long)faults[i].memory);
		put(&t,
		    "herald_lua_budget_overruns_total{script=\"%s.lua\",budget=\"time\"} %llu\n",
		    faults[i].script, (unsigned long long)faults[i].time);
	}

	family(&t, "delivery_latency_seconds", "histogram",
	       "From an event's ingest to its notification's write to a socket.");
	for (int i = 0; i <= WS_LATENCY_BUCKETS; i++) {
		cum += st->latency[i];
		if (i < WS_LATENCY_BUCKETS)
			put(&t, "herald_delivery_latency_seconds_bucket{le=\"%g\"} %llu\n",
			    bounds[i], (unsigned long long)cum);
		else
			put(&t, "herald_delivery_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)cum);
	}
	put(&t, "herald_delivery_latency_seconds_sum %.6f\n", st->latency_sum);
	put(&t, "herald_delivery_latency_seconds_count %llu\n",
	    (unsigned long long)st->latency_count);

	family(&t, "log_up", "gauge",
	       "1 while the notification log takes appends (sources are accepted), else 0.");
	put(&t, "herald_log_up{log=\"%s\"} %d\n", src->log_name ? src->log_name : "memory",
	    src->log_up ? 1 : 0);
	family(&t, "reload_last_success", "gauge",
	       "Whether the last script reload (SIGHUP) succeeded; 1 before any.");
	put(&t, "herald_reload_last_success %d\n", src->reload_failed ? 0 : 1);
	family(&t, "reload_last_timestamp_seconds", "gauge",
	       "When the last script reload was tried, since the epoch; 0 before any.");
	put(&t, "herald_reload_last_timestamp_seconds %.3f\n", (double)src->reload_ms / 1000.0);
	metrics_process(&t);
	/* The end of an OpenMetrics page; a comment to the Prometheus text format. */
	put(&t, "# EOF\n");
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	*len = t.len;
	return t.p;
}
