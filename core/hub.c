/* hub.c - see hub.h. */
#include "hub.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "clock.h"
#include "cluster.h"
#include "log.h"
#include "metrics.h"
#include "notif.h"
#include "route.h"
#include "ws.h"

/* How long the loop may format and route, then deliver, before it serves the sockets again
 * (bounds of the budget hub_process takes from the last round's writes): several events'
 * frames for one connection then leave in one write. */
#define HUB_BUDGET_NS (10 * 1000000LL)
#define HUB_BUDGET_MAX_NS (100 * 1000000LL)
/* Largest JSON text of one submit_many() (an array of events; each is bounded by
 * server.max_notification_size). */
#define HUB_MAX_BODY (4 * 1024 * 1024)
/* How long a shutdown waits for connections to take their last notifications. */
#define HUB_CLOSE_GRACE_US (3 * LWS_US_PER_SEC)

/* How often history past its ttl is dropped. */
#define HUB_PRUNE_US (1 * LWS_US_PER_SEC)
/* How long after a notification_limit window's end (by this node's clock) its digest is given when
 * no later entry of the log has ended it: time for entries of the window still on their way
 * (written, in a cluster read from Redis). */
#define HUB_DIGEST_GRACE_MS 2000

static void hub_wake(void *arg)
{
	ws_cancel(((hub *)arg)->ws);
}

/* The loop was woken (the queue, the log): process what waits. */
static void hub_on_wake(void *arg)
{
	hub_process(arg);
}

static int hub_health(void *arg, char *buf, size_t len)
{
	hub *h = arg;

	snprintf(buf, len, "{\"status\":\"%s\",\"connections\":%zu,\"rooms\":%zu,\"queue\":%zu}\n",
	         h->stopping  ? "stopping"
	         : !h->log_ok ? "degraded"
	                      : "ok",
	         ws_stats_get(h->ws)->connections,
	         rooms_count(h->rooms, ROOM_USER) + rooms_count(h->rooms, ROOM_PROJECT),
	         ingest_depth(h->queue));
	return h->stopping ? 503 : 200;
}

static char *hub_metrics(void *arg, size_t *len)
{
	hub *h = arg;
	metrics_sources src = {.ws = ws_stats_get(h->ws),
	                       .rooms = h->rooms,
	                       .plugins = h->plugins,
	                       .fmt = h->fmt,
	                       .queue = h->queue,
	                       .events_dropped = h->events_dropped,
	                       .duplicates = h->log->duplicates,
	                       .log_name = h->log->name,
	                       .log_up = h->log_ok,
	                       .reload_failed = h->reload_failed,
	                       .reload_ms = h->reload_ms,
	                       .limit_on = h->limiter != NULL,
	                       .limit_windows = h->limiter ? limiter_count(h->limiter) : 0,
	                       .limit_held = h->limit_held,
	                       .limit_digests = h->limit_digests,
	                       .limit_uncounted = h->limit_uncounted};
	return metrics_render(&src, len);
}

static size_t hub_poll_log(hub *h);
static void hub_digests(hub *h, int64_t now_ms);

