/*
 * limit.h - the per-user notification limit (`notification_limit`): at most N notifications
 * addressed to a user in a window; the rest of the window is held back and told in one digest.
 *
 * The limiter is fed the log's entries in log order and decides from their positions alone
 * (a position's milliseconds are the log's clock), never from this node's clock or its
 * connections: every node of a cluster reads the same entries in the same order and so holds
 * back the same notifications and gives the same digests, at the same positions.
 *
 * Windows are fixed slices of the log's time, the same for every user: [k * window_ms,
 * (k + 1) * window_ms). A window's first `limit` notifications addressed to a user (a `users`
 * route) are delivered, the others are held and tallied (by event type and project). Since a
 * window depends on nothing but positions, a reader that starts at a window's start (a node
 * reading its log back) counts exactly as one that saw everything. A window ends when the log
 * passes its end: when an entry at or after the end comes out of the log, or, when none comes,
 * when the hub's clock says so (limiter_due with the real time less a grace for entries still
 * on their way). An ended window that held notifications gives a digest, positioned at its
 * last held notification: that position was never delivered to the user's room, and comes
 * after everything delivered to it in the window and before anything of the next one.
 *
 * Loop thread only.
 */
#ifndef HERALD_LIMIT_H
#define HERALD_LIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "position.h"

/* Distinct event types and projects a digest counts one by one; the rest are counted in
 * `other_types` / `other_projects`. */
#define LIMIT_TYPES_MAX 32
#define LIMIT_PROJECTS_MAX 32

typedef struct limit_count {
	char *name;    /* event type, or project title (NULL: the notification had none) */
	int64_t id;    /* project id (0 for event types) */
	uint64_t held; /* notifications held */
} limit_count;

/* What one ended window held back. */
typedef struct limit_digest {
	int64_t user;
	int64_t start_ms, end_ms; /* the window, by the log's clock */
	log_id last;              /* the last held notification's position: the digest's */
	uint64_t held;            /* notifications held in all */
	limit_count types[LIMIT_TYPES_MAX];
	size_t n_types;
	uint64_t other_types;
	limit_count projects[LIMIT_PROJECTS_MAX]; /* in the order first held */
	size_t n_projects;
	uint64_t other_projects; /* held notifications of projects past LIMIT_PROJECTS_MAX */
	uint64_t no_project;     /* held notifications without a project */
} limit_digest;

typedef struct limiter limiter;

/* Users one limiter counts at once, by default (about 80 bytes each). */
#define LIMIT_WINDOWS_MAX 1000000

/* A limiter of `limit` (>= 1) notifications per user per window of `window_ms` (>= 1), for at
 * most `max_windows` users at once. 0 or HERALD_ENOMEM. */
int limiter_create(uint32_t limit, int64_t window_ms, size_t max_windows, limiter **out);

/*
 * A notification at position `id` addressed to `user` (> 0): 1 to deliver it, 0 when it is
 * held (tallied into the user's digest from `message`, its JSON text as the log keeps it: its
 * event_type, project_id and project_title), HERALD_ENOMEM (deliver it). Call limiter_due(l,
 * id.ms) first, so that windows ended by this position give their digests before it.
 */
int limiter_admit(limiter *l, int64_t user, log_id id, const char *message, size_t len);

/*
 * Take the oldest window that ended at or before `now_ms` (log time). Returns 1 with a digest
 * in *out (free with limit_digest_free) when it held notifications, 0 when no ended window is
 * left to give one (ended windows that held nothing are dropped on the way), HERALD_ENOMEM.
 */
int limiter_due(limiter *l, int64_t now_ms, limit_digest **out);

/* Where a reader starting at `now_ms` must begin reading the log to count every window that may
 * still be open, or ended less than a window ago without its digest, whole: the start of the
 * window two windows back, or of the window holding `from_ms` when that is earlier. */
static inline int64_t limit_rebuild_from(int64_t window_ms, int64_t now_ms, int64_t from_ms)
{
	int64_t back = now_ms - 2 * window_ms;
	return (from_ms < back ? from_ms : back) / window_ms * window_ms;
}

/* Windows open (users with a window). */
size_t limiter_count(const limiter *l);

/*
 * The digest's event, as JSON text (malloc'd, *len bytes) for digest.lua:
 *   {"event_type":"digest","timestamp":"<end>","users":[user],
 *    "project":{"id":..,"title":..}          (when every held notification had that project)
 *    "data":{"count":N,"window_start":"..","window_end":"..","event_types":{"t":n,..},
 *            "projects":[{"id":..,"title":..,"count":n},..]
 *            (+ "other_event_types", "other_projects", "no_project": n when not zero)}}
 * NULL on ENOMEM.
 */
char *limit_digest_event(const limit_digest *d, size_t *len);

void limit_digest_free(limit_digest *d);

void limiter_destroy(limiter *l);

#endif
