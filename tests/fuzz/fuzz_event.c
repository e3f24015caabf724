/* fuzz_event.c - event_parse() and event_free() (core/event.c) on arbitrary event texts, with
 * jansson's reading of the same text as the oracle of what the event holds. */
#include <jansson.h>
#include <string.h>

#include "event.h"
#include "fuzz.h"
#include "herald/plugin.h"
#include "ids.h"
#include "jsonw.h"
#include "jtape.h"
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

/* What event.h promises of an accepted event; `root` is jansson's reading of the same text. */
static void check_event(const event *ev, const json_t *root)
{
	const json_t *type = json_object_get(root, "event_type");
	const json_t *users = json_object_get(root, "users");
	const json_t *actor = json_object_get(root, "actor");
	size_t n = strlen(ev->type);

	REQUIRE(json_is_object(root));
	REQUIRE(jtape_type(ev->root) == JT_OBJECT);
	REQUIRE(strcmp(ev->type, json_string_value(type)) == 0);
	REQUIRE(n >= 1 && n <= EVENT_TYPE_MAX &&
	        strspn(ev->type, "abcdefghijklmnopqrstuvwxyz0123456789_") == n);
	REQUIRE(ev->project_id >= 0 && ev->project_id <= ID_MAX && ev->exclude_user >= 0 &&
	        ev->exclude_user <= ID_MAX);
	REQUIRE(ev->project_id > 0 || ev->users);
	if (ev->project_id) {
		int64_t id = 0;
		REQUIRE(
		    id_from_json(json_object_get(json_object_get(root, "project"), "id"), &id) &&
		    id == ev->project_id);
	}
	REQUIRE(!ev->users == !ev->n_users);
	for (size_t i = 0; i < ev->n_users; i++)
		REQUIRE(ev->users[i] > 0 && ev->users[i] <= ID_MAX &&
		        (i == 0 || ev->users[i - 1] < ev->users[i]));
	REQUIRE(!json_object_get(root, "user_id") ||
	        json_is_null(json_object_get(root, "user_id")));
	REQUIRE(!ev->id ||
	        (ev->id_len >= 1 && ev->id_len <= EVENT_ID_MAX &&
	         ev->id_len == json_string_length(json_object_get(root, "id")) &&
	         memcmp(ev->id, json_string_value(json_object_get(root, "id")), ev->id_len) == 0));
	for (size_t i = 0; ev->users && i < json_array_size(users); i++) {
		int64_t id = 0;
		REQUIRE(id_from_json(json_array_get(users, i), &id));
		size_t k = 0;
		while (k < ev->n_users && ev->users[k] != id)
			k++;
		REQUIRE(k < ev->n_users);
	}
	REQUIRE(is_timestamp(ev->timestamp));
	/* The actor is copied as jansson writes it (notif.c writes it so). */
	REQUIRE(!ev->actor == (!actor || json_is_null(actor)));
	if (ev->actor) {
		jsonw w = JSONW_INIT;
		size_t len;
		char *want = json_dumps(actor, JSON_COMPACT), *got;
		jtape_write(&w, ev->actor);
		got = jsonw_take(&w, &len);
		REQUIRE(want && got && strcmp(want, got) == 0);
		free(want);
		free(got);
	}
}

/* An accepted event, written out from its tape and read again, is the same event; the text
 * written is jansson's. */
static void round_trip(const event *ev, const json_t *root)
{
	jsonw w = JSONW_INIT;
	size_t len;
	char *text, *want = json_dumps(root, JSON_COMPACT);
	char err[256] = "";
	event *ev2 = NULL;

	jtape_write(&w, ev->root);
	text = jsonw_take(&w, &len);
	REQUIRE(text && want && strcmp(text, want) == 0);
	REQUIRE(event_parse(text, len, NOW, &ev2, err, sizeof err) == 0);
	REQUIRE(strcmp(ev2->type, ev->type) == 0);
	REQUIRE(ev2->project_id == ev->project_id && ev2->exclude_user == ev->exclude_user);
	REQUIRE(ev2->n_users == ev->n_users);
	REQUIRE(!ev->n_users ||
	        memcmp(ev2->users, ev->users, ev->n_users * sizeof *ev->users) == 0);
	REQUIRE(strcmp(ev2->timestamp, ev->timestamp) == 0);
	REQUIRE(!ev->project_title == !ev2->project_title);
	REQUIRE(!ev->project_title || strcmp(ev->project_title, ev2->project_title) == 0);
	REQUIRE((size_t)(jtape_next(ev2->root) - ev2->root) ==
	        (size_t)(jtape_next(ev->root) - ev->root));
	REQUIRE(memcmp(ev2->root, ev->root, (size_t)(jtape_next(ev->root) - ev->root)) == 0);
	free(want);
	free(text);
	event_free(ev2);
}

/* The same event through event_from_json() (the webhook's path) is the same event. */
static void from_json(const event *ev, json_t *root)
{
	char err[256] = "";
	event *ev2 = NULL;

	REQUIRE(event_from_json(root, NOW, &ev2, err, sizeof err) == 0);
	REQUIRE(memcmp(ev2->root, ev->root, (size_t)(jtape_next(ev->root) - ev->root)) == 0);
	REQUIRE(ev2->n_users == ev->n_users && ev2->project_id == ev->project_id);
	event_free(ev2);
}

/* The same bytes as a webhook body (one event or an array): every item taken from the batch
 * gives event_from_json's answer on jansson's tree of it, and the same sizes. */
static void batch(const uint8_t *data, size_t size)
{
	char err[256], werr[256];
	event_batch b;
	json_t *root =
	    json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);

	if (event_batch_parse(&b, (const char *)data, size, err, sizeof err)) {
		REQUIRE(fuzz_message_ok(err, sizeof err));
		json_decref(root);
		return;
	}
	REQUIRE(root != NULL);
	REQUIRE(b.n == (json_is_array(root) ? json_array_size(root) : 1));
	for (size_t i = 0; i < b.n && i < 64; i++) {
		json_t *item = json_is_array(root) ? json_array_get(root, i) : root;
		event *ev = NULL, *want = NULL;
		REQUIRE(event_batch_size(&b, 300) == event_json_size(item, 300));
		err[0] = werr[0] = '\0';
		int rc = event_batch_next(&b, NOW, &ev, err, sizeof err);
		REQUIRE(rc == event_from_json(item, NOW, &want, werr, sizeof werr));
		REQUIRE(strcmp(err, werr) == 0);
		REQUIRE(!ev == !want);
		if (ev)
			REQUIRE(memcmp(ev->root, want->root,
			               (size_t)(jtape_next(want->root) - want->root)) == 0);
		event_free(ev);
		event_free(want);
	}
	event_batch_free(&b);
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	event *ev = (event *)err; /* must be reset */
	int rc;

	memset(err, 'x', sizeof err);
	rc = event_parse((const char *)data, size, NOW, &ev, err, sizeof err);
	if (rc == 0) {
		json_t *root = json_loadb((const char *)data, size,
		                          JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
		REQUIRE(ev != NULL);
		REQUIRE(root != NULL); /* what event_parse takes, jansson takes */
		check_event(ev, root);
		round_trip(ev, root);
		from_json(ev, root);
		json_decref(root);
	} else {
		REQUIRE(rc == HERALD_EINVAL || rc == HERALD_ENOMEM);
		REQUIRE(ev == NULL);
		/* Every refusal names its field: "users[3]: must be ...". */
		REQUIRE(fuzz_message_ok(err, sizeof err) && strstr(err, ": "));
	}
	event_free(ev);
	batch(data, size);
	return 0;
}
