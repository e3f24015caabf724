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

#include "cluster.h"

#define POS_MAX 64 /* bytes of a formatted position, with its NUL */

enum { POS_OK = 0, POS_INVALID = 1, POS_RESET = 2 };

/* Write "<epoch>:<ms>-<seq>" into buf[POS_MAX]. */
void pos_format(char *buf, const char *epoch, log_id id);

/* Parse a position of log `epoch`: POS_OK and *id, POS_RESET (another epoch), POS_INVALID. */
int pos_parse(const char *s, const char *epoch, log_id *id);

/* The next id of an in-process log after `last`, at time now_ms: ids never go back, even when
 * the clock does. */
log_id pos_next(log_id last, uint64_t now_ms);

#endif
