/* rooms.c - see rooms.h. Rooms are found through an open-addressing hash table per kind,
 * keyed by id, with linear probing and backward-shift deletion (no tombstones). */
#include "rooms.h"

#include <stdlib.h>

#include "herald/plugin.h"

typedef struct table {
	room **slots; /* NULL: empty */
	size_t cap;   /* a power of two */
	size_t len;
} table;

struct rooms {
	table kinds[2];
};

static size_t slot_of(const table *t, int64_t id)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ull; /* Fibonacci hashing */
	return (size_t)(h >> 32) & (t->cap - 1);
}

static int table_grow(table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	room **slots = calloc(cap, sizeof *slots);
	table bigger = {slots, cap, t->len};

	if (!slots)
		return HERALD_ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i])
			continue;
		size_t j = slot_of(&bigger, t->slots[i]->id);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = t->slots[i];
	}
	free(t->slots);
	*t = bigger;
	return 0;
}

/* Index of the slot holding id, or of the empty slot where it would go. */
static size_t table_probe(const table *t, int64_t id)
{
	size_t i = slot_of(t, id);
	while (t->slots[i] && t->slots[i]->id != id)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static void table_remove(table *t, size_t i)
{
	size_t j = i;

	t->slots[i] = NULL;
	t->len--;
	/* Shift back the entries of the probe run that follows, so lookups need no tombstones. */
	for (;;) {
		j = (j + 1) & (t->cap - 1);
		if (!t->slots[j])
			return;
		size_t home = slot_of(t, t->slots[j]->id);
		/* Move slots[j] into the hole at i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			t->slots[i] = t->slots[j];
			t->slots[j] = NULL;
			i = j;
		}
	}
}

int rooms_create(rooms **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : HERALD_ENOMEM;
}

void rooms_destroy(rooms *rs)
{
	if (!rs)
		return;
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < rs->kinds[k].cap; i++)
			free(rs->kinds[k].slots[i]);
		free(rs->kinds[k].slots);
	}
	free(rs);
}

room *rooms_find(rooms *rs, int kind, int64_t id)
{
	table *t = &rs->kinds[kind];
	return t->cap ? t->slots[table_probe(t, id)] : NULL;
}

int rooms_join(rooms *rs, int kind, int64_t id, struct conn *c, member **out)
{
	table *t = &rs->kinds[kind];
	member *m = malloc(sizeof *m);
	room *r;

	if (!m)
		return HERALD_ENOMEM;
	/* Keep the load factor under 1/2 so probe runs stay short. */
	if ((t->len + 1) * 2 > t->cap && table_grow(t) != 0)
		goto fail;
	size_t i = table_probe(t, id);
	r = t->slots[i];
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r)
			goto fail;
		r->id = id;
		r->kind = kind;
		t->slots[i] = r;
		t->len++;
	}
	*m = (member){.room = r, .conn = c, .prev = NULL, .next = r->head};
	if (r->head)
		r->head->prev = m;
	r->head = m;
	r->count++;
	*out = m;
	return 0;
fail:
	free(m);
	return HERALD_ENOMEM;
}

void rooms_leave(rooms *rs, member *m)
{
	room *r = m->room;

	if (m->prev)
		m->prev->next = m->next;
	else
		r->head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	free(m);
	if (--r->count == 0) {
		table *t = &rs->kinds[r->kind];
		table_remove(t, table_probe(t, r->id));
		free(r);
	}
}

size_t rooms_count(const rooms *rs, int kind)
{
	return rs->kinds[kind].len;
}
