/* SPDX-License-Identifier: MIT */
/* Unit tests for store/index.c: lookups by card and permit, growth, churn. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "record.h"
#include "testhelp.h"

#define MANY	200000

static void	make(struct card *, const char *id, const char *permit,
		    uint64_t rev);
static uint64_t	rev_of(const uint8_t *rec);
static uint64_t	get_rev(const struct index *, const char *id);
static enum index_found permit_rev(const struct index *, const char *permit,
		    uint64_t *rev);
static void	count_visit(const uint8_t *rec, void *arg);

/* A valid card (permit NULL: an invalid card without permit). */
static void
make(struct card *c, const char *id, const char *permit, uint64_t rev)
{
	struct record_value v[RECORD_NFIELDS];
	char revs[24];

	memset(v, 0, sizeof(v));
	snprintf(revs, sizeof(revs), "%llu", (unsigned long long)rev);
#define SET(f, s) (v[f].p = (s), v[f].len = strlen(s))
	SET(F_STATUS, "active");
	SET(F_CLASS, "A");
	SET(F_PERMIT_FROM, "2024-01-01");
	SET(F_PERMIT_UNTIL, "2026-12-31");
	SET(F_BIRTH, "1990-01-01");
	SET(F_REGION, "110000");
	SET(F_REV, revs);
	if (permit != NULL)
		SET(F_PERMIT, permit);
#undef SET
	record_build(c, id, strlen(id), v);
}

/* The revision in an encoded record. */
static uint64_t
rev_of(const uint8_t *rec)
{
	struct card c;

	record_decode(rec, &c);
	return c.rev;
}

/* Revision of the card with this number, or UINT64_MAX when absent. */
static uint64_t
get_rev(const struct index *idx, const char *id)
{
	const uint8_t *rec = index_get(idx, id, strlen(id));

	return rec == NULL ? UINT64_MAX : rev_of(rec);
}

/* Permit lookup, with the revision of the one card found. */
static enum index_found
permit_rev(const struct index *idx, const char *permit, uint64_t *rev)
{
	const uint8_t *rec;
	enum index_found f = index_get_permit(idx, permit, strlen(permit), &rec);

	*rev = f == INDEX_ONE ? rev_of(rec) : UINT64_MAX;
	return f;
}

/* index_foreach callback: count visits per card number "C%07d". */
static void
count_visit(const uint8_t *rec, void *arg)
{
	unsigned char *seen = arg;
	size_t len;
	const uint8_t *id = record_id(rec, &len);
	char num[16];

	if (len != 8 || id[0] != 'C')
		return;
	memcpy(num, id + 1, 7);
	num[7] = '\0';
	seen[atoi(num)]++;
}

/* Put, get, delete; absent keys are absent; get_permit finds the card. */
static void
test_basic(void)
{
	struct index *idx = index_new(0, 1);
	struct card c;
	uint64_t rev;

	CHECK(idx != NULL);
	if (idx == NULL)
		return;
	CHECK(index_get(idx, "ABC123", 6) == NULL);
	CHECK_EQ_INT(permit_rev(idx, "P000001", &rev), INDEX_NONE);
	make(&c, "ABC123", "P000001", 5);
	CHECK_EQ_INT(index_put(idx, &c), 0);
	make(&c, "XYZ789", "P000002", 9);
	CHECK_EQ_INT(index_put(idx, &c), 0);
	CHECK_EQ_INT(index_count(idx), 2);
	CHECK_EQ_INT(get_rev(idx, "ABC123"), 5);
	CHECK_EQ_INT(get_rev(idx, "XYZ789"), 9);
	CHECK(index_get(idx, "ABC12", 5) == NULL);
	CHECK(index_get(idx, "ABC1234", 7) == NULL);
	CHECK(index_get(idx, "abc123", 6) == NULL);	/* keys are normal */
	CHECK_EQ_INT(permit_rev(idx, "P000001", &rev), INDEX_ONE);
	CHECK_EQ_INT(rev, 5);
	CHECK_EQ_INT(permit_rev(idx, "P000002", &rev), INDEX_ONE);
	CHECK_EQ_INT(rev, 9);
	CHECK_EQ_INT(permit_rev(idx, "P000003", &rev), INDEX_NONE);
	/* A permit is not a card number and vice versa. */
	CHECK(index_get(idx, "P000001", 7) == NULL);
	CHECK_EQ_INT(permit_rev(idx, "ABC123", &rev), INDEX_NONE);
	CHECK_EQ_INT(index_del(idx, "ABC123", 6), 0);
	CHECK(index_get(idx, "ABC123", 6) == NULL);
	CHECK_EQ_INT(permit_rev(idx, "P000001", &rev), INDEX_NONE);
	CHECK_EQ_INT(index_del(idx, "ABC123", 6), -1);
	CHECK_EQ_INT(index_del(idx, "NOPE00", 6), -1);
	CHECK_EQ_INT(index_count(idx), 1);
	CHECK_EQ_INT(get_rev(idx, "XYZ789"), 9);
	index_free(idx);
	index_free(NULL);
}

