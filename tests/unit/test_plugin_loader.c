/* Unit tests of plugin_loader.c with real test plugins (the .so files of tests/plugins): ABI
 * refusal, missing symbol, option checking, lifecycle, submit into the ingest queue, acks, and the
 * ABI's growth rule (older and newer plugin structs, HERALD_HOST_HAS). */
#include "plugin_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

static char plugin_dir[1024];

/* Load a config whose only plugin is tests/plugins/<file> with the given options block. */
static int open_with(const char *file, const char *options, ingest *q, plugin_set **ps, char *err,
                     size_t errlen)
{
	char yaml[2048];
	herald_config *cfg;
	int n = snprintf(yaml, sizeof yaml,
	                 "auth: {secret: {env: HOME}}\nplugins:\n  - name: t\n    path: %s/%s\n%s",
	                 plugin_dir, file, options ? options : "");
	int rc = config_load_string(yaml, (size_t)n, "test.yaml", ".", &cfg, err, errlen);
	if (rc)
		return rc;
	rc = plugin_loader_open(cfg, q, 1 << 20, ps, err, errlen);
	config_free(cfg);
	return rc;
}

static void test_refusals(void)
{
	char err[1024];
	plugin_set *ps = NULL;
	ingest *q;

	CHECK_INT(ingest_create(16, NULL, NULL, &q), 0);
	CHECK_INT(open_with("test_badabi.so", NULL, q, &ps, err, sizeof err), HERALD_EABI);
	CHECK_CONTAINS(err, "test_badabi.so: built for ABI 42, core speaks 1");
	CHECK_INT(open_with("test_tiny.so", NULL, q, &ps, err, sizeof err), HERALD_EABI);
	char want[128];
	snprintf(want, sizeof want,
	         "test_tiny.so: plugin struct of %zu bytes, the smallest this core accepts is %zu",
	         offsetof(herald_plugin, destroy), (size_t)HERALD_PLUGIN_MIN_SIZE);
	CHECK_CONTAINS(err, want);
	CHECK_INT(open_with("test_nosymbol.so", NULL, q, &ps, err, sizeof err), HERALD_EABI);
	CHECK_CONTAINS(err, "test_nosymbol.so: not a Herald plugin: no symbol herald_plugin_entry");
	CHECK_INT(open_with("missing.so", NULL, q, &ps, err, sizeof err), HERALD_ENOTFOUND);
	CHECK_CONTAINS(err, "missing.so");
	CHECK_INT(open_with("test_good.so", "    options: {evnt: x}\n", q, &ps, err, sizeof err),
	          HERALD_ECONFIG);
	CHECK_CONTAINS(err, "evnt");
	CHECK_CONTAINS(err, "count");
	CHECK_INT(open_with("test_good.so", "    options: {fail_create: true}\n", q, &ps, err,
	                    sizeof err),
	          HERALD_ECONFIG);
	CHECK_CONTAINS(err, "create failed");

	/* start fails: the loader reports it, and closing still destroys the plugin */
	CHECK_INT(open_with("test_failstart.so", NULL, q, &ps, err, sizeof err), 0);
	CHECK_INT(plugin_loader_start(ps, err, sizeof err), HERALD_EIO);
	CHECK_CONTAINS(err, "start failed");
	plugin_loader_close(ps);
	ingest_destroy(q);
}

static void test_submit_and_ack(void)
{
	char err[1024];
	plugin_set *ps;
	ingest *q;
	ingest_item items[64];
	size_t got = 0;
	const char *opts = "    options:\n"
	                   "      event: '{\"event_type\":\"milestone_created\",\"users\":[7]}'\n"
	                   "      count: 50\n";

	CHECK_INT(ingest_create(16, NULL, NULL, &q),
	          0); /* smaller than count: the plugin backs off */
	CHECK_INT(open_with("test_good.so", opts, q, &ps, err, sizeof err), 0);
	CHECK_STR(plugin_loader_name(ps, 0), "t");
	CHECK_INT(plugin_loader_start(ps, err, sizeof err), 0);
	for (int spins = 0; got < 50 && spins < 100000; spins++) {
		size_t n = ingest_drain(q, items, 64);
		for (size_t i = 0; i < n; i++) {
			CHECK_INT(items[i].tag, got + i + 1); /* in submit order */
			CHECK_STR(items[i].ev->type, "milestone_created");
			plugin_loader_ack(ps, items[i].source, items[i].tag, HERALD_OK);
			event_free(items[i].ev);
		}
		got += n;
		if (!n)
			usleep(100);
	}
	CHECK_INT(got, 50);
	plugin_loader_stop(ps);
	plugin_loader_close(ps);
	ingest_destroy(q);
}

/* submit_many: a valid array is queued whole with consecutive tags; an array with one bad
 * event queues nothing. */