int hub_create(herald_config *cfg, hub **out, char *err, size_t errlen)
{
	hub *h = calloc(1, sizeof *h);
	int rc = HERALD_ENOMEM;

	if (!h) {
		config_free(cfg);
		return rc;
	}
	h->cfg = cfg;
	if ((rc = auth_create(cfg, &h->auth, err, errlen)) ||
	    (rc = formatter_create(cfg->scripts_dir, cfg->lua_instructions, cfg->lua_memory,
	                           &h->fmt, err, errlen)) ||
	    (rc = rooms_create((size_t)cfg->history_size, cfg->history_ttl * 1000LL,
	                       (size_t)cfg->history_max_bytes, &h->rooms)) ||
	    (cfg->notify_limit &&
	     (rc = limiter_create((uint32_t)cfg->notify_limit, cfg->notify_limit_window * 1000LL,
	                          LIMIT_WINDOWS_MAX, &h->limiter))) ||
	    (rc = ingest_create((size_t)cfg->queue_size, hub_wake, h, &h->queue)) ||
	    (rc = plugin_loader_open(cfg, h->queue, HUB_MAX_BODY, &h->plugins, err, errlen)) ||
	    (rc = cfg->cluster_url ? cluster_log_create(cfg, hub_wake, h, &h->log, err, errlen)
	                           : disklog_create(cfg, &h->log, err, errlen)) ||
	    (rc = ws_create(&(ws_env){.cfg = cfg,
	                              .auth = h->auth,
	                              .fmt = h->fmt,
	                              .rooms = h->rooms,
	                              .log = h->log,
	                              .wake = hub_on_wake,
	                              .health = hub_health,
	                              .metrics = hub_metrics,
	                              .arg = h},
	                    &h->ws, err, errlen)))
		goto fail;
	h->log_ok = 1;
	while (hub_poll_log(h)) /* the log's newest entries, into the history */
		;
	rooms_prune(h->rooms, clock_real_ms()); /* what was read back only to count windows */
	hub_digests(h, clock_real_ms() - HUB_DIGEST_GRACE_MS); /* windows that ended meanwhile */
	if (h->limiter && !formatter_has(h->fmt, "digest") && !formatter_has(h->fmt, "default"))
		LOG_WARN("notification_limit is on but %s has neither digest.lua nor default.lua: "
		         "digests "
		         "get Herald's own wording",
		         cfg->scripts_dir);
	if (cfg->sub_policy == SUB_OPEN)
		LOG_WARN("subscriptions.policy is open: any user may subscribe to any project");
	if (cfg->sub_policy == SUB_LUA && !formatter_has(h->fmt, "authorize")) {
		snprintf(err, errlen, "subscriptions.policy is lua but %s/authorize.lua is missing",
		         cfg->scripts_dir);
		rc = HERALD_ECONFIG;
		goto fail;
	}
	*out = h;
	return 0;
fail:
	if (rc == HERALD_ENOMEM && !err[0])
		snprintf(err, errlen, "out of memory");
	hub_destroy(h);
	return rc;
}

/* Frame a notification at position `id` for room (kind, id), keep it in the room's history and
 * queue it to its members. Each room gets its own frame, which names the room: clients keep
 * one position per room. */
static int hub_deliver_room(hub *h, const char *msg, size_t len, int kind, int64_t room_id,
                            const char *pos, const notif *proto)
{
	char name[32];
	const room *rm;
	notif *n;

	snprintf(name, sizeof name, "%s_%lld", kind == ROOM_USER ? "user" : "project",
	         (long long)room_id);
	if (!(n = notif_frame_pos(msg, len, name, pos)))
		return HERALD_ENOMEM;
	n->id = proto->id;
	n->exclude = proto->exclude;
	n->ingest_ns = proto->ingest_ns;
	if ((rm = rooms_record(h->rooms, kind, room_id, n)))
		ws_deliver(h->ws, rm, n, n->exclude);
	notif_unref(n);
	return 0;
}

/* Deliver a notification at position `id` along its route. With `limited`, each user of the
 * route passes notification_limit first: a user over it does not get it now, but in a digest. */
static int hub_deliver(hub *h, const char *msg, size_t len, const route *r, log_id id,
                       int64_t ingest_ns, int limited)
{
	notif proto = {.id = id, .exclude = r->exclude, .ingest_ns = ingest_ns};
	char pos[POS_MAX];
	int rc = 0;

	pos_format(pos, h->log->epoch, id);
	if (!r->users)
		return hub_deliver_room(h, msg, len, ROOM_PROJECT, r->project, pos, &proto);
	for (size_t i = 0; i < r->n_users && !rc; i++) {
		int admit = limited && h->limiter && r->users[i] != r->exclude
		                ? limiter_admit(h->limiter, r->users[i], id, msg, len)
		                : 1;
		if (admit == 0) {
			h->limit_held++;
			continue;
		}
		/* The limiter is full (or out of memory): delivered, uncounted, never lost. */
		if (admit < 0 && h->limit_uncounted++ % 10000 == 0)
			LOG_WARN(
			    "notification_limit: %s: notifications delivered without the limit "
			    "(%llu so far)",
			    admit == HERALD_EFULL ? "too many users in one window"
			                          : "out of memory",
			    (unsigned long long)h->limit_uncounted);
		rc = hub_deliver_room(h, msg, len, ROOM_USER, r->users[i], pos, &proto);
	}
	return rc;
}

