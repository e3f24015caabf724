/*
 * test_tiny.c - a complete plugin whose `size` says its struct stops before `destroy`, smaller
 * than any layout the core accepts (HERALD_PLUGIN_MIN_SIZE). The loader must refuse it before
 * calling anything; create() fails loudly in case it does not.
 */
#include <herald/plugin.h>

static int tiny_create(herald_host *host, const herald_host_api *api, void **self)
{
	(void)self;
	api->log(host, HERALD_LOG_ERROR, "create() called on a plugin struct that is too small");
	return HERALD_EABI;
}

static int tiny_start(void *self)
{
	(void)self;
	return HERALD_EABI;
}

static void tiny_stop(void *self)
{
	(void)self;
}

static void tiny_destroy(void *self)
{
	(void)self;
}

HERALD_PLUGIN_EXPORT const herald_plugin HERALD_PLUGIN_SYMBOL = {
    .abi = HERALD_PLUGIN_ABI,
    .size = offsetof(herald_plugin, destroy),
    .name = "test_tiny",
    .version = "1.0",
    .description = "declares a struct too small to hold destroy",
    .options = NULL,
    .create = tiny_create,
    .start = tiny_start,
    .stop = tiny_stop,
    .destroy = tiny_destroy,
    .ack = NULL,
};
