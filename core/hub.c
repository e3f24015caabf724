/* hub.c - see hub.h. */
#include "hub.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "notif.h"
#include "ws.h"

/* Events formatted per loop iteration before the loop serves sockets again. */
#define HUB_BATCH 256
/* Largest event JSON a source may submit. */
#define HUB_MAX_EVENT (4 * 1024 * 1024)
/* How long a shutdown waits for connections to take their last notifications. */
#define HUB_CLOSE_GRACE_US (3 * LWS_US_PER_SEC)

/* How often history past its ttl is dropped. */
#define HUB_PRUNE_US (1 * LWS_US_PER_SEC)

/* Where a notification goes: a project room, or the rooms of a list of users. */
typedef struct route {
	int64_t project; /* when users is NULL */
	const int64_t *users;
	size_t n_users;
	int64_t exclude; /* 0: nobody */
} route;

int64_t hub_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t hub_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* A new random epoch: positions of an earlier run are recognised as void. */
static void hub_new_epoch(hub *h)
{
	unsigned char rnd[8] = {0};

	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		memcpy(rnd, &(int64_t){hub_now_ms()}, sizeof rnd);
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(h->epoch + 2 * i, 3, "%02x", rnd[i]);
}

static void hub_wake(void *arg)
{
	hub *h = arg;
	if (h->lws)
		lws_cancel_service(h->lws);
}

