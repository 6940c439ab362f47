/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: one CSV record, then the card it makes.
 *
 * csv_parse_record() runs with eof 0 and 1. Fields must lie in the
 * scratch buffer; eof 1 never answers CSV_PARTIAL and agrees with eof 0
 * whenever eof 0 gave a final answer; with eof 0, growing the input byte
 * by byte keeps CSV_PARTIAL until the prefix that ends the record, which
 * parses the same.
 *
 * The fields then map by position to a card: field 0 is the card number
 * (a fixed one stands in when it is not usable, so the rest still gets
 * exercised), field 1 + i is enum record_field i. The card must survive
 * record_encode() -> record_decode() -> record_encode() byte for byte
 * with every field it keeps, record_check_encoding() (the snapshot
 * loader's guard) must accept exactly that many bytes, and
 * record_to_fields() -> record_build() (the export and import of cardctl)
 * must give the same encoding again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "record.h"
#include "fuzz.h"

#define MAX_FIELDS	(1 + RECORD_NFIELDS + 1)	/* one too many */
#define EXPORT_MAX	(1024 + 7 * RECORD_MAX_XREGION)	/* record.c */
#define STAND_IN_ID	"FUZZ000000"

struct parsed {
	ssize_t			 r;
	size_t			 n;
	struct csv_field	*f;		/* MAX_FIELDS, heap */
	char			*scratch;	/* input size, heap */
};

static void	parsed_init(struct parsed *, size_t);
static void	parsed_free(struct parsed *);
static void	parse_checked(const char *, size_t, int, struct parsed *);
static int	same_record(const struct parsed *, const struct parsed *);
static void	check_prefixes(const char *, size_t, const struct parsed *);
static void	card_from_fields(const struct parsed *, struct card *);
static void	same_card(const struct card *, const struct card *);
static void	check_card(const struct card *);

/* Allocate fields and a scratch of len bytes, at their exact sizes. */
static void
parsed_init(struct parsed *p, size_t len)
{
	p->f = malloc(MAX_FIELDS * sizeof(*p->f));
	p->scratch = malloc(len);
	FUZZ_ASSERT(p->f != NULL && (len == 0 || p->scratch != NULL));
}

/* Free what parsed_init() allocated. */
static void
parsed_free(struct parsed *p)
{
	free(p->f);
	free(p->scratch);
}

/* Parse one record and check what must hold of any result. */
static void
parse_checked(const char *buf, size_t len, int eof, struct parsed *p)
{
	const char *err = NULL;

	p->n = (size_t)-1;
	p->r = csv_parse_record(buf, len, eof, p->f, MAX_FIELDS, &p->n,
	    p->scratch, &err);
	FUZZ_ASSERT(p->r == CSV_ERROR || (p->r == CSV_PARTIAL && !eof) ||
	    (p->r >= 0 && (size_t)p->r <= len && (p->r > 0 || len == 0)));
	if (p->r == CSV_ERROR)
		FUZZ_ASSERT(err != NULL && err[0] != '\0');
	if (p->r == CSV_PARTIAL)
		return;
	FUZZ_ASSERT(p->n <= MAX_FIELDS);
	if (p->r >= 0)
		FUZZ_ASSERT(p->n >= 1);
	for (size_t i = 0; i < p->n; i++) {
		FUZZ_ASSERT(p->f[i].p >= p->scratch &&
		    p->f[i].p <= p->scratch + len);
		FUZZ_ASSERT(p->f[i].len <=
		    (size_t)(p->scratch + len - p->f[i].p));
		if (i > 0)
			FUZZ_ASSERT(p->f[i].p >= p->f[i - 1].p +
			    p->f[i - 1].len);
	}
}

/* True when two results are the same record. */
static int
same_record(const struct parsed *a, const struct parsed *b)
{
	if (a->r != b->r || a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (a->f[i].len != b->f[i].len ||
		    memcmp(a->f[i].p, b->f[i].p, a->f[i].len) != 0)
			return 0;
	return 1;
}

/*
 * With eof 0, parse prefixes of buf in growing order: they must stay
 * CSV_PARTIAL until one gives the final answer all of buf has, and keep it.
 */
static void
check_prefixes(const char *buf, size_t len, const struct parsed *full)
{
	size_t limit = full->r >= 0 ? (size_t)full->r : len;
	size_t step = fuzz_prefix_step(limit);
	ssize_t state = CSV_PARTIAL;

	for (size_t k = 0; k <= limit; k = fuzz_next_prefix(k, limit, step)) {
		char *copy = fuzz_copy(buf, k);
		struct parsed p;

		parsed_init(&p, k);
		parse_checked(copy, k, 0, &p);
		if (full->r >= 0 && k < limit)
			FUZZ_ASSERT(p.r == CSV_PARTIAL);
		if (full->r >= 0 && k == limit)
			FUZZ_ASSERT(same_record(&p, full));
		if (full->r == CSV_PARTIAL)
			FUZZ_ASSERT(p.r == CSV_PARTIAL);
		if (state != CSV_PARTIAL)
			FUZZ_ASSERT(p.r == state);
		state = p.r;
		parsed_free(&p);
		free(copy);
	}
}

/* Build the card of a parsed record: field 0 the id, then by position. */
static void
card_from_fields(const struct parsed *p, struct card *c)
{
	struct record_value v[RECORD_NFIELDS];
	char id[STMT_ID_MAX];
	int len;

	if ((len = record_id_normalize(p->f[0].p, p->f[0].len, id)) < 0) {
		len = (int)strlen(STAND_IN_ID);
		memcpy(id, STAND_IN_ID, (size_t)len);
	}
	FUZZ_ASSERT(len >= 6 && len <= STMT_ID_MAX);
	memset(v, 0, sizeof(v));
	for (size_t i = 0; i < RECORD_NFIELDS && 1 + i < p->n; i++) {
		v[i].p = p->f[1 + i].p;
		v[i].len = p->f[1 + i].len;
	}
	record_build(c, id, (size_t)len, v);
	FUZZ_ASSERT(c->id_len == len && memcmp(c->id, id, (size_t)len) == 0);
	FUZZ_ASSERT(!(c->flags & CARD_INVALID) == (c->why == NULL));
}

/* Abort unless d is c as far as the encoding keeps it. */
static void
same_card(const struct card *c, const struct card *d)
{
	FUZZ_ASSERT(d->id_len == c->id_len &&
	    memcmp(d->id, c->id, c->id_len) == 0);
	FUZZ_ASSERT(d->permit_len == c->permit_len &&
	    memcmp(d->permit, c->permit, c->permit_len) == 0);
	FUZZ_ASSERT(d->flags == c->flags);
	FUZZ_ASSERT(d->rev == c->rev);
	if (c->flags & CARD_HAS_BIRTH)
		FUZZ_ASSERT(d->birth == c->birth);
	if (c->flags & CARD_INVALID) {
		FUZZ_ASSERT(d->nxregion == 0 && c->nxregion == 0);
		return;
	}
	FUZZ_ASSERT(d->status == c->status && d->class == c->class);
	FUZZ_ASSERT(d->enrolled == c->enrolled && d->region == c->region);
	FUZZ_ASSERT(d->permit_from == c->permit_from &&
	    d->permit_until == c->permit_until);
	for (int i = 0; i < SCHEME_COUNT; i++)
		if (c->enrolled & (1u << i))
			FUZZ_ASSERT(d->cover[i].from == c->cover[i].from &&
			    d->cover[i].until == c->cover[i].until);
	FUZZ_ASSERT(d->nxregion == c->nxregion);
	for (int i = 0; i < c->nxregion; i++)
		FUZZ_ASSERT(d->xregion[i] == c->xregion[i]);
}

/* Encode, decode, re-encode, export and re-import one card. */
static void
check_card(const struct card *c)
{
	uint8_t *enc = malloc(RECORD_ENC_MAX), *enc2 = malloc(RECORD_ENC_MAX);
	char *text = malloc(EXPORT_MAX);
	struct record_value v[RECORD_NFIELDS];
	const uint8_t *k;
	struct card d, e;
	size_t len, klen;

	FUZZ_ASSERT(enc != NULL && enc2 != NULL && text != NULL);
	len = record_encode(c, enc);
	FUZZ_ASSERT(len <= RECORD_ENC_MAX);
	FUZZ_ASSERT(record_size(enc) == len);
	FUZZ_ASSERT(record_check_encoding(enc, len) == len);
	FUZZ_ASSERT(record_check_encoding(enc, len - 1) == 0);
	k = record_id(enc, &klen);
	FUZZ_ASSERT(klen == c->id_len && memcmp(k, c->id, klen) == 0);
	k = record_permit(enc, &klen);
	FUZZ_ASSERT(klen == c->permit_len && memcmp(k, c->permit, klen) == 0);

	FUZZ_ASSERT(record_decode(enc, &d) == len);
	same_card(c, &d);
	FUZZ_ASSERT(record_encode(&d, enc2) == len);
	FUZZ_ASSERT(memcmp(enc, enc2, len) == 0);

	FUZZ_ASSERT(record_to_fields(&d, text, EXPORT_MAX, v) == 0);
	record_build(&e, d.id, d.id_len, v);
	FUZZ_ASSERT(record_encode(&e, enc2) == len);
	FUZZ_ASSERT(memcmp(enc, enc2, len) == 0);
	free(enc);
	free(enc2);
	free(text);
}

/* The input is one CSV record (and whatever follows it). */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct parsed p0, p1;
	struct card c;

	parsed_init(&p0, size);
	parsed_init(&p1, size);
	parse_checked(buf, size, 0, &p0);
	parse_checked(buf, size, 1, &p1);
	if (p0.r >= 0)
		FUZZ_ASSERT(same_record(&p0, &p1));
	if (p0.r == CSV_ERROR)
		FUZZ_ASSERT(p1.r == CSV_ERROR);
	check_prefixes(buf, size, &p0);
	if (p1.r >= 0) {
		card_from_fields(&p1, &c);
		check_card(&c);
	}
	parsed_free(&p0);
	parsed_free(&p1);
	return 0;
}
