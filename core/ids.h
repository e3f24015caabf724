/*
 * ids.h - the one rule for project and user ids, wherever they come from (events, client
 * messages): a whole number from 1 to 2^53 - 1, the largest integer a browser's JavaScript keeps
 * exact, written as a JSON integer or as a real with no fraction (5 or 5.0).
 */
#ifndef HERALD_IDS_H
#define HERALD_IDS_H

#include <jansson.h>
#include <stdint.h>

#define ID_MAX 9007199254740991LL /* 2^53 - 1 */

/* 1 and the id in *out when v is an id by the rule above, else 0. */
static inline int id_from_json(const json_t *v, int64_t *out)
{
	double d;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 1 || json_integer_value(v) > ID_MAX)
			return 0;
		*out = json_integer_value(v);
		return 1;
	}
	if (!json_is_real(v))
		return 0;
	d = json_real_value(v);
	if (!(d >= 1 && d <= (double)ID_MAX) || d != (double)(int64_t)d)
		return 0;
	*out = (int64_t)d;
	return 1;
}

#endif
