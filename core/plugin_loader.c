/* plugin_loader.c - see plugin_loader.h. */
#include "plugin_loader.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "log.h"

/* The core's handle for one plugin, given to it as `herald_host *`. */
struct herald_host {
	void *self; /* what create() returned */
	void *dl;   /* dlopen handle */
	plugin_opts *opts;
	ingest *queue;
	size_t max_event, max_body;
	uint32_t index;
	int created; /* create() succeeded: destroy() is owed */
	int started;
	char name[40];
	/* Counted from the plugin's threads. */
	atomic_ullong accepted, invalid, full;
	/* The plugin's descriptor, copied up to its own `size` into one of the core's layout:
	 * fields the plugin's struct does not have stay NULL (see open_one). Last, so that a copy
	 * running past it leaves the allocation, where AddressSanitizer sees it. */
	herald_plugin desc;
};

struct plugin_set {
	size_t n;
	struct herald_host *hosts;
};

static const char *status_names[] = {
    [0] = "ok",
    [-HERALD_EINVAL] = "invalid input",
    [-HERALD_EFULL] = "queue full",
    [-HERALD_ENOMEM] = "out of memory",
    [-HERALD_ESHUTDOWN] = "shutting down",
    [-HERALD_EIO] = "I/O error",
    [-HERALD_ECONFIG] = "configuration error",
    [-HERALD_EABI] = "ABI mismatch",
    [-HERALD_EFORMAT] = "formatter failed",
    [-HERALD_ENOTFOUND] = "not found",
};

const char *herald_strerror(int status)
{
	if (status > 0 || -status >= (int)(sizeof status_names / sizeof *status_names))
		return "unknown error";
	return status_names[-status];
}

/* Queue parsed events, all or none, with tags first_tag, first_tag + 1, ... The events are
 * the queue's on success and freed on failure. */
static int host_queue(herald_host *h, event **evs, size_t n, uint64_t first_tag, char *err,
                      size_t errlen)
{
	ingest_item one, *items = n == 1 ? &one : calloc(n, sizeof *items);
	struct timespec now;
	int rc = HERALD_ENOMEM;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (items) {
		for (size_t i = 0; i < n; i++)
			items[i] =
			    (ingest_item){.ev = evs[i],
			                  .source = h->index,
			                  .tag = first_tag + i,
			                  .queued_ns = now.tv_sec * 1000000000LL + now.tv_nsec};
		/* Counted before the push: the loop may deliver the events before it returns. */
		atomic_fetch_add(&h->accepted, n);
		rc = ingest_push_many(h->queue, items, n);
		if (rc)
			atomic_fetch_sub(&h->accepted, n);
		if (items != &one)
			free(items);
	}
	if (rc) {
		for (size_t i = 0; i < n; i++)
			event_free(evs[i]);
		snprintf(err, errlen, "%s", herald_strerror(rc));
		if (rc == HERALD_EFULL)
			atomic_fetch_add(&h->full, n);
	}
	return rc;
}

static int host_submit(herald_host *h, const char *json, size_t len, uint64_t tag, char *err,
                       size_t errlen)
{
	char why[256];
	event *ev;
	int rc;

	if (!err || !errlen) {
		err = why;
		errlen = sizeof why;
	}
	err[0] = '\0';
	if (len > h->max_event) {
		snprintf(err, errlen, "event: larger than server.max_notification_size (%zu bytes)",
		         h->max_event);
		atomic_fetch_add(&h->invalid, 1);
		return HERALD_EINVAL;
	}
	rc = event_parse(json, len, time(NULL), &ev, err, errlen);
	if (rc == HERALD_EINVAL)
		atomic_fetch_add(&h->invalid, 1);
	return rc ? rc : host_queue(h, &ev, 1, tag, err, errlen);
}

