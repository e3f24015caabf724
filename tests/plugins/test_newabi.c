/*
 * test_newabi.c - a plugin built against a newer header of the same ABI, whose herald_plugin
 * has grown by one field at its end (which this core does not know). The loader must take it,
 * copy no more than its own layout, and still use the fields it knows, `ack` among them: each
 * ack() submits an "acked" event with the acknowledged tag + 100, so the test sees it ran.
 */
#include <herald/plugin.h>

#include <stdlib.h>
#include <string.h>

typedef struct newabi {
	herald_host *host;
	const herald_host_api *api;
} newabi;

static int newabi_create(herald_host *host, const herald_host_api *api, void **self)
{
	newabi *n = calloc(1, sizeof *n);
	if (!n)
		return HERALD_ENOMEM;
	n->host = host;
	n->api = api;
	*self = n;
	return HERALD_OK;
}

/* One event with tag 7, submitted from start() (allowed: it may submit before it returns). */
static int newabi_start(void *self)
{
	static const char event[] = "{\"event_type\":\"new_abi\",\"users\":[7]}";
	newabi *n = self;
	return n->api->submit(n->host, event, strlen(event), 7, NULL, 0);
}

static void newabi_stop(void *self)
{
	(void)self;
}

static void newabi_destroy(void *self)
{
	free(self);
}

static void newabi_ack(void *self, uint64_t tag, int status)
{
	static const char event[] = "{\"event_type\":\"acked\",\"users\":[7]}";
	newabi *n = self;
	if (status == HERALD_OK)
		n->api->submit(n->host, event, strlen(event), tag + 100, NULL, 0);
}

/* herald_plugin as a later header might have it: today's fields, then one appended. */
typedef struct new_plugin {
	herald_plugin known;
	void *appended;
} new_plugin;

HERALD_PLUGIN_EXPORT const new_plugin HERALD_PLUGIN_SYMBOL = {
    .known =
        {
            .abi = HERALD_PLUGIN_ABI,
            .size = sizeof(new_plugin),
            .name = "test_newabi",
            .version = "2.0",
            .description = "built against a longer herald_plugin",
            .options = NULL,
            .create = newabi_create,
            .start = newabi_start,
            .stop = newabi_stop,
            .destroy = newabi_destroy,
            .ack = newabi_ack,
        },
    .appended = (void *)1, /* not a pointer this core may follow */
};
