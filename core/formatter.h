/*
 * formatter.h - Lua 5.4 formatters: scripts/<event_type>.lua turns an event into the title,
 * message and data of a notification.
 *
 * Each script returns a function; it is called with the event as a Lua table and returns
 * {title = string, message = string, data = table}. `default.lua`, when present, formats
 * event types that have no script of their own; without it such events are dropped.
 *
 * Scripts run sandboxed (only base without load/loadfile/dofile, string, table, math, utf8),
 * within an instruction budget per call (the table functions and the pattern matcher, which loop
 * in C, are charged their steps), a memory budget per state and a time limit per call (100 ms of
 * CPU time, plus 0.1 us per instruction and 40 ns per byte of the budgets; four times that
 * elapsed), enforced by a watchdog thread per formatter that signals (SIGURG) the thread running
 * an overdue call. Single-threaded: use from one thread (the main loop) only.
 */
#ifndef HERALD_FORMATTER_H
#define HERALD_FORMATTER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

typedef struct formatter formatter;

/*
 * Compile every *.lua file of `dir` into a new sandboxed state. Fails (HERALD_ECONFIG, message
 * naming the script and line in err) when any script does not compile or does not return a
 * function.
 */
int formatter_create(const char *dir, long long instructions, long long memory, formatter **out,
                     char *err, size_t errlen);

/* Recompile the scripts into a fresh state and swap it in only when every script compiled;
 * otherwise the old set stays in force and err says why. */
int formatter_reload(formatter *f, char *err, size_t errlen);

/* What a formatter made of an event, as compact JSON texts: title and message are strings,
 * data an object (its keys sorted, at every level). */
typedef struct formatted {
	const char *title, *message, *data;
	size_t title_len, message_len, data_len;
} formatted;

/*
 * Run the formatter of ev->type. On success returns 0 and the result in *out, which points into
 * the formatter's own buffer: valid until the next formatter_format() or formatter_run() of
 * `f`. On failure returns HERALD_EFORMAT (script error, wrong result shape, a budget or the time
 * limit exceeded) or HERALD_ENOTFOUND (no script and no default.lua), with "SCRIPT: reason" in
 * err.
 */
int formatter_format(formatter *f, const event *ev, formatted *out, char *err, size_t errlen);

/* formatter_format() with the result as a new object {"title":..., "message":...,
 * "data":{...}} in *out (the caller owns it): for `herald render` and tests. HERALD_ENOMEM when
 * it cannot be built. */
int formatter_run(formatter *f, const event *ev, json_t **out, char *err, size_t errlen);

/*
 * Ask scripts/authorize.lua whether `user` may subscribe to `project`: the script returns a
 * function(user_id, project_id) whose result `true` allows. Returns 1 (allowed), 0 (refused),
 * HERALD_ENOTFOUND (no authorize.lua) or HERALD_EFORMAT (the script failed or ran over its
 * budgets; err says why). authorize.lua never formats events: an event of type "authorize"
 * goes to default.lua.
 */
int formatter_authorize(formatter *f, int64_t user, int64_t project, char *err, size_t errlen);

/* 1 when the current script set has `name`.lua, else 0. */
int formatter_has(const formatter *f, const char *name);

/* Failures of one script since start (for metrics). */
typedef struct formatter_faults {
	char script[72];       /* "name.lua" */
	uint64_t errors;       /* runtime errors and wrong results */
	uint64_t instructions; /* instruction budget overruns */
	uint64_t memory;       /* memory budget overruns */
	uint64_t time;         /* calls stopped by the wall-clock watchdog */
} formatter_faults;

/* Every script that failed at least once; *n entries, valid until the next formatter call. */
const formatter_faults *formatter_faults_get(const formatter *f, size_t *n);

/*
 * Send what scripts print() to fn(arg, where, text) ("name.lua:3: " and the values, tab
 * separated) instead of the debug log, for the command line (render, test-scripts). Calls made
 * while the scripts load at formatter_create() still go to the log.
 */
typedef void (*formatter_print_fn)(void *arg, const char *where, const char *text);
void formatter_set_print(formatter *f, formatter_print_fn fn, void *arg);

void formatter_destroy(formatter *f);

#endif
