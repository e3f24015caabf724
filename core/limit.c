/* limit.c - see limit.h. Open windows live in an hfifo.c table keyed by user, in the order
 * they opened, which is the order they end (windows are the same for every user and one never
 * opens before the newest): limiter_due pops the oldest. */
#include "limit.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "hash.h"
#include "herald/plugin.h"
#include "hfifo.h"

typedef struct window {
	hfifo_node node; /* first: the table's */
	int64_t user;
	int64_t index;      /* the window is [index * window_ms, (index + 1) * window_ms) */
	uint32_t seen;      /* notifications addressed to the user in the window */
	limit_digest *held; /* what was held back, or NULL */
} window;

struct limiter {
	hash_key key;
	hfifo windows; /* in the order they opened, which is the order they end */
	uint32_t limit;
	int64_t window_ms;
	size_t max_windows;
};

int limiter_create(uint32_t limit, int64_t window_ms, size_t max_windows, limiter **out)
{
	limiter *l = calloc(1, sizeof *l);

	if (!l || hfifo_init(&l->windows) != 0) {
		free(l);
		return HERALD_ENOMEM;
	}
	hash_key_random(&l->key);
	l->limit = limit ? limit : 1;
	l->window_ms = window_ms > 0 ? window_ms : 1;
	l->max_windows = max_windows;
	*out = l;
	return 0;
}

static window *limiter_find(const limiter *l, int64_t user, uint64_t hash)
{
	for (hfifo_node *n = hfifo_bucket(&l->windows, hash); n; n = n->chain)
		if (n->hash == hash && ((window *)n)->user == user)
			return (window *)n;
	return NULL;
}

/* Open `user`'s window of position `ms`: never one before the newest window, so that the list
 * stays in the order of the windows' ends (a position that comes late, after its window was
 * given, counts in the newest). */
static window *limiter_open(limiter *l, int64_t user, uint64_t hash, uint64_t ms)
{
	const window *newest = (const window *)l->windows.newest;
	int64_t index = (int64_t)(ms / (uint64_t)l->window_ms);
	window *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	w->node.hash = hash;
	w->user = user;
	w->index = newest && newest->index > index ? newest->index : index;
	if (hfifo_push(&l->windows, &w->node) != 0) {
		free(w);
		return NULL;
	}
	return w;
}

/* Count one more under `name` / `id` in counts[] (n of max), or in *other when full. */
static int tally(limit_count *counts, size_t *n, size_t max, uint64_t *other, const char *name,
                 int64_t id)
{
	for (size_t i = 0; i < *n; i++)
		if (id ? counts[i].id == id : strcmp(counts[i].name, name) == 0) {
			counts[i].held++;
			return 0;
		}
	if (*n == max) {
		(*other)++;
		return 0;
	}
	if (name && !(counts[*n].name = strdup(name)))
		return HERALD_ENOMEM;
	counts[*n].id = id;
	counts[(*n)++].held = 1;
	return 0;
}

/* Tally one held notification of `message` into d. */
static int limiter_hold(limit_digest *d, log_id id, const char *message, size_t len)
{
	json_t *msg = json_loadb(message, len, 0, NULL);
	const char *type = json_string_value(json_object_get(msg, "event_type"));
	json_int_t project = json_integer_value(json_object_get(msg, "project_id"));
	const char *title = json_string_value(json_object_get(msg, "project_title"));
	int rc = tally(d->types, &d->n_types, LIMIT_TYPES_MAX, &d->other_types,
	               type ? type : "unknown", 0);

	if (rc == 0 && project > 0)
		rc = tally(d->projects, &d->n_projects, LIMIT_PROJECTS_MAX, &d->other_projects,
		           title, project);
	else if (rc == 0)
		d->no_project++;
	json_decref(msg);
	d->held++;
	d->last = id;
	return rc;
}

