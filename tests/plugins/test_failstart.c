/*
 * test_failstart.c - a plugin whose start() fails. The loader must then call destroy() (which
 * frees what create() allocated: a leak shows under LSan) and never stop().
 */
#include <herald/plugin.h>

#include <stdlib.h>

typedef struct failstart {
	herald_host *host;
	const herald_host_api *api;
} failstart;

static int failstart_create(herald_host *host, const herald_host_api *api, void **self)
{
	failstart *f = malloc(sizeof *f);
	if (!f)
		return HERALD_ENOMEM;
	f->host = host;
	f->api = api;
	*self = f;
	return HERALD_OK;
}

static int failstart_start(void *self)
{
	failstart *f = self;
	f->api->log(f->host, HERALD_LOG_ERROR, "cannot start: this test plugin always fails");
	return HERALD_EIO;
}

static void failstart_stop(void *self)
{
	failstart *f = self;
	f->api->log(f->host, HERALD_LOG_ERROR, "stop() called after a failed start()");
}

static void failstart_destroy(void *self)
{
	free(self);
}

HERALD_PLUGIN_EXPORT const herald_plugin HERALD_PLUGIN_SYMBOL = {
    .abi = HERALD_PLUGIN_ABI,
    .size = sizeof(herald_plugin),
    .name = "test_failstart",
    .version = "1.0",
    .description = "fails in start()",
    .options = NULL,
    .create = failstart_create,
    .start = failstart_start,
    .stop = failstart_stop,
    .destroy = failstart_destroy,
    .ack = NULL,
};