/* The message of a digest whose script failed (or is missing): Herald's own wording. */
static char *hub_digest_plain(const event *ev, const limit_digest *d, size_t *len)
{
	char title[64], data[128];
	formatted fmt = {.title = title, .message = title, .data = data};

	/* Plain ASCII: quoted as it is. */
	fmt.title_len = fmt.message_len =
	    (size_t)snprintf(title, sizeof title, "\"%llu more notification%s\"",
	                     (unsigned long long)d->held, d->held == 1 ? "" : "s");
	fmt.data_len = (size_t)snprintf(
	    data, sizeof data, "{\"count\":%llu,\"window_end\":%lld,\"window_start\":%lld}",
	    (unsigned long long)d->held, (long long)d->end_ms, (long long)d->start_ms);
	return notif_build(ev, &fmt, len);
}

/* Format and deliver the digest of one ended window to its user's room, at the position of
 * the window's last held notification. */
static void hub_digest(hub *h, const limit_digest *d)
{
	route r = {.users = &d->user, .n_users = 1};
	char err[512] = "", *text, *msg = NULL;
	size_t len = 0;
	event *ev = NULL;
	formatted fmt;

	if (!(text = limit_digest_event(d, &len)) ||
	    event_parse(text, len, d->end_ms / 1000, &ev, err, sizeof err) != 0) {
		LOG_ERROR("digest of %llu notifications for user %lld lost: %s",
		          (unsigned long long)d->held, (long long)d->user,
		          err[0] ? err : "out of memory");
		free(text);
		return;
	}
	free(text);
	if (formatter_format(h->fmt, ev, &fmt, err, sizeof err) == 0) {
		msg = notif_build(ev, &fmt, &len);
		if (msg && len > (size_t)h->cfg->max_notification_size) {
			snprintf(err, sizeof err, "%zu bytes, over server.max_notification_size",
			         len);
			free(msg);
			msg = NULL;
		}
	}
	if (!msg) {
		LOG_WARN("digest for user %lld: %s; sent with Herald's own wording",
		         (long long)d->user, err[0] ? err : "out of memory");
		msg = hub_digest_plain(ev, d, &len);
	}
	event_free(ev);
	if (msg && hub_deliver(h, msg, len, &r, d->last, 0, 0) == 0)
		h->limit_digests++;
	else
		LOG_ERROR("digest of %llu notifications for user %lld lost: out of memory",
		          (unsigned long long)d->held, (long long)d->user);
	free(msg);
}

/* Give the digests of the notification_limit windows that ended at or before `now_ms` (log time).
 */
static void hub_digests(hub *h, int64_t now_ms)
{
	limit_digest *d;

	while (h->limiter && limiter_due(h->limiter, now_ms, &d) == 1) {
		hub_digest(h, d);
		limit_digest_free(d);
	}
}

/* Format one event and append it to the log, which gives it its position and hands it back
 * for delivery (hub_poll_log). Returns 0 (the log acknowledges the source later),
 * HERALD_EFULL when the log cannot take it now (publish it again later), or another negative
 * status when the event is dropped. */
static int hub_publish(hub *h, const ingest_item *it, const char *source)
{
	const event *ev = it->ev;
	route r = {.project = ev->users ? 0 : ev->project_id,
	           .users = ev->users,
	           .n_users = ev->n_users,
	           .exclude = ev->exclude_user};
	char err[512], *msg;
	formatted fmt;
	size_t len;
	int rc = formatter_format(h->fmt, ev, &fmt, err, sizeof err);

	if (rc) {
		LOG_WARN("%s event from %s dropped: %s", ev->type, source, err);
		return HERALD_EFORMAT;
	}
	msg = notif_build(ev, &fmt, &len);
	if (!msg)
		return HERALD_ENOMEM;
	/* Larger than any connection may queue: it would close every recipient, at every
	 * resume, for as long as the history keeps it. */
	if (len > (size_t)h->cfg->max_notification_size) {
		LOG_WARN("%s event from %s dropped: its notification has %zu bytes, over "
		         "server.max_notification_size (%d)",
		         ev->type, source, len, h->cfg->max_notification_size);
		free(msg);
		return HERALD_EFORMAT;
	}
	return h->log->ops->append(h->log, msg, len, &r, ev->id, ev->id_len, it->source, it->tag,
	                           it->queued_ns);
}

/* Deliver what the log handed back, and acknowledge what it took. Returns non-zero when more
 * may be waiting. */
