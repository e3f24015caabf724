/*
 * fuzz_route.c - route_parse() (core/route.c) on arbitrary text: the route line that other
 * nodes write beside each notification in the cluster log. An accepted route keeps the
 * promises of route.h (positive ids, 1 .. ROUTE_USERS_MAX users) and formats back to exactly
 * the same text (there is one way to write a route); a refused one holds nothing to free.
 */
#include <string.h>

#include "fuzz.h"
#include "herald/plugin.h"
#include "route.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *back = NULL;
	route r;
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = route_parse(text, &r);
	if (rc == 0) {
		REQUIRE(r.users ? r.n_users >= 1 && r.n_users <= ROUTE_USERS_MAX && r.project == 0
		                : r.project > 0);
		REQUIRE(r.exclude >= 0);
		for (size_t i = 0; r.users && i < r.n_users; i++)
			REQUIRE(r.users[i] > 0);
		REQUIRE(route_format(&r, &back) == 0);
		REQUIRE(strcmp(back, text) == 0);
		free(back);
		route_free(&r);
	} else {
		REQUIRE(rc == HERALD_EINVAL || rc == HERALD_ENOMEM);
		REQUIRE(r.owned == NULL);
	}
	free(text);
	return 0;
}
