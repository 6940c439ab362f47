/* SPDX-License-Identifier: MIT */
/*
 * The card index. Records (record.c encoding) are appended to one arena;
 * two open-addressing tables with linear probing map card numbers and
 * permit numbers to them. Each slot is a one-byte tag (0 empty,
 * 1 deleted, else 8 bits of the key's hash) in one array and a 32-bit
 * arena reference in another, so a probe reads the tag bytes, which sit
 * together in cache, and touches a record only when its tag matches.
 *
 * The card table holds each card once. The permit table is a multimap:
 * the same permit number on two cards is a data error the index must
 * report (INDEX_AMBIGUOUS) rather than answer for either card, and it must
 * heal by itself when one of them changes.
 *
 * The hash is XXH3 with a per-process random seed, so nobody can choose
 * card numbers that collide. Replacing or removing a record leaves its
 * bytes as garbage in the arena until the next full rebuild.
 *
 * Slots are laid out in groups of twelve: twelve tags and their twelve
 * references fill one 64-byte cache line, so a lookup costs two cache
 * misses (the group, the record), not three.
 *
 * This structure has no locks: a thread that builds an index owns it, and
 * the live index is guarded by live.c.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "index.h"

#define INDEX_EMPTY	0
#define INDEX_DELETED	1
#define INDEX_ALIGN	4
#define INDEX_MAX_LOAD(cap) ((cap) / 5 * 4)	/* 80 % */

#define INDEX_GROUP	12

struct index_group {
	uint8_t		tags[INDEX_GROUP];
	uint32_t	refs[INDEX_GROUP];
	uint32_t	pad;
};

_Static_assert(sizeof(struct index_group) == 64, "a group is one cache line");

struct index_table {
	struct index_group *groups;
	size_t		 cap;		/* slots, a multiple of INDEX_GROUP */
	size_t		 used;		/* live and deleted slots */
	size_t		 live;
};

struct index {
	uint8_t			*arena;
	size_t			 len;
	size_t			 cap;
	size_t			 garbage;
	uint64_t		 seed;
	struct index_table	 cards;
	struct index_table	 permits;
};

struct index_probe {
	size_t		slot;
	uint8_t		tag;
};

static int	index_table_init(struct index_table *, size_t);
static void	index_table_free(struct index_table *);
static struct index_probe index_hash(const struct index *, const void *,
		    size_t, size_t);
static const uint8_t *index_rec(const struct index *, uint32_t);
static size_t	index_find(const struct index *, const struct index_table *,
		    int permit, const char *, size_t, uint32_t ref);
static int	index_insert(struct index *, struct index_table *, int permit,
		    const void *, size_t, uint32_t);
static int	index_grow(struct index *, struct index_table *, int permit);
static uint8_t	*index_reserve(struct index *, uint32_t *);
static int	index_link(struct index *, uint32_t);
static int	index_key_eq(const uint8_t *rec, int permit, const void *,
		    size_t);
static void	index_drop_permit(struct index *, uint32_t);

/* Allocate a table of at least cap empty slots. */
static int
index_table_init(struct index_table *t, size_t cap)
{
	size_t n = (cap + INDEX_GROUP - 1) / INDEX_GROUP;

	t->groups = aligned_alloc(64, n * sizeof(struct index_group));
	t->cap = n * INDEX_GROUP;
	t->used = t->live = 0;
	if (t->groups == NULL)
		return -1;
	memset(t->groups, 0, n * sizeof(struct index_group));
	return 0;
}

/* Free a table. */
static void
index_table_free(struct index_table *t)
{
	free(t->groups);
	t->groups = NULL;
}

/* The tag of slot i. */
static inline uint8_t *
index_tag(const struct index_table *t, size_t i)
{
	return &t->groups[i / INDEX_GROUP].tags[i % INDEX_GROUP];
}

/* The record reference of slot i. */
static inline uint32_t *
index_ref(const struct index_table *t, size_t i)
{
	return &t->groups[i / INDEX_GROUP].refs[i % INDEX_GROUP];
}

/* A new empty index, sized for about expected cards. */
struct index *
index_new(size_t expected, uint64_t seed)
{
	struct index *idx = calloc(1, sizeof(*idx));
	size_t slots = expected + expected / 3 + 16;

	if (idx == NULL)
		return NULL;
	idx->seed = seed;
	idx->cap = expected * 48 + 4096;
	idx->arena = malloc(idx->cap);
	idx->len = INDEX_ALIGN;		/* reference 0 means nothing */
	if (idx->arena == NULL || index_table_init(&idx->cards, slots) ||
	    index_table_init(&idx->permits, slots)) {
		index_free(idx);
		return NULL;
	}
	return idx;
}

/* Free an index. */
void
index_free(struct index *idx)
{
	if (idx == NULL)
		return;
	index_table_free(&idx->cards);
	index_table_free(&idx->permits);
	free(idx->arena);
	free(idx);
}