static size_t hub_poll_log(hub *h)
{
	nlog_entry entries[64];
	nlog_ack acks[256];
	size_t n, more;

	/* Acknowledgements first: a source waiting for them (a webhook request) can answer and
	 * take its next events while the loop delivers these. */
	n = h->log->ops->poll_acks(h->log, acks, 256);
	for (size_t i = 0; i < n; i++)
		plugin_loader_ack(h->plugins, acks[i].source, acks[i].tag,
		                  acks[i].status ? HERALD_ESHUTDOWN : HERALD_OK);
	more = n == 256;

	uint64_t resets = h->log->resets, gaps = h->log->gaps;

	n = h->log->ops->poll_entries(h->log, entries, 64);
	/* The log lost entries this node never delivered: its connected clients missed them
	 * too, and are told so before anything that follows. */
	if (h->log->resets != resets || h->log->gaps != gaps)
		ws_tell_missed(h->ws, h->log->resets != resets ? "reset" : "expired");
	for (size_t i = 0; i < n; i++) {
		hub_digests(h, (int64_t)entries[i].id.ms); /* windows this entry ends, first */
		if (hub_deliver(h, entries[i].payload, entries[i].len, &entries[i].route,
		                entries[i].id, entries[i].ingest_ns, 1) != 0)
			LOG_ERROR("log entry %llu-%llu not delivered: out of memory",
			          (unsigned long long)entries[i].id.ms,
			          (unsigned long long)entries[i].id.seq);
		nlog_entry_free(&entries[i]);
	}
	return more || n == 64;
}

/* Open intake while the log takes appends, pause it while it does not: an event is accepted
 * only when it can be logged. */
static void hub_check_log(hub *h)
{
	int ok = h->log->ops->healthy(h->log);

	if (ok == h->log_ok)
		return;
	h->log_ok = ok;
	ingest_pause(h->queue, !ok);
	if (ok)
		LOG_INFO("%s log: back, taking events again", h->log->name);
	else
		LOG_WARN("%s log: unavailable, refusing events until it is back", h->log->name);
}

/* Acknowledge and free the event of one ingest item. */
static void hub_done(hub *h, ingest_item *it, int status)
{
	plugin_loader_ack(h->plugins, it->source, it->tag, status);
	event_free(it->ev);
}

void hub_process(hub *h)
{
	size_t more = 0;
	int full = 0;

	if (h->reload_requested) {
		char err[512];
		h->reload_requested = 0;
		log_notify("RELOADING=1");
		h->reload_ms = clock_real_ms();
		h->reload_failed = formatter_reload(h->fmt, err, sizeof err) != 0;
		if (h->reload_failed)
			LOG_ERROR("script reload failed, the previous scripts stay in force: %s",
			          err);
		else if (h->cfg->sub_policy == SUB_LUA && !formatter_has(h->fmt, "authorize"))
			LOG_ERROR("scripts reloaded without authorize.lua: every subscription is "
			          "refused");
		else
			LOG_INFO("scripts reloaded from %s", h->cfg->scripts_dir);
		log_notify("READY=1");
	}
	hub_check_log(h);
	/* Format and route, then deliver, each for as long as the last round's writes took (at
	 * least HUB_BUDGET_NS, at most HUB_BUDGET_MAX_NS): under a backlog, queueing and writing
	 * take turns in equal parts, and each connection gets more notifications in each write. */
	int64_t budget = ws_stats_get(h->ws)->flush_ns;
	budget = budget < HUB_BUDGET_NS ? HUB_BUDGET_NS : budget;
	budget = budget > HUB_BUDGET_MAX_NS ? HUB_BUDGET_MAX_NS : budget;
	for (int64_t until = clock_mono_ns() + budget; !full;) {
		if (h->backlog_at == h->backlog_len) {
			h->backlog_len = ingest_drain(h->queue, h->backlog, HUB_BATCH);
			h->backlog_at = 0;
			if (!h->backlog_len)
				break;
		}
		while (h->backlog_at < h->backlog_len) {
			ingest_item *it = &h->backlog[h->backlog_at];

			if (h->backlog_at % 32 == 0 && clock_mono_ns() > until)
				break;
			int rc = hub_publish(h, it, plugin_loader_name(h->plugins, it->source));

			/* The log is full: the rest waits in the backlog (and then in the ingest
			 * queue, which makes the sources back off) until the log's acks wake the
			 * loop. */
			if (rc == HERALD_EFULL) {
				full = 1;
				break;
			}
			h->backlog_at++;
			if (rc < 0) {
				h->events_dropped++;
				hub_done(h, it, HERALD_EFORMAT);
			} else {
				event_free(it->ev); /* the log acknowledges it */
			}
		}
		if (!full && clock_mono_ns() > until) {
			more = 1; /* come back after serving the sockets */
			break;
		}
	}
	/* Deliver what the log has, within the same budget again. */
	for (int64_t until = clock_mono_ns() + budget; hub_poll_log(h);)
		if (clock_mono_ns() > until) {
			more = 1;
			break;
		}
	/* More may be waiting (events, log entries): come back after serving the sockets. */
	if (more)
		ws_cancel(h->ws);
}