static int host_submit_many(herald_host *h, const char *json, size_t len, uint64_t first_tag,
                            size_t *count, char *err, size_t errlen)
{
	char why[256], sub[256];
	event_batch batch;
	event **evs = NULL;
	size_t n = 0, i = 0;
	int rc = HERALD_EINVAL;

	if (!err || !errlen) {
		err = why;
		errlen = sizeof why;
	}
	err[0] = '\0';
	if (len > h->max_body) {
		snprintf(err, errlen, "body: larger than %zu bytes", h->max_body);
		goto done;
	}
	if ((rc = event_batch_parse(&batch, json, len, sub, sizeof sub))) {
		snprintf(err, errlen, "body: %s", sub);
		goto done;
	}
	n = batch.n;
	rc = HERALD_EINVAL;
	if (n > ingest_capacity(h->queue)) {
		snprintf(err, errlen, "body: %zu events, more than the ingest queue holds (%zu)", n,
		         ingest_capacity(h->queue));
	} else if (n == 0) {
		rc = 0;
	} else if ((evs = calloc(n, sizeof *evs))) {
		for (rc = 0; i < n && !rc; i++) {
			size_t size = event_batch_size(&batch, h->max_event);
			if (size > h->max_event) {
				snprintf(
				    sub, sizeof sub,
				    "event: larger than server.max_notification_size (%zu bytes)",
				    h->max_event);
				rc = HERALD_EINVAL;
			} else {
				rc = event_batch_next(&batch, time(NULL), &evs[i], sub, sizeof sub);
			}
			if (rc && !batch.array)
				snprintf(err, errlen, "%s", sub);
			else if (rc) /* "event: x" becomes "[i]: x", "data: x" becomes "[i].data: x"
			              */
				snprintf(err, errlen, "[%zu]%s%s", i,
				         strncmp(sub, "event:", 6) == 0 ? "" : ".",
				         strncmp(sub, "event:", 6) == 0 ? sub + 5 : sub);
		}
		if (rc) {
			n = --i; /* the bad one */
			while (i-- > 0)
				event_free(evs[i]);
		} else {
			rc = host_queue(h, evs, n, first_tag, err, errlen);
		}
	} else {
		rc = HERALD_ENOMEM;
	}
	free(evs);
	event_batch_free(&batch);
done:
	if (count)
		*count = rc == HERALD_EINVAL || rc == 0 ? n : 0;
	if (rc == HERALD_EINVAL)
		atomic_fetch_add(&h->invalid, 1);
	return rc;
}

static void host_log(herald_host *h, int level, const char *fmt, ...)
{
	va_list ap;

	if (log_level < level)
		return;
	va_start(ap, fmt);
	log_vemit(level, h->name, fmt, ap);
	va_end(ap);
}

static const char *host_opt_string(herald_host *h, const char *name)
{
	return plugin_opts_string(h->opts, name);
}

static long long host_opt_int(herald_host *h, const char *name)
{
	return plugin_opts_int(h->opts, name);
}

static int host_opt_bool(herald_host *h, const char *name)
{
	return plugin_opts_bool(h->opts, name);
}

static size_t host_opt_list_len(herald_host *h, const char *name)
{
	return plugin_opts_list_len(h->opts, name);
}

static const char *host_opt_list_item(herald_host *h, const char *name, size_t i)
{
	return plugin_opts_list_item(h->opts, name, i);
}

static int host_opt_isset(herald_host *h, const char *name)
{
	return plugin_opts_isset(h->opts, name);
}

static const herald_host_api host_api = {
    .abi = HERALD_PLUGIN_ABI,
    .size = sizeof(herald_host_api),
    .submit = host_submit,
    .log = host_log,
    .strerror = herald_strerror,
    .opt_string = host_opt_string,
    .opt_int = host_opt_int,
    .opt_bool = host_opt_bool,
    .opt_list_len = host_opt_list_len,
    .opt_list_item = host_opt_list_item,
    .opt_isset = host_opt_isset,
    .submit_many = host_submit_many,
};

/* dlopen one plugin and check it; fills h->dl and h->desc. Errors start with `where`, the
 * plugin's entry in the config ("FILE:LINE:COL: plugin NAME"). */
static int open_one(struct herald_host *h, const plugin_conf *pc, const char *where, char *err,
                    size_t errlen)
{
	const herald_plugin *d;

	h->dl = dlopen(pc->path, RTLD_NOW | RTLD_LOCAL);
	if (!h->dl) {
		snprintf(err, errlen, "%s: cannot load: %s", where, dlerror());
		return HERALD_ENOTFOUND;
	}
	d = dlsym(h->dl, HERALD_PLUGIN_SYMBOL_NAME);
	if (!d) {
		snprintf(err, errlen, "%s: %s: not a Herald plugin: no symbol %s", where, pc->path,
		         HERALD_PLUGIN_SYMBOL_NAME);
		return HERALD_EABI;
	}
	if (d->abi != HERALD_PLUGIN_ABI) {
		snprintf(err, errlen, "%s: %s: built for ABI %u, core speaks %d", where, pc->path,
		         d->abi, HERALD_PLUGIN_ABI);
		return HERALD_EABI;
	}
	if (d->size < HERALD_PLUGIN_MIN_SIZE) {
		snprintf(err, errlen,
		         "%s: %s: plugin struct of %u bytes, the smallest this core accepts is %zu",
		         where, pc->path, d->size, (size_t)HERALD_PLUGIN_MIN_SIZE);
		return HERALD_EABI;
	}
	/* The growth rule: a plugin built when the struct was shorter has only `size` bytes of it,
	 * and what follows in its object file is something else. Copy those bytes alone; the
	 * fields it lacks stay zero, which every optional field reads as absent. A larger size
	 * (a newer plugin) carries fields this core does not know, and they are not read. */
	memset(&h->desc, 0, sizeof h->desc);
	memcpy(&h->desc, d, d->size < sizeof h->desc ? d->size : sizeof h->desc);
	if (!h->desc.name || !h->desc.create || !h->desc.start || !h->desc.stop ||
	    !h->desc.destroy) {
		snprintf(
		    err, errlen,
		    "%s: %s: incomplete plugin: name, create, start, stop and destroy must be set",
		    where, pc->path);
		return HERALD_EABI;
	}
	return 0;
}

