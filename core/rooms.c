/* rooms.c - see rooms.h. Rooms are found through an open-addressing hash table per kind,
 * keyed by a keyed hash of the id, with linear probing and backward-shift deletion (no
 * tombstones). Rooms with history are also on one of two LRU lists (with members, without),
 * which the memory bound evicts from. */
#include "rooms.h"

#include <stdlib.h>

#include "hash.h"
#include "herald/plugin.h"

typedef struct table {
	room **slots; /* NULL: empty */
	size_t cap;   /* a power of two */
	size_t len;
} table;

typedef struct lru {
	room *head, *tail; /* least recently recorded first */
} lru;

struct rooms {
	table kinds[2];
	hash_key key;
	size_t history;
	int64_t ttl_ms;
	size_t bytes, max_bytes;
	uint64_t evictions;
	log_id evicted; /* the newest position dropped with a room the bound deleted */
	lru idle, busy; /* rooms with history, without and with members */
};

static size_t slot_of(const rooms *rs, const table *t, int64_t id)
{
	return (size_t)hash_u64(&rs->key, (uint64_t)id) & (t->cap - 1);
}

static int table_grow(rooms *rs, table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	room **slots = calloc(cap, sizeof *slots);
	table bigger = {slots, cap, t->len};

	if (!slots)
		return HERALD_ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i])
			continue;
		size_t j = slot_of(rs, &bigger, t->slots[i]->id);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = t->slots[i];
	}
	rs->bytes += (cap - t->cap) * sizeof *slots;
	free(t->slots);
	*t = bigger;
	return 0;
}

