/* test_event.c - event parsing and validation (core/event.c). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "event.h"
#include "herald/plugin.h"
#include "jtape.h"

/* 2025-10-24T14:30:00Z */
#define NOW 1761316200

static event *parse(const char *json)
{
	char err[256] = "";
	event *ev = NULL;
	int rc = event_parse(json, strlen(json), NOW, &ev, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "unexpected refusal of %.80s: %s\n", json, err);
	CHECK_INT(rc, 0);
	CHECK(ev != NULL);
	return ev;
}

/* Checks that `json` is refused with a message starting with `want`. */
static void refused(const char *json, size_t len, const char *want)
{
	char err[256] = "", head[256];
	event *ev = (event *)&err; /* must be reset to NULL */
	CHECK_INT(event_parse(json, len, NOW, &ev, err, sizeof err), HERALD_EINVAL);
	CHECK(ev == NULL);
	snprintf(head, sizeof head, "%.*s", (int)strlen(want), err);
	CHECK_STR(head, want);
}

#define REFUSED(json, want) refused(json, strlen(json), want)

static void test_full(void)
{
	event *ev = parse("{\"event_type\":\"milestone_created\","
	                  "\"project\":{\"id\":2,\"title\":\"Mobile App Development\"},"
	                  "\"actor\":{\"id\":5,\"username\":\"jane_smith\","
	                  "\"first_name\":\"Jane\",\"last_name\":\"Smith\"},"
	                  "\"data\":{\"id\":42,\"title\":\"Sprint Planning\",\"progress\":0},"
	                  "\"exclude_user\":5,\"users\":[7,9],"
	                  "\"timestamp\":\"2025-10-24T14:30:00Z\",\"extra\":{\"kept\":true}}");
	if (!ev)
		return;
	CHECK_STR(ev->type, "milestone_created");
	CHECK_INT(ev->project_id, 2);
	CHECK_STR(ev->project_title, "Mobile App Development");
	CHECK_INT(ev->exclude_user, 5);
	CHECK_INT(ev->n_users, 2);
	CHECK_INT(ev->users[0], 7);
	CHECK_INT(ev->users[1], 9);
	CHECK_STR(ev->timestamp, "2025-10-24T14:30:00Z");
	const unsigned char *kept = jtape_get(jtape_get(ev->root, "extra", 5), "kept", 4);
	CHECK(kept && jtape_type(kept) == JT_TRUE);
	const unsigned char *id = jtape_get(jtape_get(ev->root, "data", 4), "id", 2);
	CHECK(id && jtape_type(id) == JT_INT && jtape_int(id) == 42);
	CHECK(ev->actor == jtape_get(ev->root, "actor", 5));
	CHECK(ev->actor && jtape_count(ev->actor) == 4);
	CHECK_INT(ev->project_title_len, strlen("Mobile App Development"));
	event_free(ev);
}

static void test_minimal(void)
{
	event *ev = parse("{\"event_type\":\"project_updated\",\"project\":{\"id\":12}}");
	if (ev) {
		CHECK_INT(ev->project_id, 12);
		CHECK(ev->project_title == NULL);
		CHECK(ev->users == NULL);
		CHECK_INT(ev->n_users, 0);
		CHECK_INT(ev->exclude_user, 0);
		event_free(ev);
	}

	ev = parse("{\"event_type\":\"x\",\"users\":[3]}");
	if (ev) {
		CHECK_INT(ev->project_id, 0);
		CHECK_INT(ev->n_users, 1);
		CHECK_INT(ev->users[0], 3);
		event_free(ev);
	}

	/* null is the same as absent for optional fields. */
	ev = parse("{\"event_type\":\"a_1\",\"project\":{\"id\":1,\"title\":null},\"users\":null,"
	           "\"actor\":null,\"data\":null,\"exclude_user\":null,\"timestamp\":null}");
	if (ev) {
		CHECK_INT(ev->project_id, 1);
		CHECK(ev->project_title == NULL);
		CHECK(ev->users == NULL);
		CHECK_STR(ev->timestamp, "2025-10-24T14:30:00Z");
		event_free(ev);
	}

	char type[EVENT_TYPE_MAX + 64];
	memset(type, 'a', EVENT_TYPE_MAX);
	snprintf(type + EVENT_TYPE_MAX, sizeof type - EVENT_TYPE_MAX, "\",\"project\":{\"id\":1}}");
	char json[sizeof type + 32];
	snprintf(json, sizeof json, "{\"event_type\":\"%s", type);
	ev = parse(json);
	if (ev) {
		CHECK_INT(strlen(ev->type), EVENT_TYPE_MAX);
		event_free(ev);
	}
	snprintf(json, sizeof json, "{\"event_type\":\"b%s", type);
	REFUSED(json, "event_type: ");
}

