/* test_formatter.c - Lua formatters (core/formatter.c) and the shipped scripts (scripts/). */
#define _GNU_SOURCE /* mkdtemp, nftw */
#include <fcntl.h>
#include <ftw.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "formatter.h"
#include "herald/plugin.h"
#include "jtape.h"
#include "log.h"

#define INSTRUCTIONS 200000
#define MEMORY (2 << 20)

/* An event built by hand (event.c is not part of this test): any JSON object, as a tape. */
static event *make_event(const char *json)
{
	json_error_t jerr;
	event *ev = calloc(1, sizeof *ev);
	json_t *root = json_loads(json, 0, &jerr);
	jtape t = {0};
	size_t len;

	if (!root)
		fprintf(stderr, "bad test JSON %s: %s\n", json, jerr.text);
	CHECK_INT(jtape_from_json(&t, root), 0);
	json_decref(root);
	ev->root = t.p;
	const unsigned char *type = t.p ? jtape_get(t.p, "event_type", 10) : NULL;
	ev->type = type && jtape_type(type) == JT_STRING ? jtape_str(type, &len) : NULL;
	return ev;
}

static void free_event(event *ev)
{
	free((void *)ev->root);
	free(ev);
}

/* Formats `json`; returns the status, the result as sorted compact JSON text in out. */
static int run(formatter *f, const char *json, char **out, char *err, size_t errlen)
{
	event *ev = make_event(json);
	json_t *res = (json_t *)ev; /* must be reset */
	int rc;

	err[0] = '\0';
	*out = NULL;
	rc = formatter_run(f, ev, &res, err, errlen);
	if (rc == 0)
		*out = json_dumps(res, JSON_SORT_KEYS | JSON_COMPACT);
	else
		CHECK(res == NULL);
	json_decref(res);
	free_event(ev);
	return rc;
}

/* Checks that `json` formats to `want` (any JSON text, compared after sorting keys). */
static void expect(formatter *f, const char *json, const char *want)
{
	char err[512], *got, *norm;
	json_t *w = json_loads(want, 0, NULL);

	CHECK(w != NULL);
	norm = json_dumps(w, JSON_SORT_KEYS | JSON_COMPACT);
	CHECK_INT(run(f, json, &got, err, sizeof err), 0);
	if (err[0])
		fprintf(stderr, "  error: %s\n", err);
	CHECK_STR(got, norm);
	free(got);
	free(norm);
	json_decref(w);
}

/* Checks that an event of `type` fails with status `rc` and an error starting with `want`. */
static void expect_fail(formatter *f, const char *type, int rc, const char *want)
{
	char json[256], err[512], *got;

	snprintf(json, sizeof json,
	         "{\"event_type\":\"%s\",\"project\":{\"id\":1,\"title\":\"P\"}}", type);
	CHECK_INT(run(f, json, &got, err, sizeof err), rc);
	if (strncmp(err, want, strlen(want)) != 0)
		CHECK_STR(err, want);
	CHECK(got == NULL);
	free(got);
	/* The failure cost that call only: the same state formats the next event. */
	expect(f, "{\"event_type\":\"ok\",\"data\":{\"n\":1}}",
	       "{\"title\":\"ok\",\"message\":\"ok\",\"data\":{\"n\":1}}");
}

/* ---- Temporary script directories ---- */

static char *make_dir(void)
{
	char *dir = strdup("/tmp/herald_formatter_XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	return dir;
}

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fp = fopen(path, "wb");
	CHECK(fp != NULL);
	if (!fp)
		return;
	CHECK_INT(fwrite(text, 1, len, fp), len);
	fclose(fp);
}

