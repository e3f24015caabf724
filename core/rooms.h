/*
 * rooms.h - room membership, `user_{id}` and `project_{id}` rooms of connections, and each
 * room's history: its most recent notifications, replayed to clients that resume.
 *
 * A room exists while it has members or history. Membership is an intrusive doubly linked node, so
 * joining and leaving are O(1) and fan-out walks exactly the members (never all connections).
 * Histories are bounded three ways: per room by count and age, and in all by bytes.
 * Event loop thread only.
 */
#ifndef HERALD_ROOMS_H
#define HERALD_ROOMS_H

#include <stddef.h>
#include <stdint.h>

#include "notif.h"

enum room_kind { ROOM_USER = 0, ROOM_PROJECT = 1 };

struct conn; /* a WebSocket connection (ws.c) */

typedef struct member {
	struct room *room;
	struct conn *conn;
	struct member *prev, *next;
	/* Set by the connection layer while it replays the room's history to this member: live
	 * notifications then reach it through the replay (and those at or before `skip_until`,
	 * which it already has, never). */
	int replaying;
	log_id skip_until;
} member;

typedef struct room {
	int64_t id;
	int kind;
	size_t count; /* members */
	member *head;
	notif **hist; /* a ring of the newest notifications, oldest first (malloc'd, grows) */
	uint32_t hist_head, hist_len, hist_cap;
	log_id evicted;                   /* the newest position dropped from hist */
	struct room *lru_prev, *lru_next; /* rooms with history, least recently recorded first */
} room;

/* What rooms_stats() reports. */
typedef struct rooms_usage {
	size_t bytes;       /* rooms, their history rings and the notifications they keep */
	size_t max_bytes;   /* the bound (0: none) */
	uint64_t evictions; /* rooms whose history was dropped to stay under the bound */
} rooms_usage;

typedef struct rooms rooms;

/*
 * Rooms keeping at most `history` notifications each, for `ttl_ms` milliseconds, and in all at
 * most about `max_bytes` bytes of rooms and history (0: no bound). A notification kept by
 * several rooms counts once. Over the bound, whole histories are dropped, those of rooms
 * without members first, least recently recorded first; a resume from a position they held
 * then finds it expired. Ids are hashed with a per-process random key.
 */
int rooms_create(size_t history, int64_t ttl_ms, size_t max_bytes, rooms **out);
/* Frees every room and its history; members must have left already. */
void rooms_destroy(rooms *rs);

/* The room, or NULL when it has neither members nor history. */
room *rooms_find(rooms *rs, int kind, int64_t id);

/* Add `n` (a reference is taken) to the history of room (kind, id), creating the room.
 * Returns the room, or NULL on ENOMEM. With no history configured it only finds the room. */
room *rooms_record(rooms *rs, int kind, int64_t id, notif *n);

/* The outcomes of rooms_replay(). */
enum { ROOMS_REPLAY_DONE = 0, ROOMS_REPLAY_MORE = 1, ROOMS_REPLAY_GAP = 2 };

/*
 * Hand fn the notifications of room (kind, id) after position *after, oldest first, moving
 * *after to each one handed, until fn returns non-zero (it wants no more for now) or the
 * history ends. Returns ROOMS_REPLAY_DONE (the history ends at *after), ROOMS_REPLAY_MORE
 * (fn stopped: call again), or ROOMS_REPLAY_GAP when notifications after *after may have been
 * dropped already (too old for the history, or evicted by its bounds): nothing is handed then.
 */
int rooms_replay(rooms *rs, int kind, int64_t id, log_id *after, int64_t now_ms,
                 int (*fn)(notif *n, void *arg), void *arg);

/* Drop history older than the ttl and delete rooms left without members or history. */
void rooms_prune(rooms *rs, int64_t now_ms);

/* Add `c` to room (kind, id), creating it. Returns the membership in *out; 0 or HERALD_ENOMEM.
 * The caller checks limits and duplicates (it knows the connection's memberships). */
int rooms_join(rooms *rs, int kind, int64_t id, struct conn *c, member **out);

/* Remove a membership (frees it); a room left without members or history is deleted. */
void rooms_leave(rooms *rs, member *m);

/* Rooms currently existing, per kind. */
size_t rooms_count(const rooms *rs, int kind);

/* Memory in use and evictions so far. */
rooms_usage rooms_stats(const rooms *rs);

#endif