int limiter_admit(limiter *l, int64_t user, log_id id, const char *message, size_t len)
{
	uint64_t hash = hash_u64(&l->key, (uint64_t)user);
	window *w = limiter_find(l, user, hash);

	if (!w) {
		if (l->windows.count >= l->max_windows)
			return HERALD_EFULL;
		if (!(w = limiter_open(l, user, hash, id.ms)))
			return HERALD_ENOMEM;
		w->seen = 1;
		return 1;
	}
	if (w->seen < UINT32_MAX)
		w->seen++;
	if (w->seen <= l->limit)
		return 1;
	if (!w->held) {
		if (!(w->held = calloc(1, sizeof *w->held)))
			return HERALD_ENOMEM;
		w->held->user = user;
		w->held->start_ms = w->index * l->window_ms;
		w->held->end_ms = w->held->start_ms + l->window_ms;
	}
	/* Held even when the tally cannot grow (ENOMEM): it is still counted in `held`. */
	limiter_hold(w->held, id, message, len);
	return 0;
}

int limiter_due(limiter *l, int64_t now_ms, limit_digest **out)
{
	const window *oldest;

	while ((oldest = (const window *)l->windows.oldest) &&
	       (oldest->index + 1) * l->window_ms <= now_ms) {
		window *w = (window *)hfifo_pop(&l->windows);
		limit_digest *d = w->held;

		free(w);
		if (d) {
			*out = d;
			return 1;
		}
	}
	return 0;
}

size_t limiter_count(const limiter *l)
{
	return l->windows.count;
}

/* Sets key to the ISO-8601 UTC text of `ms`. */
static int set_time(json_t *obj, const char *key, int64_t ms)
{
	char buf[32];

	event_format_time(ms / 1000, buf);
	return json_object_set_new(obj, key, json_string(buf));
}

char *limit_digest_event(const limit_digest *d, size_t *len)
{
	json_t *ev = json_object(), *data = json_object(), *types = json_object(),
	       *projects = json_array();
	char *text = NULL;
	int rc = !ev || !data || !types || !projects;

	for (size_t i = 0; !rc && i < d->n_types; i++)
		rc = json_object_set_new(types, d->types[i].name,
		                         json_integer((json_int_t)d->types[i].held));
	for (size_t i = 0; !rc && i < d->n_projects; i++)
		rc = json_array_append_new(
		    projects,
		    json_pack("{sIsosI}", "id", (json_int_t)d->projects[i].id, "title",
		              d->projects[i].name ? json_string(d->projects[i].name) : json_null(),
		              "count", (json_int_t)d->projects[i].held));
	if (!rc) {
		rc |= json_object_set_new(data, "count", json_integer((json_int_t)d->held));
		rc |= set_time(data, "window_start", d->start_ms);
		rc |= set_time(data, "window_end", d->end_ms);
		rc |= json_object_set(data, "event_types", types);
		rc |= json_object_set(data, "projects", projects);
		if (d->other_types)
			rc |= json_object_set_new(data, "other_event_types",
			                          json_integer((json_int_t)d->other_types));
		if (d->other_projects)
			rc |= json_object_set_new(data, "other_projects",
			                          json_integer((json_int_t)d->other_projects));
		if (d->no_project)
			rc |= json_object_set_new(data, "no_project",
			                          json_integer((json_int_t)d->no_project));
		rc |= json_object_set_new(ev, "event_type", json_string("digest"));
		rc |= set_time(ev, "timestamp", d->end_ms);
		rc |= json_object_set_new(ev, "users", json_pack("[I]", (json_int_t)d->user));
		/* Every held notification was of one project: the digest is that project's. */
		if (d->n_projects == 1 && !d->other_projects && !d->no_project)
			rc |= json_object_set_new(
			    ev, "project",
			    json_pack("{sIso}", "id", (json_int_t)d->projects[0].id, "title",
			              d->projects[0].name ? json_string(d->projects[0].name)
			                                  : json_null()));
		rc |= json_object_set(ev, "data", data);
	}
	if (!rc)
		text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(types);
	json_decref(projects);
	json_decref(data);
	json_decref(ev);
	if (text)
		*len = strlen(text);
	return text;
}

void limit_digest_free(limit_digest *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_types; i++)
		free(d->types[i].name);
	for (size_t i = 0; i < d->n_projects; i++)
		free(d->projects[i].name);
	free(d);
}

void limiter_destroy(limiter *l)
{
	if (!l)
		return;
	for (window *w; (w = (window *)hfifo_pop(&l->windows));) {
		limit_digest_free(w->held);
		free(w);
	}
	hfifo_free(&l->windows);
	free(l);
}