/* Index of the slot holding id, or of the empty slot where it would go. */
static size_t table_probe(const rooms *rs, const table *t, int64_t id)
{
	size_t i = slot_of(rs, t, id);
	while (t->slots[i] && t->slots[i]->id != id)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static void table_remove(const rooms *rs, table *t, size_t i)
{
	size_t j = i;

	t->slots[i] = NULL;
	t->len--;
	/* Shift back the entries of the probe run that follows, so lookups need no tombstones. */
	for (;;) {
		j = (j + 1) & (t->cap - 1);
		if (!t->slots[j])
			return;
		size_t home = slot_of(rs, t, t->slots[j]->id);
		/* Move slots[j] into the hole at i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			t->slots[i] = t->slots[j];
			t->slots[j] = NULL;
			i = j;
		}
	}
}

/* --- the LRU lists of rooms with history ------------------------------------------------ */

static lru *lru_of(rooms *rs, const room *r)
{
	return r->count ? &rs->busy : &rs->idle;
}

static void lru_unlink(lru *l, room *r)
{
	if (r->lru_prev)
		r->lru_prev->lru_next = r->lru_next;
	else
		l->head = r->lru_next;
	if (r->lru_next)
		r->lru_next->lru_prev = r->lru_prev;
	else
		l->tail = r->lru_prev;
	r->lru_prev = r->lru_next = NULL;
}

static void lru_append(lru *l, room *r)
{
	r->lru_prev = l->tail;
	r->lru_next = NULL;
	if (l->tail)
		l->tail->lru_next = r;
	else
		l->head = r;
	l->tail = r;
}

/* --- history ---------------------------------------------------------------------------- */

static notif *hist_at(const room *r, uint32_t i)
{
	return r->hist[(r->hist_head + i) % r->hist_cap];
}

/* Drop the oldest notification of r's history. */
static void hist_drop(rooms *rs, room *r)
{
	notif *n = r->hist[r->hist_head];

	r->evicted = n->id;
	if (--n->kept == 0)
		rs->bytes -= n->len;
	notif_unref(n);
	r->hist_head = (r->hist_head + 1) % r->hist_cap;
	if (--r->hist_len == 0)
		lru_unlink(lru_of(rs, r), r);
}

/* Make room for one more notification in r's ring (it grows by doubling up to `history`). */
static int hist_reserve(rooms *rs, room *r)
{
	uint32_t cap;
	notif **ring;

	if (r->hist_len < r->hist_cap)
		return 0;
	if (r->hist_cap == rs->history) {
		hist_drop(rs, r);
		return 0;
	}
	cap = r->hist_cap ? r->hist_cap * 2 : 4;
	if (cap > rs->history)
		cap = (uint32_t)rs->history;
	if (!(ring = malloc(cap * sizeof *ring)))
		return HERALD_ENOMEM;
	for (uint32_t i = 0; i < r->hist_len; i++)
		ring[i] = hist_at(r, i);
	free(r->hist);
	rs->bytes += (cap - r->hist_cap) * sizeof *ring;
	r->hist = ring;
	r->hist_head = 0;
	r->hist_cap = cap;
	return 0;
}

static void hist_free(rooms *rs, room *r)
{
	while (r->hist_len)
		hist_drop(rs, r);
	rs->bytes -= r->hist_cap * sizeof *r->hist;
	free(r->hist);
	r->hist = NULL;
	r->hist_head = r->hist_cap = 0;
}

/* --- rooms ------------------------------------------------------------------------------ */

int rooms_create(size_t history, int64_t ttl_ms, size_t max_bytes, rooms **out)
{
	if (history > UINT32_MAX / 2)
		return HERALD_EINVAL;
	*out = calloc(1, sizeof **out);
	if (!*out)
		return HERALD_ENOMEM;
	hash_key_random(&(*out)->key);
	(*out)->history = history;
	(*out)->ttl_ms = ttl_ms;
	(*out)->max_bytes = max_bytes;
	return 0;
}

static void room_free(rooms *rs, room *r)
{
	hist_free(rs, r);
	rs->bytes -= sizeof *r;
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
	return t->cap ? t->slots[table_probe(rs, t, id)] : NULL;
}

/* The room (kind, id), created when missing; NULL on ENOMEM. */
static room *room_get(rooms *rs, int kind, int64_t id)
{
	table *t = &rs->kinds[kind];
	room *r;
	size_t i;

	/* Keep the load factor under 1/2 so probe runs stay short. */
	if ((t->len + 1) * 2 > t->cap && table_grow(rs, t) != 0)
		return NULL;
	i = table_probe(rs, t, id);
	if ((r = t->slots[i]))
		return r;
	if (!(r = calloc(1, sizeof *r)))
		return NULL;
	r->id = id;
	r->kind = kind;
	t->slots[i] = r;
	t->len++;
	rs->bytes += sizeof *r;
	return r;
}

/* Delete r when it has neither members nor history. */
static void room_drop_if_empty(rooms *rs, room *r)
{
	table *t = &rs->kinds[r->kind];

	if (r->count || r->hist_len)
		return;
	table_remove(rs, t, table_probe(rs, t, r->id));
	room_free(rs, r);
}

/* The room whose history the memory bound drops next: the least recently recorded without
 * members, else with members; never `keep`. NULL when there is none. */
static room *evict_victim(rooms *rs, const room *keep)
{
	for (room *r = rs->idle.head; r; r = r->lru_next)
		if (r != keep)
			return r;
	for (room *r = rs->busy.head; r; r = r->lru_next)
		if (r != keep)
			return r;
	return NULL;
}

/* Over the memory bound: drop other rooms' whole histories, then the oldest notifications of
 * `keep` (just recorded to), whose newest notification always stays. */
static void rooms_evict(rooms *rs, room *keep)
{
	while (rs->max_bytes && rs->bytes > rs->max_bytes) {
		room *r = evict_victim(rs, keep);

		if (!r) {
			if (keep->hist_len <= 1)
				return;
			hist_drop(rs, keep);
			continue;
		}
		rs->evictions++;
		while (r->hist_len)
			hist_drop(rs, r);
		if (log_id_cmp(r->evicted, rs->evicted) > 0)
			rs->evicted = r->evicted;
		room_drop_if_empty(rs, r);
	}
}

int rooms_join(rooms *rs, int kind, int64_t id, struct conn *c, member **out)
{
	member *m = malloc(sizeof *m);
	room *r = m ? room_get(rs, kind, id) : NULL;

	if (!r) {
		free(m);
		return HERALD_ENOMEM;
	}
	if (r->hist_len && !r->count) { /* idle -> busy */
		lru_unlink(&rs->idle, r);
		lru_append(&rs->busy, r);
	}
	*m = (member){.room = r, .conn = c, .prev = NULL, .next = r->head, .replaying = 0};
	if (r->head)
		r->head->prev = m;
	r->head = m;
	r->count++;
	*out = m;
	return 0;
}

room *rooms_record(rooms *rs, int kind, int64_t id, notif *n)
{
	room *r;

	if (!rs->history)
		return rooms_find(rs, kind, id);
	if (!(r = room_get(rs, kind, id)))
		return NULL;
	if (hist_reserve(rs, r) != 0) {
		room_drop_if_empty(rs, r);
		return NULL;
	}
	if (r->hist_len)
		lru_unlink(lru_of(rs, r), r);
	lru_append(lru_of(rs, r), r);
	r->hist[(r->hist_head + r->hist_len) % r->hist_cap] = notif_ref(n);
	r->hist_len++;
	if (n->kept++ == 0)
		rs->bytes += n->len;
	rooms_evict(rs, r);
	return r;
}

int rooms_replay(rooms *rs, int kind, int64_t id, log_id *after, int64_t now_ms,
                 int (*fn)(notif *n, void *arg), void *arg)
{
	room *r = rooms_find(rs, kind, id);
	uint32_t i = 0;

	/* Without history nothing can be replayed. A room that does not exist dropped nothing
	 * newer than the ttl, unless the memory bound deleted it: positions older than the
	 * newest notification the bound dropped may have missed something. */
	if (!rs->history ||
	    (!r &&
	     ((int64_t)after->ms < now_ms - rs->ttl_ms || log_id_cmp(*after, rs->evicted) < 0)) ||
	    (r && log_id_cmp(*after, r->evicted) < 0))
		return ROOMS_REPLAY_GAP;
	if (!r)
		return ROOMS_REPLAY_DONE;
	while (i < r->hist_len && log_id_cmp(hist_at(r, i)->id, *after) <= 0)
		i++;
	for (; i < r->hist_len; i++) {
		notif *n = hist_at(r, i);
		if (fn(n, arg))
			return ROOMS_REPLAY_MORE;
		*after = n->id;
	}
	return ROOMS_REPLAY_DONE;
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
			while (r->hist_len && (int64_t)hist_at(r, 0)->id.ms < now_ms - rs->ttl_ms)
				hist_drop(rs, r);
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
	if (--r->count == 0 && r->hist_len) { /* busy -> idle */
		lru_unlink(&rs->busy, r);
		lru_append(&rs->idle, r);
	}
	room_drop_if_empty(rs, r);
}

size_t rooms_count(const rooms *rs, int kind)
{
	return rs->kinds[kind].len;
}

rooms_usage rooms_stats(const rooms *rs)
{
	return (rooms_usage){rs->bytes, rs->max_bytes, rs->evictions};
}