static void write_script(const char *dir, const char *name, const char *text)
{
	write_file(dir, name, text, strlen(text));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_dir(char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static const char ok_script[] =
    "return function(e) return {title = 'ok', message = e.event_type, data = e.data} end\n";

/* ---- The shipped scripts ---- */

static const char *source_dir(void)
{
	const char *dir = getenv("HERALD_SOURCE_DIR");
	return dir ? dir : "../..";
}

static void test_shipped(void)
{
	char dir[1024], err[512] = "";
	formatter *f = NULL;

	snprintf(dir, sizeof dir, "%s/scripts", source_dir());
	CHECK_INT(formatter_create(dir, 1000000, 16 << 20, &f, err, sizeof err), 0);
	CHECK_STR(err, "");
	if (!f)
		return;

	/* The example of API.md, with fields the scripts must leave out. */
	expect(f,
	       "{\"event_type\":\"milestone_created\","
	       "\"project\":{\"id\":2,\"title\":\"Mobile App Development\"},"
	       "\"actor\":{\"id\":5,\"username\":\"jane_smith\"},"
	       "\"data\":{\"id\":42,\"title\":\"Sprint Planning\",\"progress\":0,\"due\":\"x\"},"
	       "\"exclude_user\":5,\"timestamp\":\"2025-10-24T14:30:00Z\"}",
	       "{\"title\":\"Milestone Created\","
	       "\"message\":\"Milestone 'Sprint Planning' has been created\","
	       "\"data\":{\"id\":42,\"title\":\"Sprint Planning\",\"progress\":0}}");
	/* progress defaults to 0 on creation only. */
	expect(f,
	       "{\"event_type\":\"milestone_created\",\"project\":{\"id\":2,\"title\":\"P\"},"
	       "\"data\":{\"id\":7,\"title\":\"Beta\"}}",
	       "{\"title\":\"Milestone Created\",\"message\":\"Milestone 'Beta' has been created\","
	       "\"data\":{\"id\":7,\"title\":\"Beta\",\"progress\":0}}");
	expect(f,
	       "{\"event_type\":\"milestone_updated\",\"project\":{\"id\":2,\"title\":\"P\"},"
	       "\"data\":{\"id\":7,\"title\":\"Beta\",\"progress\":75}}",
	       "{\"title\":\"Milestone Updated\",\"message\":\"Milestone 'Beta' has been updated\","
	       "\"data\":{\"id\":7,\"title\":\"Beta\",\"progress\":75}}");
	expect(f,
	       "{\"event_type\":\"milestone_updated\",\"project\":{\"id\":2,\"title\":\"P\"},"
	       "\"data\":{\"id\":7,\"title\":\"Beta\"}}",
	       "{\"title\":\"Milestone Updated\",\"message\":\"Milestone 'Beta' has been updated\","
	       "\"data\":{\"id\":7,\"title\":\"Beta\"}}");
	/* A null reads as absent; non-ASCII text passes through. */
	expect(f,
	       "{\"event_type\":\"milestone_updated\",\"project\":{\"id\":2,\"title\":\"P\"},"
	       "\"data\":{\"id\":7,\"title\":\"\\u00c9t\\u00e9 \\u2603\",\"progress\":null}}",
	       "{\"title\":\"Milestone Updated\","
	       "\"message\":\"Milestone '\\u00c9t\\u00e9 \\u2603' has been updated\","
	       "\"data\":{\"id\":7,\"title\":\"\\u00c9t\\u00e9 \\u2603\"}}");
	/* ... so a null field takes the default of an absent one, and a null title its fallback. */
	expect(f,
	       "{\"event_type\":\"milestone_created\",\"project\":{\"id\":2,\"title\":\"P\"},"
	       "\"data\":{\"id\":7,\"title\":\"Beta\",\"progress\":null}}",
	       "{\"title\":\"Milestone Created\",\"message\":\"Milestone 'Beta' has been created\","
	       "\"data\":{\"id\":7,\"title\":\"Beta\",\"progress\":0}}");
	expect(f,
	       "{\"event_type\":\"project_updated\",\"project\":{\"id\":2,\"title\":\"Web\"},"
	       "\"data\":{\"id\":null,\"title\":null,\"status\":\"active\"}}",
	       "{\"title\":\"Project Updated\",\"message\":\"Project 'Web' has been updated\","
	       "\"data\":{\"id\":2,\"title\":\"Web\",\"status\":\"active\"}}");
	expect(f,
	       "{\"event_type\":\"milestone_deleted\",\"project\":{\"id\":2,\"title\":\"P\"},"
	       "\"data\":{\"id\":7,\"title\":\"Beta\",\"progress\":100}}",
	       "{\"title\":\"Milestone Deleted\",\"message\":\"Milestone 'Beta' has been deleted\","
	       "\"data\":{\"id\":7,\"title\":\"Beta\"}}");
	/* Without a milestone title the quotes stay empty; without data, data is {}. */
	expect(f, "{\"event_type\":\"milestone_deleted\",\"project\":{\"id\":2,\"title\":\"P\"}}",
	       "{\"title\":\"Milestone Deleted\",\"message\":\"Milestone '' has been deleted\","
	       "\"data\":{}}");

	expect(f,
	       "{\"event_type\":\"team_member_added\","
	       "\"project\":{\"id\":2,\"title\":\"Mobile App Development\"},"
	       "\"data\":{\"user_id\":9,\"role\":\"developer\",\"capacity\":0.5,\"x\":1}}",
	       "{\"title\":\"Team Member Added\","
	       "\"message\":\"A new team member has been added to 'Mobile App Development'\","
	       "\"data\":{\"user_id\":9,\"role\":\"developer\",\"capacity\":0.5}}");
	expect(f,
	       "{\"event_type\":\"team_member_added\",\"project\":{\"id\":2,\"title\":\"Web\"},"
	       "\"data\":{\"user_id\":9,\"role\":\"developer\"}}",
	       "{\"title\":\"Team Member Added\","
	       "\"message\":\"A new team member has been added to 'Web'\","
	       "\"data\":{\"user_id\":9,\"role\":\"developer\"}}");
	expect(f,
	       "{\"event_type\":\"team_member_updated\",\"project\":{\"id\":2,\"title\":\"Web\"},"
	       "\"data\":{\"user_id\":9,\"role\":\"lead\",\"capacity\":80}}",
	       "{\"title\":\"Team Member Updated\","
	       "\"message\":\"A team member has been updated in 'Web'\","
	       "\"data\":{\"user_id\":9,\"role\":\"lead\",\"capacity\":80}}");
	expect(f,
	       "{\"event_type\":\"team_member_removed\",\"project\":{\"id\":2,\"title\":\"Web\"},"
	       "\"data\":{\"user_id\":9,\"role\":\"lead\",\"capacity\":80}}",
	       "{\"title\":\"Team Member Removed\","
	       "\"message\":\"A team member has been removed from 'Web'\","
	       "\"data\":{\"user_id\":9}}");

	/* Project id and title come from data, else from the project. */
	expect(f,
	       "{\"event_type\":\"project_created\","
	       "\"project\":{\"id\":2,\"title\":\"Mobile App Development\"},"
	       "\"data\":{\"status\":\"planning\"}}",
	       "{\"title\":\"Project Created\","
	       "\"message\":\"Project 'Mobile App Development' has been created\","
	       "\"data\":{\"id\":2,\"title\":\"Mobile App Development\",\"status\":\"planning\"}}");
	/* The message names the project's title; data keeps data's own. */
	expect(f,
	       "{\"event_type\":\"project_updated\",\"project\":{\"id\":2,\"title\":\"Old\"},"
	       "\"data\":{\"id\":2,\"title\":\"New\",\"status\":\"active\"}}",
	       "{\"title\":\"Project Updated\",\"message\":\"Project 'Old' has been updated\","
	       "\"data\":{\"id\":2,\"title\":\"New\",\"status\":\"active\"}}");
	/* Without a project the message falls back to data.title. */
	expect(f,
	       "{\"event_type\":\"project_updated\",\"users\":[4],"
	       "\"data\":{\"id\":3,\"title\":\"Solo\"}}",
	       "{\"title\":\"Project Updated\",\"message\":\"Project 'Solo' has been updated\","
	       "\"data\":{\"id\":3,\"title\":\"Solo\"}}");
	expect(f,
	       "{\"event_type\":\"project_deleted\",\"project\":{\"id\":2,\"title\":\"Web\"},"
	       "\"data\":{\"status\":\"archived\"}}",
	       "{\"title\":\"Project Deleted\",\"message\":\"Project 'Web' has been deleted\","
	       "\"data\":{\"id\":2,\"title\":\"Web\"}}");

	/* default.lua: wording from the type, data as it is. */
	expect(f,
	       "{\"event_type\":\"sprint_started\","
	       "\"project\":{\"id\":2,\"title\":\"Mobile App Development\"},"
	       "\"data\":{\"n\":null,\"list\":[1,null,\"x\",[],{}],\"deep\":{\"a\":{\"b\":true}}}}",
	       "{\"title\":\"Sprint Started\","
	       "\"message\":\"Sprint Started in 'Mobile App Development'\","
	       "\"data\":{\"list\":[1,null,\"x\",{},{}],\"deep\":{\"a\":{\"b\":true}}}}");
	expect(f, "{\"event_type\":\"v2_release_shipped\",\"users\":[1]}",
	       "{\"title\":\"V2 Release Shipped\",\"message\":\"V2 Release Shipped\",\"data\":{}}");
	formatter_destroy(f);
}

/* Formats 20,000 events, parsing each, as a sanity check of the per-call path (no timing
 * assertion; the rate is printed). */
static void test_many(void)
{
	static const char json[] =
	    "{\"event_type\":\"milestone_created\","
	    "\"project\":{\"id\":2,\"title\":\"Mobile App Development\"},"
	    "\"actor\":{\"id\":5,\"username\":\"jane_smith\",\"first_name\":\"Jane\","
	    "\"last_name\":\"Smith\"},"
	    "\"data\":{\"id\":42,\"title\":\"Sprint Planning\",\"progress\":0},"
	    "\"exclude_user\":5,\"timestamp\":\"2025-10-24T14:30:00Z\"}";
	char dir[1024], err[512] = "";
	formatter *f = NULL;
	struct timespec t0, t1;
	int ok = 0, n = 20000;
	double secs;

	snprintf(dir, sizeof dir, "%s/scripts", source_dir());
	CHECK_INT(formatter_create(dir, 1000000, 16 << 20, &f, err, sizeof err), 0);
	if (!f)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		event *ev = make_event(json);
		json_t *out;
		if (formatter_run(f, ev, &out, err, sizeof err) == 0 &&
		    strcmp(json_string_value(json_object_get(out, "title")), "Milestone Created") ==
		        0)
			ok++;
		json_decref(out);
		free_event(ev);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_INT(ok, n);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%d events parsed and formatted in %.3f s (%.0f/s)\n", n, secs, n / secs);

	/* formatter_run alone, on one event parsed once. */
	{
		event *ev = make_event(json);
		ok = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < n; i++) {
			json_t *out = NULL;
			ok += formatter_run(f, ev, &out, err, sizeof err) == 0;
			json_decref(out);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		CHECK_INT(ok, n);
		free_event(ev);
		secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		printf("formatter_run: %.2f us per call\n", secs * 1e6 / n);
	}
	formatter_destroy(f);
}

/* ---- Failures at run time ---- */

static void test_runtime_failures(void)
{
	char *dir = make_dir(), err[512] = "", lib[600];
	formatter *f = NULL;
	struct timespec t0, t1;

	snprintf(lib, sizeof lib, "%s/lib", dir);
	CHECK_INT(mkdir(lib, 0700), 0);
	write_script(dir, "ok.lua", ok_script);
	write_script(dir, "runtime_error.lua",
	             "return function(e)\n  local t = nil\n  return t.x\nend\n");
	write_script(dir, "raise_table.lua", "return function() error({}) end\n");
	write_script(dir, "loop.lua", "return function() while true do end end\n");
	write_script(dir, "pcall_loop.lua",
	             "return function()\n"
	             "  while true do pcall(function() while true do end end) end\n"
	             "end\n");
	write_script(dir, "xpcall_loop.lua",
	             "local function spin() while true do end end\n"
	             "return function() while true do xpcall(spin, spin) end end\n");
	write_script(dir, "rep_bomb.lua",
	             "return function() return {title = string.rep('x', 1 << 40)} end\n");
	write_script(dir, "rep_empty.lua",
	             "return function() return {title = (''):rep(1e15)} end\n");
	write_script(dir, "concat_bomb.lua",
	             "return function()\n"
	             "  local s = string.rep('x', 8192)\n"
	             "  for i = 1, 40 do s = s .. s end\n"
	             "end\n");
	write_script(dir, "table_bomb.lua",
	             "return function()\n"
	             "  local t = {}\n"
	             "  for i = 1, 1e9 do t[i] = {i} end\n"
	             "end\n");
	/* A memory error caught by the script leaves a usable state. */
	write_script(dir, "caught_bomb.lua",
	             "return function()\n"
	             "  local ok, msg = pcall(function()\n"
	             "    local s = ('x'):rep(8192) for i = 1, 40 do s = s .. s end\n"
	             "  end)\n"
	             "  return {title = tostring(ok), message = msg}\n"
	             "end\n");
	write_script(dir, "stack_bomb.lua",
	             "local function f(n) return 1 + f(n + 1) end\n"
	             "return function() return f(1) end\n");
	write_script(dir, "os_execute.lua",
	             "return function() os.execute('touch /tmp/herald_pwned') end\n");
	write_script(dir, "io_open.lua", "return function() io.open('/etc/passwd') end\n");
	write_script(dir, "call_load.lua", "return function() load('return 1')() end\n");
	write_script(dir, "call_loadfile.lua", "return function() loadfile('/etc/passwd') end\n");
	write_script(dir, "call_dofile.lua", "return function() dofile('/etc/passwd') end\n");
	write_script(dir, "call_dump.lua", "return function() string.dump(print) end\n");
	write_script(dir, "require_os.lua", "return function() require('os') end\n");
	write_script(dir, "require_path.lua", "return function() require('../ok') end\n");
	write_script(dir, "string_meta.lua",
	             "return function() return getmetatable('').__index end\n");
	write_script(dir, "finalizer.lua",
	             "return function() setmetatable({}, {__gc = function() end}) end\n");
	write_script(dir, "absent.lua",
	             "return function()\n"
	             "  local found = {}\n"
	             "  for _, k in ipairs({'os', 'io', 'package', 'debug', 'load', 'loadfile',\n"
	             "      'dofile', 'collectgarbage', 'loadstring', 'module', 'warn'}) do\n"
	             "    if _G[k] ~= nil or rawget(_G, k) ~= nil then found[#found + 1] = k end\n"
	             "  end\n"
	             "  if string.dump then found[#found + 1] = 'string.dump' end\n"
	             "  if getmetatable('') then found[#found + 1] = 'string metatable' end\n"
	             "  return {title = 'absent', message = table.concat(found, ','),\n"
	             "          data = {null = herald.null, same = herald.null == herald.null}}\n"
	             "end\n");
	/* Pattern functions refuse long subjects before matching, in every calling form. */
	write_script(dir, "pattern.lua",
	             "return function()\n"
	             "  local s = string.rep('a', 8192) .. string.rep('a', 8192)\n"
	             "  local refused = 0\n"
	             "  for _, f in ipairs({\n"
	             "      function() return s:find('.-.-b') end,\n"
	             "      function() return string.match(s, '.-.-b') end,\n"
	             "      function() return s:gsub('%s+$', '') end,\n"
	             "      function() for w in s:gmatch('.-.-b') do end end}) do\n"
	             "    local ok, msg = pcall(f)\n"
	             "    if not ok and msg:find('subject longer than 8192 bytes', 1, true) then\n"
	             "      refused = refused + 1\n"
	             "    end\n"
	             "  end\n"
	             "  return {title = 'pattern', message = tostring(refused),\n"
	             "          data = {small = ('ab'):find('b')}}\n"
	             "end\n");
	write_script(
	    dir, "pattern_raw.lua",
	    "return function() return string.rep('a', 8000) .. string.rep('a', 8000) end\n");
	write_script(dir, "table_move.lua", "return function() table.move({}, 1, 1e12, 2) end\n");
	write_script(dir, "table_len.lua",
	             "return function()\n"
	             "  local t = setmetatable({}, {__len = function() return 1e15 end})\n"
	             "  table.insert(t, 1, 'x')\n"
	             "end\n");
	write_script(dir, "deep_event.lua", ok_script);
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, MEMORY, &f, err, sizeof err), 0);
	CHECK_STR(err, "");
	if (!f) {
		remove_dir(dir);
		return;
	}
	expect_fail(f, "runtime_error", HERALD_EFORMAT,
	            "runtime_error.lua:3: attempt to index a nil value (local 't')");
	expect_fail(f, "raise_table", HERALD_EFORMAT,
	            "raise_table.lua: error object is a table value");
	expect_fail(f, "loop", HERALD_EFORMAT, "loop.lua: instruction budget exceeded");
	expect_fail(f, "pcall_loop", HERALD_EFORMAT, "pcall_loop.lua: instruction budget exceeded");
	expect_fail(f, "xpcall_loop", HERALD_EFORMAT,
	            "xpcall_loop.lua: instruction budget exceeded");
	expect_fail(f, "rep_bomb", HERALD_EFORMAT,
	            "rep_bomb.lua:1: string.rep: result longer than 8192 bytes");
	expect_fail(f, "rep_empty", HERALD_EFORMAT,
	            "rep_empty.lua:1: string.rep: result longer than 8192 bytes");
	expect_fail(f, "concat_bomb", HERALD_EFORMAT, "concat_bomb.lua: memory budget exceeded");
	expect_fail(f, "table_bomb", HERALD_EFORMAT, "table_bomb.lua: memory budget exceeded");
	expect_fail(f, "stack_bomb", HERALD_EFORMAT, "stack_bomb.lua:");
	expect(f, "{\"event_type\":\"caught_bomb\"}",
	       "{\"title\":\"false\",\"message\":\"not enough memory\",\"data\":{}}");
	expect_fail(f, "os_execute", HERALD_EFORMAT,
	            "os_execute.lua:1: attempt to index a nil value (global 'os')");
	expect_fail(f, "io_open", HERALD_EFORMAT,
	            "io_open.lua:1: attempt to index a nil value (global 'io')");
	expect_fail(f, "call_load", HERALD_EFORMAT,
	            "call_load.lua:1: attempt to call a nil value (global 'load')");
	expect_fail(f, "call_loadfile", HERALD_EFORMAT,
	            "call_loadfile.lua:1: attempt to call a nil value (global 'loadfile')");
	expect_fail(f, "call_dofile", HERALD_EFORMAT,
	            "call_dofile.lua:1: attempt to call a nil value (global 'dofile')");
	expect_fail(f, "call_dump", HERALD_EFORMAT,
	            "call_dump.lua:1: attempt to call a nil value (field 'dump')");
	expect_fail(f, "require_os", HERALD_EFORMAT, "require_os.lua:1: require: no module 'os'");
	expect_fail(f, "require_path", HERALD_EFORMAT,
	            "require_path.lua:1: require: no module '../ok'");
	expect_fail(f, "string_meta", HERALD_EFORMAT,
	            "string_meta.lua:1: attempt to index a boolean value");
	expect_fail(f, "finalizer", HERALD_EFORMAT,
	            "finalizer.lua:1: setmetatable: __gc metamethods are not allowed");
	CHECK(access("/tmp/herald_pwned", F_OK) != 0);
	expect(f, "{\"event_type\":\"absent\"}",
	       "{\"title\":\"absent\",\"message\":\"\",\"data\":{\"null\":null,\"same\":true}}");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect(f, "{\"event_type\":\"pattern\"}",
	       "{\"title\":\"pattern\",\"message\":\"4\",\"data\":{\"small\":2}}");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Unguarded, these patterns run for minutes on a 16 KB subject. */
	CHECK(t1.tv_sec - t0.tv_sec < 10);
	expect_fail(f, "pattern_raw", HERALD_EFORMAT,
	            "pattern_raw.lua: must return a table, not string");
	expect_fail(f, "table_move", HERALD_EFORMAT,
	            "table_move.lua:1: table.move: more than 1048576 elements");
	expect_fail(f, "table_len", HERALD_EFORMAT,
	            "table_len.lua:3: table.insert: table longer than 1048576 elements");

	{
		/* An event nested deeper than the conversion allows. */
		char json[512], *got;
		int n = snprintf(json, sizeof json, "{\"event_type\":\"deep_event\",\"data\":");
		for (int i = 0; i < 40; i++)
			n += snprintf(json + n, sizeof json - (size_t)n, "[");
		for (int i = 0; i < 40; i++)
			n += snprintf(json + n, sizeof json - (size_t)n, "]");
		snprintf(json + n, sizeof json - (size_t)n, "}");
		CHECK_INT(run(f, json, &got, err, sizeof err), HERALD_EFORMAT);
		CHECK_STR(err, "deep_event.lua: event nested deeper than 32 levels");
		free(got);
	}
	/* No script and no default.lua. */
	expect_fail(f, "sprint_started", HERALD_ENOTFOUND,
	            "sprint_started.lua: no such script and no default.lua");
	formatter_destroy(f);
	remove_dir(dir);
}

