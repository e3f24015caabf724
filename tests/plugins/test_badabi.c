/*
 * test_badabi.c - a complete plugin built for an ABI the core does not speak. The loader must
 * refuse it before calling anything; create() fails loudly in case it does not.
 */
#include <herald/plugin.h>

static int badabi_create(herald_host *host, const herald_host_api *api, void **self)
{
	(void)self;
	api->log(host, HERALD_LOG_ERROR, "create() called on a plugin built for another ABI");
	return HERALD_EABI;
}

static int badabi_start(void *self)
{
	(void)self;
	return HERALD_EABI;
}

static void badabi_stop(void *self)
{
	(void)self;
}

static void badabi_destroy(void *self)
{
	(void)self;
}

HERALD_PLUGIN_EXPORT const herald_plugin HERALD_PLUGIN_SYMBOL = {
    .abi = HERALD_PLUGIN_ABI + 41,
    .size = sizeof(herald_plugin),
    .name = "test_badabi",
    .version = "1.0",
    .description = "built for another ABI",
    .options = NULL,
    .create = badabi_create,
    .start = badabi_start,
    .stop = badabi_stop,
    .destroy = badabi_destroy,
    .ack = NULL,
};