/* Home slot and tag of a key. */
static struct index_probe
index_hash(const struct index *idx, const void *key, size_t len, size_t cap)
{
	uint64_t h = XXH3_64bits_withSeed(key, len, idx->seed);
	struct index_probe p;

	p.slot = (size_t)(((h & 0xffffffffu) * (uint64_t)cap) >> 32);
	p.tag = (uint8_t)(2 + (h >> 56) % 254);
	return p;
}

/* The record at a reference. */
static const uint8_t *
index_rec(const struct index *idx, uint32_t ref)
{
	return idx->arena + (size_t)ref * INDEX_ALIGN;
}

/* True when the record's card (or permit) number is this key. */
static int
index_key_eq(const uint8_t *rec, int permit, const void *key, size_t len)
{
	size_t klen;
	const uint8_t *k = permit ? record_permit(rec, &klen) :
	    record_id(rec, &klen);

	return klen == len && memcmp(k, key, len) == 0;
}

/*
 * Slot of a key, or t->cap when absent. With ref != 0, only the slot
 * that points at that record matches (for the permit multimap).
 */
static size_t
index_find(const struct index *idx, const struct index_table *t, int permit,
    const char *key, size_t len, uint32_t ref)
{
	struct index_probe p = index_hash(idx, key, len, t->cap);

	for (size_t i = p.slot;; i = i + 1 == t->cap ? 0 : i + 1) {
		uint8_t tag = *index_tag(t, i);

		if (tag == INDEX_EMPTY)
			return t->cap;
		if (tag == p.tag && (ref == 0 || *index_ref(t, i) == ref) &&
		    index_key_eq(index_rec(idx, *index_ref(t, i)), permit, key, len))
			return i;
	}
}

/* Double a table and drop its deleted slots. */
static int
index_grow(struct index *idx, struct index_table *t, int permit)
{
	struct index_table old = *t;

	if (index_table_init(t, old.live * 2 + 16) != 0) {
		*t = old;
		return -1;
	}
	for (size_t i = 0; i < old.cap; i++) {
		const uint8_t *rec;
		const uint8_t *key;
		size_t len;

		if (*index_tag(&old, i) < 2)
			continue;
		rec = index_rec(idx, *index_ref(&old, i));
		key = permit ? record_permit(rec, &len) : record_id(rec, &len);
		index_insert(idx, t, permit, key, len, *index_ref(&old, i));
	}
	index_table_free(&old);
	return 0;
}

/* Add a slot for key -> ref (no duplicate check). */
static int
index_insert(struct index *idx, struct index_table *t, int permit,
    const void *key, size_t len, uint32_t ref)
{
	struct index_probe p;
	size_t i;

	if (t->used + 1 > INDEX_MAX_LOAD(t->cap) &&
	    index_grow(idx, t, permit) != 0)
		return -1;
	p = index_hash(idx, key, len, t->cap);
	for (i = p.slot; *index_tag(t, i) >= 2; i = i + 1 == t->cap ? 0 : i + 1)
		;
	t->used += *index_tag(t, i) == INDEX_EMPTY;
	t->live++;
	*index_tag(t, i) = p.tag;
	*index_ref(t, i) = ref;
	return 0;
}

/*
 * Room for one record (RECORD_ENC_MAX bytes) at the arena's end: where to
 * write it, its reference in *ref. The caller then adds its length to
 * idx->len and calls index_link. NULL: out of memory or references.
 */
static uint8_t *
index_reserve(struct index *idx, uint32_t *ref)
{
	size_t need = idx->len + RECORD_ENC_MAX;

	if (need > (size_t)UINT32_MAX * INDEX_ALIGN)
		return NULL;
	if (need > idx->cap) {
		size_t cap = idx->cap + idx->cap / 2 + RECORD_ENC_MAX;
		uint8_t *a = realloc(idx->arena, cap);

		if (a == NULL)
			return NULL;
		idx->arena = a;
		idx->cap = cap;
	}
	*ref = (uint32_t)(idx->len / INDEX_ALIGN);
	return idx->arena + idx->len;
}

/* Forget the permit slot of the record at ref (multimap: that slot only). */
static void
index_drop_permit(struct index *idx, uint32_t ref)
{
	size_t plen, slot;
	const uint8_t *permit = record_permit(index_rec(idx, ref), &plen);

	if (plen == 0)
		return;
	slot = index_find(idx, &idx->permits, 1, (const char *)permit, plen,
	    ref);
	if (slot != idx->permits.cap) {
		*index_tag(&idx->permits, slot) = INDEX_DELETED;
		idx->permits.live--;
	}
}

/*
 * Make the record just written at ref (its length already in idx->len)
 * the one for its card number, in place of any before it.
 */