/* Replacing a card changes its record; the permit lookup follows. */
static void
test_replace(void)
{
	struct index *idx = index_new(10, 2);
	struct card c;
	uint64_t rev;
	size_t g0;

	make(&c, "ABC123", "POLD001", 1);
	index_put(idx, &c);
	g0 = index_garbage(idx);
	make(&c, "ABC123", "PNEW001", 2);
	CHECK_EQ_INT(index_put(idx, &c), 0);
	CHECK_EQ_INT(index_count(idx), 1);
	CHECK_EQ_INT(get_rev(idx, "ABC123"), 2);
	CHECK_EQ_INT(permit_rev(idx, "POLD001", &rev), INDEX_NONE);
	CHECK_EQ_INT(permit_rev(idx, "PNEW001", &rev), INDEX_ONE);
	CHECK_EQ_INT(rev, 2);
	CHECK(index_garbage(idx) > g0);
	/* Same permit again: still exactly one. */
	make(&c, "ABC123", "PNEW001", 3);
	index_put(idx, &c);
	CHECK_EQ_INT(permit_rev(idx, "PNEW001", &rev), INDEX_ONE);
	CHECK_EQ_INT(rev, 3);
	/* Replaced by an invalid card without permit: found by card only. */
	make(&c, "ABC123", NULL, 4);
	CHECK(c.flags & CARD_INVALID);
	index_put(idx, &c);
	CHECK_EQ_INT(get_rev(idx, "ABC123"), 4);
	CHECK_EQ_INT(permit_rev(idx, "PNEW001", &rev), INDEX_NONE);
	/* And back. */
	make(&c, "ABC123", "PNEW001", 5);
	index_put(idx, &c);
	CHECK_EQ_INT(permit_rev(idx, "PNEW001", &rev), INDEX_ONE);
	CHECK_EQ_INT(rev, 5);
	index_free(idx);
}

/* Two cards with one permit: ambiguous, healing when one changes or goes. */
static void
test_ambiguous_permit(void)
{
	struct index *idx = index_new(10, 3);
	struct card c;
	uint64_t rev;

	make(&c, "CARD01", "PSHARED1", 1);
	index_put(idx, &c);
	make(&c, "CARD02", "PSHARED1", 2);
	index_put(idx, &c);
	CHECK_EQ_INT(permit_rev(idx, "PSHARED1", &rev), INDEX_AMBIGUOUS);
	/* Both cards still answer by card number. */
	CHECK_EQ_INT(get_rev(idx, "CARD01"), 1);
	CHECK_EQ_INT(get_rev(idx, "CARD02"), 2);
	/* One changes its permit: healed. */
	make(&c, "CARD02", "POWN0002", 3);
	index_put(idx, &c);
	CHECK_EQ_INT(permit_rev(idx, "PSHARED1", &rev), INDEX_ONE);
	CHECK_EQ_INT(rev, 1);
	CHECK_EQ_INT(permit_rev(idx, "POWN0002", &rev), INDEX_ONE);
	CHECK_EQ_INT(rev, 3);
	/* It comes back to the shared permit, then the other is deleted. */
	make(&c, "CARD02", "PSHARED1", 4);
	index_put(idx, &c);
	CHECK_EQ_INT(permit_rev(idx, "PSHARED1", &rev), INDEX_AMBIGUOUS);
	CHECK_EQ_INT(permit_rev(idx, "POWN0002", &rev), INDEX_NONE);
	CHECK_EQ_INT(index_del(idx, "CARD01", 6), 0);
	CHECK_EQ_INT(permit_rev(idx, "PSHARED1", &rev), INDEX_ONE);
	CHECK_EQ_INT(rev, 4);
	/* Three on one permit, two go. */
	make(&c, "CARD03", "PSHARED1", 5);
	index_put(idx, &c);
	make(&c, "CARD04", "PSHARED1", 6);
	index_put(idx, &c);
	CHECK_EQ_INT(permit_rev(idx, "PSHARED1", &rev), INDEX_AMBIGUOUS);
	index_del(idx, "CARD02", 6);
	CHECK_EQ_INT(permit_rev(idx, "PSHARED1", &rev), INDEX_AMBIGUOUS);
	index_del(idx, "CARD04", 6);
	CHECK_EQ_INT(permit_rev(idx, "PSHARED1", &rev), INDEX_ONE);
	CHECK_EQ_INT(rev, 5);
	index_free(idx);
}