static void test_refusals(void)
{
	REFUSED("{\"event_type\":", "event: invalid JSON: ");
	REFUSED("{\"event_type\":\"x\",,}", "event: invalid JSON: ");
	REFUSED("{\"event_type\":\"x\"} trailing", "event: invalid JSON: ");
	REFUSED("", "event: invalid JSON: ");
	REFUSED("{\"event_type\":\"x\",\"users\":[1],\"users\":[2]}",
	        "event: invalid JSON: duplicate object key");
	REFUSED("[1,2]", "event: must be a JSON object");
	REFUSED("42", "event: must be a JSON object");
	REFUSED("null", "event: must be a JSON object");

	REFUSED("{\"project\":{\"id\":1}}", "event_type: is required");
	REFUSED("{\"event_type\":null,\"project\":{\"id\":1}}", "event_type: must be ");
	REFUSED("{\"event_type\":5,\"project\":{\"id\":1}}", "event_type: must be ");
	REFUSED("{\"event_type\":\"\",\"project\":{\"id\":1}}", "event_type: must be ");
	REFUSED("{\"event_type\":\"Milestone\",\"project\":{\"id\":1}}", "event_type: must be ");
	REFUSED("{\"event_type\":\"../etc\",\"project\":{\"id\":1}}", "event_type: must be ");
	REFUSED("{\"event_type\":\"a-b\",\"project\":{\"id\":1}}", "event_type: must be ");
	REFUSED("{\"event_type\":\"a b\",\"project\":{\"id\":1}}", "event_type: must be ");
	REFUSED("{\"event_type\":\"caf\\u00e9\",\"project\":{\"id\":1}}", "event_type: must be ");

	REFUSED("{\"event_type\":\"x\",\"project\":7}", "project: must be an object");
	REFUSED("{\"event_type\":\"x\",\"project\":{}}",
	        "project.id: must be a whole number from 1 to 2^53-1");
	REFUSED("{\"event_type\":\"x\",\"project\":{\"id\":0}}",
	        "project.id: must be a whole number from 1 to 2^53-1");
	REFUSED("{\"event_type\":\"x\",\"project\":{\"id\":-3}}",
	        "project.id: must be a whole number from 1 to 2^53-1");
	REFUSED("{\"event_type\":\"x\",\"project\":{\"id\":5.5}}",
	        "project.id: must be a whole number from 1 to 2^53-1");
	REFUSED("{\"event_type\":\"x\",\"project\":{\"id\":9007199254740992}}",
	        "project.id: must be a whole number from 1 to 2^53-1");
	REFUSED("{\"event_type\":\"x\",\"users\":[1],\"user_id\":5}",
	        "user_id: not an event field; to notify users, list them in \"users\": [ids]");
	REFUSED("{\"event_type\":\"x\",\"project\":{\"id\":\"5\"}}",
	        "project.id: must be a whole number from 1 to 2^53-1");
	REFUSED("{\"event_type\":\"x\",\"project\":{\"id\":true}}",
	        "project.id: must be a whole number from 1 to 2^53-1");
	REFUSED("{\"event_type\":\"x\",\"project\":{\"id\":1,\"title\":3}}",
	        "project.title: must be a string");

	REFUSED("{\"event_type\":\"x\",\"users\":7}", "users: must be an array");
	REFUSED("{\"event_type\":\"x\",\"users\":[]}", "users: must be an array");
	REFUSED("{\"event_type\":\"x\",\"users\":[1,2,3,\"4\"]}",
	        "users[3]: must be a whole number from 1 to 2^53-1");
	REFUSED("{\"event_type\":\"x\",\"users\":[0]}",
	        "users[0]: must be a whole number from 1 to 2^53-1");
	REFUSED("{\"event_type\":\"x\",\"users\":[1,2.5]}",
	        "users[1]: must be a whole number from 1 to 2^53-1");

	REFUSED("{\"event_type\":\"x\"}", "event: needs `project` or `users` to be delivered");
	REFUSED("{\"event_type\":\"x\",\"project\":null}",
	        "event: needs `project` or `users` to be delivered");

	REFUSED("{\"event_type\":\"x\",\"users\":[1],\"exclude_user\":\"5\"}",
	        "exclude_user: must be a whole number from 1 to 2^53-1");
	REFUSED("{\"event_type\":\"x\",\"users\":[1],\"exclude_user\":0}",
	        "exclude_user: must be a whole number from 1 to 2^53-1");
	REFUSED("{\"event_type\":\"x\",\"users\":[1],\"actor\":\"jane\"}",
	        "actor: must be an object");
	REFUSED("{\"event_type\":\"x\",\"users\":[1],\"data\":[1]}", "data: must be an object");

	static const char *const bad_times[] = {
	    "2025-13-01T00:00:00Z",
	    "2025-02-30T00:00:00Z",
	    "2023-02-29T12:00:00Z",
	    "2025-00-10T00:00:00Z",
	    "2025-10-24T24:00:00Z",
	    "2025-10-24T14:60:00Z",
	    "2025-10-24T14:30:60Z",
	    "2025-10-24T14:30:00",
	    "2025-10-24 14:30:00Z",
	    "2025-10-24T14:30:00z",
	    "2025-10-24T14:30Z",
	    "2025-10-24T14:30:00.Z",
	    "2025-10-24T14:30:00+0200",
	    "2025-10-24T14:30:00+24:00",
	    "2025-10-24T14:30:00+02:60",
	    "2025-10-24T14:30:00Zx",
	    "25-10-24T14:30:00Z",
	    "2025-1-24T14:30:00Z",
	    "",
	    "9999-12-31T23:00:00-01:00",
	    "0000-01-01T00:00:00+01:00",
	};
	for (size_t i = 0; i < sizeof bad_times / sizeof *bad_times; i++) {
		char json[256];
		snprintf(json, sizeof json,
		         "{\"event_type\":\"x\",\"users\":[1],\"timestamp\":\"%s\"}", bad_times[i]);
		REFUSED(json,
		        "timestamp: must be an ISO-8601 UTC time such as 2025-10-24T14:30:00Z");
	}
	REFUSED("{\"event_type\":\"x\",\"users\":[1],\"timestamp\":1761316200}",
	        "timestamp: must be an ISO-8601");

	/* A NUL inside the text is not JSON. */
	static const char nul[] = "{\"event_type\":\"x\",\0\"users\":[1]}";
	refused(nul, sizeof nul - 1, "event: invalid JSON: ");
}

