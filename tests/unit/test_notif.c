/* Unit tests of notif.c: frame headers of every length class, and the notification message. */
#include "notif.h"

#include <libwebsockets.h>
#include <stdlib.h>

#include "check.h"

static void check_frame(size_t len, size_t hdr)
{
	char *payload = malloc(len + 1);
	memset(payload, 'a', len);
	notif *n = notif_frame(payload, len);
	size_t plen;

	CHECK(n != NULL);
	CHECK_INT(n->len, hdr + len);
	CHECK_INT(n->frame[0], 0x81);
	CHECK(n->frame - n->buf >= LWS_PRE);
	if (hdr == 2)
		CHECK_INT(n->frame[1], len);
	else if (hdr == 4)
		CHECK_INT((n->frame[1] == 126) && ((n->frame[2] << 8 | n->frame[3]) == (int)len),
		          1);
	else
		CHECK_INT(n->frame[1] == 127 && n->frame[7] == ((len >> 16) & 0xff) &&
		              n->frame[9] == (len & 0xff),
		          1);
	CHECK(notif_payload(n, &plen) == (const char *)n->frame + hdr);
	CHECK_INT(plen, len);
	CHECK_INT(n->refs, 1);
	notif_ref(n);
	CHECK_INT(n->refs, 2);
	notif_unref(n);
	notif_unref(n);
	free(payload);
}

static void test_build(void)
{
	const char *json =
	    "{\"event_type\":\"milestone_created\",\"project\":{\"id\":2,\"title\":\"Mobile\"},"
	    "\"actor\":{\"id\":5,\"username\":\"jane\"},\"data\":{\"id\":42},"
	    "\"timestamp\":\"2025-10-24T14:30:00Z\"}";
	char err[128];
	event *ev;
	json_t *fmt = json_pack("{s:s, s:s, s:{s:i}}", "title", "Milestone Created", "message", "M",
	                        "data", "id", 42);
	size_t len;

	CHECK_INT(event_parse(json, strlen(json), 0, &ev, err, sizeof err), 0);
	char *msg = notif_message(ev, fmt, &len);
	notif *n = notif_frame_pos(msg, len, "project_2", "e:1-2");
	const char *p = notif_payload(n, &len);
	free(msg);
	const char *want =
	    "{\"type\":\"notification_received\",\"title\":\"Milestone Created\",\"message\":\"M\","
	    "\"event_type\":\"milestone_created\",\"timestamp\":\"2025-10-24T14:30:00Z\","
	    "\"actor\":{\"id\":5,\"username\":\"jane\"},\"project_id\":2,"
	    "\"project_title\":\"Mobile\",\"data\":{\"id\":42},\"room\":\"project_2\","
	    "\"pos\":\"e:1-2\"}";
	CHECK_INT(len, strlen(want));
	CHECK(memcmp(p, want, len) == 0);
	notif_unref(n);
	event_free(ev);

	/* direct-to-user events have no project: project_id and project_title are null */
	json = "{\"event_type\":\"x\",\"users\":[3],\"timestamp\":\"2025-10-24T14:30:00Z\"}";
	CHECK_INT(event_parse(json, strlen(json), 0, &ev, err, sizeof err), 0);
	msg = notif_message(ev, fmt, &len);
	json_t *back = json_loadb(msg, len, 0, NULL);
	free(msg);
	CHECK(json_is_null(json_object_get(back, "project_id")));
	CHECK(json_is_null(json_object_get(back, "project_title")));
	CHECK(json_is_null(json_object_get(back, "actor")));
	json_decref(back);
	event_free(ev);
	json_decref(fmt);
	CHECK(notif_frame_pos("[1]", 3, "user_1", "x") == NULL); /* only objects take a position */
}

/* The message is the bytes json_dumps gives for a tree of the same fields (how it was built
 * before), for events with escapes, non-ASCII, reals and nesting in what is copied. */
static void test_same_as_a_tree(void)
{
	static const char *const events[] = {
	    "{\"event_type\":\"a_b\",\"project\":{\"id\":9007199254740991,"
	    "\"title\":\"Quote \\\" back\\\\slash \\u0001 tab\\t caf\u00e9 \\u2028 /\"},"
	    "\"actor\":{\"z\":1.5,\"a\":[1e300,-0,0.1,1E2,1e-7,true,null,{}],\"m\":{\"k\":"
	    "\"\\ud83d\\ude00\"}},"
	    "\"timestamp\":\"2025-10-24T16:30:00+02:00\"}",
	    "{\"event_type\":\"x\",\"users\":[1],\"actor\":{},\"project\":null}",
	};
	json_t *fmt = json_pack("{s:s, s:s, s:{s:f, s:[i, s, n]}}", "title", "T \"q\" \n",
	                        "message", "\xe2\x82\xac", "data", "r", 2.0, "l", -3, "s/\x7f");

	for (size_t i = 0; i < sizeof events / sizeof *events; i++) {
		char err[128];
		event *ev = NULL;
		size_t len;
		int rc = event_parse(events[i], strlen(events[i]), 0, &ev, err, sizeof err);
		if (rc)
			fprintf(stderr, "event %zu: %s\n", i, err);
		CHECK_INT(rc, 0);
		if (!ev)
			continue;
		/* The actor as jansson reads it from the same text. */
		json_t *src = json_loads(events[i], 0, NULL);
		json_t *tree = json_object(), *actor = json_object_get(src, "actor");
		json_object_set_new(tree, "type", json_string("notification_received"));
		json_object_set(tree, "title", json_object_get(fmt, "title"));
		json_object_set(tree, "message", json_object_get(fmt, "message"));
		json_object_set_new(tree, "event_type", json_string(ev->type));
		json_object_set_new(tree, "timestamp", json_string(ev->timestamp));
		json_object_set(tree, "actor", actor ? actor : json_null());
		json_object_set_new(tree, "project_id",
		                    ev->project_id ? json_integer(ev->project_id) : json_null());
		json_object_set_new(tree, "project_title",
		                    ev->project_title ? json_string(ev->project_title)
		                                      : json_null());
		json_object_set(tree, "data", json_object_get(fmt, "data"));
		char *want = json_dumps(tree, JSON_COMPACT | JSON_PRESERVE_ORDER);
		char *got = notif_message(ev, fmt, &len);
		CHECK_STR(got, want);
		CHECK_INT(len, got ? strlen(got) : 0);
		free(want);
		free(got);
		json_decref(tree);
		json_decref(src);
		event_free(ev);
	}
	json_decref(fmt);
}

int main(void)
{
	check_frame(0, 2);
	check_frame(125, 2);
	check_frame(126, 4);
	check_frame(65535, 4);
	check_frame(65536, 10);
	check_frame(1 << 20, 10);
	test_build();
	test_same_as_a_tree();
	return check_done();
}
