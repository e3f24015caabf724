/* hub.c - see hub.h. */
#include "hub.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notif.h"
#include "ws.h"

/* Events formatted per loop iteration before the loop serves sockets again. */
#define HUB_BATCH 256
/* Largest event JSON a source may submit. */
#define HUB_MAX_EVENT (4 * 1024 * 1024)
/* How long a shutdown waits for connections to take their last notifications. */
#define HUB_CLOSE_GRACE_US (3 * LWS_US_PER_SEC)

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
	if ((rc = auth_create(cfg, &h->auth, err, errlen)) ||
	    (rc = formatter_create(cfg->scripts_dir, cfg->lua_instructions, cfg->lua_memory,
				   &h->fmt, err, errlen)) ||
	    (rc = rooms_create(&h->rooms)) ||
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

/* Deliver `n` to the rooms the event names. */
static void hub_route(hub *h, const event *ev, notif *n)
{
	const room *r;

	if (ev->users) {
		for (size_t i = 0; i < ev->n_users; i++)
			if ((r = rooms_find(h->rooms, ROOM_USER, ev->users[i])))
				ws_deliver(h, r, n, ev->exclude_user);
	} else if ((r = rooms_find(h->rooms, ROOM_PROJECT, ev->project_id))) {
		ws_deliver(h, r, n, ev->exclude_user);
	}
}

static int hub_handle(hub *h, const event *ev, const char *source)
{
	char err[512];
	json_t *fmt;
	notif *n;
	int rc = formatter_run(h->fmt, ev, &fmt, err, sizeof err);

	if (rc) {
		LOG_WARN("%s event from %s dropped: %s", ev->type, source, err);
		return HERALD_EFORMAT;
	}
	n = notif_build(ev, fmt);
	json_decref(fmt);
	if (!n) {
		LOG_ERROR("%s event from %s dropped: out of memory", ev->type, source);
		return HERALD_ENOMEM;
	}
	hub_route(h, ev, n);
	notif_unref(n);
	return 0;
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
		int rc = hub_handle(h, items[i].ev, source);

		h->stats.events_ingested++;
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
	LOG_INFO("herald %s serving ws://%s:%d%s", HERALD_VERSION, h->cfg->listen, h->cfg->port,
		 h->cfg->ws_path);
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
