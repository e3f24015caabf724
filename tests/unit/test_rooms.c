/* Unit tests of rooms.c: membership lists and the hash table behind them. */
#include "rooms.h"

#include <stdlib.h>

#include "check.h"

/* Stand-ins for connections: rooms.c only stores the pointers. */
static char conns[4];
#define CONN(i) ((struct conn *)&conns[i])

static size_t members(const room *r)
{
	size_t n = 0;
	for (const member *m = r->head; m; m = m->next)
		n++;
	return n;
}

static void test_join_leave(void)
{
	rooms *rs;
	member *a, *b, *c;

	CHECK_INT(rooms_create(&rs), 0);
	CHECK(rooms_find(rs, ROOM_PROJECT, 2) == NULL);
	CHECK_INT(rooms_join(rs, ROOM_PROJECT, 2, CONN(0), &a), 0);
	CHECK_INT(rooms_join(rs, ROOM_PROJECT, 2, CONN(1), &b), 0);
	CHECK_INT(rooms_join(rs, ROOM_USER, 2, CONN(2), &c), 0);
	room *r = rooms_find(rs, ROOM_PROJECT, 2);
	CHECK(r != NULL);
	CHECK_INT(r->count, 2);
	CHECK_INT(members(r), 2);
	/* user_2 and project_2 are different rooms */
	CHECK_INT(rooms_find(rs, ROOM_USER, 2)->count, 1);
	CHECK_INT(rooms_count(rs, ROOM_PROJECT), 1);

	rooms_leave(rs, a);
	CHECK_INT(r->count, 1);
	CHECK(r->head == b && b->prev == NULL && b->next == NULL);
	rooms_leave(rs, b);
	CHECK(rooms_find(rs, ROOM_PROJECT, 2) == NULL);
	CHECK_INT(rooms_count(rs, ROOM_PROJECT), 0);
	rooms_leave(rs, c);
	CHECK_INT(rooms_count(rs, ROOM_USER), 0);
	rooms_destroy(rs);
}

/* Many rooms, joined and left in an order that exercises growth and backward-shift deletion;
 * a plain array tracks what must exist. */
static void test_many_rooms(void)
{
	enum { N = 5000 };
	rooms *rs;
	static member *m[N];
	int ok = 1;

	CHECK_INT(rooms_create(&rs), 0);
	for (int i = 0; i < N; i++)
		ok &= rooms_join(rs, ROOM_PROJECT, (int64_t)i * 7919 + 1, CONN(i % 4), &m[i]) == 0;
	CHECK(ok);
	CHECK_INT(rooms_count(rs, ROOM_PROJECT), N);
	for (int i = 0; i < N; i += 3)
		rooms_leave(rs, m[i]);
	for (int i = 0; i < N; i++) {
		room *r = rooms_find(rs, ROOM_PROJECT, (int64_t)i * 7919 + 1);
		if ((i % 3 == 0) != (r == NULL) || (r && r->id != (int64_t)i * 7919 + 1))
			ok = 0;
	}
	CHECK(ok);
	for (int i = 0; i < N; i++)
		if (i % 3)
			rooms_leave(rs, m[i]);
	CHECK_INT(rooms_count(rs, ROOM_PROJECT), 0);
	CHECK(rooms_find(rs, ROOM_PROJECT, 1) == NULL);
	rooms_destroy(rs);
}

int main(void)
{
	test_join_leave();
	test_many_rooms();
	return check_done();
}