static void test_users_sorted(void)
{
	event *ev = parse("{\"event_type\":\"x\",\"users\":[9,3,9,1,3,3,100,1]}");
	if (!ev)
		return;
	CHECK_INT(ev->n_users, 4);
	static const int64_t want[] = {1, 3, 9, 100};
	for (size_t i = 0; i < 4 && i < ev->n_users; i++)
		CHECK_INT(ev->users[i], want[i]);
	event_free(ev);

	/* EVENT_USERS_MAX entries are accepted, one more is refused. */
	size_t cap = (EVENT_USERS_MAX + 1) * 8 + 64, n = 0;
	char *json = malloc(cap);
	n += (size_t)snprintf(json + n, cap - n, "{\"event_type\":\"x\",\"users\":[");
	for (int i = EVENT_USERS_MAX; i > 0; i--)
		n += (size_t)snprintf(json + n, cap - n, "%d,", i);
	snprintf(json + n - 1, cap - n + 1, "]}");
	ev = parse(json);
	if (ev) {
		CHECK_INT(ev->n_users, EVENT_USERS_MAX);
		CHECK_INT(ev->users[0], 1);
		CHECK_INT(ev->users[EVENT_USERS_MAX - 1], EVENT_USERS_MAX);
		event_free(ev);
	}
	snprintf(json + n - 1, cap - n + 1, ",1]}");
	REFUSED(json, "users: must be an array of 1 to");
	free(json);
}

