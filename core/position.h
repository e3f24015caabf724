/*
 * position.h - stream positions as clients see them: "<epoch>:<ms>-<seq>".
 *
 * <ms>-<seq> is the notification's id in the log (a Redis stream id in cluster mode; an id of
 * the same form from an in-process sequence in the embedded mode). The epoch names the log:
 * a position of another epoch belongs to a log that was reset, and resuming from it is void.
 */
#ifndef HERALD_POSITION_H
#define HERALD_POSITION_H

#include <stddef.h>
#include <stdint.h>

#define POS_MAX 64 /* bytes of a formatted position, with its NUL */

/* A position in the log: "ms-seq" (a Redis stream entry id in cluster mode). */
typedef struct log_id {
	uint64_t ms, seq;
} log_id;

/* Parse "ms-seq" (or "ms", seq 0) into *id; 0 or HERALD_EINVAL. Format with "%llu-%llu". */
int log_id_parse(const char *s, log_id *id);

/* -1, 0 or 1 as a is before, at or after b. */
int log_id_cmp(log_id a, log_id b);

enum { POS_OK = 0, POS_INVALID = 1, POS_RESET = 2 };

/* Write "<epoch>:<ms>-<seq>" into buf[POS_MAX]. */
void pos_format(char *buf, const char *epoch, log_id id);

/* Parse a position of log `epoch`: POS_OK and *id, POS_RESET (another epoch), POS_INVALID. */
int pos_parse(const char *s, const char *epoch, log_id *id);

/* The next id of an in-process log after `last`, at time now_ms: ids never go back, even when
 * the clock does. */
log_id pos_next(log_id last, uint64_t now_ms);

#endif