/* 200k cards from a tiny start: growth keeps every key; absent stay absent. */
static void
test_many(void)
{
	struct index *idx = index_new(0, 0x1234567890abcdefull);
	unsigned char *seen = calloc(MANY, 1);
	long miss = 0, wrong = 0, extra = 0, once = 0;
	char id[16], permit[16];
	struct card c;
	uint64_t rev;

	for (int i = 0; i < MANY; i++) {
		snprintf(id, sizeof(id), "C%07d", i);
		snprintf(permit, sizeof(permit), "P%07d", i);
		make(&c, id, permit, (uint64_t)i);
		if (index_put(idx, &c) != 0)
			miss++;
	}
	CHECK_EQ_INT(miss, 0);
	CHECK_EQ_INT(index_count(idx), MANY);
	CHECK_EQ_INT(index_garbage(idx), 0);
	for (int i = 0; i < MANY; i++) {
		snprintf(id, sizeof(id), "C%07d", i);
		snprintf(permit, sizeof(permit), "P%07d", i);
		miss += get_rev(idx, id) != (uint64_t)i;
		wrong += permit_rev(idx, permit, &rev) != INDEX_ONE ||
		    rev != (uint64_t)i;
		snprintf(id, sizeof(id), "D%07d", i);
		extra += index_get(idx, id, 8) != NULL;
		snprintf(id, sizeof(id), "C%07d", i + MANY);
		extra += index_get(idx, id, 8) != NULL;
		extra += permit_rev(idx, id, &rev) != INDEX_NONE;
	}
	CHECK_EQ_INT(miss, 0);
	CHECK_EQ_INT(wrong, 0);
	CHECK_EQ_INT(extra, 0);
	/* index_foreach visits each live card once. */
	index_foreach(idx, count_visit, seen);
	for (int i = 0; i < MANY; i++)
		once += seen[i] != 1;
	CHECK_EQ_INT(once, 0);
	CHECK(index_bytes(idx) > (size_t)MANY * 20);
	/* Delete the odd ones, then put them back with a new revision. */
	miss = wrong = extra = 0;
	for (int i = 1; i < MANY; i += 2) {
		snprintf(id, sizeof(id), "C%07d", i);
		miss += index_del(idx, id, 8) != 0;
	}
	CHECK_EQ_INT(miss, 0);
	CHECK_EQ_INT(index_count(idx), MANY / 2);
	CHECK(index_garbage(idx) > 0);
	memset(seen, 0, MANY);
	index_foreach(idx, count_visit, seen);
	once = 0;
	for (int i = 0; i < MANY; i++)
		once += seen[i] != (i % 2 == 0);
	CHECK_EQ_INT(once, 0);
	for (int i = 0; i < MANY; i++) {
		snprintf(id, sizeof(id), "C%07d", i);
		snprintf(permit, sizeof(permit), "P%07d", i);
		if (i % 2) {
			extra += index_get(idx, id, 8) != NULL;
			extra += permit_rev(idx, permit, &rev) != INDEX_NONE;
		} else
			miss += get_rev(idx, id) != (uint64_t)i;
	}
	CHECK_EQ_INT(extra, 0);
	CHECK_EQ_INT(miss, 0);
	for (int i = 1; i < MANY; i += 2) {
		snprintf(id, sizeof(id), "C%07d", i);
		snprintf(permit, sizeof(permit), "P%07d", i);
		make(&c, id, permit, (uint64_t)i + 1000000);
		miss += index_put(idx, &c) != 0;
	}
	CHECK_EQ_INT(index_count(idx), MANY);
	for (int i = 0; i < MANY; i++) {
		uint64_t want = (uint64_t)i + (i % 2 ? 1000000 : 0);

		snprintf(id, sizeof(id), "C%07d", i);
		snprintf(permit, sizeof(permit), "P%07d", i);
		miss += get_rev(idx, id) != want;
		wrong += permit_rev(idx, permit, &rev) != INDEX_ONE ||
		    rev != want;
	}
	CHECK_EQ_INT(miss, 0);
	CHECK_EQ_INT(wrong, 0);
	memset(seen, 0, MANY);
	index_foreach(idx, count_visit, seen);
	once = 0;
	for (int i = 0; i < MANY; i++)
		once += seen[i] != 1;
	CHECK_EQ_INT(once, 0);
	index_trim(idx);
	CHECK_EQ_INT(get_rev(idx, "C0199999"), 199999 + 1000000);
	free(seen);
	index_free(idx);
}

