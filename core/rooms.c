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
	size_t history;
	int64_t ttl_ms;
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

int rooms_create(size_t history, int64_t ttl_ms, rooms **out)
{
	*out = calloc(1, sizeof **out);
	if (!*out)
		return HERALD_ENOMEM;
	(*out)->history = history;
	(*out)->ttl_ms = ttl_ms;
	return 0;
}

/* A room and its history (which lives in the same allocation, after the room). */
static void room_free(const rooms *rs, room *r)
{
	for (uint32_t i = 0; i < r->hist_len; i++)
		notif_unref(r->hist[(r->hist_head + i) % rs->history]);
	free(r);
}

void rooms_destroy(rooms *rs)
{
	if (!rs)
		return;
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < rs->kinds[k].cap; i++)
			if (rs->kinds[k].slots[i])
				room_free(rs, rs->kinds[k].slots[i]);
		free(rs->kinds[k].slots);
	}
	free(rs);
}

room *rooms_find(rooms *rs, int kind, int64_t id)
{
	table *t = &rs->kinds[kind];
	return t->cap ? t->slots[table_probe(t, id)] : NULL;
}

/* The room (kind, id), created when missing; NULL on ENOMEM. */
static room *room_get(rooms *rs, int kind, int64_t id)
{
	table *t = &rs->kinds[kind];
	room *r;
	size_t i;

	/* Keep the load factor under 1/2 so probe runs stay short. */
	if ((t->len + 1) * 2 > t->cap && table_grow(t) != 0)
		return NULL;
	i = table_probe(t, id);
	if ((r = t->slots[i]))
		return r;
	if (rs->history && !(r = calloc(1, sizeof *r + rs->history * sizeof(notif *))))
		return NULL;
	if (!rs->history && !(r = calloc(1, sizeof *r)))
		return NULL;
	r->id = id;
	r->kind = kind;
	r->hist = rs->history ? (notif **)(r + 1) : NULL;
	t->slots[i] = r;
	t->len++;
	return r;
}

/* Delete r when it has neither members nor history. */
static void room_drop_if_empty(rooms *rs, room *r)
{
	table *t = &rs->kinds[r->kind];

	if (r->count || r->hist_len)
		return;
	table_remove(t, table_probe(t, r->id));
	free(r);
}

int rooms_join(rooms *rs, int kind, int64_t id, struct conn *c, member **out)
{
	member *m = malloc(sizeof *m);
	room *r = m ? room_get(rs, kind, id) : NULL;

	if (!r) {
		free(m);
		return HERALD_ENOMEM;
	}
	*m = (member){.room = r, .conn = c, .prev = NULL, .next = r->head};
	if (r->head)
		r->head->prev = m;
	r->head = m;
	r->count++;
	*out = m;
	return 0;
}

/* Drop the oldest notification of r's history. */
static void hist_drop(room *r, size_t cap)
{
	notif *n = r->hist[r->hist_head];

	r->evicted = n->id;
	notif_unref(n);
	r->hist_head = (uint32_t)((r->hist_head + 1) % cap);
	r->hist_len--;
}

room *rooms_record(rooms *rs, int kind, int64_t id, notif *n)
{
	room *r;

	if (!rs->history)
		return rooms_find(rs, kind, id);
	if (!(r = room_get(rs, kind, id)))
		return NULL;
	if (r->hist_len == rs->history)
		hist_drop(r, rs->history);
	r->hist[(r->hist_head + r->hist_len) % rs->history] = notif_ref(n);
	r->hist_len++;
	return r;
}

int rooms_replay(rooms *rs, int kind, int64_t id, log_id since, int64_t now_ms,
		 void (*fn)(notif *n, void *arg), void *arg)
{
	room *r = rooms_find(rs, kind, id);
	uint32_t i = 0;

	/* Without history nothing can be replayed. A room that does not exist dropped nothing
	 * newer than the ttl (count evictions leave the room in place), so only a position
	 * older than the ttl may have missed something. */
	if (!rs->history || (!r && (int64_t)since.ms < now_ms - rs->ttl_ms) ||
	    (r && log_id_cmp(since, r->evicted) < 0))
		return 1;
	if (!r)
		return 0;
	while (i < r->hist_len && log_id_cmp(r->hist[(r->hist_head + i) % rs->history]->id,
					     since) <= 0)
		i++;
	for (; i < r->hist_len; i++)
		fn(r->hist[(r->hist_head + i) % rs->history], arg);
	return 0;
}

void rooms_prune(rooms *rs, int64_t now_ms)
{
	for (int k = 0; k < 2; k++) {
		table *t = &rs->kinds[k];
		/* A deletion shifts later entries back into slot i, so i is looked at again. */
		for (size_t i = 0; i < t->cap;) {
			room *r = t->slots[i];
			if (!r) {
				i++;
				continue;
			}
			while (r->hist_len &&
			       (int64_t)r->hist[r->hist_head]->id.ms < now_ms - rs->ttl_ms)
				hist_drop(r, rs->history);
			if (!r->count && !r->hist_len)
				room_drop_if_empty(rs, r);
			else
				i++;
		}
	}
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
	r->count--;
	room_drop_if_empty(rs, r);
}

size_t rooms_count(const rooms *rs, int kind)
{
	return rs->kinds[kind].len;
}