int plugin_loader_open(const herald_config *cfg, ingest *q, size_t max_body, plugin_set **out,
                       char *err, size_t errlen)
{
	plugin_set *ps = calloc(1, sizeof *ps);
	int rc = HERALD_ENOMEM;

	if (!ps)
		return rc;
	ps->hosts = calloc(cfg->n_plugins ? cfg->n_plugins : 1, sizeof *ps->hosts);
	if (!ps->hosts)
		goto fail;
	for (size_t i = 0; i < cfg->n_plugins; i++) {
		struct herald_host *h = &ps->hosts[i];
		const plugin_conf *pc = &cfg->plugins[i];

		h->index = (uint32_t)i;
		h->queue = q;
		h->max_event = (size_t)cfg->max_notification_size;
		h->max_body = max_body;
		char where[512];

		snprintf(h->name, sizeof h->name, "%s", pc->name);
		snprintf(where, sizeof where, "%s:%d:%d: plugin %s", cfg->file, pc->line, pc->col,
		         pc->name);
		ps->n = i + 1;
		rc = open_one(h, pc, where, err, errlen);
		if (rc)
			goto fail;
		rc = config_plugin_options(cfg, i, h->desc.options, &h->opts, err, errlen);
		if (rc)
			goto fail;
		rc = h->desc.create(h, &host_api, &h->self);
		if (rc) {
			/* a failed create cleans up after itself: no destroy() */
			/* Most often an option the plugin refused (it logged why): the entry's
			 * place leads to its options. */
			snprintf(err, errlen, "%s (%s): create failed: %s", where, pc->path,
			         herald_strerror(rc));
			goto fail;
		}
		h->created = 1;
		/* The name as a field too: JSON logs can be filtered by plugin. */
		log_field kv[] = {LOG_STR("plugin", pc->name),
		                  LOG_STR("version", h->desc.version ? h->desc.version : "?")};
		LOG_FIELDS(HERALD_LOG_INFO, kv, "plugin %s loaded from %s (version %s)", pc->name,
		           pc->path, h->desc.version ? h->desc.version : "?");
	}
	*out = ps;
	return 0;
fail:
	plugin_loader_close(ps);
	return rc;
}

int plugin_loader_start(plugin_set *ps, char *err, size_t errlen)
{
	for (size_t i = 0; i < ps->n; i++) {
		struct herald_host *h = &ps->hosts[i];
		int rc = h->desc.start(h->self);
		if (rc) {
			snprintf(err, errlen, "plugin %s: start failed: %s", h->name,
			         herald_strerror(rc));
			plugin_loader_stop(ps);
			return rc;
		}
		h->started = 1;
	}
	return 0;
}

void plugin_loader_stop(plugin_set *ps)
{
	for (size_t i = ps->n; i-- > 0;) {
		struct herald_host *h = &ps->hosts[i];
		if (h->started) {
			h->desc.stop(h->self);
			h->started = 0;
		}
	}
}

void plugin_loader_ack(plugin_set *ps, uint32_t source, uint64_t tag, int status)
{
	struct herald_host *h = &ps->hosts[source];
	if (h->desc.ack)
		h->desc.ack(h->self, tag, status);
}

size_t plugin_loader_count(const plugin_set *ps)
{
	return ps->n;
}

void plugin_loader_stats(plugin_set *ps, uint32_t source, uint64_t *accepted, uint64_t *invalid,
                         uint64_t *full)
{
	struct herald_host *h = &ps->hosts[source];
	*accepted = atomic_load(&h->accepted);
	*invalid = atomic_load(&h->invalid);
	*full = atomic_load(&h->full);
}

const char *plugin_loader_name(const plugin_set *ps, uint32_t source)
{
	return ps->hosts[source].name;
}

void plugin_loader_close(plugin_set *ps)
{
	if (!ps)
		return;
	plugin_loader_stop(ps);
	for (size_t i = ps->n; i-- > 0;) {
		struct herald_host *h = &ps->hosts[i];
		if (h->created)
			h->desc.destroy(h->self);
		plugin_opts_free(h->opts);
		if (h->dl)
			dlclose(h->dl);
	}
	free(ps->hosts);
	free(ps);
}