static void test_submit_many(void)
{
	char err[1024];
	plugin_set *ps;
	ingest *q;
	ingest_item items[8];
	const char *good =
	    "    options:\n      count: 0\n      batch: '["
	    "{\"event_type\":\"a\",\"users\":[1]},{\"event_type\":\"b\",\"users\":[2]},"
	    "{\"event_type\":\"c\",\"users\":[3]}]'\n";
	const char *bad =
	    "    options:\n      count: 0\n      batch: '["
	    "{\"event_type\":\"a\",\"users\":[1]},{\"event_type\":\"b\",\"users\":[0]}]'\n";
	size_t n = 0;

	CHECK_INT(ingest_create(16, NULL, NULL, &q), 0);
	CHECK_INT(open_with("test_good.so", good, q, &ps, err, sizeof err), 0);
	CHECK_INT(plugin_loader_start(ps, err, sizeof err), 0);
	plugin_loader_stop(ps); /* joins the thread: the batch has been submitted */
	n = ingest_drain(q, items, 8);
	CHECK_INT(n, 3);
	for (size_t i = 0; i < n; i++) {
		CHECK_INT(items[i].tag, 1001 + i);
		CHECK_INT(items[i].ev->type[0], 'a' + (int)i); /* in array order */
		event_free(items[i].ev);
	}
	plugin_loader_close(ps);

	CHECK_INT(open_with("test_good.so", bad, q, &ps, err, sizeof err), 0);
	CHECK_INT(plugin_loader_start(ps, err, sizeof err), 0);
	plugin_loader_stop(ps);
	CHECK_INT(ingest_drain(q, items, 8), 0);
	plugin_loader_close(ps);
	ingest_destroy(q);
}

/* Up to `want` items from q, waiting up to ~10 s for the plugin's thread to submit them. */
static size_t drain_some(ingest *q, ingest_item *items, size_t want)
{
	size_t got = 0;
	for (int spins = 0; got < want && spins < 100000; spins++) {
		size_t n = ingest_drain(q, items + got, want - got);
		got += n;
		if (!n)
			usleep(100);
	}
	return got;
}

/* A plugin whose herald_plugin ends at `destroy` (built before `ack` was appended) loads and
 * runs, and its missing `ack` counts as NULL: the loader never reads the bytes after its
 * struct, where test_oldabi.so keeps an ack that aborts. */
static void test_older_plugin_struct(void)
{
	char err[1024];
	plugin_set *ps;
	ingest *q;
	ingest_item item;

	CHECK_INT(ingest_create(16, NULL, NULL, &q), 0);
	CHECK_INT(open_with("test_oldabi.so", NULL, q, &ps, err, sizeof err), 0);
	CHECK_INT(plugin_loader_start(ps, err, sizeof err), 0);
	CHECK_INT(drain_some(q, &item, 1), 1);
	CHECK_STR(item.ev->type, "old_abi");
	CHECK_INT(item.tag, 7);
	plugin_loader_ack(ps, item.source, item.tag, HERALD_OK); /* aborts if `ack` was read */
	event_free(item.ev);
	plugin_loader_stop(ps);
	plugin_loader_close(ps); /* destroy() frees its state: a leak under ASan otherwise */
	ingest_destroy(q);
}

/* A plugin built against a longer herald_plugin (same ABI) loads, and the fields this core
 * knows are used: its ack() runs and submits "acked" with tag + 100. */
static void test_newer_plugin_struct(void)
{
	char err[1024];
	plugin_set *ps;
	ingest *q;
	ingest_item item;

	CHECK_INT(ingest_create(16, NULL, NULL, &q), 0);
	CHECK_INT(open_with("test_newabi.so", NULL, q, &ps, err, sizeof err), 0);
	CHECK_INT(plugin_loader_start(ps, err, sizeof err), 0);
	CHECK_INT(drain_some(q, &item, 1), 1);
	CHECK_STR(item.ev->type, "new_abi");
	plugin_loader_ack(ps, item.source, item.tag, HERALD_OK);
	event_free(item.ev);
	CHECK_INT(drain_some(q, &item, 1), 1);
	CHECK_STR(item.ev->type, "acked");
	CHECK_INT(item.tag, 107);
	event_free(item.ev);
	plugin_loader_close(ps);
	ingest_destroy(q);
}

/* HERALD_HOST_HAS judges by the table's own size, field by field. */
static void test_host_has(void)
{
	herald_host_api api = {.abi = HERALD_PLUGIN_ABI};
	size_t end_many = offsetof(herald_host_api, submit_many) + sizeof api.submit_many;

	api.size = sizeof api; /* the core's own table */
	CHECK_INT(HERALD_HOST_HAS(&api, submit), 1);
	CHECK_INT(HERALD_HOST_HAS(&api, submit_many), 1);
	api.size = (uint32_t)offsetof(herald_host_api, submit_many); /* the first layout */
	CHECK_INT(HERALD_HOST_HAS(&api, opt_isset), 1);
	CHECK_INT(HERALD_HOST_HAS(&api, submit_many), 0);
	api.size = (uint32_t)end_many - 1; /* part of a field is not the field */
	CHECK_INT(HERALD_HOST_HAS(&api, submit_many), 0);
	api.size = (uint32_t)end_many;
	CHECK_INT(HERALD_HOST_HAS(&api, submit_many), 1);
	api.size = 8; /* abi and size only */
	CHECK_INT(HERALD_HOST_HAS(&api, submit), 0);
	CHECK_INT(HERALD_HOST_HAS(&api, size), 1);
}

int main(void)
{
	const char *build = getenv("HERALD_BUILD_DIR");
	snprintf(plugin_dir, sizeof plugin_dir, "%s/tests/plugins", build ? build : "../../build");
	log_setup(HERALD_LOG_ERROR, 0);
	test_refusals();
	test_submit_and_ack();
	test_submit_many();
	test_older_plugin_struct();
	test_newer_plugin_struct();
	test_host_has();
	return check_done();
}