/* ---- Doors out of the budgets ---- */

/*
 * Library functions that loop in C, where the instruction count does not advance, and calls that
 * spend little of the budget but much time. Each case runs in a child process that builds its own
 * formatter, so that a formatter letting the script escape fails the test after HANG_LIMIT
 * seconds instead of hanging it.
 */
#define HANG_LIMIT 5

enum door_kind { DOOR_RUN, DOOR_AUTHORIZE, DOOR_LOAD };

struct door {
	const char *name; /* the script, and the event type for DOOR_RUN */
	enum door_kind kind;
	const char *text;
	const char *want; /* the error starts with it (DOOR_LOAD: contains it) */
};

/* The mark of a metatable whose __index is a C function: table.concat as its own __index returns
 * "" for every missing element, so the loop allocates nothing and runs no VM instruction. */
#define SELF_CONCAT "setmetatable({}, {__index = table.concat})"
/* __index and __newindex in C, O(1) each: the cost is the length of the range alone. */
#define C_META(len)                                                                                \
	"setmetatable({}, {__len = function() return " len " end, __index = rawlen, "              \
	"__newindex = rawlen})"
/* 256 KiB, upper-cased again and again: a few instructions per loop, ~0.3 ms of C each. */
#define SLOW_LOOP                                                                                  \
	"  local s = string.rep('x', 8192)\n"                                                      \
	"  for i = 1, 5 do s = s .. s end\n"                                                       \
	"  while true do local u = s:upper() end\n"