static void hub_prune(lws_sorted_usec_list_t *sul)
{
	hub *h = lws_container_of(sul, hub, prune_timer);

	rooms_prune(h->rooms, clock_real_ms());
	/* Windows no entry of the log ended: by the clock, while the log is readable. */
	if (h->log_ok)
		hub_digests(h, clock_real_ms() - HUB_DIGEST_GRACE_MS);
	ws_sweep(h->ws);
	hub_process(h); /* notices the log going and coming back, retries a full log */
	ws_schedule(h->ws, &h->prune_timer, hub_prune, HUB_PRUNE_US);
}

static void hub_deadline(lws_sorted_usec_list_t *sul)
{
	hub *h = lws_container_of(sul, hub, close_timer);
	h->deadline_passed = 1;
	ws_close_now(h->ws); /* connections still closing stop waiting for their queues */
}

/* Serve until the grace deadline or until `done(h)`. */
static void hub_serve_until(hub *h, int (*done)(hub *h))
{
	h->deadline_passed = 0;
	ws_schedule(h->ws, &h->close_timer, hub_deadline, HUB_CLOSE_GRACE_US);
	while (!done(h) && !h->deadline_passed)
		if (ws_service(h->ws) < 0)
			break;
	lws_sul_cancel(&h->close_timer);
}

static int hub_drained(hub *h)
{
	hub_process(h);
	return h->backlog_at == h->backlog_len && !ingest_depth(h->queue);
}

static int hub_closed(hub *h)
{
	return ws_stats_get(h->ws)->connections == 0;
}

int hub_run(hub *h, char *err, size_t errlen)
{
	int rc = h->log->ops->start(h->log);

	if (rc || (rc = plugin_loader_start(h->plugins, err, errlen))) {
		if (!err[0])
			snprintf(err, errlen, "cannot start: %s", herald_strerror(rc));
		return rc;
	}
	LOG_INFO("herald %s serving %s://%s:%d%s", HERALD_VERSION, h->cfg->tls_cert ? "wss" : "ws",
	         h->cfg->listen, h->cfg->port, h->cfg->ws_path);
	log_notify("READY=1"); /* systemd (Type=notify): the start is done */
	ws_schedule(h->ws, &h->prune_timer, hub_prune, HUB_PRUNE_US);
	while (!h->stop_requested)
		if (ws_service(h->ws) < 0)
			break;

	/* Stop the sources, then publish what they handed over, then close the connections. */
	LOG_INFO("stopping: %zu connections open", ws_stats_get(h->ws)->connections);
	log_notify("STOPPING=1");
	h->stopping = 1;
	ws_refuse_new(h->ws);
	plugin_loader_stop(h->plugins);
	ingest_close(h->queue);
	hub_serve_until(h, hub_drained);
	h->log->ops->stop(h->log); /* what it still held is acked HERALD_ESHUTDOWN */
	while (hub_poll_log(h))
		;
	while (h->backlog_at < h->backlog_len)
		hub_done(h, &h->backlog[h->backlog_at++], HERALD_ESHUTDOWN);
	ws_close_all(h->ws, WS_CLOSE_GOING_AWAY);
	hub_serve_until(h, hub_closed);
	lws_sul_cancel(&h->prune_timer);
	return 0;
}

void hub_destroy(hub *h)
{
	if (!h)
		return;
	ws_destroy(h->ws); /* closes what is still open, which leaves its rooms */
	plugin_loader_close(h->plugins);
	ingest_destroy(h->queue);
	if (h->log)
		h->log->ops->destroy(h->log);
	rooms_destroy(h->rooms);
	limiter_destroy(h->limiter);
	formatter_destroy(h->fmt);
	auth_destroy(h->auth);
	config_free(h->cfg);
	free(h);
}

void hub_signal_stop(hub *h)
{
	h->stop_requested = 1;
	hub_wake(h);
}

void hub_signal_reload(hub *h)
{
	h->reload_requested = 1;
	hub_wake(h);
}
