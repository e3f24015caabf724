/*
 * dedup.h - the idempotency ids of recently accepted events, so that a source may always
 * resend: an event whose id was accepted within the window is acknowledged and dropped.
 *
 * Ids are hashed with a per-process random key (SipHash); the set holds at most `max` ids,
 * the oldest forgotten first (earlier than the window when more than `max` arrive in it).
 * Loop thread only.
 */
#ifndef HERALD_DEDUP_H
#define HERALD_DEDUP_H

#include <stddef.h>
#include <stdint.h>

/* Longest id, in bytes. */
#define DEDUP_ID_MAX 128

typedef struct dedup dedup;

/* A set remembering ids for `window_ms` milliseconds, at most `max` of them. 0 or
 * HERALD_ENOMEM. */
int dedup_create(int64_t window_ms, size_t max, dedup **out);

/* 1 when `id` (len bytes, 1 .. DEDUP_ID_MAX) was recorded within the window before `now_ms`
 * (it is not recorded again), 0 when it was not (it is recorded now), HERALD_ENOMEM. */
int dedup_check(dedup *d, const char *id, size_t len, int64_t now_ms);

/* Ids remembered now. */
size_t dedup_count(const dedup *d);

void dedup_destroy(dedup *d);

#endif