static const struct door doors[] = {
    {"concat_index", DOOR_RUN,
     "return function()\n"
     "  return {title = table.concat(" SELF_CONCAT ", '', 1, math.maxinteger), message = ''}\n"
     "end\n",
     "concat_index.lua:2: table.concat: more than 1048576 elements"},
    {"concat_loop", DOOR_RUN,
     "return function()\n"
     "  local t = " SELF_CONCAT "\n"
     "  for i = 1, 1e6 do table.concat(t, '', 1, 1000000) end\n"
     "end\n",
     "concat_loop.lua: instruction budget exceeded"},
    {"concat_len", DOOR_RUN,
     "return function()\n"
     "  table.concat(" C_META("math.maxinteger") ")\n"
                                                 "end\n",
     "concat_len.lua:2: table.concat: more than 1048576 elements"},
    {"unpack_loop", DOOR_RUN,
     "return function()\n"
     "  local t = " C_META("0") "\n"
                                "  for i = 1, 1e6 do select('#', table.unpack(t, 1, 20000)) end\n"
                                "end\n",
     "unpack_loop.lua: instruction budget exceeded"},
    {"sort_len", DOOR_RUN, "return function() table.sort(" C_META("(1 << 31) - 2") ") end\n",
     "sort_len.lua:1: table.sort: table longer than 1048576 elements"},
    {"sort_loop", DOOR_RUN,
     "return function()\n"
     "  local t = " C_META("100000") "\n"
                                     "  for i = 1, 1e6 do table.sort(t) end\n"
                                     "end\n",
     "sort_loop.lua: instruction budget exceeded"},
    {"insert_loop", DOOR_RUN,
     "return function()\n"
     "  local t = " C_META("1000000") "\n"
                                      "  for i = 1, 1e6 do table.insert(t, 1, 'x') end\n"
                                      "end\n",
     "insert_loop.lua: instruction budget exceeded"},
    {"remove_loop", DOOR_RUN,
     "return function()\n"
     "  local t = " C_META("1000000") "\n"
                                      "  for i = 1, 1e6 do table.remove(t, 1) end\n"
                                      "end\n",
     "remove_loop.lua: instruction budget exceeded"},
    {"move_loop", DOOR_RUN,
     "return function()\n"
     "  local t = " C_META("0") "\n"
                                "  for i = 1, 1e6 do table.move(t, 1, 1000000, 1) end\n"
                                "end\n",
     "move_loop.lua: instruction budget exceeded"},
    {"backtrack", DOOR_RUN,
     "return function()\n"
     "  return {title = tostring(string.rep('a', 8192):find('.-.-.-b')), message = ''}\n"
     "end\n",
     "backtrack.lua: instruction budget exceeded"},
    {"backtrack_gsub", DOOR_RUN,
     "return function()\n"
     "  local s = string.rep('a', 8000)\n"
     "  for i = 1, 1e6 do s:gsub('(a-)%1b', '') end\n"
     "end\n",
     "backtrack_gsub.lua: instruction budget exceeded"},
    {"time_loop", DOOR_RUN, "return function()\n" SLOW_LOOP "end\n",
     "time_loop.lua: time budget exceeded"},
    {"time_pcall", DOOR_RUN,
     "return function()\n"
     "  while true do pcall(function()\n" SLOW_LOOP "  end) end\n"
     "end\n",
     "time_pcall.lua: time budget exceeded"},
    {"authorize", DOOR_AUTHORIZE,
     "return function(user, project)\n"
     "  if project == 1 then return table.concat(" SELF_CONCAT ", '', 1, math.maxinteger) end\n"
     "  if project == 2 then\n" SLOW_LOOP "  end\n"
     "  return true\n"
     "end\n",
     NULL},
    {"load_concat", DOOR_LOAD,
     "table.concat(" SELF_CONCAT ", '', 1, math.maxinteger)\n"
     "return function() end\n",
     "load_concat.lua:1: table.concat: more than 1048576 elements"},
    {"load_time", DOOR_LOAD, "do\n" SLOW_LOOP "end\nreturn function() end\n",
     "load_time.lua: time budget exceeded"},
};

static const formatter_faults *faults_of(const formatter *f, const char *script)
{
	size_t n;
	const formatter_faults *v = formatter_faults_get(f, &n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].script, script) == 0)
			return &v[i];
	return NULL;
}

/* In the child: checks one door; the exit status says whether every check passed. */
static void door_child(const struct door *d, const char *dir)
{
	char err[512] = "";
	formatter *f = NULL;
	const formatter_faults *ft;
	int rc;

	checks_failed = 0;
	rc = formatter_create(dir, INSTRUCTIONS, MEMORY, &f, err, sizeof err);

	if (d->kind == DOOR_LOAD) {
		CHECK_INT(rc, HERALD_ECONFIG);
		CHECK_CONTAINS(err, d->want);
		_exit(checks_failed ? 1 : 0);
	}
	CHECK_INT(rc, 0);
	if (!f)
		_exit(1);
	if (d->kind == DOOR_AUTHORIZE) {
		CHECK_INT(formatter_authorize(f, 7, 1, err, sizeof err), HERALD_EFORMAT);
		CHECK_STR(err, "authorize.lua:2: table.concat: more than 1048576 elements");
		CHECK_INT(formatter_authorize(f, 7, 2, err, sizeof err), HERALD_EFORMAT);
		CHECK_STR(err, "authorize.lua: time budget exceeded");
		CHECK_INT(formatter_authorize(f, 7, 3, err, sizeof err), 1);
		ft = faults_of(f, "authorize");
		CHECK(ft && ft->errors == 1 && ft->time == 1);
	} else {
		expect_fail(f, d->name, HERALD_EFORMAT, d->want);
		ft = faults_of(f, d->name);
		CHECK(ft != NULL);
		if (ft && strstr(d->want, "time budget"))
			CHECK(ft->time == 1 && ft->instructions == 0 && ft->errors == 0);
		else if (ft && strstr(d->want, "instruction budget"))
			CHECK(ft->instructions == 1 && ft->time == 0 && ft->errors == 0);
		else if (ft)
			CHECK(ft->errors == 1 && ft->time == 0 && ft->instructions == 0);
	}
	formatter_destroy(f);
	_exit(checks_failed ? 1 : 0);
}

static void test_doors(void)
{
	for (size_t i = 0; i < sizeof doors / sizeof doors[0]; i++) {
		const struct door *d = &doors[i];
		char *dir = make_dir(), file[80];
		struct timespec t0, t1, nap = {0, 5000000};
		int status = 0;
		double secs;
		pid_t pid, done = 0;

		write_script(dir, "ok.lua", ok_script);
		snprintf(file, sizeof file, "%s.lua", d->name);
		write_script(dir, file, d->text);
		fflush(NULL);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if ((pid = fork()) == 0)
			door_child(d, dir);
		CHECK(pid > 0);
		do {
			nanosleep(&nap, NULL);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			secs = (double)(t1.tv_sec - t0.tv_sec) +
			       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		} while (pid > 0 && (done = waitpid(pid, &status, WNOHANG)) == 0 &&
		         secs < HANG_LIMIT);
		if (pid > 0 && done == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fprintf(stderr, "%s.lua: still running after %d s\n", d->name, HANG_LIMIT);
			CHECK(!"a script escaped its budgets");
		} else {
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
			printf("%-14s stopped, %.3f s with the formatter's creation\n", d->name,
			       secs);
		}
		remove_dir(dir);
	}
}

/* ---- Pattern matching: the sandbox's own matcher answers as Lua's ---- */

/* find, match, gmatch and gsub over many subjects and patterns, errors included; returns one
 * line per call (error messages without their position). */