static void check_time(const char *given, const char *want)
{
	char json[256];
	snprintf(json, sizeof json, "{\"event_type\":\"x\",\"users\":[1],\"timestamp\":\"%s\"}",
	         given);
	event *ev = parse(json);
	if (ev) {
		CHECK_STR(ev->timestamp, want);
		event_free(ev);
	}
}

static void test_timestamps(void)
{
	check_time("2025-10-24T14:30:00Z", "2025-10-24T14:30:00Z");
	check_time("2025-10-24T14:30:00.123Z", "2025-10-24T14:30:00Z");
	check_time("2025-10-24T14:30:00.999999999Z", "2025-10-24T14:30:00Z");
	check_time("2025-10-24T16:30:00+02:00", "2025-10-24T14:30:00Z");
	check_time("2025-10-24T09:00:00.5-05:30", "2025-10-24T14:30:00Z");
	check_time("2025-12-31T23:30:00-01:00", "2026-01-01T00:30:00Z");
	check_time("2024-03-01T00:15:00+00:30", "2024-02-29T23:45:00Z");
	check_time("2024-02-29T12:00:00Z", "2024-02-29T12:00:00Z");
	check_time("1970-01-01T00:00:00+00:00", "1970-01-01T00:00:00Z");

	/* A missing timestamp is the ingest time. */
	event *ev = NULL;
	const char *json = "{\"event_type\":\"x\",\"users\":[1]}";
	CHECK_INT(event_parse(json, strlen(json), 0, &ev, NULL, 0), 0);
	if (ev) {
		CHECK_STR(ev->timestamp, "1970-01-01T00:00:00Z");
		event_free(ev);
	}
	CHECK_INT(event_parse(json, strlen(json), NOW + 86400 + 59, &ev, NULL, 0), 0);
	if (ev) {
		CHECK_STR(ev->timestamp, "2025-10-25T14:30:59Z");
		event_free(ev);
	}

	char buf[32];
	event_format_time(951782400, buf);
	CHECK_STR(buf, "2000-02-29T00:00:00Z");
}

static void test_from_json(void)
{
	json_error_t jerr;
	json_t *obj = json_loads("{\"event_type\":\"x\",\"users\":[2]}", 0, &jerr);
	event *ev = NULL;
	char err[128];
	CHECK_INT(event_from_json(obj, NOW, &ev, err, sizeof err), 0);
	CHECK_INT(obj->refcount, 1); /* copied: the event outlives the tree */
	json_decref(obj);
	if (ev) {
		CHECK_STR(ev->type, "x");
		CHECK_INT(ev->n_users, 1);
		CHECK_INT(ev->users[0], 2);
		CHECK(ev->actor == NULL);
		event_free(ev);
	}

	/* A refused object keeps its single reference. */
	obj = json_loads("{\"event_type\":\"x\"}", 0, &jerr);
	CHECK_INT(event_from_json(obj, NOW, &ev, err, sizeof err), HERALD_EINVAL);
	CHECK(ev == NULL);
	CHECK_INT(obj->refcount, 1);
	json_decref(obj);

	obj = json_integer(3);
	CHECK_INT(event_from_json(obj, NOW, &ev, err, sizeof err), HERALD_EINVAL);
	CHECK_STR(err, "event: must be a JSON object");
	json_decref(obj);

	/* An embedded NUL cannot sneak past the event_type check. */
	obj = json_pack("{s:s%,s:[i]}", "event_type", "ab\0c", (size_t)4, "users", 1);
	CHECK_INT(event_from_json(obj, NOW, &ev, err, sizeof err), HERALD_EINVAL);
	CHECK_CONTAINS(err, "event_type: must be");
	json_decref(obj);

	/* A small err buffer is truncated, never overrun. */
	char small[8];
	obj = json_object();
	CHECK_INT(event_from_json(obj, NOW, &ev, small, sizeof small), HERALD_EINVAL);
	CHECK_STR(small, "event_t");
	json_decref(obj);
}

