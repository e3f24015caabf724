/*
 * test_oldabi.c - a plugin built against an older, shorter herald_plugin: its struct ends at
 * `destroy`, as a plugin's does when it was built before a field was appended to the header
 * (today the one field after `destroy` is `ack`). The loader must take it, run it, and treat
 * the missing fields as absent without reading them.
 *
 * To catch a loader that reads past `size`, the exported object carries, right where the
 * current layout has `ack`, a function with ack's signature that aborts: a loader that copied
 * or called the plugin's `ack` beyond its size would call it on the first acknowledgement.
 */
#include <herald/plugin.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* herald_plugin up to `destroy`, field for field: the layout this plugin was "built against". */
typedef struct old_plugin {
	uint32_t abi;
	uint32_t size;
	const char *name;
	const char *version;
	const char *description;
	const herald_option *options;
	int (*create)(herald_host *host, const herald_host_api *api, void **self);
	int (*start)(void *self);
	void (*stop)(void *self);
	void (*destroy)(void *self);
} old_plugin;

_Static_assert(sizeof(old_plugin) == HERALD_PLUGIN_MIN_SIZE,
               "old_plugin must be herald_plugin's first HERALD_PLUGIN_MIN_SIZE bytes");
_Static_assert(offsetof(old_plugin, destroy) == offsetof(herald_plugin, destroy),
               "old_plugin must lay out its fields as herald_plugin does");

typedef struct oldabi {
	herald_host *host;
	const herald_host_api *api;
	pthread_t thread;
} oldabi;

/* Submits one event with tag 7; the test drains it and acknowledges it. */
static void *oldabi_run(void *arg)
{
	static const char event[] = "{\"event_type\":\"old_abi\",\"users\":[7]}";
	oldabi *o = arg;
	char err[256];
	int rc = o->api->submit(o->host, event, strlen(event), 7, err, sizeof err);

	if (rc)
		o->api->log(o->host, HERALD_LOG_ERROR, "submit: %s", o->api->strerror(rc));
	return NULL;
}

static int oldabi_create(herald_host *host, const herald_host_api *api, void **self)
{
	/* Allocated so that a loader which never calls destroy() shows up as a leak. */
	oldabi *o = calloc(1, sizeof *o);
	if (!o)
		return HERALD_ENOMEM;
	o->host = host;
	o->api = api;
	*self = o;
	return HERALD_OK;
}

static int oldabi_start(void *self)
{
	oldabi *o = self;
	return pthread_create(&o->thread, NULL, oldabi_run, o) ? HERALD_EIO : HERALD_OK;
}

static void oldabi_stop(void *self)
{
	oldabi *o = self;
	pthread_join(o->thread, NULL);
}

static void oldabi_destroy(void *self)
{
	free(self);
}

/* Not the plugin's: the bytes after its struct, shaped as an ack() that must never run. */
static void past_size(void *self, uint64_t tag, int status)
{
	(void)self;
	fprintf(stderr, "test_oldabi: ack(tag %llu, status %d) read past the plugin's size\n",
	        (unsigned long long)tag, status);
	abort();
}

HERALD_PLUGIN_EXPORT const struct {
	old_plugin desc;
	void (*after)(void *self, uint64_t tag, int status);
} HERALD_PLUGIN_SYMBOL = {
    .desc =
        {
            .abi = HERALD_PLUGIN_ABI,
            .size = sizeof(old_plugin),
            .name = "test_oldabi",
            .version = "0.9",
            .description = "built against herald_plugin as it was before `ack`",
            .options = NULL,
            .create = oldabi_create,
            .start = oldabi_start,
            .stop = oldabi_stop,
            .destroy = oldabi_destroy,
        },
    .after = past_size,
};
