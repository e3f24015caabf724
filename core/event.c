/* event.c - see event.h. The rules are documented for plugin authors in plugins/README.md. */
#define _GNU_SOURCE /* timegm */
#include "event.h"
#include "ids.h"
#include "jtape.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "herald/plugin.h"

static int refuse(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return HERALD_EINVAL;
}

/* A JSON integer above zero: 5.0, "5" and true are not. */

/* Reads exactly `n` decimal digits at s. */
static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

/* Writes `v` as `width` digits followed by `sep`; returns the next position. */
static char *put(char *p, int v, int width, char sep)
{
	for (int i = width - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	p[width] = sep;
	return p + width + 1;
}

/* The year must be within 0..9999. */
static void format_tm(const struct tm *tm, char buf[32])
{
	char *p = put(buf, tm->tm_year + 1900, 4, '-');
	p = put(p, tm->tm_mon + 1, 2, '-');
	p = put(p, tm->tm_mday, 2, 'T');
	p = put(p, tm->tm_hour, 2, ':');
	p = put(p, tm->tm_min, 2, ':');
	p = put(p, tm->tm_sec, 2, 'Z');
	*p = '\0';
}

void event_format_time(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	format_tm(&tm, buf);
}

/*
 * "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" to UTC "YYYY-MM-DDTHH:MM:SSZ". The date is
 * checked by converting it with timegm and back: a date that does not exist (Feb 30) comes
 * back different.
 */
static int parse_time(const char *s, char out[32])
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
	    !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
		return 0;
	s += 19;
	if (*s == '.') {
		if (s[1] < '0' || s[1] > '9')
			return 0;
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	}
	if (*s == '+' || *s == '-') {
		sign = *s == '+' ? 1 : -1;
		if (!digits(s + 1, 2, &oh) || s[3] != ':' || !digits(s + 4, 2, &om) || oh > 23 ||
		    om > 59)
			return 0;
		s += 6;
	} else if (*s++ != 'Z') {
		return 0;
	}
	if (*s)
		return 0;

	struct tm tm = {.tm_year = y - 1900,
	                .tm_mon = mo - 1,
	                .tm_mday = d,
	                .tm_hour = h,
	                .tm_min = mi,
	                .tm_sec = sec};
	time_t t = timegm(&tm);
	if (tm.tm_year != y - 1900 || tm.tm_mon != mo - 1 || tm.tm_mday != d || tm.tm_hour != h ||
	    tm.tm_min != mi || tm.tm_sec != sec)
		return 0;
	t -= sign * (oh * 3600 + om * 60);
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return 0;
	format_tm(&tm, out);
	return 1;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The members of an event the hub reads, found in one walk over the object. */
struct fields {
	const unsigned char *event_type, *id, *user_id, *project, *users, *exclude_user, *actor,
	    *data, *timestamp;
};

static void fields_find(const unsigned char *obj, struct fields *f)
{
	static const struct {
		const char *name;
		size_t len, offset;
	} known[] = {
#define KNOWN(n) {#n, sizeof #n - 1, offsetof(struct fields, n)}
	    KNOWN(event_type),   KNOWN(id),    KNOWN(user_id), KNOWN(project),   KNOWN(users),
	    KNOWN(exclude_user), KNOWN(actor), KNOWN(data),    KNOWN(timestamp),
#undef KNOWN
	};
	const unsigned char *m = jtape_first(obj);

	memset(f, 0, sizeof *f);
	for (uint32_t i = jtape_count(obj); i > 0; i--) {
		size_t len;
		const char *key = jtape_key(m, &len);
		const unsigned char *v = jtape_member_value(m);
		for (size_t k = 0; k < sizeof known / sizeof *known; k++)
			if (known[k].len == len && memcmp(known[k].name, key, len) == 0) {
				memcpy((char *)f + known[k].offset, &v, sizeof v);
				break;
			}
		m = jtape_next(v);
	}
}

/* Optional members: absent and null both read as NULL. */
static const unsigned char *present(const unsigned char *v)
{
	return v && jtape_type(v) != JT_NULL ? v : NULL;
}

/* The rule of ids.h, on a tape value. */
static int tape_id(const unsigned char *v, int64_t *out)
{
	double d;

	if (v && jtape_type(v) == JT_INT) {
		if (jtape_int(v) < 1 || jtape_int(v) > ID_MAX)
			return 0;
		*out = jtape_int(v);
		return 1;
	}
	if (!v || jtape_type(v) != JT_REAL)
		return 0;
	d = jtape_real(v);
	if (!(d >= 1 && d <= (double)ID_MAX) || d != (double)(int64_t)d)
		return 0;
	*out = (int64_t)d;
	return 1;
}

static int is(const unsigned char *v, int type)
{
	return v && jtape_type(v) == type;
}

/* Where the pointers of an event go in its block, as offsets (the block may still move). */
struct layout {
	size_t type, id, project_title, actor, users_src;
};

/*
 * Checks the event whose tape starts at t->p + root and fills what needs no allocation; the
 * offsets of what points into the block go to *lay. Returns 0 or HERALD_EINVAL with err set.
 */
static int validate(const jtape *t, size_t root, int64_t now, event *ev, struct layout *lay,
                    char *err, size_t errlen)
{
	const unsigned char *base = t->p, *obj = base + root, *v;
	struct fields f;
	size_t n;

	if (jtape_type(obj) != JT_OBJECT)
		return refuse(err, errlen, "event: must be a JSON object");
	fields_find(obj, &f);

	if (!(v = f.event_type))
		return refuse(err, errlen, "event_type: is required");
	const char *type = is(v, JT_STRING) ? jtape_str(v, &n) : (n = 0, "");
	if (n == 0 || n > EVENT_TYPE_MAX ||
	    strspn(type, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return refuse(err, errlen,
		              "event_type: must be 1 to %d characters of a-z, 0-9 and _",
		              EVENT_TYPE_MAX);
	lay->type = (size_t)((const unsigned char *)type - base);

	if ((v = present(f.id))) {
		const char *id = is(v, JT_STRING) ? jtape_str(v, &ev->id_len) : NULL;
		if (!id || ev->id_len == 0 || ev->id_len > EVENT_ID_MAX)
			return refuse(err, errlen, "id: must be a string of 1 to %d bytes",
			              EVENT_ID_MAX);
		lay->id = (size_t)((const unsigned char *)id - base);
	}

	/* A direct message written the way many back ends write one: never let it reach a whole
	 * project room. */
	if (present(f.user_id))
		return refuse(err, errlen,
		              "user_id: not an event field; to notify users, "
		              "list them in \"users\": [ids]");

	if ((v = present(f.project))) {
		if (!is(v, JT_OBJECT))
			return refuse(err, errlen, "project: must be an object");
		if (!tape_id(jtape_get(v, "id", 2), &ev->project_id))
			return refuse(err, errlen,
			              "project.id: must be a whole number from 1 to 2^53-1");
		const unsigned char *title = present(jtape_get(v, "title", 5));
		if (title && !is(title, JT_STRING))
			return refuse(err, errlen, "project.title: must be a string");
		if (title)
			lay->project_title = (size_t)((const unsigned char *)jtape_str(
			                                  title, &ev->project_title_len) -
			                              base);
	}

	if ((v = present(f.users))) {
		size_t count = is(v, JT_ARRAY) ? jtape_count(v) : 0;
		if (count == 0 || count > EVENT_USERS_MAX)
			return refuse(err, errlen, "users: must be an array of 1 to %d user ids",
			              EVENT_USERS_MAX);
		const unsigned char *u = jtape_first(v);
		for (size_t i = 0; i < count; i++, u = jtape_next(u)) {
			int64_t id;
			if (!tape_id(u, &id))
				return refuse(err, errlen,
				              "users[%zu]: must be a whole number from 1 to 2^53-1",
				              i);
		}
		ev->n_users = count;
		lay->users_src = (size_t)(v - base);
	}

	if (!ev->project_id && !ev->n_users)
		return refuse(err, errlen, "event: needs `project` or `users` to be delivered");
	if ((v = present(f.exclude_user)) && !tape_id(v, &ev->exclude_user))
		return refuse(err, errlen, "exclude_user: must be a whole number from 1 to 2^53-1");
	if ((v = present(f.actor)) && !is(v, JT_OBJECT))
		return refuse(err, errlen, "actor: must be an object");
	if (v)
		lay->actor = (size_t)(v - base);
	if ((v = present(f.data)) && !is(v, JT_OBJECT))
		return refuse(err, errlen, "data: must be an object");
	if (!(v = present(f.timestamp)))
		event_format_time(now, ev->timestamp);
	else if (!is(v, JT_STRING) || !parse_time(jtape_str(v, &n), ev->timestamp))
		return refuse(err, errlen,
		              "timestamp: must be an ISO-8601 UTC time such as "
		              "2025-10-24T14:30:00Z");
	return 0;
}

/* Room for the struct at the start of an event's block, the tape after it. */
#define EVENT_HEAD ((sizeof(event) + 7) & ~(size_t)7)

/* Validates the tape in t (after EVENT_HEAD) and turns the block into an event. On success the
 * block is the event's (*out) and t owns nothing; on failure t is left to the caller. */
static int event_finish(jtape *t, int64_t now, event **out, char *err, size_t errlen)
{
	event ev = {0};
	struct layout lay = {0};
	int rc = validate(t, EVENT_HEAD, now, &ev, &lay, err, errlen);
	size_t users_at = (t->len + 7) & ~(size_t)7;

	if (rc)
		return rc;
	if (ev.n_users) {
		if (jtape_reserve(t, users_at - t->len + ev.n_users * sizeof(int64_t)))
			return HERALD_ENOMEM;
		ev.users = (int64_t *)(void *)(t->p + users_at);
		const unsigned char *u = jtape_first(t->p + lay.users_src);
		for (size_t i = 0; i < ev.n_users; i++, u = jtape_next(u))
			tape_id(u, &ev.users[i]);
		qsort(ev.users, ev.n_users, sizeof *ev.users, cmp_id);
		size_t n = 1;
		for (size_t i = 1; i < ev.n_users; i++)
			if (ev.users[i] != ev.users[n - 1])
				ev.users[n++] = ev.users[i];
		ev.n_users = n;
		t->len = users_at + ev.n_users * sizeof(int64_t);
	}
	/* Most of a large text's reservation was not needed: give it back. */
	if (t->cap - t->len > 4096 && t->cap - t->len > t->len / 4) {
		unsigned char *p = realloc(t->p, t->len);
		if (p) {
			t->p = p;
			t->cap = t->len;
		}
		if (ev.users)
			ev.users = (int64_t *)(void *)(t->p + users_at);
	}
	ev.type = (const char *)t->p + lay.type;
	ev.id = lay.id ? (const char *)t->p + lay.id : NULL;
	ev.project_title = lay.project_title ? (const char *)t->p + lay.project_title : NULL;
	ev.actor = lay.actor ? t->p + lay.actor : NULL;
	ev.root = t->p + EVENT_HEAD;
	memcpy(t->p, &ev, sizeof ev);
	*out = (event *)(void *)t->p;
	*t = (jtape){0};
	return 0;
}

int event_from_json(json_t *obj, int64_t now, event **out, char *err, size_t errlen)
{
	jtape t = {0};
	int rc;

	*out = NULL;
	if (!json_is_object(obj))
		return refuse(err, errlen, "event: must be a JSON object");
	if (!(rc = jtape_reserve(&t, EVENT_HEAD + 256))) {
		t.len = EVENT_HEAD;
		if ((rc = jtape_from_json(&t, obj)) == HERALD_EINVAL)
			refuse(err, errlen, "event: nested deeper than %d levels", JTAPE_MAX_DEPTH);
		else if (!rc)
			rc = event_finish(&t, now, out, err, errlen);
	}
	if (rc == HERALD_ENOMEM)
		refuse(err, errlen, "event: out of memory");
	free(t.p);
	return rc;
}

int event_parse(const char *json, size_t len, int64_t now, event **out, char *err, size_t errlen)
{
	jtape t = {0};
	jtape_error jerr;
	int rc;

	*out = NULL;
	/* The tape is about the text's size: one allocation for most events. */
	if (!(rc = jtape_reserve(&t, EVENT_HEAD + len + len / 2 + 128))) {
		t.len = EVENT_HEAD;
		rc = jtape_parse(&t, json, len, &jerr);
		if (rc == HERALD_EINVAL)
			refuse(err, errlen, "event: invalid JSON: %s (line %d, column %d)",
			       jerr.text, jerr.line, jerr.column);
		else if (!rc)
			rc = event_finish(&t, now, out, err, errlen);
	}
	if (rc == HERALD_ENOMEM)
		refuse(err, errlen, "event: out of memory");
	free(t.p);
	return rc;
}

int event_batch_parse(event_batch *b, const char *json, size_t len, char *err, size_t errlen)
{
	jtape t = {0};
	jtape_error jerr;
	int rc;

	*b = (event_batch){0};
	if ((rc = jtape_parse(&t, json, len, &jerr))) {
		free(t.p);
		if (rc == HERALD_EINVAL)
			return refuse(err, errlen, "invalid JSON: %s (line %d, column %d)",
			              jerr.text, jerr.line, jerr.column);
		refuse(err, errlen, "out of memory");
		return rc;
	}
	b->tape = t.p;
	b->array = jtape_type(t.p) == JT_ARRAY;
	b->n = b->array ? jtape_count(t.p) : 1;
	b->next = jtape_type(t.p) == JT_ARRAY ? jtape_first(t.p) : t.p;
	return 0;
}

/* event_json_size() on a tape value. */
static size_t tape_size(const unsigned char *v, size_t limit)
{
	size_t n = 2, len; /* brackets, or the length of a short scalar */
	const unsigned char *m = jtape_first(v);

	switch (jtape_type(v)) {
	case JT_STRING:
		jtape_str(v, &len);
		return len + 2;
	case JT_OBJECT:
		for (uint32_t i = jtape_count(v); i > 0 && n <= limit; i--) {
			jtape_key(m, &len);
			m = jtape_member_value(m);
			n += len + 4 + tape_size(m, limit - (n < limit ? n : limit));
			m = jtape_next(m);
		}
		return n;
	case JT_ARRAY:
		for (uint32_t i = jtape_count(v); i > 0 && n <= limit; i--) {
			n += 1 + tape_size(m, limit - (n < limit ? n : limit));
			m = jtape_next(m);
		}
		return n;
	default:
		return 8;
	}
}

size_t event_batch_size(const event_batch *b, size_t limit)
{
	return tape_size(b->next, limit);
}

int event_batch_next(event_batch *b, int64_t now, event **out, char *err, size_t errlen)
{
	const unsigned char *v = b->next;
	size_t len = (size_t)(jtape_next(v) - v);
	jtape t = {0};
	int rc;

	*out = NULL;
	b->next = jtape_next(v);
	b->taken++;
	if (jtape_type(v) != JT_OBJECT)
		return refuse(err, errlen, "event: must be a JSON object");
	if (!(rc = jtape_reserve(&t, EVENT_HEAD + len))) {
		memcpy(t.p + EVENT_HEAD, v, len);
		t.len = EVENT_HEAD + len;
		rc = event_finish(&t, now, out, err, errlen);
	}
	if (rc == HERALD_ENOMEM)
		refuse(err, errlen, "event: out of memory");
	free(t.p);
	return rc;
}

void event_batch_free(event_batch *b)
{
	free(b->tape);
	*b = (event_batch){0};
}

size_t event_json_size(const json_t *v, size_t limit)
{
	size_t n = 2, i; /* brackets, or the length of a short scalar */
	const char *key;
	json_t *item;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_length(v) + 2;
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, key, item)
		{
			if (n > limit)
				break;
			n += strlen(key) + 4 +
			     event_json_size(item, limit - (n < limit ? n : limit));
		}
		return n;
	case JSON_ARRAY:
		json_array_foreach(v, i, item)
		{
			if (n > limit)
				break;
			n += 1 + event_json_size(item, limit - (n < limit ? n : limit));
		}
		return n;
	default:
		return 8;
	}
}

void event_free(event *ev)
{
	free(ev);
}