static const char pattern_cases[] =
    "local out = {}\n"
    "local function ser(...)\n"
    "  local r = table.pack(...)\n"
    "  local parts = {}\n"
    "  for i = 1, r.n do\n"
    "    local v = r[i]\n"
    "    if type(v) == \"string\" then parts[#parts + 1] = string.format(\"%q\", v)\n"
    "    else parts[#parts + 1] = tostring(v) end\n"
    "  end\n"
    "  return table.concat(parts, \",\")\n"
    "end\n"
    "local function try(label, f, ...)\n"
    "  local r = table.pack(pcall(f, ...))\n"
    "  if not r[1] then\n"
    "    local msg = tostring(r[2])\n"
    "    local at = string.find(msg, \": \", 1, true)\n"
    "    r[2] = at and msg:sub(at + 2) or msg\n"
    "  end\n"
    "  out[#out + 1] = label .. \" -> \" .. ser(table.unpack(r, 1, r.n))\n"
    "end\n"
    "local finds = {\n"
    "  {\"hello world\", \"o w\"}, {\"hello\", \"l+\"}, {\"hello\", \"^h\"}, {\"hello\", \"^e\"}, "
    "{\"hello\", \"o$\"},\n"
    "  {\"hello$\", \"o%$\"}, {\"a$b\", \"$b\"}, {\"hello\", \".-l\"}, {\"hello\", \"(h)(e)\"}, "
    "{\"hello\", \"()ll()\"},\n"
    "  {\"  trim me  \", \"^%s*(.-)%s*$\"}, {\"key = value\", \"(%w+)%s*=%s*(%w+)\"},\n"
    "  {\"THE (quick) fox\", \"%((%a+)%)\"}, {\"f(a(b)c)d\", \"%b()\"}, {\"f(a(b c\", \"%b()\"},\n"
    "  {\"THE (quick) fox\", \"%f[%a]%a+\"}, {\"hello\", \"%f[%l]\"}, {\"end\", \"%f[%z]\"}, "
    "{\"hello hello\", \"(l+)o %w-%1\"},\n"
    "  {\"abc\", \"[a-b]+\"}, {\"abc\", \"[^a]+\"}, {\"a]b\", \"[]]\"}, {\"a-b\", \"[a%-]+\"}, "
    "{\"x^y\", \"[%^x]+\"},\n"
    "  {\"ab-c\", \"[%a-]+\"}, {\"\", \".*\"}, {\"\", \"^$\"}, {\"abc\", \"\", 10}, {\"abc\", "
    "\"\", 4}, {\"abc\", \"b\", -1},\n"
    "  {\"abc\", \"b\", -10}, {\"abc\", \"c\", 0}, {\"aaa\", \"a-\", 2}, {\"a.b\", \".\", 1, "
    "true}, {\"a+b\", \"+\", 1, true},\n"
    "  {\"a+b\", \"a+\", 1, true}, {\"aXb\", \"%u\"}, {\"aXb\", \"%U+\"}, {\"123abc\", \"^%d+\"}, "
    "{\"  x\", \"%S\"},\n"
    "  {\"a\\0b\", \"\\0\"}, {\"a\\0b\", \"%z\"}, {\"a\\0b\", \"[\\0]\"}, {\"tab\\there\", "
    "\"%c\"}, {\"p.u,n\", \"%p+\"},\n"
    "  {\"0x1F\", \"%x+\"}, {\"{name} x\", \"^(.-){name}(.*)$\"}, {\"hello\", \"(l)(l)\"}, "
    "{\"abc\", \"a?b?c?d?\"},\n"
    "  {\"aaab\", \"a*b\"}, {\"aaab\", \"a+b\"}, {\"b\", \"a+b\"}, {\"aaab\", \"a-b\"}, {\"xy\", "
    "\"x?x?y\"},\n"
    "  {\"x=1, y=22\", \"(%w+)=(%d+)\", 3}, {\"abc\", \"()\"}, {\"abc\", \"(a)(b)(c)\"}, "
    "{\"abcabc\", \"(abc)%1\"},\n"
    "  {\"ab\", \"()a()%1\"}, {\"aaa\", \"(a*(.))%2\"}, {\"[[x]]\", \"%[(%b[])%]\"}, {\"hello\", "
    "\"h.l\"},\n"
    "  {\"hello\", \"[hH]ello\"}, {\"héllo\", \"h.+o\"}, {\"HELLO\", \"%l\"}, {\"x\", \"%w%\"}, "
    "{\"abc\", \"%\"},\n"
    "  {\"abc\", \"[a\"}, {\"abc\", \"[^\"}, {\"abc\", \"(a\"}, {\"abc\", \"a)\"}, {\"abc\", "
    "\"%1\"}, {\"abc\", \"(a)%2\"},\n"
    "  {\"abc\", \"%b\"}, {\"abc\", \"%bx\"}, {\"abc\", \"%fa\"}, {\"abc\", string.rep(\"(\", 33) "
    ".. \"a\" .. string.rep(\")\", 33)},\n"
    "  {\"aaaa\", string.rep(\"a?\", 250)}, {\"abc\", \"[%\"}, {\"a%b\", \"[%%]\"}, {\"5\", "
    "\"[%d]\"}, {\"a.b\", \"%.\"},\n"
    "  {\"a\", \"[a-]\"}, {\"-\", \"[a-]\"}, {\"b\", \"[]-c]\"}, {\"x\", \"[^]x]\"}, {\"]\", "
    "\"[^]x]\"},\n"
    "  {\"aaab\", \"(a+)(a+)b\"}, {\"aaa\", \"(a-)(a+)$\"}, {\"abab\", \"((a)(b))%1\"}, {\"abc\", "
    "\"((()))\"},\n"
    "  {\"abc\", \"b\", 5}, {\"abc\", \"b\", 1.5}, {\"abc\", \"b\", \"2\"}, {12345, \"3(4)\"}, "
    "{\"a b\", \"%f[%w]%w+$\"},\n"
    "  {\"  \", \"^%s*$\"}, {\"x\\n\", \"%s$\"}, {\"((a)\", \"%b()\"}, {\"ab\", \"%bab\"}, "
    "{\"aab\", \"%baa\"},\n"
    "}\n"
    "for i, c in ipairs(finds) do\n"
    "  try(\"find\" .. i, string.find, table.unpack(c, 1, 4))\n"
    "  try(\"match\" .. i, string.match, c[1], c[2], c[3])\n"
    "  try(\"meth\" .. i, function() return c[1]:match(c[2]) end)\n"
    "end\n"
    "local gsubs = {\n"
    "  {\"hello world\", \"o\", \"0\"}, {\"hello world\", \"(o)\", \"[%1]\"}, {\"hello\", \"\", "
    "\"-\"},\n"
    "  {\"hello world\", \"%w+\", \"%0 %0\", 1}, {\"abc\", \"%w\", \"%2\"}, {\"abc\", \"%w\", "
    "\"%\"}, {\"abc\", \"%w\", \"%x\"},\n"
    "  {\"abc\", \"%w\", {a = \"1\", b = true}}, {\"abc\", \"%w\", {a = \"A\"}}, {\"abc\", \"%w\", "
    "{a = 7}},\n"
    "  {\"abc\", \"%w\", function(c) if c == \"b\" then return false end return c:upper() end},\n"
    "  {\"abc\", \"%w\", function(c) return {} end}, {\"abc\", \"()\", \"%1\"}, {\"abc\", \"b\", "
    "5}, {\"abc\", \"^a\", \"X\"},\n"
    "  {\"aaa\", \"^a\", \"X\"}, {\"hello world\", \"l\", \"L\", 2}, {\"abc\", \"x\", \"y\"}, "
    "{\"abc\", \"%w\"},\n"
    "  {\"abc\", \"%w\", true}, {\"hello world\", \"(%w+) (%w+)\", \"%2 %1\"}, {\"abc\", \".\", "
    "\"%%\"},\n"
    "  {\"a,b,,c\", \",\", \";\", 0}, {\"a,b,,c\", \",\", \";\", -1}, {\"abc\", \"\", \"\"}, "
    "{\"abc\", \".-\", \"x\"},\n"
    "  {\"one two\", \"(%w+)\", \"<%0>\"}, {\"x\", \"x\", \"%1\"}, {\"xy\", \"(x)(y)\", \"%3\"},\n"
    "  {\"milestone_created\", \"_\", \" \"}, {\"milestone created\", \"(%a)(%w*)\", function(a, "
    "b) return a:upper() .. b end},\n"
    "  {\"abc\", \"%f[%w]\", \"|\"}, {\"hello world\", \"o\", \"0\", -3}, {\"abc\", \"b*\", "
    "\"-\"}, {12, \"1\", 3},\n"
    "}\n"
    "for i, c in ipairs(gsubs) do\n"
    "  try(\"gsub\" .. i, string.gsub, c[1], c[2], c[3], c[4])\n"
    "end\n"
    "local gmatches = {\n"
    "  {\"a.b.c\", \"[^.]+\"}, {\"k1=v1, k2=v2\", \"(%w+)=(%w+)\"}, {\"abc\", \"\"}, {\"abc\", "
    "\"a*\"}, {\"hello\", \"l\", 4},\n"
    "  {\"hello\", \"l\", -1}, {\"hello\", \"l\", 10}, {\"^abc\", \"^a\"}, {\"abc\", \"()\"}, "
    "{\"a1b22c333\", \"%d+\"},\n"
    "  {\"x\", \"(\"},\n"
    "}\n"
    "for i, c in ipairs(gmatches) do\n"
    "  try(\"gmatch\" .. i, function()\n"
    "    local got = {}\n"
    "    for a, b in string.gmatch(c[1], c[2], c[3]) do got[#got + 1] = ser(a, b) end\n"
    "    return table.concat(got, \";\")\n"
    "  end)\n"
    "end\n"
    "-- An iterator kept and called again after the end.\n"
    "local it = (\"ab\"):gmatch(\".\")\n"
    "try(\"iter\", function() return it(), it(), it(), it() end)\n"
    "return table.concat(out, \"\\n\")\n";

