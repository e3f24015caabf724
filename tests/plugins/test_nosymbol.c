/*
 * test_nosymbol.c - a plugin that would work, but exports its descriptor under a name other
 * than HERALD_PLUGIN_SYMBOL_NAME. The loader must refuse it for the missing symbol.
 */
#include <herald/plugin.h>

#include <stdlib.h>

static int nosymbol_create(herald_host *host, const herald_host_api *api, void **self)
{
	(void)host;
	(void)api;
	*self = malloc(1);
	return *self ? HERALD_OK : HERALD_ENOMEM;
}

static int nosymbol_start(void *self)
{
	(void)self;
	return HERALD_OK;
}

static void nosymbol_stop(void *self)
{
	(void)self;
}

static void nosymbol_destroy(void *self)
{
	free(self);
}

HERALD_PLUGIN_EXPORT const herald_plugin herald_plugin_descriptor = {
    .abi = HERALD_PLUGIN_ABI,
    .size = sizeof(herald_plugin),
    .name = "test_nosymbol",
    .version = "1.0",
    .description = "exports its descriptor under the wrong name",
    .options = NULL,
    .create = nosymbol_create,
    .start = nosymbol_start,
    .stop = nosymbol_stop,
    .destroy = nosymbol_destroy,
    .ack = NULL,
};
