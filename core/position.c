/* position.c - see position.h. */
#include "position.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/plugin.h"

/* A decimal uint64 without sign, blanks or leading junk; returns the end or NULL. */
static const char *parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return NULL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno ? NULL : end;
}

int log_id_parse(const char *s, log_id *id)
{
	const char *p = parse_u64(s, &id->ms);

	id->seq = 0;
	if (p && *p == '-')
		p = parse_u64(p + 1, &id->seq);
	return p && !*p ? 0 : HERALD_EINVAL;
}

int log_id_cmp(log_id a, log_id b)
{
	if (a.ms != b.ms)
		return a.ms < b.ms ? -1 : 1;
	return a.seq < b.seq ? -1 : a.seq > b.seq;
}

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