static void test_patterns_like_lua(void)
{
	char *dir = make_dir(), err[512] = "", *script, *got = NULL;
	const char *want;
	formatter *f = NULL;
	lua_State *L = luaL_newstate();
	size_t len = strlen(pattern_cases) + 200;

	luaL_openlibs(L);
	CHECK_INT(luaL_loadbufferx(L, pattern_cases, strlen(pattern_cases), "=cases", "t"), 0);
	CHECK_INT(lua_pcall(L, 0, 1, 0), 0);
	want = lua_tostring(L, -1);
	script = malloc(len);
	snprintf(script, len,
	         "local function cases()\n%s\nend\n"
	         "return function() return {title = 'cases', message = cases()} end\n",
	         pattern_cases);
	write_script(dir, "cases.lua", script);
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, MEMORY, &f, err, sizeof err), 0);
	if (f) {
		json_t *res = NULL;
		event *ev = make_event("{\"event_type\":\"cases\"}");
		CHECK_INT(formatter_run(f, ev, &res, err, sizeof err), 0);
		if (res)
			got = strdup(json_string_value(json_object_get(res, "message")));
		json_decref(res);
		free_event(ev);
	}
	if (want && got && strcmp(want, got) != 0) {
		/* name the first line that differs */
		const char *a = want, *b = got;
		while (*a && *a == *b)
			a++, b++;
		while (a > want && a[-1] != '\n')
			a--, b--;
		fprintf(stderr, "lua:     %.*s\nsandbox: %.*s\n", (int)strcspn(a, "\n"), a,
		        (int)strcspn(b, "\n"), b);
	}
	CHECK_STR(got, want);
	free(got);
	free(script);
	lua_close(L);
	formatter_destroy(f);
	remove_dir(dir);
}

/* ---- Results of the wrong shape ---- */

static int str_order(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The exact text of data: keys sorted bytewise at every level, integer keys as their text,
 * in small objects (kept on the stack) and large ones (looked up). */
static void expect_order(formatter *f)
{
	char err[512] = "", want[4096], keys[80][8];
	const char *sorted[80];
	event *ev = make_event("{\"event_type\":\"order\"}");
	formatted r;
	size_t n = 0;

	CHECK_INT(formatter_format(f, ev, &r, err, sizeof err), 0);
	CHECK_INT(r.data_len, strlen("{\"10\":1,\"2\":2,\"30\":3,\"a\":{\"-1\":\"y\",\"7\":\"x\"},"
	                             "\"a\\u0000b\":5,\"b\":4}"));
	CHECK(memcmp(r.data,
	             "{\"10\":1,\"2\":2,\"30\":3,\"a\":{\"-1\":\"y\",\"7\":\"x\"},\"a\\u0000b\":5,"
	             "\"b\":4}",
	             r.data_len) == 0);
	CHECK(r.title_len == 3 && memcmp(r.title, "\"o\"", 3) == 0);
	free_event(ev);

	ev = make_event("{\"event_type\":\"big\"}");
	CHECK_INT(formatter_format(f, ev, &r, err, sizeof err), 0);
	for (int i = 1; i <= 40; i++) {
		snprintf(keys[2 * i - 2], sizeof keys[0], "%d", i * 3);
		snprintf(keys[2 * i - 1], sizeof keys[0], "k%d", i);
		sorted[2 * i - 2] = keys[2 * i - 2];
		sorted[2 * i - 1] = keys[2 * i - 1];
	}
	qsort(sorted, 80, sizeof *sorted, str_order);
	n += (size_t)snprintf(want + n, sizeof want - n, "{");
	for (int i = 0; i < 80; i++)
		n += (size_t)snprintf(
		    want + n, sizeof want - n, "%s\"%s\":%d", i ? "," : "", sorted[i],
		    sorted[i][0] == 'k' ? -atoi(sorted[i] + 1) : atoi(sorted[i]) / 3);
	snprintf(want + n, sizeof want - n, "}");
	CHECK_INT(r.data_len, strlen(want));
	CHECK(r.data_len == strlen(want) && memcmp(r.data, want, r.data_len) == 0);
	free_event(ev);
}

static void test_results(void)
{
	static const struct {
		const char *name, *body, *want;
	} bad[] = {
	    {"no_title", "return {message = 'm'}",
	     "no_title.lua: title: must be a string, not nil"},
	    {"num_title", "return {title = 5, message = 'm'}",
	     "num_title.lua: title: must be a string, not number"},
	    {"no_message", "return {title = 't'}", "no_message.lua: message: must be a string"},
	    {"str_data", "return {title = 't', message = 'm', data = 'x'}",
	     "str_data.lua: data: must be a table, not string"},
	    {"array_data", "return {title = 't', message = 'm', data = {1, 2}}",
	     "array_data.lua: data: must be an object, not an array"},
	    {"not_table", "return 'hello'", "not_table.lua: must return a table, not string"},
	    {"nothing", "return", "nothing.lua: must return a table, not nil"},
	    {"utf8_data", "return {title = 't', message = 'm', data = {title = 'a\\xff'}}",
	     "utf8_data.lua: data.title: not valid UTF-8"},
	    {"utf8_title", "return {title = '\\xc3', message = 'm'}",
	     "utf8_title.lua: title: not valid UTF-8"},
	    {"utf8_key", "return {title = 't', message = 'm', data = {['\\xff'] = 1}}",
	     "utf8_key.lua: data: a key is not valid UTF-8"},
	    {"cycle", "local t = {} t.self = t return {title = 't', message = 'm', data = t}",
	     "cycle.lua: data.self.self.self"},
	    {"deep",
	     "local t = {} for i = 1, 40 do t = {t} end\n"
	     "return {title = 't', message = 'm', data = {x = t}}",
	     "deep.lua: data.x[1][1]"},
	    {"nan", "return {title = 't', message = 'm', data = {list = {1, 0/0}}}",
	     "nan.lua: data.list[2]: NaN and infinity have no JSON form"},
	    {"inf", "return {title = 't', message = 'm', data = {x = math.huge}}",
	     "inf.lua: data.x: NaN and infinity have no JSON form"},
	    {"func", "return {title = 't', message = 'm', data = {a = {f = print}}}",
	     "func.lua: data.a.f: a function value has no JSON form"},
	    {"float_key", "return {title = 't', message = 'm', data = {[1.5] = 1}}",
	     "float_key.lua: data: a key of type float (keys must be strings or integers)"},
	    {"bool_key", "return {title = 't', message = 'm', data = {[true] = 1}}",
	     "bool_key.lua: data: a key of type boolean"},
	    {"dup_key", "return {title = 't', message = 'm', data = {[1] = 'a', ['1'] = 'b'}}",
	     "dup_key.lua: data: an integer key and a string key have the same text"},
	};
	char *dir = make_dir(), err[512] = "", script[512];
	formatter *f = NULL;

	write_script(dir, "ok.lua", ok_script);
	write_script(dir, "order.lua",
	             "return function()\n"
	             "  return {title = 'o', message = 'm', data = {[10] = 1, [2] = 2, [30] = 3,\n"
	             "    b = 4, a = {[7] = 'x', [-1] = 'y'}, ['a\\0b'] = 5}}\n"
	             "end\n");
	write_script(dir, "big.lua",
	             "return function()\n"
	             "  local t = {}\n"
	             "  for i = 1, 40 do t[i * 3] = i; t['k' .. i] = -i end\n"
	             "  return {title = 'b', message = 'm', data = t}\n"
	             "end\n");
	write_script(dir, "good.lua",
	             "return function()\n"
	             "  return {title = 'good', message = 'm', data = {\n"
	             "    list = {1, 'two', herald.null, true, 2.5, {}},\n"
	             "    sparse = {[2] = 'b', [5] = 'x'},\n"
	             "    mixed = {1, 2, k = 'v'},\n"
	             "    int = math.maxinteger, neg = -3, float = 0.25,\n"
	             "    nested = {a = {b = {c = {}}}}}}\n"
	             "end\n");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char file[80];
		snprintf(file, sizeof file, "%s.lua", bad[i].name);
		snprintf(script, sizeof script, "return function() %s end\n", bad[i].body);
		write_script(dir, file, script);
	}
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, MEMORY, &f, err, sizeof err), 0);
	CHECK_STR(err, "");
	if (f) {
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
			expect_fail(f, bad[i].name, HERALD_EFORMAT, bad[i].want);
		expect(f, "{\"event_type\":\"good\"}",
		       "{\"title\":\"good\",\"message\":\"m\",\"data\":{"
		       "\"list\":[1,\"two\",null,true,2.5,{}],"
		       "\"sparse\":{\"2\":\"b\",\"5\":\"x\"},"
		       "\"mixed\":{\"1\":1,\"2\":2,\"k\":\"v\"},"
		       "\"int\":9223372036854775807,\"neg\":-3,\"float\":0.25,"
		       "\"nested\":{\"a\":{\"b\":{\"c\":{}}}}}}");
		expect_order(f);
	}
	formatter_destroy(f);
	remove_dir(dir);
}

