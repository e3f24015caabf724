/* Unit tests of position.c: log ids and the positions clients see, "<epoch>:<ms>-<seq>". */
#include "position.h"

#include <string.h>

#include "check.h"
#include "herald/plugin.h"

static void test_log_id(void)
{
	log_id id = {7, 7};

	CHECK_INT(log_id_parse("0", &id), 0);
	CHECK(id.ms == 0 && id.seq == 0);
	CHECK_INT(log_id_parse("1526919030474-55", &id), 0);
	CHECK(id.ms == 1526919030474ULL && id.seq == 55);
	CHECK_INT(log_id_parse("18446744073709551615-18446744073709551615", &id), 0);
	CHECK(id.ms == UINT64_MAX && id.seq == UINT64_MAX);
	CHECK_INT(log_id_parse("42", &id), 0);
	CHECK(id.ms == 42 && id.seq == 0);
	const char *bad[] = {"",
	                     "-",
	                     "-1",
	                     "1-",
	                     "1--2",
	                     "1-2-3",
	                     " 1",
	                     "1 ",
	                     "+1",
	                     "1-+2",
	                     "0x10",
	                     "1.5",
	                     "a",
	                     "1-a",
	                     "18446744073709551616",
	                     "1-18446744073709551616",
	                     "99999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		id = (log_id){3, 4};
		CHECK_INT(log_id_parse(bad[i], &id), HERALD_EINVAL);
		CHECK(id.ms == 3 && id.seq == 4); /* untouched on failure */
	}
	CHECK_INT(log_id_parse(NULL, &id), HERALD_EINVAL);
	CHECK_INT(log_id_cmp((log_id){1, 2}, (log_id){1, 2}), 0);
	CHECK_INT(log_id_cmp((log_id){1, 2}, (log_id){1, 3}), -1);
	CHECK_INT(log_id_cmp((log_id){2, 0}, (log_id){1, UINT64_MAX}), 1);
	CHECK_INT(log_id_cmp((log_id){0, UINT64_MAX}, (log_id){UINT64_MAX, 0}), -1);
}

static void test_positions(void)
{
	char buf[POS_MAX];
	log_id id;

	pos_format(buf, "ab12", (log_id){1700000000000ULL, 3});
	CHECK_STR(buf, "ab12:1700000000000-3");
	CHECK_INT(pos_parse(buf, "ab12", &id), POS_OK);
	CHECK(id.ms == 1700000000000ULL && id.seq == 3);
	CHECK_INT(pos_parse(buf, "ab13", &id), POS_RESET);
	CHECK_INT(pos_parse(buf, "ab1", &id), POS_RESET);
	CHECK_INT(pos_parse("ab12:1-2:3", "ab12", &id), POS_INVALID);
	CHECK_INT(pos_parse("ab12", "ab12", &id), POS_INVALID);
	CHECK_INT(pos_parse("ab12:x", "ab12", &id), POS_INVALID);
	CHECK_INT(pos_parse(":1-2", "", &id), POS_OK);

	/* ids never go back, even when the clock does */
	id = pos_next((log_id){0, 0}, 100);
	CHECK(id.ms == 100 && id.seq == 0);
	id = pos_next(id, 100);
	CHECK(id.ms == 100 && id.seq == 1);
	id = pos_next(id, 50);
	CHECK(id.ms == 100 && id.seq == 2);
	id = pos_next(id, 101);
	CHECK(id.ms == 101 && id.seq == 0);
}

int main(void)
{
	test_log_id();
	test_positions();
	return check_done();
}