int hub_create(herald_config *cfg, hub **out, char *err, size_t errlen)
{
	hub *h = calloc(1, sizeof *h);
	int rc = HERALD_ENOMEM;

	if (!h) {
		config_free(cfg);
		return rc;
	}
	h->cfg = cfg;
	hub_new_epoch(h);
	if ((rc = auth_create(cfg, &h->auth, err, errlen)) ||
	    (rc = formatter_create(cfg->scripts_dir, cfg->lua_instructions, cfg->lua_memory,
				   &h->fmt, err, errlen)) ||
	    (rc = rooms_create((size_t)cfg->history_size, cfg->history_ttl * 1000LL, &h->rooms)) ||
	    (rc = ingest_create((size_t)cfg->queue_size, hub_wake, h, &h->queue)) ||
	    (rc = plugin_loader_open(cfg, h->queue, HUB_MAX_EVENT, &h->plugins, err, errlen)) ||
	    (rc = ws_create(h, err, errlen)))
		goto fail;
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

/* Frame a notification at position `id`, keep it in its rooms' history and queue it to their
 * members. */
static int hub_deliver(hub *h, const char *msg, size_t len, const route *r, log_id id,
		       int64_t ingest_ns)
{
	char pos[POS_MAX];
	const room *rm;
	notif *n;

	pos_format(pos, h->epoch, id);
	if (!(n = notif_frame_pos(msg, len, pos)))
		return HERALD_ENOMEM;
	n->id = id;
	n->exclude = r->exclude;
	n->ingest_ns = ingest_ns;
	if (r->users) {
		for (size_t i = 0; i < r->n_users; i++)
			if ((rm = rooms_record(h->rooms, ROOM_USER, r->users[i], n)))
				ws_deliver(h, rm, n, r->exclude);
	} else if ((rm = rooms_record(h->rooms, ROOM_PROJECT, r->project, n))) {
		ws_deliver(h, rm, n, r->exclude);
	}
	notif_unref(n);
	return 0;
}

static int hub_handle(hub *h, const event *ev, const char *source, int64_t ingest_ns)
{
	char err[512];
	json_t *fmt;
	char *msg;
	size_t len;
	route r = {.project = ev->users ? 0 : ev->project_id,
		   .users = ev->users,
		   .n_users = ev->n_users,
		   .exclude = ev->exclude_user};
	int rc = formatter_run(h->fmt, ev, &fmt, err, sizeof err);

	if (rc) {
		LOG_WARN("%s event from %s dropped: %s", ev->type, source, err);
		return HERALD_EFORMAT;
	}
	msg = notif_message(ev, fmt, &len);
	json_decref(fmt);
	h->last_id = pos_next(h->last_id, (uint64_t)hub_now_ms());
	rc = msg ? hub_deliver(h, msg, len, &r, h->last_id, ingest_ns) : HERALD_ENOMEM;
	free(msg);
	if (rc)
		LOG_ERROR("%s event from %s dropped: out of memory", ev->type, source);
	return rc;
}

void hub_process(hub *h)
{
	ingest_item items[HUB_BATCH];
	size_t n;

	if (h->reload_requested) {
		char err[512];
		h->reload_requested = 0;
		if (formatter_reload(h->fmt, err, sizeof err) != 0)
			LOG_ERROR("script reload failed, the previous scripts stay in force: %s", err);
		else if (h->cfg->sub_policy == SUB_LUA && !formatter_has(h->fmt, "authorize"))
			LOG_ERROR("scripts reloaded without authorize.lua: every subscription is refused");
		else
			LOG_INFO("scripts reloaded from %s", h->cfg->scripts_dir);
	}
	n = ingest_drain(h->queue, items, HUB_BATCH);
	for (size_t i = 0; i < n; i++) {
		const char *source = plugin_loader_name(h->plugins, items[i].source);
		int rc = hub_handle(h, items[i].ev, source, items[i].queued_ns);

		if (rc)
			h->stats.events_dropped++;
		plugin_loader_ack(h->plugins, items[i].source, items[i].tag,
				  rc ? HERALD_EFORMAT : HERALD_OK);
		event_free(items[i].ev);
	}
	/* A full batch may have left more behind: come back after serving the sockets. */
	if (n == HUB_BATCH)
		lws_cancel_service(h->lws);
}

static void hub_prune(lws_sorted_usec_list_t *sul)
{
	hub *h = lws_container_of(sul, hub, prune_timer);

	rooms_prune(h->rooms, hub_now_ms());
	lws_sul_schedule(h->lws, 0, &h->prune_timer, hub_prune, HUB_PRUNE_US);
}

static void hub_deadline(lws_sorted_usec_list_t *sul)
{
	hub *h = lws_container_of(sul, hub, close_timer);
	h->deadline_passed = 1;
}

int hub_run(hub *h, char *err, size_t errlen)
{
	int rc = plugin_loader_start(h->plugins, err, errlen);

	if (rc)
		return rc;
	LOG_INFO("herald %s serving %s://%s:%d%s", HERALD_VERSION, h->cfg->tls_cert ? "wss" : "ws",
		 h->cfg->listen, h->cfg->port, h->cfg->ws_path);
	lws_sul_schedule(h->lws, 0, &h->prune_timer, hub_prune, HUB_PRUNE_US);
	while (!h->stop_requested)
		if (lws_service(h->lws, 0) < 0)
			break;

	LOG_INFO("stopping: %zu connections open", h->n_conns);
	h->stopping = 1;
	plugin_loader_stop(h->plugins);
	ingest_close(h->queue);
	while (ingest_depth(h->queue))
		hub_process(h);
	ws_close_all(h, WS_CLOSE_GOING_AWAY);
	lws_sul_schedule(h->lws, 0, &h->close_timer, hub_deadline, HUB_CLOSE_GRACE_US);
	while (h->n_conns && !h->deadline_passed)
		if (lws_service(h->lws, 0) < 0)
			break;
	lws_sul_cancel(&h->close_timer);
	lws_sul_cancel(&h->prune_timer);
	return 0;
}

void hub_destroy(hub *h)
{
	if (!h)
		return;
	ws_destroy(h); /* closes what is still open, which leaves its rooms */
	auth_claims_free(&h->pending_claims);
	plugin_loader_close(h->plugins);
	ingest_destroy(h->queue);
	rooms_destroy(h->rooms);
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
