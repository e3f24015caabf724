/*
 * route.h - where a notification goes: one project room, or the user rooms of a list of users,
 * minus the connections of one excluded user. In cluster mode the route travels beside the
 * notification in the shared log as a short text, which route_format() writes and
 * route_parse() reads back: "p2", "u7,9", either followed by " x5" when user 5 is excluded.
 */
#ifndef HERALD_ROUTE_H
#define HERALD_ROUTE_H

#include <stddef.h>
#include <stdint.h>

/* Most users one route names (an event's `users` is bounded by the same figure). */
#define ROUTE_USERS_MAX 10000

typedef struct route {
	int64_t project;      /* > 0 when users is NULL */
	const int64_t *users; /* > 0 each, or NULL; borrowed, or owned after route_parse() */
	size_t n_users;       /* 1 .. ROUTE_USERS_MAX when users is set */
	int64_t exclude;      /* > 0: never delivered to this user; 0: nobody */
	int64_t *owned;       /* what route_free() frees (route_parse()'s users) */
} route;

/* The text of r into a new malloc'd string (*out). 0, HERALD_EINVAL (r is not a valid route)
 * or HERALD_ENOMEM. */
int route_format(const route *r, char **out);

/*
 * Parse a route's text into *r. Strict: ids are positive decimal integers that fit in int64_t,
 * without sign or leading zeros, users are listed at least once and at most ROUTE_USERS_MAX
 * times, and nothing follows. Returns 0 (free with route_free), HERALD_EINVAL (then *r holds
 * nothing to free) or HERALD_ENOMEM.
 */
int route_parse(const char *text, route *r);

/* A copy of src into *dst that owns its users (free with route_free). 0 or HERALD_ENOMEM. */
int route_copy(const route *src, route *dst);

/* Frees what route_parse() or route_copy() allocated; r may be zeroed or NULL. */
void route_free(route *r);

#endif
