/* fuzz_event.c - event_parse() and event_free() (core/event.c) on arbitrary event texts. */
#include <jansson.h>
#include <string.h>

#include "event.h"
#include "fuzz.h"
#include "herald/plugin.h"
#include "ids.h"
#include "log.h"

#define NOW 1761316200 /* 2025-10-24T14:30:00Z */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(HERALD_LOG_ERROR, 0);
	return 0;
}

static int is_timestamp(const char *t)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";

	for (size_t i = 0; i < sizeof shape; i++)
		if (shape[i] == 'd' ? t[i] < '0' || t[i] > '9' : t[i] != shape[i])
			return 0;
	return 1;
}

/* What event.h promises of an accepted event. */
static void check_event(const event *ev)
{
	const json_t *type = json_object_get(ev->root, "event_type");
	const json_t *users = json_object_get(ev->root, "users");
	size_t n = strlen(ev->type);

	REQUIRE(json_is_object(ev->root));
	REQUIRE(ev->type == json_string_value(type));
	REQUIRE(n >= 1 && n <= EVENT_TYPE_MAX &&
	        strspn(ev->type, "abcdefghijklmnopqrstuvwxyz0123456789_") == n);
	REQUIRE(ev->project_id >= 0 && ev->project_id <= ID_MAX && ev->exclude_user >= 0 &&
	        ev->exclude_user <= ID_MAX);
	REQUIRE(ev->project_id > 0 || ev->users);
	if (ev->project_id) {
		int64_t id = 0;
		REQUIRE(id_from_json(json_object_get(json_object_get(ev->root, "project"), "id"),
		                     &id) &&
		        id == ev->project_id);
	}
	REQUIRE(!ev->users == !ev->n_users);
	for (size_t i = 0; i < ev->n_users; i++)
		REQUIRE(ev->users[i] > 0 && ev->users[i] <= ID_MAX &&
		        (i == 0 || ev->users[i - 1] < ev->users[i]));
	REQUIRE(!json_object_get(ev->root, "user_id"));
	REQUIRE(!ev->id || (ev->id_len >= 1 && ev->id_len <= EVENT_ID_MAX));
	for (size_t i = 0; ev->users && i < json_array_size(users); i++) {
		int64_t id = 0;
		REQUIRE(id_from_json(json_array_get(users, i), &id));
		size_t k = 0;
		while (k < ev->n_users && ev->users[k] != id)
			k++;
		REQUIRE(k < ev->n_users);
	}
	REQUIRE(is_timestamp(ev->timestamp));
}

/* An accepted event, written out by jansson and read again, is the same event. */
static void round_trip(const event *ev)
{
	char *text = json_dumps(ev->root, JSON_COMPACT), *again;
	char err[256] = "";
	event *ev2 = NULL;

	REQUIRE(text);
	REQUIRE(event_parse(text, strlen(text), NOW, &ev2, err, sizeof err) == 0);
	REQUIRE(strcmp(ev2->type, ev->type) == 0);
	REQUIRE(ev2->project_id == ev->project_id && ev2->exclude_user == ev->exclude_user);
	REQUIRE(ev2->n_users == ev->n_users);
	REQUIRE(!ev->n_users ||
	        memcmp(ev2->users, ev->users, ev->n_users * sizeof *ev->users) == 0);
	REQUIRE(strcmp(ev2->timestamp, ev->timestamp) == 0);
	REQUIRE(!ev->project_title == !ev2->project_title);
	REQUIRE(!ev->project_title || strcmp(ev->project_title, ev2->project_title) == 0);
	again = json_dumps(ev2->root, JSON_COMPACT);
	REQUIRE(again && strcmp(again, text) == 0);
	free(again);
	free(text);
	event_free(ev2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	event *ev = (event *)err; /* must be reset */
	int rc;

	memset(err, 'x', sizeof err);
	rc = event_parse((const char *)data, size, NOW, &ev, err, sizeof err);
	if (rc == 0) {
		REQUIRE(ev != NULL);
		check_event(ev);
		round_trip(ev);
	} else {
		REQUIRE(rc == HERALD_EINVAL || rc == HERALD_ENOMEM);
		REQUIRE(ev == NULL);
		/* Every refusal names its field: "users[3]: must be ...". */
		REQUIRE(fuzz_message_ok(err, sizeof err) && strstr(err, ": "));
	}
	event_free(ev);
	return 0;
}