/* ---- JSON null in events ---- */

/* A null member reads as nil, like an absent one: the idiomatic tests and indexing work on
 * both; array nulls keep their place as herald.null; herald.null still writes null. */
static void test_null(void)
{
	char *dir = make_dir(), err[512] = "";
	formatter *f = NULL;

	write_script(dir, "who.lua",
	             "return function(e)\n"
	             "  local name = e.actor and e.actor.username or 'someone'\n"
	             "  local keys = 0\n"
	             "  for _ in pairs(e.data or {}) do keys = keys + 1 end\n"
	             "  local list = e.data and e.data.list or {}\n"
	             "  return {title = name, message = tostring(e.actor == nil),\n"
	             "          data = {keys = keys, n = #list, second = list[2] == herald.null,\n"
	             "                  due = herald.null, owner = e.data and e.data.owner}}\n"
	             "end\n");
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, MEMORY, &f, err, sizeof err), 0);
	if (f) {
		/* null and absent give the same notification */
		expect(f, "{\"event_type\":\"who\",\"actor\":null,\"data\":{\"owner\":null}}",
		       "{\"title\":\"someone\",\"message\":\"true\","
		       "\"data\":{\"keys\":0,\"n\":0,\"second\":false,\"due\":null}}");
		expect(f, "{\"event_type\":\"who\",\"data\":{}}",
		       "{\"title\":\"someone\",\"message\":\"true\","
		       "\"data\":{\"keys\":0,\"n\":0,\"second\":false,\"due\":null}}");
		expect(f,
		       "{\"event_type\":\"who\",\"actor\":{\"username\":\"jane\"},"
		       "\"data\":{\"owner\":\"bob\",\"list\":[1,null,3]}}",
		       "{\"title\":\"jane\",\"message\":\"false\","
		       "\"data\":{\"keys\":2,\"n\":3,\"second\":true,\"due\":null,"
		       "\"owner\":\"bob\"}}");
	}
	formatter_destroy(f);
	remove_dir(dir);
}

/* ---- Isolation of scripts from each other ---- */

static void test_isolation(void)
{
	char *dir = make_dir(), err[512] = "", lib[600];
	formatter *f = NULL;

	snprintf(lib, sizeof lib, "%s/lib", dir);
	CHECK_INT(mkdir(lib, 0700), 0);
	write_script(dir, "ok.lua", ok_script);
	write_script(lib, "shared.lua",
	             "local n = 0\n"
	             "return {value = 'v', count = function() n = n + 1 return n end}\n");
	/* Loaded first (names are sorted): it tampers with everything it can reach. */
	write_script(
	    dir, "a_vandal.lua",
	    "local m = require('shared')\n"
	    "m.value = 'changed'\n"
	    "rawset(m, 'count', nil)\n"
	    "string.format = nil\n"
	    "rawset(_G, 'tostring', nil)\n"
	    "table.concat = nil\n"
	    "herald.null = 0\n"
	    "shared_global = 'vandal'\n"
	    "return function() victim_global = 1 return {title = 'a', message = 'm'} end\n");
	write_script(
	    dir, "b_victim.lua",
	    "local m = require('shared')\n"
	    "local calls = 0\n"
	    "return function(e)\n"
	    "  calls = calls + 1\n"
	    "  return {title = string.format('%s %s', m.value, tostring(shared_global)),\n"
	    "          message = table.concat({m.count(), calls, victim_global or 0}, ','),\n"
	    "          data = {null = herald.null, same = ('x'):rep(2)}}\n"
	    "end\n");
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, MEMORY, &f, err, sizeof err), 0);
	CHECK_STR(err, "");
	if (f) {
		expect(f, "{\"event_type\":\"a_vandal\"}",
		       "{\"title\":\"a\",\"message\":\"m\",\"data\":{}}");
		/* Globals and module state persist across calls of one script. */
		expect(f, "{\"event_type\":\"b_victim\"}",
		       "{\"title\":\"v nil\",\"message\":\"1,1,0\","
		       "\"data\":{\"null\":null,\"same\":\"xx\"}}");
		expect(f, "{\"event_type\":\"b_victim\"}",
		       "{\"title\":\"v nil\",\"message\":\"2,2,0\","
		       "\"data\":{\"null\":null,\"same\":\"xx\"}}");
	}
	formatter_destroy(f);
	remove_dir(dir);
}

/* print() writes to the log at debug level, naming the script and line. */
static void test_print(void)
{
	char *dir = make_dir(), err[512] = "", path[600], text[4096] = "";
	formatter *f = NULL;
	int saved = dup(2), fd;
	FILE *fp;

	snprintf(path, sizeof path, "%s/log", dir);
	write_script(dir, "talk.lua",
	             "print('loading', 42, nil)\n"
	             "return function(e)\n"
	             "  print('called', e.data.n == nil)\n"
	             "  return {title = 't', message = 'm'}\n"
	             "end\n");
	fflush(stderr);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && saved >= 0);
	dup2(fd, 2);
	close(fd);
	log_setup(HERALD_LOG_DEBUG, 0);
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, MEMORY, &f, err, sizeof err), 0);
	if (f)
		expect(f, "{\"event_type\":\"talk\",\"data\":{\"n\":null}}",
		       "{\"title\":\"t\",\"message\":\"m\",\"data\":{}}");
	formatter_destroy(f);
	log_setup(HERALD_LOG_INFO, 0);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fp = fopen(path, "r");
	CHECK(fp != NULL);
	if (fp) {
		text[fread(text, 1, sizeof text - 1, fp)] = '\0';
		fclose(fp);
	}
	CHECK_CONTAINS(text, "lua: talk.lua:1: loading\t42\tnil\n");
	CHECK_CONTAINS(text, "lua: talk.lua:3: called\ttrue\n");
	remove_dir(dir);
}

/* ---- Failures at load time ---- */

/* Writes a bytecode chunk, dumped by a plain Lua state, as `name` in dir. */
static void write_bytecode(const char *dir, const char *name)
{
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	CHECK_INT(luaL_dostring(L, "return string.dump(load('return function() end'))"), 0);
	{
		size_t len;
		const char *code = lua_tolstring(L, -1, &len);
		CHECK(code != NULL && len > 4 && code[0] == 0x1b);
		if (code)
			write_file(dir, name, code, len);
	}
	lua_close(L);
}

/* Checks that a directory holding ok.lua and `name` with `text` fails to load with `want`. */
static void expect_load_fail(const char *name, const char *text, const char *want)
{
	char *dir = make_dir(), err[512] = "";
	formatter *f = (formatter *)dir; /* must be reset */

	write_script(dir, "ok.lua", ok_script);
	if (text)
		write_script(dir, name, text);
	else
		write_bytecode(dir, name);
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, MEMORY, &f, err, sizeof err), HERALD_ECONFIG);
	CHECK(f == NULL);
	CHECK_CONTAINS(err, want);
	remove_dir(dir);
}

