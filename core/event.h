/*
 * event.h - parsing and validation of the events sources submit (see plugins/README.md).
 *
 * Thread-safe: called from plugin threads inside submit().
 */
#ifndef HERALD_EVENT_H
#define HERALD_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define EVENT_TYPE_MAX 64     /* bytes of event_type */
#define EVENT_USERS_MAX 10000 /* entries of `users` */
#define EVENT_ID_MAX 128      /* bytes of `id` */

/*
 * An event as the hub uses it: the fields it routes and names by, and the whole event as a tape
 * (jtape.h) for the formatter. One allocation holds the struct, the tape and `users`; every
 * pointer below points into it.
 */
typedef struct event {
	const char *type;          /* event_type: [a-z0-9_], 1..EVENT_TYPE_MAX bytes */
	int64_t project_id;        /* > 0, or 0 when the event has no project */
	const char *project_title; /* NUL-terminated, or NULL */
	size_t project_title_len;
	int64_t exclude_user; /* > 0, or 0 */
	int64_t *users;       /* sorted, without duplicates; NULL when absent */
	size_t n_users;
	char timestamp[32]; /* ISO-8601 UTC "YYYY-MM-DDTHH:MM:SSZ" (given or ingest time) */
	const char *id;     /* idempotency id, 1 .. EVENT_ID_MAX bytes, or NULL */
	size_t id_len;
	const unsigned char *root;  /* the whole event: a tape object (jtape.h) */
	const unsigned char *actor; /* root's `actor` object, or NULL (absent or null) */
} event;

/*
 * Parse and validate one event from JSON text (strict RFC 8259: jtape.h). On success returns 0
 * and a new event in *out. On failure returns HERALD_EINVAL and a message naming the field in
 * err, e.g. "project.id: must be a positive integer", or HERALD_ENOMEM. `now` fills a missing
 * timestamp.
 */
int event_parse(const char *json, size_t len, int64_t now, event **out, char *err, size_t errlen);

/* Validate an already-parsed object (copied into the event: the caller keeps its reference). */
int event_from_json(json_t *obj, int64_t now, event **out, char *err, size_t errlen);

/*
 * A JSON text holding one event or an array of events (a webhook body), read once with
 * jtape.h's parser; its events are then taken one by one, each copied into its own block.
 */
typedef struct event_batch {
	unsigned char *tape;       /* the parsed text (owned) */
	const unsigned char *next; /* the next event's value in it */
	size_t n;     /* events: the array's length, or 1 when the text is not an array */
	size_t taken; /* events taken so far */
	int array;    /* the text is an array (its events are named by index) */
} event_batch;

/* Parse `json`: 0, HERALD_ENOMEM, or HERALD_EINVAL with "invalid JSON: <why> (line L, column
 * C)" in err. On success event_batch_free() must follow. */
int event_batch_parse(event_batch *b, const char *json, size_t len, char *err, size_t errlen);

/* event_json_size() of the next event (b->taken < b->n). */
size_t event_batch_size(const event_batch *b, size_t limit);

/* Validate the next event (as event_from_json) and move on to the one after it. */
int event_batch_next(event_batch *b, int64_t now, event **out, char *err, size_t errlen);

void event_batch_free(event_batch *b);

/* About the bytes of `v` as compact JSON text (string escapes aside), counted until the
 * count passes `limit`: a result over `limit` means "larger than limit". Allocates nothing. */
size_t event_json_size(const json_t *v, size_t limit);

void event_free(event *ev);

/* Format `t` (seconds since the epoch) as "YYYY-MM-DDTHH:MM:SSZ" into buf[32]. */
void event_format_time(int64_t t, char buf[32]);

#endif
