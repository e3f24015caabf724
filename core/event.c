/* event.c - see event.h. The rules are documented for plugin authors in plugins/README.md. */
#define _GNU_SOURCE /* timegm */
#include "event.h"
#include "ids.h"

#include <stdarg.h>
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

/* Optional members: absent and null both read as NULL. */
static json_t *member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_null(v) ? NULL : v;
}

/* Fills `ev` from `obj`, an object; returns 0, HERALD_EINVAL with err set, or HERALD_ENOMEM. */
static int validate(json_t *obj, int64_t now, event *ev, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, "event_type");
	if (!v)
		return refuse(err, errlen, "event_type: is required");
	size_t n = json_is_string(v) ? json_string_length(v) : 0;
	const char *type = json_string_value(v);
	if (n == 0 || n > EVENT_TYPE_MAX ||
	    strspn(type, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return refuse(err, errlen,
		              "event_type: must be 1 to %d characters of a-z, 0-9 and _",
		              EVENT_TYPE_MAX);
	ev->type = type;

	if ((v = member(obj, "id"))) {
		ev->id_len = json_is_string(v) ? json_string_length(v) : 0;
		if (ev->id_len == 0 || ev->id_len > EVENT_ID_MAX)
			return refuse(err, errlen, "id: must be a string of 1 to %d bytes",
			              EVENT_ID_MAX);
		ev->id = json_string_value(v);
	}

	/* A direct message written the way many back ends write one: never let it reach a whole
	 * project room. */
	if (member(obj, "user_id"))
		return refuse(err, errlen,
		              "user_id: not an event field; to notify users, "
		              "list them in \"users\": [ids]");

	if ((v = member(obj, "project"))) {
		if (!json_is_object(v))
			return refuse(err, errlen, "project: must be an object");
		if (!id_from_json(json_object_get(v, "id"), &ev->project_id))
			return refuse(err, errlen,
			              "project.id: must be a whole number from 1 to 2^53-1");
		json_t *title = member(v, "title");
		if (title && !json_is_string(title))
			return refuse(err, errlen, "project.title: must be a string");
		ev->project_title = json_string_value(title);
	}

	if ((v = member(obj, "users"))) {
		size_t count = json_array_size(v);
		if (!json_is_array(v) || count == 0 || count > EVENT_USERS_MAX)
			return refuse(err, errlen, "users: must be an array of 1 to %d user ids",
			              EVENT_USERS_MAX);
		ev->users = malloc(count * sizeof *ev->users);
		if (!ev->users)
			return HERALD_ENOMEM;
		for (size_t i = 0; i < count; i++)
			if (!id_from_json(json_array_get(v, i), &ev->users[i]))
				return refuse(err, errlen,
				              "users[%zu]: must be a whole number from 1 to 2^53-1",
				              i);
		qsort(ev->users, count, sizeof *ev->users, cmp_id);
		ev->n_users = 1;
		for (size_t i = 1; i < count; i++)
			if (ev->users[i] != ev->users[ev->n_users - 1])
				ev->users[ev->n_users++] = ev->users[i];
	}

	if (!ev->project_id && !ev->users)
		return refuse(err, errlen, "event: needs `project` or `users` to be delivered");
	if ((v = member(obj, "exclude_user")) && !id_from_json(v, &ev->exclude_user))
		return refuse(err, errlen, "exclude_user: must be a whole number from 1 to 2^53-1");
	if ((v = member(obj, "actor")) && !json_is_object(v))
		return refuse(err, errlen, "actor: must be an object");
	if ((v = member(obj, "data")) && !json_is_object(v))
		return refuse(err, errlen, "data: must be an object");
	if (!(v = member(obj, "timestamp")))
		event_format_time(now, ev->timestamp);
	else if (!json_is_string(v) || !parse_time(json_string_value(v), ev->timestamp))
		return refuse(err, errlen,
		              "timestamp: must be an ISO-8601 UTC time such as "
		              "2025-10-24T14:30:00Z");
	return 0;
}

int event_from_json(json_t *obj, int64_t now, event **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!json_is_object(obj))
		return refuse(err, errlen, "event: must be a JSON object");
	event *ev = calloc(1, sizeof *ev);
	int rc = ev ? validate(obj, now, ev, err, errlen) : HERALD_ENOMEM;
	if (rc) {
		if (rc == HERALD_ENOMEM)
			refuse(err, errlen, "event: out of memory");
		event_free(ev);
		return rc;
	}
	ev->root = json_incref(obj);
	*out = ev;
	return 0;
}

int event_parse(const char *json, size_t len, int64_t now, event **out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);

	*out = NULL;
	if (!root)
		return refuse(err, errlen, "event: invalid JSON: %s (line %d, column %d)",
		              jerr.text, jerr.line, jerr.column);
	int rc = event_from_json(root, now, out, err, errlen);
	json_decref(root);
	return rc;
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
	if (!ev)
		return;
	json_decref(ev->root);
	free(ev->users);
	free(ev);
}