static void test_load_failures(void)
{
	char *dir, err[512] = "", path[600];
	formatter *f = NULL;

	expect_load_fail("syntax.lua", "return function(\n  x = 1\nend\n", "syntax.lua:2: ");
	expect_load_fail("bytecode.lua", NULL,
	                 "bytecode.lua: attempt to load a binary chunk (mode is 't')");
	expect_load_fail("number.lua", "return 42\n",
	                 "number.lua: must return a function, not number");
	expect_load_fail("nothing.lua", "local x = 1\n",
	                 "nothing.lua: must return a function, not nil");
	expect_load_fail("raise.lua", "error('no')\n", "raise.lua:1: no");
	expect_load_fail("spin.lua", "while true do end\n",
	                 "spin.lua: instruction budget exceeded");
	expect_load_fail("hog.lua", "local t = {} for i = 1, 1e9 do t[i] = i end\n",
	                 "hog.lua: memory budget exceeded");
	expect_load_fail("nomod.lua", "return require('nowhere')\n",
	                 "nomod.lua:1: require: no module 'nowhere'");

	/* A broken module fails the load even when no script uses it; so does a require loop. */
	dir = make_dir();
	snprintf(path, sizeof path, "%s/lib", dir);
	CHECK_INT(mkdir(path, 0700), 0);
	write_script(path, "broken.lua", "return {\n");
	write_script(dir, "ok.lua", ok_script);
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, MEMORY, &f, err, sizeof err), HERALD_ECONFIG);
	CHECK_CONTAINS(err, "lib/broken.lua:2:");
	write_script(path, "broken.lua", "return require('loop')\n");
	write_script(path, "loop.lua", "return require('broken')\n");
	write_script(dir, "user.lua", "require('loop') return function() end\n");
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, MEMORY, &f, err, sizeof err), HERALD_ECONFIG);
	CHECK_CONTAINS(err, "require: module 'loop' requires itself");
	remove_dir(dir);

	/* Only NAME.lua files with NAME in [a-z0-9_]{1,64} are loaded. */
	dir = make_dir();
	write_script(dir, "ok.lua", ok_script);
	write_script(dir, "README.md", "not lua");
	write_script(dir, "Upper.lua", "not lua");
	write_script(dir, "da-sh.lua", "not lua");
	write_script(dir, "ok.lua.bak", "not lua");
	write_script(dir, "a2345678901234567890123456789012345678901234567890123456789012345.lua",
	             "not lua");
	snprintf(path, sizeof path, "%s/sub.lua", dir);
	CHECK_INT(mkdir(path, 0700), 0);
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, MEMORY, &f, err, sizeof err), 0);
	if (f)
		expect_fail(f, "sub", HERALD_ENOTFOUND, "sub.lua: no such script");
	formatter_destroy(f);
	f = NULL;

	/* Budgets: too little memory for the sandbox itself; budgets that are not positive. */
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, 4096, &f, err, sizeof err), HERALD_ECONFIG);
	CHECK_CONTAINS(err, "memory");
	CHECK_INT(formatter_create(dir, 0, MEMORY, &f, err, sizeof err), HERALD_ECONFIG);
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, -1, &f, err, sizeof err), HERALD_ECONFIG);
	CHECK(f == NULL);
	remove_dir(dir);

	CHECK_INT(
	    formatter_create("/nonexistent/herald", INSTRUCTIONS, MEMORY, &f, err, sizeof err),
	    HERALD_EIO);
	CHECK_CONTAINS(err, "/nonexistent/herald");
}

/* ---- Reload ---- */

static void test_reload(void)
{
	char *dir = make_dir(), err[512] = "";
	formatter *f = NULL;

	write_script(dir, "ok.lua", ok_script);
	write_script(dir, "word.lua",
	             "return function() return {title = 'first', message = 'm'} end\n");
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, MEMORY, &f, err, sizeof err), 0);
	if (!f) {
		remove_dir(dir);
		return;
	}
	expect(f, "{\"event_type\":\"word\"}",
	       "{\"title\":\"first\",\"message\":\"m\",\"data\":{}}");

	/* One bad script: the reload is refused and the old set stays in force. */
	write_script(dir, "word.lua",
	             "return function() return {title = 'second', message = 'm'} end\n");
	write_script(dir, "bad.lua", "return function() end end\n");
	CHECK_INT(formatter_reload(f, err, sizeof err), HERALD_ECONFIG);
	CHECK_CONTAINS(err, "bad.lua:1:");
	expect(f, "{\"event_type\":\"word\"}",
	       "{\"title\":\"first\",\"message\":\"m\",\"data\":{}}");
	write_script(dir, "bad.lua", "return 1\n");
	CHECK_INT(formatter_reload(f, err, sizeof err), HERALD_ECONFIG);
	CHECK_CONTAINS(err, "bad.lua: must return a function");
	expect(f, "{\"event_type\":\"word\"}",
	       "{\"title\":\"first\",\"message\":\"m\",\"data\":{}}");

	/* All good: the new wording and the new script are picked up. */
	write_script(dir, "bad.lua",
	             "return function() return {title = 'new', message = 'm'} end\n");
	CHECK_INT(formatter_reload(f, err, sizeof err), 0);
	expect(f, "{\"event_type\":\"word\"}",
	       "{\"title\":\"second\",\"message\":\"m\",\"data\":{}}");
	expect(f, "{\"event_type\":\"bad\"}", "{\"title\":\"new\",\"message\":\"m\",\"data\":{}}");

	/* A removed script is gone after the next reload; default.lua takes its types. */
	snprintf(err, sizeof err, "%s/bad.lua", dir);
	CHECK_INT(unlink(err), 0);
	write_script(dir, "default.lua",
	             "return function(e) return {title = 'default', message = e.event_type} end\n");
	CHECK_INT(formatter_reload(f, err, sizeof err), 0);
	expect(f, "{\"event_type\":\"bad\"}",
	       "{\"title\":\"default\",\"message\":\"bad\",\"data\":{}}");
	formatter_destroy(f);
	remove_dir(dir);
}

/* authorize.lua: true allows, anything else refuses, failures are errors, never formats. */
static void test_authorize(void)
{
	char *dir = make_dir(), err[512] = "";
	formatter *f = NULL;

	write_script(dir, "default.lua",
	             "return function(e) return {title = 'default', message = e.event_type} end\n");
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, MEMORY, &f, err, sizeof err), 0);
	CHECK_INT(formatter_has(f, "authorize"), 0);
	CHECK_INT(formatter_authorize(f, 1, 2, err, sizeof err), HERALD_ENOTFOUND);
	formatter_destroy(f);

	write_script(dir, "authorize.lua",
	             "local members = {[7] = {[2] = true}}\n"
	             "return function(user, project)\n"
	             "  if project == 13 then error('unlucky') end\n"
	             "  if project == 99 then while true do end end\n"
	             "  if project == 5 then return 'yes' end\n"
	             "  return project % 2 == 0 or (members[user] or {})[project] == true\n"
	             "end\n");
	CHECK_INT(formatter_create(dir, INSTRUCTIONS, MEMORY, &f, err, sizeof err), 0);
	if (!f) {
		remove_dir(dir);
		return;
	}
	CHECK_INT(formatter_has(f, "authorize"), 1);
	CHECK_INT(formatter_authorize(f, 7, 4, err, sizeof err), 1);
	CHECK_INT(formatter_authorize(f, 8, 3, err, sizeof err), 0);
	CHECK_INT(formatter_authorize(f, 5, 5, err, sizeof err), 0); /* not a boolean */
	CHECK_INT(formatter_authorize(f, 5, 13, err, sizeof err), HERALD_EFORMAT);
	CHECK_CONTAINS(err, "unlucky");
	CHECK_INT(formatter_authorize(f, 5, 99, err, sizeof err), HERALD_EFORMAT);
	CHECK_CONTAINS(err, "instruction budget");
	CHECK_INT(formatter_authorize(f, 7, 8, err, sizeof err), 1); /* still usable */
	/* an event of type authorize goes to default.lua */
	expect(f, "{\"event_type\":\"authorize\"}",
	       "{\"title\":\"default\",\"message\":\"authorize\",\"data\":{}}");
	formatter_destroy(f);
	remove_dir(dir);
}

int main(void)
{
	test_authorize();
	test_shipped();
	test_many();
	test_runtime_failures();
	test_doors();
	test_patterns_like_lua();
	test_results();
	test_null();
	test_isolation();
	test_print();
	test_load_failures();
	test_reload();
	return check_done();
}