static void test_sizes(void)
{
	/* A 1 MB blob in data is accepted. */
	size_t blob = 1024 * 1024;
	const char *head = "{\"event_type\":\"x\",\"users\":[1],\"data\":{\"blob\":\"";
	size_t hl = strlen(head);
	char *json = malloc(hl + blob + 8);
	memcpy(json, head, hl);
	memset(json + hl, 'z', blob);
	memcpy(json + hl + blob, "\"}}", 4);
	event *ev = parse(json);
	if (ev) {
		const unsigned char *b = jtape_get(jtape_get(ev->root, "data", 4), "blob", 4);
		size_t blen = 0;
		CHECK(b && jtape_type(b) == JT_STRING);
		if (b)
			jtape_str(b, &blen);
		CHECK_INT(blen, blob);
		event_free(ev);
	}
	free(json);

	/* Nesting deeper than jansson's limit is refused with a message, not a crash. */
	size_t depth = 100000;
	head = "{\"event_type\":\"x\",\"users\":[1],\"data\":{\"deep\":";
	hl = strlen(head);
	json = malloc(hl + 2 * depth + 8);
	memcpy(json, head, hl);
	memset(json + hl, '[', depth);
	memset(json + hl + depth, ']', depth);
	memcpy(json + hl + 2 * depth, "}}", 3);
	refused(json, strlen(json), "event: invalid JSON: maximum parsing depth reached");
	free(json);

	/* Moderate nesting (well inside the limit) is fine. */
	ev = parse("{\"event_type\":\"x\",\"users\":[1],\"data\":{\"a\":{\"b\":[[[{}]]]}}}");
	event_free(ev);
	event_free(NULL);
}

/* A body of events read once (the webhook's submit_many). */
static void test_batch(void)
{
	static const char *const bodies[] = {
	    "[{\"event_type\":\"a\",\"users\":[2,1]},{\"event_type\":\"b\",\"project\":{\"id\":3,"
	    "\"title\":\"T\\u00e9\"},\"data\":{\"x\":[1,\"yy\",{\"z\":null}]}},5,{\"event_type\":"
	    "\"c\"}]",
	    "{\"event_type\":\"solo\",\"users\":[7]}",
	    "[]",
	    "\"text\"",
	};
	char err[256];
	event_batch b;
	event *ev;

	for (size_t k = 0; k < sizeof bodies / sizeof *bodies; k++) {
		json_t *root = json_loads(bodies[k], JSON_DECODE_ANY, NULL);
		CHECK_INT(event_batch_parse(&b, bodies[k], strlen(bodies[k]), err, sizeof err), 0);
		CHECK_INT(b.n, json_is_array(root) ? json_array_size(root) : 1);
		CHECK_INT(b.array, json_is_array(root));
		for (size_t i = 0; i < b.n; i++) {
			json_t *item = json_is_array(root) ? json_array_get(root, i) : root;
			event *want = NULL;
			char werr[256] = "";
			/* Sizes and answers as the jansson tree's. */
			for (size_t limit = 0; limit < 200; limit += 7)
				CHECK_INT(event_batch_size(&b, limit),
				          event_json_size(item, limit));
			int wrc = event_from_json(item, NOW, &want, werr, sizeof werr);
			err[0] = '\0';
			CHECK_INT(event_batch_next(&b, NOW, &ev, err, sizeof err), wrc);
			CHECK_STR(err, werr);
			CHECK(!ev == !want);
			if (ev && want) {
				CHECK_STR(ev->type, want->type);
				CHECK_INT(ev->n_users, want->n_users);
				CHECK_INT(ev->project_id, want->project_id);
				size_t len = (size_t)(jtape_next(ev->root) - ev->root);
				CHECK(memcmp(ev->root, want->root, len) == 0);
			}
			event_free(ev);
			event_free(want);
		}
		CHECK_INT(b.taken, b.n);
		event_batch_free(&b);
		json_decref(root);
	}
	CHECK_INT(event_batch_parse(&b, "[{}", 3, err, sizeof err), HERALD_EINVAL);
	CHECK_STR(err, "invalid JSON: ']' expected near end of file (line 1, column 4)");
	CHECK(b.tape == NULL);
	event_batch_free(&b);
}

int main(void)
{
	test_full();
	test_minimal();
	test_refusals();
	test_users_sorted();
	test_timestamps();
	test_from_json();
	test_sizes();
	test_batch();
	return check_done();
}