/* Insert/delete churn on a small index: tombstones never fill the table. */
static void
test_tombstone_churn(void)
{
	struct index *idx = index_new(4, 7);
	long bad = 0;
	char id[16];
	struct card c;

	for (int i = 0; i < 100000; i++) {
		snprintf(id, sizeof(id), "T%07d", i);
		make(&c, id, id, (uint64_t)i);
		bad += index_put(idx, &c) != 0;
		bad += get_rev(idx, id) != (uint64_t)i;
		if (i >= 3) {
			snprintf(id, sizeof(id), "T%07d", i - 3);
			bad += index_del(idx, id, 8) != 0;
		}
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(index_count(idx), 3);
	CHECK(get_rev(idx, "T0099999") == 99999);
	CHECK(get_rev(idx, "T0099996") == UINT64_MAX);
	/* Lookups of absent keys still end. */
	CHECK(index_get(idx, "ABSENT1", 7) == NULL);
	/* Repeated replacement of one card, garbage grows by each record. */
	for (int i = 0; i < 50000; i++) {
		size_t g = index_garbage(idx);
		const uint8_t *old = index_get(idx, "T0099999", 8);
		size_t oldsize = record_size(old);

		make(&c, "T0099999", "PSAME01", (uint64_t)i);
		bad += index_put(idx, &c) != 0;
		bad += index_garbage(idx) != g + oldsize;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(index_count(idx), 3);
	CHECK_EQ_INT(get_rev(idx, "T0099999"), 49999);
	index_free(idx);
}

/* Two seeds place keys differently but answer the same. */
static void
test_seeds(void)
{
	struct index *a = index_new(100, 1), *b = index_new(100, 2);
	long bad = 0;
	char id[16];
	struct card c;

	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "S%07d", i);
		make(&c, id, NULL, (uint64_t)i);
		index_put(a, &c);
		index_put(b, &c);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "S%07d", i);
		bad += get_rev(a, id) != get_rev(b, id) ||
		    get_rev(a, id) != (uint64_t)i;
	}
	CHECK_EQ_INT(bad, 0);
	index_free(a);
	index_free(b);
}

/* Encoded records put as they are: same lookups as index_put gives. */
static void
test_put_record(void)
{
	struct index *idx = index_new(4, 9);
	uint8_t rec[RECORD_ENC_MAX];
	struct card c;
	uint64_t rev;
	size_t n;

	make(&c, "A00000000001", "P00000001", 3);
	n = record_encode(&c, rec);
	CHECK_EQ_INT(index_put_record(idx, rec, n), 0);
	CHECK_EQ_INT(get_rev(idx, "A00000000001"), 3);
	make(&c, "A00000000001", "P00000002", 4);	/* replaces */
	n = record_encode(&c, rec);
	CHECK_EQ_INT(index_put_record(idx, rec, n), 0);
	CHECK_EQ_INT(index_count(idx), 1);
	CHECK_EQ_INT(get_rev(idx, "A00000000001"), 4);
	CHECK_EQ_INT(permit_rev(idx, "P00000002", &rev), INDEX_ONE);
	CHECK_EQ_INT(rev, 4);
	CHECK(permit_rev(idx, "P00000001", &rev) != INDEX_ONE);
	/* A length that is not the record's own is refused, not stored. */
	CHECK_EQ_INT(index_put_record(idx, rec, n + 1), -1);
	CHECK_EQ_INT(index_put_record(idx, rec, n - 1), -1);
	CHECK_EQ_INT(index_count(idx), 1);
	index_free(idx);
}

int
main(void)
{
	test_basic();
	test_replace();
	test_ambiguous_permit();
	test_many();
	test_tombstone_churn();
	test_seeds();
	test_put_record();
	TEST_REPORT("index");
}
