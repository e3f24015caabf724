/*
 * test_good.c - a well-behaved plugin for the loader's tests. Its thread submits the `event`
 * option `count` times with tags 1..count, then ends; it logs every ack it receives.
 */
#include <herald/plugin.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct good {
	herald_host *host;
	const herald_host_api *api;
	const char *event; /* borrowed from the host, NULL when unset */
	const char *batch; /* submitted once with submit_many(), tags from 1001 */
	long long count;
	atomic_int stopping;
	atomic_ullong acks[10]; /* by -status: [0] HERALD_OK, [8] HERALD_EFORMAT, ... */
	pthread_t thread;
} good;

static const herald_option good_options[] = {
    {"event", HERALD_OPT_STRING, NULL, 0, 0, "the JSON event to submit"},
    {"count", HERALD_OPT_INT, "1", 0, 1000000, "how many times to submit it"},
    {"batch", HERALD_OPT_STRING, NULL, 0, 0, "a JSON array submitted once with submit_many"},
    {"fail_create", HERALD_OPT_BOOL, "false", 0, 0, "make create() fail"},
    {NULL, 0, NULL, 0, 0, NULL},
};

static void *good_run(void *arg)
{
	good *g = arg;
	const struct timespec ms = {0, 1000000};
	long long sent = 0;

	if (g->batch) {
		char err[256] = "";
		size_t count = 0;
		int rc = g->api->submit_many(g->host, g->batch, strlen(g->batch), 1001, &count, err,
		                             sizeof err);
		g->api->log(g->host, HERALD_LOG_INFO, "batch: rc=%d count=%zu err=%s", rc, count,
		            err);
	}
	for (long long tag = 1; g->event && tag <= g->count && !g->stopping; tag++) {
		char err[256];
		int rc;
		while ((rc = g->api->submit(g->host, g->event, strlen(g->event), (uint64_t)tag, err,
		                            sizeof err)) == HERALD_EFULL &&
		       !g->stopping)
			nanosleep(&ms, NULL);
		if (rc == HERALD_EINVAL) {
			g->api->log(g->host, HERALD_LOG_WARN, "event refused: %s", err);
			break;
		}
		if (rc != HERALD_OK)
			break;
		sent++;
	}
	g->api->log(g->host, HERALD_LOG_INFO, "submitted %lld events", sent);
	return NULL;
}

static int good_create(herald_host *host, const herald_host_api *api, void **self)
{
	if (api->opt_bool(host, "fail_create")) {
		api->log(host, HERALD_LOG_ERROR, "fail_create is set");
		return HERALD_ECONFIG;
	}
	good *g = calloc(1, sizeof *g);
	if (!g)
		return HERALD_ENOMEM;
	g->host = host;
	g->api = api;
	g->event = api->opt_string(host, "event");
	g->batch = api->opt_string(host, "batch");
	g->count = api->opt_int(host, "count");
	/* submit_many came after the first host table: a core without it cannot run the batch. */
	if (g->batch && !HERALD_HOST_HAS(api, submit_many)) {
		api->log(host, HERALD_LOG_ERROR, "`batch` needs a core with submit_many");
		free(g);
		return HERALD_ECONFIG;
	}
	*self = g;
	return HERALD_OK;
}

static int good_start(void *self)
{
	good *g = self;
	return pthread_create(&g->thread, NULL, good_run, g) ? HERALD_EIO : HERALD_OK;
}

static void good_stop(void *self)
{
	good *g = self;
	g->stopping = 1;
	pthread_join(g->thread, NULL);
}

static void good_ack(void *self, uint64_t tag, int status)
{
	good *g = self;
	if (status <= 0 && status > -10)
		g->acks[-status]++;
	g->api->log(g->host, HERALD_LOG_INFO, "ack tag=%llu status=%d", (unsigned long long)tag,
	            status);
}

static void good_destroy(void *self)
{
	good *g = self;
	if (!g)
		return;
	g->api->log(g->host, HERALD_LOG_INFO, "acks: ok=%llu format=%llu shutdown=%llu",
	            (unsigned long long)g->acks[-HERALD_OK],
	            (unsigned long long)g->acks[-HERALD_EFORMAT],
	            (unsigned long long)g->acks[-HERALD_ESHUTDOWN]);
	free(g);
}

HERALD_PLUGIN_EXPORT const herald_plugin HERALD_PLUGIN_SYMBOL = {
    .abi = HERALD_PLUGIN_ABI,
    .size = sizeof(herald_plugin),
    .name = "test_good",
    .version = "1.0",
    .description = "submits one configured event `count` times",
    .options = good_options,
    .create = good_create,
    .start = good_start,
    .stop = good_stop,
    .destroy = good_destroy,
    .ack = good_ack,
};
