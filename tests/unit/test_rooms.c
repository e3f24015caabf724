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

	CHECK_INT(rooms_create(0, 0, 0, &rs), 0);
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

	CHECK_INT(rooms_create(0, 0, 0, &rs), 0);
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

static size_t replay_limit = 16;

static int collect(notif *n, void *arg)
{
	(void)arg;
	if (n_replayed == replay_limit)
		return 1;
	replayed[n_replayed++] = n->id.ms;
	return 0;
}

static int replay(rooms *rs, int kind, int64_t id, uint64_t since_ms, int64_t now)
{
	n_replayed = 0;
	log_id after = {since_ms, 0};
	return rooms_replay(rs, kind, id, &after, now, collect, NULL);
}

/* History: kept per room (count and age bounds), replayed after a position, gaps detected. */
static void test_history(void)
{
	rooms *rs;
	member *m;

	CHECK_INT(rooms_create(3, 1000, 0, &rs), 0); /* 3 per room, 1 s */
	for (uint64_t ms = 100; ms <= 400; ms += 100) {
		notif *n = at(ms, 0);
		CHECK(rooms_record(rs, ROOM_PROJECT, 2, n) != NULL);
		notif_unref(n); /* the room keeps its own reference */
	}
	/* 100 was evicted by the count bound: resuming from before it is a gap */
	CHECK_INT(replay(rs, ROOM_PROJECT, 2, 50, 500), ROOMS_REPLAY_GAP);
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
	CHECK_INT(replay(rs, ROOM_USER, 8, 400, 2000), ROOMS_REPLAY_GAP);

	/* pruning drops what is older than the ttl, then the rooms left empty */
	rooms_prune(rs, 1350); /* keeps >= 350 */
	CHECK_INT(replay(rs, ROOM_PROJECT, 2, 300, 1350), 0);
	CHECK_INT(n_replayed, 1);
	CHECK_INT(replay(rs, ROOM_PROJECT, 2, 200, 1350), ROOMS_REPLAY_GAP); /* 300 was dropped */
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

/* The memory bound: notifications kept by several rooms count once; over the bound, whole
 * histories go, rooms without members first, least recently recorded first; a resume from a
 * position they held is then told it expired, also for a room the bound deleted. */
static void test_memory_bound(void)
{
	rooms *rs;
	member *m;
	notif *shared = at(100, 0), *n;
	rooms_usage u;
	size_t empty;

	CHECK_INT(rooms_create(50, 60000, 0, &rs), 0);
	empty = rooms_stats(rs).bytes;
	for (int64_t user = 1; user <= 100; user++)
		rooms_record(rs, ROOM_USER, user, shared);
	u = rooms_stats(rs);
	/* 100 rooms, one notification counted once */
	CHECK(u.bytes - empty < 100 * (sizeof(room) + 8 * sizeof(notif *)) + 2 * shared->len);
	CHECK(u.bytes - empty >= 100 * sizeof(room) + shared->len);
	rooms_destroy(rs);
	notif_unref(shared);

	/* a bound that holds a few hundred single-notification rooms */
	CHECK_INT(rooms_create(50, 60000, 0, &rs), 0);
	n = at(1, 0);
	rooms_record(rs, ROOM_USER, 1, n);
	size_t one = rooms_stats(rs).bytes;
	notif_unref(n);
	rooms_destroy(rs);

	CHECK_INT(rooms_create(50, 60000, one * 40, &rs), 0);
	CHECK_INT(rooms_join(rs, ROOM_PROJECT, 5, CONN(0), &m), 0);
	n = at(1, 0);
	rooms_record(rs, ROOM_PROJECT, 5, n); /* the oldest, but it has a member */
	notif_unref(n);
	for (uint64_t user = 1; user <= 1000; user++) {
		n = at(1 + user, 0);
		rooms_record(rs, ROOM_USER, (int64_t)user, n);
		notif_unref(n);
		u = rooms_stats(rs);
		if (u.bytes > u.max_bytes) {
			CHECK(u.bytes <= u.max_bytes);
			break;
		}
	}
	CHECK(rooms_stats(rs).evictions > 500);
	CHECK(rooms_count(rs, ROOM_USER) < 500);
	CHECK(rooms_find(rs, ROOM_USER, 1000) != NULL);        /* the newest stay */
	CHECK(rooms_find(rs, ROOM_USER, 1) == NULL);           /* the oldest went */
	CHECK(rooms_find(rs, ROOM_PROJECT, 5)->hist_len == 1); /* members: evicted last */
	/* user 1's room is gone; a resume from before its notification is a gap */
	CHECK_INT(replay(rs, ROOM_USER, 1, 1, 3000), ROOMS_REPLAY_GAP);
	CHECK_INT(replay(rs, ROOM_USER, 1000, 1000, 3000), 0);
	CHECK_INT(n_replayed, 1);

	/* with only rooms that have members left, their histories go too, oldest first */
	rooms_prune(rs, 1000000); /* empties every history (ttl) */
	CHECK_INT(rooms_count(rs, ROOM_USER), 0);
	for (uint64_t i = 0; i < 200; i++) {
		n = at(100000 + i, 0);
		rooms_record(rs, ROOM_PROJECT, 5, n);
		notif_unref(n);
	}
	u = rooms_stats(rs);
	CHECK(u.bytes <= u.max_bytes);
	CHECK(rooms_find(rs, ROOM_PROJECT, 5)->hist_len >= 1);
	rooms_leave(rs, m);
	rooms_destroy(rs);
}

/* Ids chosen to collide under an unkeyed multiplicative hash spread out under the keyed one:
 * 30,000 rooms whose ids all share their home slot there are joined and found quickly. */
static void test_colliding_ids(void)
{
	enum { N = 30000 };
	static member *m[N];
	/* The inverse of 0x9e3779b97f4a7c15 mod 2^64: id * golden has its bits 32..48 zero. */
	const uint64_t inv = 0xf1de83e19937733dull;
	rooms *rs;
	int ok = 1;

	CHECK_INT((uint64_t)0x9e3779b97f4a7c15ull * inv, 1);
	CHECK_INT(rooms_create(0, 0, 0, &rs), 0);
	for (uint64_t k = 1; k <= N; k++)
		ok &= rooms_join(rs, ROOM_PROJECT, (int64_t)((k << 49) * inv), CONN(0),
		                 &m[k - 1]) == 0;
	CHECK(ok);
	CHECK_INT(rooms_count(rs, ROOM_PROJECT), N);
	for (int i = 0; i < N; i++)
		rooms_leave(rs, m[i]);
	CHECK_INT(rooms_count(rs, ROOM_PROJECT), 0);
	rooms_destroy(rs);
}

/* A replay in steps: the consumer takes two at a time, the cursor carries on from there. */
static void test_replay_in_steps(void)
{
	rooms *rs;
	log_id after = {0, 0};
	int rc, rounds = 0;

	CHECK_INT(rooms_create(10, 60000, 0, &rs), 0);
	for (uint64_t ms = 1; ms <= 7; ms++) {
		notif *n = at(ms, 0);
		rooms_record(rs, ROOM_PROJECT, 3, n);
		notif_unref(n);
	}
	n_replayed = 0;
	do {
		replay_limit = n_replayed + 2;
		rc = rooms_replay(rs, ROOM_PROJECT, 3, &after, 100, collect, NULL);
		rounds++;
	} while (rc == ROOMS_REPLAY_MORE && rounds < 10);
	CHECK_INT(rc, ROOMS_REPLAY_DONE);
	CHECK_INT(rounds, 4);
	CHECK_INT(n_replayed, 7);
	CHECK(replayed[0] == 1 && replayed[6] == 7);
	CHECK(after.ms == 7);
	replay_limit = 16;
	rooms_destroy(rs);
}

int main(void)
{
	test_history();
	test_replay_in_steps();
	test_memory_bound();
	test_colliding_ids();
	test_join_leave();
	test_many_rooms();
	return check_done();
}