static int
index_link(struct index *idx, uint32_t ref)
{
	const uint8_t *rec = index_rec(idx, ref), *id, *permit;
	size_t id_len, permit_len, slot;
	uint32_t old;

	idx->len = (idx->len + INDEX_ALIGN - 1) & ~(size_t)(INDEX_ALIGN - 1);
	id = record_id(rec, &id_len);
	permit = record_permit(rec, &permit_len);
	slot = index_find(idx, &idx->cards, 0, (const char *)id, id_len, 0);
	if (slot == idx->cards.cap) {
		if (index_insert(idx, &idx->cards, 0, id, id_len, ref))
			return -1;
	} else {
		old = *index_ref(&idx->cards, slot);
		*index_ref(&idx->cards, slot) = ref;
		idx->garbage += record_size(index_rec(idx, old));
		index_drop_permit(idx, old);	/* the new one is added below */
	}
	if (permit_len > 0)
		return index_insert(idx, &idx->permits, 1, permit, permit_len,
		    ref);
	return 0;
}

/* Insert a card, or replace the card with the same number. */
int
index_put(struct index *idx, const struct card *c)
{
	uint32_t ref;
	uint8_t *at = index_reserve(idx, &ref);

	if (at == NULL)
		return -1;
	idx->len += record_encode(c, at);
	return index_link(idx, ref);
}

/*
 * The same for a card already encoded: rec, len bytes that
 * record_check_encoding accepted (a snapshot's record), copied as it is
 * rather than decoded and encoded again.
 */
int
index_put_record(struct index *idx, const uint8_t *rec, size_t len)
{
	uint32_t ref;
	uint8_t *at;

	if (len > RECORD_ENC_MAX || record_size(rec) != len ||
	    (at = index_reserve(idx, &ref)) == NULL)
		return -1;
	memcpy(at, rec, len);
	idx->len += len;
	return index_link(idx, ref);
}

/* Remove a card; returns 0, or -1 when there was none. */
int
index_del(struct index *idx, const char *id, size_t len)
{
	size_t slot = index_find(idx, &idx->cards, 0, id, len, 0);
	uint32_t ref;

	if (slot == idx->cards.cap)
		return -1;
	ref = *index_ref(&idx->cards, slot);
	*index_tag(&idx->cards, slot) = INDEX_DELETED;
	idx->cards.live--;
	idx->garbage += record_size(index_rec(idx, ref));
	index_drop_permit(idx, ref);
	return 0;
}

/* The record of a card number, or NULL. */
const uint8_t *
index_get(const struct index *idx, const char *id, size_t len)
{
	size_t slot = index_find(idx, &idx->cards, 0, id, len, 0);

	return slot == idx->cards.cap ? NULL :
	    index_rec(idx, *index_ref(&idx->cards, slot));
}

/* The record of a permit number; INDEX_AMBIGUOUS when two cards claim it. */
enum index_found
index_get_permit(const struct index *idx, const char *permit, size_t len,
    const uint8_t **rec)
{
	const struct index_table *t = &idx->permits;
	struct index_probe p = index_hash(idx, permit, len, t->cap);
	enum index_found found = INDEX_NONE;

	*rec = NULL;
	for (size_t i = p.slot; *index_tag(t, i) != INDEX_EMPTY;
	    i = i + 1 == t->cap ? 0 : i + 1) {
		const uint8_t *r;

		if (*index_tag(t, i) != p.tag)
			continue;
		r = index_rec(idx, *index_ref(t, i));
		if (!index_key_eq(r, 1, permit, len))
			continue;
		if (found == INDEX_ONE)
			return INDEX_AMBIGUOUS;
		found = INDEX_ONE;
		*rec = r;
	}
	return found;
}

/* Number of cards. */
size_t
index_count(const struct index *idx)
{
	return idx->cards.live;
}

/* Bytes held: arena and tables. */
size_t
index_bytes(const struct index *idx)
{
	return sizeof(*idx) + idx->cap + (idx->cards.cap + idx->permits.cap) /
	    INDEX_GROUP * sizeof(struct index_group);
}

/* Arena bytes held by replaced or removed records. */
size_t
index_garbage(const struct index *idx)
{
	return idx->garbage;
}

/* Give back the arena's unused tail after a build. */
void
index_trim(struct index *idx)
{
	size_t cap = idx->len + 64 * RECORD_ENC_MAX;
	uint8_t *a;

	if (cap >= idx->cap || (a = realloc(idx->arena, cap)) == NULL)
		return;
	idx->arena = a;
	idx->cap = cap;
}

/* Call fn for every live record, in table order. */
void
index_foreach(const struct index *idx, void (*fn)(const uint8_t *, void *),
    void *arg)
{
	for (size_t i = 0; i < idx->cards.cap; i++)
		if (*index_tag(&idx->cards, i) >= 2)
			fn(index_rec(idx, *index_ref(&idx->cards, i)), arg);
}

/* A compact copy of an index (no garbage), with a new seed. */
struct index *
index_copy(const struct index *idx, uint64_t seed)
{
	struct index *copy = index_new(index_count(idx), seed);
	struct card c;

	if (copy == NULL)
		return NULL;
	for (size_t i = 0; i < idx->cards.cap; i++) {
		if (*index_tag(&idx->cards, i) < 2)
			continue;
		record_decode(index_rec(idx, *index_ref(&idx->cards, i)), &c);
		if (index_put(copy, &c) != 0) {
			index_free(copy);
			return NULL;
		}
	}
	index_trim(copy);
	return copy;
}
