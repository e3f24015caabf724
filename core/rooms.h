/*
 * rooms.h - room membership: `user_{id}` and `project_{id}` rooms of connections.
 *
 * A room exists while it has members. Membership is an intrusive doubly linked node, so
 * joining and leaving are O(1) and fan-out walks exactly the members (never all connections).
 * Event loop thread only.
 */
#ifndef HERALD_ROOMS_H
#define HERALD_ROOMS_H

#include <stddef.h>
#include <stdint.h>

enum room_kind { ROOM_USER = 0, ROOM_PROJECT = 1 };

struct conn; /* a WebSocket connection (ws.c) */

typedef struct member {
	struct room *room;
	struct conn *conn;
	struct member *prev, *next;
} member;

typedef struct room {
	int64_t id;
	int kind;
	size_t count;
	member *head;
} room;

typedef struct rooms rooms;

int rooms_create(rooms **out);
/* Frees every room; members must have left already. */
void rooms_destroy(rooms *rs);

/* The room, or NULL when it has no members. */
room *rooms_find(rooms *rs, int kind, int64_t id);

/* Add `c` to room (kind, id), creating it. Returns the membership in *out; 0 or HERALD_ENOMEM.
 * The caller checks limits and duplicates (it knows the connection's memberships). */
int rooms_join(rooms *rs, int kind, int64_t id, struct conn *c, member **out);

/* Remove a membership (frees it); a room left empty is deleted. */
void rooms_leave(rooms *rs, member *m);

/* Rooms currently existing, per kind. */
size_t rooms_count(const rooms *rs, int kind);

#endif
