/* fifo.c - see fifo.h. */
#include "fifo.h"

#include <stdlib.h>
#include <string.h>

#include "herald/plugin.h"

int fifo_reserve(void **items, size_t size, size_t *head, size_t len, size_t *cap)
{
	size_t grown_cap = *cap ? *cap * 2 : 64;
	void *grown;

	if (*head + len < *cap)
		return 0;
	if (*head) {
		memmove(*items, (char *)*items + *head * size, len * size);
		*head = 0;
		if (len < *cap)
			return 0;
	}
	if (!(grown = realloc(*items, grown_cap * size)))
		return HERALD_ENOMEM;
	*items = grown;
	*cap = grown_cap;
	return 0;
}

size_t fifo_take(void *items, size_t size, size_t *head, size_t *len, size_t ready, void *out,
                 size_t max)
{
	size_t n = *len < max ? *len : max;

	if (n > ready)
		n = ready;
	if (!n)
		return 0;
	memcpy(out, (char *)items + *head * size, n * size);
	*head += n;
	*len -= n;
	if (!*len)
		*head = 0;
	return n;
}
