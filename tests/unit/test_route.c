/* Unit tests of route.c: the route text of the cluster log, written and read back. */
#include "route.h"

#include <stdlib.h>

#include "check.h"
#include "herald/plugin.h"

/* Format r, parse the text back, and check it is the same route; returns the text. */
static char *round_trip(const route *r)
{
	char *text = NULL;
	route back;

	CHECK_INT(route_format(r, &text), 0);
	if (!text)
		return NULL;
	CHECK_INT(route_parse(text, &back), 0);
	CHECK_INT(back.project, r->project);
	CHECK_INT(back.exclude, r->exclude);
	CHECK_INT(back.n_users, r->n_users);
	CHECK(!back.users == !r->users);
	for (size_t i = 0; back.users && i < back.n_users; i++)
		CHECK_INT(back.users[i], r->users[i]);
	route_free(&back);
	return text;
}

static void test_round_trips(void)
{
	int64_t users[] = {7, 9, INT64_MAX};
	route p = {.project = 2}, px = {.project = 2, .exclude = 5},
	      u = {.users = users, .n_users = 3}, ux = {.users = users, .n_users = 1, .exclude = 7};
	char *t;

	CHECK_STR(t = round_trip(&p), "p2");
	free(t);
	CHECK_STR(t = round_trip(&px), "p2 x5");
	free(t);
	CHECK_STR(t = round_trip(&u), "u7,9,9223372036854775807");
	free(t);
	CHECK_STR(t = round_trip(&ux), "u7 x7");
	free(t);
}

static void test_refusals(void)
{
	static const char *const bad[] = {
	    "",
	    "p",
	    "u",
	    "x5",
	    "p0",
	    "p-2",
	    "p+2",
	    "p02",
	    "p2 ",
	    "p2 x",
	    "p2 x0",
	    "p2x5",
	    "p2 x5 ",
	    "p2 y5",
	    "u7,",
	    "u,7",
	    "u7,,9",
	    "u0",
	    "u7,-9",
	    "p9223372036854775808",
	    "u9223372036854775808",
	    "p2\n",
	    "q2",
	    "p 2",
	    "u7 x5 x6",
	    "P2",
	};
	int64_t users[] = {7, 0};
	route r, zero_user = {.users = users, .n_users = 2}, no_users = {.users = users},
	         no_project = {0}, neg_exclude = {.project = 1, .exclude = -1};
	char *t = (char *)1;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int rc = route_parse(bad[i], &r);
		if (rc != HERALD_EINVAL)
			fprintf(stderr, "route \"%s\" accepted\n", bad[i]);
		CHECK_INT(rc, HERALD_EINVAL);
		CHECK(r.owned == NULL && r.users == NULL);
	}
	CHECK_INT(route_format(&zero_user, &t), HERALD_EINVAL);
	CHECK(t == NULL);
	CHECK_INT(route_format(&no_users, &t), HERALD_EINVAL);
	CHECK_INT(route_format(&no_project, &t), HERALD_EINVAL);
	CHECK_INT(route_format(&neg_exclude, &t), HERALD_EINVAL);
	route_free(NULL);
}

/* The most users a route may name, and one more. */
static void test_user_bound(void)
{
	size_t n = ROUTE_USERS_MAX + 1;
	int64_t *users = malloc(n * sizeof *users);
	route r = {.users = users, .n_users = ROUTE_USERS_MAX};
	char *text = NULL, *longer;
	size_t len;

	for (size_t i = 0; i < n; i++)
		users[i] = (int64_t)i + 1;
	text = round_trip(&r);
	CHECK(text != NULL);
	if (!text)
		return;
	len = strlen(text);
	longer = malloc(len + 8);
	snprintf(longer, len + 8, "%s,%zu", text, n);
	CHECK_INT(route_parse(longer, &r), HERALD_EINVAL);
	r.n_users = n;
	r.users = users;
	CHECK_INT(route_format(&r, &(char *){NULL}), HERALD_EINVAL);
	free(longer);
	free(text);
	free(users);
}

int main(void)
{
	test_round_trips();
	test_refusals();
	test_user_bound();
	return check_done();
}
