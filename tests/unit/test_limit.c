/* Unit tests of limit.c: the per-user notification limit, its windows and its digests. */
#include "limit.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "herald/plugin.h"

static int admit(limiter *l, int64_t user, uint64_t ms, uint64_t seq, const char *type,
                 int64_t project, const char *title)
{
	char msg[256];

	if (project)
		snprintf(msg, sizeof msg,
		         "{\"type\":\"notification_received\",\"event_type\":\"%s\","
		         "\"project_id\":%lld,\"project_title\":\"%s\"}",
		         type, (long long)project, title);
	else
		snprintf(msg, sizeof msg,
		         "{\"type\":\"notification_received\",\"event_type\":\"%s\","
		         "\"project_id\":null,\"project_title\":null}",
		         type);
	return limiter_admit(l, user, (log_id){ms, seq}, msg, strlen(msg));
}

/* 30 notifications in a window with the limit at 10: 10 delivered, 20 in one digest at the
 * position of the last, given when the log passes the window's end ([0, 60000)) and not
 * before. */
static void test_window_and_digest(void)
{
	limiter *l;
	limit_digest *d = NULL;
	int delivered = 0;

	CHECK_INT(limiter_create(10, 60000, 1000, &l), 0);
	for (int i = 0; i < 30; i++) {
		CHECK_INT(limiter_due(l, 1000 + i, &d), 0);
		delivered += admit(l, 7, 1000 + (uint64_t)i, 0,
		                   i % 3 ? "milestone_updated" : "project_updated", 2,
		                   "Mobile App Development");
	}
	CHECK_INT(delivered, 10);
	CHECK_INT(limiter_count(l), 1);
	CHECK_INT(limiter_due(l, 59999, &d), 0);
	CHECK_INT(limiter_due(l, 60000, &d), 1);
	CHECK_INT(d->user, 7);
	CHECK_INT(d->held, 20);
	CHECK_INT(d->start_ms, 0);
	CHECK_INT(d->end_ms, 60000);
	CHECK_INT(d->last.ms, 1029);
	CHECK_INT(d->n_types, 2);
	CHECK_INT(d->n_projects, 1);
	CHECK_INT(d->projects[0].id, 2);
	CHECK_INT(d->projects[0].held, 20);
	CHECK_STR(d->projects[0].name, "Mobile App Development");
	/* i = 10..29: multiples of 3 are project_updated (12, 15, ..., 27: 6 of them) */
	for (size_t i = 0; i < d->n_types; i++)
		CHECK_INT(d->types[i].held, strcmp(d->types[i].name, "project_updated") ? 14 : 6);

	size_t len;
	char *text = limit_digest_event(d, &len);
	json_t *ev = json_loads(text, 0, NULL);
	CHECK(ev != NULL);
	CHECK_STR(json_string_value(json_object_get(ev, "event_type")), "digest");
	CHECK_INT(json_integer_value(json_array_get(json_object_get(ev, "users"), 0)), 7);
	CHECK_INT(json_integer_value(json_object_get(json_object_get(ev, "project"), "id")), 2);
	json_t *data = json_object_get(ev, "data");
	CHECK_INT(json_integer_value(json_object_get(data, "count")), 20);
	CHECK_INT(json_integer_value(
	              json_object_get(json_object_get(data, "event_types"), "milestone_updated")),
	          14);
	CHECK_INT(json_integer_value(json_object_get(
	              json_array_get(json_object_get(data, "projects"), 0), "count")),
	          20);
	CHECK_STR(json_string_value(json_object_get(data, "window_end")), "1970-01-01T00:01:00Z");
	json_decref(ev);
	free(text);
	limit_digest_free(d);
	CHECK_INT(limiter_count(l), 0);
	/* the next window */
	CHECK_INT(admit(l, 7, 60000, 0, "milestone_updated", 2, "M"), 1);
	limiter_destroy(l);
}

/* Users have windows of their own; a window that held nothing gives no digest; digests come
 * in the order their windows end. */
