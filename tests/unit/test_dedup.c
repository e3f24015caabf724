/* Unit tests of dedup.c: ids remembered for a window, at most `max` of them. */
#include "dedup.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

static int check_id(dedup *d, const char *id, int64_t now)
{
	return dedup_check(d, id, strlen(id), now);
}

static void test_window(void)
{
	dedup *d;

	CHECK_INT(dedup_create(1000, 100, &d), 0);
	CHECK_INT(check_id(d, "a", 0), 0);
	CHECK_INT(check_id(d, "a", 10), 1);
	CHECK_INT(check_id(d, "b", 10), 0);
	CHECK_INT(check_id(d, "a", 999), 1);
	CHECK_INT(check_id(d, "a", 1000), 0); /* expired: taken again, remembered anew */
	CHECK_INT(check_id(d, "a", 1500), 1);
	CHECK_INT(check_id(d, "b", 1500), 0);
	/* ids differ by their bytes, length included */
	CHECK_INT(dedup_check(d, "ab", 1, 1500), 1); /* "a" */
	CHECK_INT(dedup_check(d, "a\0", 2, 1500), 0);
	CHECK_INT(dedup_count(d), 3);
	dedup_destroy(d);
}

static void test_bound_and_growth(void)
{
	char id[32];
	dedup *d;
	int ok = 1;

	CHECK_INT(dedup_create(1000000, 5000, &d), 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof id, "event-%d", i);
		ok &= check_id(d, id, i) == 0;
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof id, "event-%d", i);
		ok &= check_id(d, id, 6000) == 1;
	}
	CHECK(ok);
	CHECK_INT(dedup_count(d), 5000);
	/* one more forgets the oldest */
	CHECK_INT(check_id(d, "one more", 6000), 0);
	CHECK_INT(dedup_count(d), 5000);
	CHECK_INT(check_id(d, "event-0", 6000), 0);
	CHECK_INT(check_id(d, "event-4999", 6000), 1);
	dedup_destroy(d);
	dedup_destroy(NULL);
}

int main(void)
{
	test_window();
	test_bound_and_growth();
	return check_done();
}
