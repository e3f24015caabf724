/* route.c - see route.h. */
#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/plugin.h"

/* Bytes of one id in the text: up to 19 digits and a separator. */
#define ID_TEXT 20

static int route_valid(const route *r)
{
	if (r->exclude < 0)
		return 0;
	if (!r->users)
		return r->project > 0;
	if (r->n_users < 1 || r->n_users > ROUTE_USERS_MAX)
		return 0;
	for (size_t i = 0; i < r->n_users; i++)
		if (r->users[i] <= 0)
			return 0;
	return 1;
}

int route_format(const route *r, char **out)
{
	size_t cap = 2 * ID_TEXT + 4 + ID_TEXT * (r->users ? r->n_users : 0), n;
	char *t;

	*out = NULL;
	if (!route_valid(r))
		return HERALD_EINVAL;
	if (!(t = malloc(cap)))
		return HERALD_ENOMEM;
	if (r->users) {
		n = (size_t)snprintf(t, cap, "u");
		for (size_t i = 0; i < r->n_users; i++)
			n += (size_t)snprintf(t + n, cap - n, "%s%lld", i ? "," : "",
			                      (long long)r->users[i]);
	} else {
		n = (size_t)snprintf(t, cap, "p%lld", (long long)r->project);
	}
	if (r->exclude)
		snprintf(t + n, cap - n, " x%lld", (long long)r->exclude);
	*out = t;
	return 0;
}

/* A positive decimal id without sign or leading zero at *p; advances *p past it. */
static int parse_id(const char **p, int64_t *out)
{
	const char *s = *p;
	int64_t v = 0;

	if (*s < '1' || *s > '9')
		return HERALD_EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (INT64_MAX - (*s - '0')) / 10)
			return HERALD_EINVAL;
		v = v * 10 + (*s - '0');
	}
	*p = s;
	*out = v;
	return 0;
}

int route_parse(const char *text, route *r)
{
	const char *p = text + 1;
	size_t n = 1;
	int rc;

	memset(r, 0, sizeof *r);
	if (*text == 'p') {
		if ((rc = parse_id(&p, &r->project)) != 0)
			return rc;
	} else if (*text == 'u') {
		for (const char *s = p; *s && *s != ' '; s++)
			n += *s == ',';
		if (n > ROUTE_USERS_MAX)
			return HERALD_EINVAL;
		if (!(r->owned = malloc(n * sizeof *r->owned)))
			return HERALD_ENOMEM;
		for (size_t i = 0; i < n; i++)
			if ((i && *p++ != ',') || parse_id(&p, &r->owned[i]) != 0)
				goto invalid;
		r->users = r->owned;
		r->n_users = n;
	} else {
		return HERALD_EINVAL;
	}
	if (p[0] == ' ' && p[1] == 'x') {
		p += 2;
		if (parse_id(&p, &r->exclude) != 0)
			goto invalid;
	}
	if (*p)
		goto invalid;
	return 0;
invalid:
	route_free(r);
	return HERALD_EINVAL;
}

int route_copy(const route *src, route *dst)
{
	*dst = *src;
	dst->owned = NULL;
	if (!src->users)
		return 0;
	if (!(dst->owned = malloc(src->n_users * sizeof *dst->owned))) {
		memset(dst, 0, sizeof *dst);
		return HERALD_ENOMEM;
	}
	memcpy(dst->owned, src->users, src->n_users * sizeof *dst->owned);
	dst->users = dst->owned;
	return 0;
}

void route_free(route *r)
{
	if (!r)
		return;
	free(r->owned);
	memset(r, 0, sizeof *r);
}