static void test_users_and_order(void)
{
	limiter *l;
	limit_digest *d = NULL;

	CHECK_INT(limiter_create(1, 100, 1000, &l), 0);
	CHECK_INT(admit(l, 1, 0, 0, "a", 0, NULL), 1);
	CHECK_INT(admit(l, 2, 10, 0, "a", 0, NULL), 1);
	CHECK_INT(admit(l, 3, 20, 0, "a", 0, NULL), 1);
	CHECK_INT(admit(l, 3, 30, 0, "b", 5, "five"), 0);
	CHECK_INT(admit(l, 1, 40, 0, "c", 0, NULL), 0);
	CHECK_INT(admit(l, 1, 50, 0, "c", 6, "six"), 0);
	CHECK_INT(limiter_due(l, 1000, &d), 1);
	CHECK_INT(d->user, 1); /* user 2's window held nothing */
	CHECK_INT(d->held, 2);
	CHECK_INT(d->no_project, 1);
	CHECK_INT(d->n_projects, 1);
	CHECK_INT(d->last.ms, 50);
	size_t len;
	char *text = limit_digest_event(d, &len);
	json_t *ev = json_loads(text, 0, NULL);
	/* notifications of a project and of none: the digest has no project */
	CHECK(json_object_get(ev, "project") == NULL);
	CHECK_INT(json_integer_value(json_object_get(json_object_get(ev, "data"), "no_project")),
	          1);
	json_decref(ev);
	free(text);
	limit_digest_free(d);
	CHECK_INT(limiter_due(l, 1000, &d), 1);
	CHECK_INT(d->user, 3);
	limit_digest_free(d);
	CHECK_INT(limiter_due(l, 1000, &d), 0);
	CHECK_INT(limiter_count(l), 0);
	limiter_destroy(l);
}

/* A notification that comes after its window was given (late in the log) counts in the
 * newest window, so windows keep ending in the order they opened. */
static void test_late_entry(void)
{
	limiter *l;
	limit_digest *d = NULL;

	CHECK_INT(limiter_create(1, 100, 1000, &l), 0);
	CHECK_INT(admit(l, 1, 0, 0, "a", 0, NULL), 1);
	CHECK_INT(limiter_due(l, 150, &d), 0); /* user 1's window [0, 100) held nothing */
	CHECK_INT(admit(l, 2, 150, 0, "a", 0, NULL), 1);
	CHECK_INT(admit(l, 1, 50, 0, "a", 0, NULL), 1); /* late: in [100, 200) */
	CHECK_INT(admit(l, 1, 60, 0, "a", 0, NULL), 0);
	CHECK_INT(limiter_due(l, 199, &d), 0);
	CHECK_INT(limiter_due(l, 200, &d), 1);
	CHECK_INT(d->user, 1);
	CHECK_INT(d->start_ms, 100);
	CHECK_INT(d->end_ms, 200);
	limit_digest_free(d);
	CHECK_INT(limiter_count(l), 0);
	limiter_destroy(l);
}

/* Tallies are bounded: past LIMIT_TYPES_MAX types and LIMIT_PROJECTS_MAX projects, the rest
 * are counted as others; many users grow the table. */
static void test_bounds(void)
{
	limiter *l;
	limit_digest *d = NULL;
	char type[32], title[32];

	CHECK_INT(limiter_create(1, 1000, 30000, &l), 0);
	CHECK_INT(admit(l, 9, 0, 0, "first", 1, "p1"), 1);
	for (int i = 0; i < 100; i++) {
		snprintf(type, sizeof type, "type_%d", i);
		snprintf(title, sizeof title, "project %d", i);
		CHECK_INT(admit(l, 9, 1, (uint64_t)i, type, 1 + i, title), 0);
	}
	for (int64_t u = 100; u < 20100; u++)
		CHECK_INT(admit(l, u, 2, 0, "a", 0, NULL), 1);
	CHECK_INT(limiter_count(l), 20001);
	CHECK_INT(limiter_due(l, 5000, &d), 1);
	CHECK_INT(d->held, 100);
	CHECK_INT(d->n_types, LIMIT_TYPES_MAX);
	CHECK_INT(d->other_types, 100 - LIMIT_TYPES_MAX);
	CHECK_INT(d->n_projects, LIMIT_PROJECTS_MAX);
	CHECK_INT(d->other_projects, 100 - LIMIT_PROJECTS_MAX);
	limit_digest_free(d);
	CHECK_INT(limiter_due(l, 5000, &d), 0);
	CHECK_INT(limiter_count(l), 0);
	limiter_destroy(l);
	limiter_destroy(NULL);

	/* At max_windows, a user without a window is delivered uncounted; those with one are
	 * still counted. */
	CHECK_INT(limiter_create(1, 1000, 2, &l), 0);
	CHECK_INT(admit(l, 1, 0, 0, "a", 0, NULL), 1);
	CHECK_INT(admit(l, 2, 0, 0, "a", 0, NULL), 1);
	CHECK_INT(admit(l, 3, 0, 0, "a", 0, NULL), HERALD_EFULL);
	CHECK_INT(admit(l, 3, 0, 1, "a", 0, NULL), HERALD_EFULL);
	CHECK_INT(admit(l, 1, 0, 1, "a", 0, NULL), 0);
	CHECK_INT(limiter_count(l), 2);
	limiter_destroy(l);
}

int main(void)
{
	test_window_and_digest();
	test_users_and_order();
	test_late_entry();
	test_bounds();
	return check_done();
}
