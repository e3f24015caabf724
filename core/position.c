/* position.c - see position.h. */
#include "position.h"

#include <stdio.h>
#include <string.h>

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
