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

	CHECK_INT(rooms_create(0, 0, &rs), 0);
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

	CHECK_INT(rooms_create(0, 0, &rs), 0);
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

static notif *at(uint64_t ms, uint64_t seq)
{
	notif *n = notif_frame("{}", 2);
	n->id = (log_id){ms, seq};
	return n;
}

static uint64_t replayed[16];
static size_t n_replayed;

static void collect(notif *n, void *arg)
{
	(void)arg;
	replayed[n_replayed++] = n->id.ms;
}

static int replay(rooms *rs, int kind, int64_t id, uint64_t since_ms, int64_t now)
{
	n_replayed = 0;
	return rooms_replay(rs, kind, id, (log_id){since_ms, 0}, now, collect, NULL);
}

/* History: kept per room (count and age bounds), replayed after a position, gaps detected. */
static void test_history(void)
{
	rooms *rs;
	member *m;

	CHECK_INT(rooms_create(3, 1000, &rs), 0); /* 3 per room, 1 s */
	for (uint64_t ms = 100; ms <= 400; ms += 100) {
		notif *n = at(ms, 0);
		CHECK(rooms_record(rs, ROOM_PROJECT, 2, n) != NULL);
		notif_unref(n); /* the room keeps its own reference */
	}
	/* 100 was evicted by the count bound: resuming from before it is a gap */
	CHECK_INT(replay(rs, ROOM_PROJECT, 2, 50, 500), 1);
	CHECK_INT(n_replayed, 0);
	CHECK_INT(replay(rs, ROOM_PROJECT, 2, 100, 500), 0);
	CHECK_INT(n_replayed, 3);
	CHECK(replayed[0] == 200 && replayed[2] == 400);
	CHECK_INT(replay(rs, ROOM_PROJECT, 2, 300, 500), 0);
	CHECK_INT(n_replayed, 1);
	CHECK_INT(replay(rs, ROOM_PROJECT, 2, 400, 500), 0);
	CHECK_INT(n_replayed, 0);

	/* a room with history but no members survives its last member */
	CHECK_INT(rooms_join(rs, ROOM_USER, 7, CONN(0), &m), 0);
	notif *n = at(450, 0);
	rooms_record(rs, ROOM_USER, 7, n);
	notif_unref(n);
	rooms_leave(rs, m);
	CHECK(rooms_find(rs, ROOM_USER, 7) != NULL);

	/* a room that never existed: only a position older than the ttl may have missed */
	CHECK_INT(replay(rs, ROOM_USER, 8, 400, 1000), 0);
	CHECK_INT(replay(rs, ROOM_USER, 8, 400, 2000), 1);

	/* pruning drops what is older than the ttl, then the rooms left empty */
	rooms_prune(rs, 1350); /* keeps >= 350 */
	CHECK_INT(replay(rs, ROOM_PROJECT, 2, 300, 1350), 0);
	CHECK_INT(n_replayed, 1);
	CHECK_INT(replay(rs, ROOM_PROJECT, 2, 200, 1350), 1); /* 300 was dropped */
	rooms_prune(rs, 5000);
	CHECK(rooms_find(rs, ROOM_PROJECT, 2) == NULL);
	CHECK(rooms_find(rs, ROOM_USER, 7) == NULL);
	CHECK_INT(rooms_count(rs, ROOM_PROJECT) + rooms_count(rs, ROOM_USER), 0);

	/* history kept until destroy is freed with the rooms (LSan checks) */
	n = at(6000, 1);
	rooms_record(rs, ROOM_PROJECT, 9, n);
	notif_unref(n);
	rooms_destroy(rs);
}

int main(void)
{
	test_history();
	test_join_leave();
	test_many_rooms();
	return check_done();
}
