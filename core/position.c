/* position.c - see position.h. */
#include "position.h"

#include <stdio.h>
#include <string.h>

#include "herald/plugin.h"

void pos_format(char *buf, const char *epoch, log_id id)
{
	snprintf(buf, POS_MAX, "%.24s:%llu-%llu", epoch, (unsigned long long)id.ms,
	         (unsigned long long)id.seq);
}

int pos_parse(const char *s, const char *epoch, log_id *id)
{
	const char *colon = strchr(s, ':');

	if (!colon || strchr(colon + 1, ':') || log_id_parse(colon + 1, id) != 0)
		return POS_INVALID;
	if ((size_t)(colon - s) != strlen(epoch) || strncmp(s, epoch, (size_t)(colon - s)) != 0)
		return POS_RESET;
	return POS_OK;
}

log_id pos_next(log_id last, uint64_t now_ms)
{
	if (now_ms > last.ms)
		return (log_id){now_ms, 0};
	return (log_id){last.ms, last.seq + 1};
}

static int parse_u64(const char **s, uint64_t *v)
{
	const char *p = *s;
	uint64_t x = 0;

	if (*p < '0' || *p > '9')
		return HERALD_EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return HERALD_EINVAL;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*s = p;
	*v = x;
	return 0;
}

int log_id_parse(const char *s, log_id *id)
{
	log_id v = {0, 0};

	if (!s || parse_u64(&s, &v.ms))
		return HERALD_EINVAL;
	if (*s == '-' && (s++, parse_u64(&s, &v.seq)))
		return HERALD_EINVAL;
	if (*s)
		return HERALD_EINVAL;
	*id = v;
	return 0;
}

int log_id_cmp(log_id a, log_id b)
{
	if (a.ms != b.ms)
		return a.ms < b.ms ? -1 : 1;
	if (a.seq != b.seq)
		return a.seq < b.seq ? -1 : 1;
	return 0;
}
