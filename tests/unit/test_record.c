/* SPDX-License-Identifier: MIT */
/* Unit tests for store/record.c: validation, encoding, export fields. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "record.h"
#include "testhelp.h"

#define ID	"ABC123"
#define ABSENT	((const char *)0)

/* A valid card with every field; NULL is an absent field. */
static const char *const base[RECORD_NFIELDS] = {
	[F_STATUS] = "active", [F_PERMIT] = "p1234567", [F_CLASS] = "B",
	[F_PERMIT_FROM] = "2024-01-01", [F_PERMIT_UNTIL] = "2026-12-31",
	[F_BIRTH] = "1990-05-17", [F_REGION] = "110000",
	[F_XREGION] = "120000, 310000", [F_MEDICAL] = "2024-01-01..2026-12-31",
	[F_PENSION] = "2023-01-01..2025-06-30", [F_UNEMPLOYMENT] = ABSENT,
	[F_INJURY] = "", [F_MATERNITY] = ABSENT, [F_REV] = "42",
};

static int32_t	day(const char *s);
static void	build_all(struct card *, const char *const *);
static void	build1(struct card *, int, const char *);
static int	card_eq(const struct card *, const struct card *);
static int	enc_round_trip(const struct card *);
static char	*region_list(int n);

/* Day number of a date the test knows is real. */
static int32_t
day(const char *s)
{
	int32_t d;

	if (date_parse(s, strlen(s), &d) != 0)
		abort();
	return d;
}

/* record_build from text fields (NULL = absent). */
static void
build_all(struct card *c, const char *const *t)
{
	struct record_value v[RECORD_NFIELDS];

	for (int i = 0; i < RECORD_NFIELDS; i++) {
		v[i].p = t[i];
		v[i].len = t[i] != NULL ? strlen(t[i]) : 0;
	}
	record_build(c, ID, strlen(ID), v);
}

/* The base card with one field replaced (field < 0: none). */
static void
build1(struct card *c, int field, const char *value)
{
	const char *t[RECORD_NFIELDS];

	memcpy(t, base, sizeof(t));
	if (field >= 0)
		t[field] = value;
	build_all(c, t);
}

/* Same answers: every field a check or an export can see. */
static int
card_eq(const struct card *a, const struct card *b)
{
	const uint8_t kept = CARD_INVALID | CARD_HAS_BIRTH | CARD_XREGION_ALL;

	if (a->id_len != b->id_len || memcmp(a->id, b->id, a->id_len) ||
	    a->permit_len != b->permit_len ||
	    memcmp(a->permit, b->permit, a->permit_len) ||
	    (a->flags & kept) != (b->flags & kept) || a->rev != b->rev)
		return 0;
	if ((a->flags & CARD_HAS_BIRTH) && a->birth != b->birth)
		return 0;
	if (a->flags & CARD_INVALID)
		return 1;
	if (a->status != b->status || a->class != b->class ||
	    a->enrolled != b->enrolled || a->permit_from != b->permit_from ||
	    a->permit_until != b->permit_until || a->region != b->region ||
	    a->nxregion != b->nxregion)
		return 0;
	for (int i = 0; i < SCHEME_COUNT; i++)
		if ((a->enrolled & (1u << i)) &&
		    (a->cover[i].from != b->cover[i].from ||
		    a->cover[i].until != b->cover[i].until))
			return 0;
	for (int i = 0; i < a->nxregion; i++)
		if (a->xregion[i] != b->xregion[i])
			return 0;
	return 1;
}

/*
 * Encode, check the size helpers, decode from a guarded copy, compare.
 * Returns the encoded length, or 0 on any mismatch.
 */
static int
enc_round_trip(const struct card *c)
{
	uint8_t buf[RECORD_ENC_MAX + 16];
	const uint8_t *g, *k;
	struct card d;
	size_t n, klen;

	memset(buf, 0xee, sizeof(buf));
	n = record_encode(c, buf);
	if (n == 0 || n > RECORD_ENC_MAX || buf[n] != 0xee)
		return 0;
	g = (const uint8_t *)codec_guarded(buf, n);
	if (record_size(g) != n || record_decode(g, &d) != n)
		return 0;
	k = record_id(g, &klen);
	if (klen != c->id_len || memcmp(k, c->id, klen) != 0)
		return 0;
	k = record_permit(g, &klen);
	if (klen != c->permit_len || memcmp(k, c->permit, klen) != 0)
		return 0;
	return card_eq(c, &d) ? (int)n : 0;
}

/* "100000,100001,..." with n codes (caller frees). */
static char *
region_list(int n)
{
	char *s = malloc((size_t)n * 7 + 1);
	size_t at = 0;

	if (s == NULL)
		abort();
	s[0] = '\0';
	for (int i = 0; i < n; i++)
		at += (size_t)sprintf(s + at, "%s%06d", i ? "," : "",
		    i == 0 ? 0 : i == 1 ? 999999 : 100000 + i);
	return s;
}

/* Ids: 6..32 of 0-9A-Z, lowercase folded, anything else refused. */
static void
test_id_normalize(void)
{
	static const char *const bad[] = {
		"ABC12", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", "ABC-123",
		"ABC 123", " ABC123", "ABC123 ", "\xc3\x84" "BC123", "ABC12\xc3\xa9",
		"ABC_123", "ABC.123", "", "ABC12\n",
	};
	char out[STMT_ID_MAX];

	CHECK_EQ_INT(record_id_normalize("abc123", 6, out), 6);
	CHECK_EQ_STR(out, 6, "ABC123");
	CHECK_EQ_INT(record_id_normalize("AbCdEfGhIjKlMnOpQrStUvWxYz012345",
	    32, out), 32);
	CHECK_EQ_STR(out, 32, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345");
	CHECK_EQ_INT(record_id_normalize("000000", 6, out), 6);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(record_id_normalize(codec_guarded(bad[i],
		    strlen(bad[i])), strlen(bad[i]), out), -1);
	/* A NUL byte inside. */
	CHECK_EQ_INT(record_id_normalize("ABC\0" "123", 7, out), -1);
}

/* Regions: exactly six digits, leading zeros kept; anything else refused. */
static void
test_region_parse(void)
{
	static const char *const bad[] = {
		"", "44030", "4403000", "44030a", " 44030", "44030 ", "-44030",
		"+44030", "4403.0", "\xef\xbc\x94" "40300",
	};
	int32_t r = -1;

	CHECK_EQ_INT(record_region_parse("440300", 6, &r), 0);
	CHECK_EQ_INT(r, 440300);
	CHECK_EQ_INT(record_region_parse("000000", 6, &r), 0);
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(record_region_parse("999999", 6, &r), 0);
	CHECK_EQ_INT(r, 999999);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(record_region_parse(codec_guarded(bad[i],
		    strlen(bad[i])), strlen(bad[i]), &r), -1);
	CHECK_EQ_INT(record_region_parse("440\0" "30", 6, &r), -1);
	CHECK_EQ_INT(r, 999999);	/* untouched when refused */
}

/* A valid card with every field: each value lands where it belongs. */
static void
test_build_valid(void)
{
	struct card c;

	build1(&c, -1, NULL);
	CHECK_EQ_INT(c.flags & CARD_INVALID, 0);
	CHECK(c.flags & CARD_HAS_BIRTH);
	CHECK_EQ_INT(c.flags & CARD_XREGION_ALL, 0);
	CHECK_EQ_STR(c.id, c.id_len, ID);
	CHECK_EQ_STR(c.permit, c.permit_len, "P1234567");
	CHECK_EQ_INT(c.status, STATUS_ACTIVE);
	CHECK_EQ_INT(c.class, 'B');
	CHECK_EQ_INT(c.rev, 42);
	CHECK_EQ_INT(c.birth, day("1990-05-17"));
	CHECK_EQ_INT(c.permit_from, day("2024-01-01"));
	CHECK_EQ_INT(c.permit_until, day("2026-12-31"));
	CHECK_EQ_INT(c.region, 110000);
	CHECK_EQ_INT(c.nxregion, 2);
	CHECK(c.xregion[0] == 120000 && c.xregion[1] == 310000);
	CHECK_EQ_INT(c.enrolled, 1u << SCHEME_MEDICAL | 1u << SCHEME_PENSION);
	CHECK_EQ_INT(c.cover[SCHEME_MEDICAL].from, day("2024-01-01"));
	CHECK_EQ_INT(c.cover[SCHEME_MEDICAL].until, day("2026-12-31"));
	CHECK_EQ_INT(c.cover[SCHEME_PENSION].from, day("2023-01-01"));
	CHECK_EQ_INT(c.cover[SCHEME_PENSION].until, day("2025-06-30"));
	/* Every status and class. */
	build1(&c, F_STATUS, "suspended");
	CHECK(!(c.flags & CARD_INVALID) && c.status == STATUS_SUSPENDED);
	build1(&c, F_STATUS, "lost");
	CHECK(!(c.flags & CARD_INVALID) && c.status == STATUS_LOST);
	build1(&c, F_STATUS, "revoked");
	CHECK(!(c.flags & CARD_INVALID) && c.status == STATUS_REVOKED);
	build1(&c, F_CLASS, "A");
	CHECK(!(c.flags & CARD_INVALID) && c.class == 'A');
	build1(&c, F_CLASS, "C");
	CHECK(!(c.flags & CARD_INVALID) && c.class == 'C');
}

/* Valid edges: one-day ranges, "*" and empty xregion, rev bounds. */
static void
test_build_edges(void)
{
	struct card c;
	char *list = region_list(RECORD_MAX_XREGION);

	build1(&c, F_PERMIT_FROM, "2026-12-31");
	CHECK_EQ_INT(c.flags & CARD_INVALID, 0);
	build1(&c, F_MATERNITY, "2024-02-29..2024-02-29");
	CHECK(!(c.flags & CARD_INVALID) &&
	    (c.enrolled & 1u << SCHEME_MATERNITY));
	build1(&c, F_XREGION, "*");
	CHECK(!(c.flags & CARD_INVALID) && (c.flags & CARD_XREGION_ALL) &&
	    c.nxregion == 0);
	build1(&c, F_XREGION, "");
	CHECK(!(c.flags & CARD_INVALID) && c.nxregion == 0 &&
	    !(c.flags & CARD_XREGION_ALL));
	build1(&c, F_XREGION, ABSENT);
	CHECK(!(c.flags & CARD_INVALID) && c.nxregion == 0);
	build1(&c, F_XREGION, " 120000 ,310000 , 440300");
	CHECK(!(c.flags & CARD_INVALID) && c.nxregion == 3 &&
	    c.xregion[2] == 440300);
	build1(&c, F_XREGION, list);
	CHECK(!(c.flags & CARD_INVALID) && c.nxregion == RECORD_MAX_XREGION);
	CHECK(c.xregion[0] == 0 && c.xregion[1] == 999999);
	build1(&c, F_REGION, "000001");
	CHECK(!(c.flags & CARD_INVALID) && c.region == 1);
	build1(&c, F_REV, "0");
	CHECK(!(c.flags & CARD_INVALID) && c.rev == 0);
	build1(&c, F_REV, "9999999999999999999");
	CHECK(!(c.flags & CARD_INVALID) && c.rev == 9999999999999999999ull);
	build1(&c, F_INJURY, ABSENT);
	CHECK(!(c.flags & CARD_INVALID) &&
	    !(c.enrolled & 1u << SCHEME_INJURY));
	free(list);
}

/* A bad field makes the card invalid; permit, birth and rev are kept. */
static void
test_build_invalid_fields(void)
{
	static const struct { int f; const char *v; } bad[] = {
		{ F_STATUS, "Active" }, { F_STATUS, "expired" },
		{ F_STATUS, "" }, { F_STATUS, ABSENT },
		{ F_CLASS, "D" }, { F_CLASS, "a" }, { F_CLASS, "AB" },
		{ F_CLASS, "" }, { F_CLASS, ABSENT },
		{ F_PERMIT_FROM, "2024-02-30" }, { F_PERMIT_FROM, "2024-1-01" },
		{ F_PERMIT_FROM, ABSENT }, { F_PERMIT_FROM, "2027-01-01" },
		{ F_PERMIT_UNTIL, "2026-13-01" }, { F_PERMIT_UNTIL, "" },
		{ F_PERMIT_UNTIL, ABSENT }, { F_PERMIT_UNTIL, "2023-12-31" },
		{ F_REGION, "11000" }, { F_REGION, "1100001" },
		{ F_REGION, "11000a" }, { F_REGION, "" }, { F_REGION, ABSENT },
		{ F_REGION, " 110000" }, { F_REGION, "-11000" },
		{ F_XREGION, "110000," }, { F_XREGION, ",110000" },
		{ F_XREGION, "110000,,120000" }, { F_XREGION, "11000" },
		{ F_XREGION, "*,110000" }, { F_XREGION, "**" },
		{ F_XREGION, "abcdef" }, { F_XREGION, "110000;120000" },
		{ F_XREGION, " " }, { F_XREGION, "," },
		{ F_MEDICAL, "2024-01-01..2023-12-31" },
		{ F_MEDICAL, "2024-01-01.2024-12-31" },
		{ F_MEDICAL, "2024-01-01..2024-02-30" },
		{ F_MEDICAL, "2024-01-01" }, { F_MEDICAL, "2024-01-01.." },
		{ F_MEDICAL, "..2024-01-01" },
		{ F_MEDICAL, "2024-01-01...2024-12-31" },
		{ F_MEDICAL, "2024-01-01 .. 2024-12-31" },
		{ F_PENSION, "yes" }, { F_UNEMPLOYMENT, "x" },
		{ F_INJURY, "2024-13-01..2024-12-31" },
		{ F_MATERNITY, "2025-01-01..2024-01-01" },
	};
	struct card c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		build1(&c, bad[i].f, bad[i].v);
		if (!(c.flags & CARD_INVALID))
			fprintf(stderr, "accepted %s=\"%s\"\n",
			    record_field_name(bad[i].f),
			    bad[i].v ? bad[i].v : "(absent)");
		CHECK(c.flags & CARD_INVALID);
		CHECK(c.why != NULL);
		CHECK_EQ_STR(c.id, c.id_len, ID);
		CHECK_EQ_STR(c.permit, c.permit_len, "P1234567");
		CHECK((c.flags & CARD_HAS_BIRTH) && c.birth == day("1990-05-17"));
		CHECK_EQ_INT(c.rev, 42);
		CHECK_EQ_INT(c.flags & CARD_XREGION_ALL, 0);
		CHECK(enc_round_trip(&c) > 0);
	}
}

/* More than RECORD_MAX_XREGION (128) extra regions is invalid. */
static void
test_xregion_max(void)
{
	char *list = region_list(RECORD_MAX_XREGION + 1);
	struct card c;

	build1(&c, F_XREGION, list);
	CHECK(c.flags & CARD_INVALID);
	CHECK_EQ_INT(c.nxregion, 0);
	free(list);
}

/* The kept fields themselves: a bad permit, birth or rev is not kept. */
static void
test_build_invalid_kept(void)
{
	static const char *const bad_rev[] = {
		"-1", "abc", "", "1.5", " 1", "1 ", "+1", "0x10",
		"99999999999999999999", ABSENT,
	};
	static const char *const bad_permit[] = {
		"P-12345", "12345", "", "P1234567890123456789012345678901X",
		ABSENT,
	};
	struct card c;

	for (size_t i = 0; i < sizeof(bad_rev) / sizeof(bad_rev[0]); i++) {
		build1(&c, F_REV, bad_rev[i]);
		CHECK(c.flags & CARD_INVALID);
		CHECK_EQ_INT(c.rev, 0);
		CHECK_EQ_STR(c.permit, c.permit_len, "P1234567");
		CHECK(c.flags & CARD_HAS_BIRTH);
	}
	for (size_t i = 0; i < sizeof(bad_permit) / sizeof(bad_permit[0]);
	    i++) {
		build1(&c, F_PERMIT, bad_permit[i]);
		CHECK(c.flags & CARD_INVALID);
		CHECK_EQ_INT(c.permit_len, 0);
		CHECK(c.rev == 42 && (c.flags & CARD_HAS_BIRTH));
	}
	build1(&c, F_BIRTH, "1990-02-30");
	CHECK(c.flags & CARD_INVALID);
	CHECK_EQ_INT(c.flags & CARD_HAS_BIRTH, 0);
	CHECK(c.rev == 42 && c.permit_len == 8);
	build1(&c, F_BIRTH, ABSENT);
	CHECK((c.flags & CARD_INVALID) && !(c.flags & CARD_HAS_BIRTH));
	/* record_invalid on a card of another id starts it empty. */
	build1(&c, -1, NULL);
	record_invalid(&c, "XYZ999", 6, "gone bad");
	CHECK(c.flags & CARD_INVALID);
	CHECK_EQ_STR(c.id, c.id_len, "XYZ999");
	CHECK(c.permit_len == 0 && c.rev == 0 && !(c.flags & CARD_HAS_BIRTH));
	/* ... and on the same id keeps what it had. */
	build1(&c, -1, NULL);
	record_invalid(&c, ID, strlen(ID), "duplicate");
	CHECK((c.flags & CARD_INVALID) && c.permit_len == 8 && c.rev == 42 &&
	    (c.flags & CARD_HAS_BIRTH) && c.nxregion == 0);
	CHECK(strcmp(c.why, "duplicate") == 0);
}

/* Encode/decode round trip, normal and wide dates, invalid, max xregion. */
static void
test_encode_round_trip(void)
{
	static const struct { int f; const char *v; } cases[] = {
		{ -1, NULL },
		{ F_BIRTH, "0001-01-01" },
		{ F_PERMIT_UNTIL, "9999-12-31" },
		{ F_BIRTH, "1899-12-31" },
		{ F_BIRTH, "1900-01-01" },
		{ F_BIRTH, "2079-06-06" },
		{ F_BIRTH, "2079-06-07" },
		{ F_PERMIT_UNTIL, "2079-06-06" },
		{ F_PERMIT_UNTIL, "2079-06-07" },
		{ F_MATERNITY, "1899-12-31..9999-12-31" },
		{ F_INJURY, "2079-06-06..2079-06-07" },
		{ F_XREGION, "*" },
		{ F_XREGION, "000000" },
		{ F_REGION, "999999" },
		{ F_STATUS, "revoked" },
		{ F_CLASS, "C" },
		{ F_REV, "9999999999999999999" },
		{ F_REV, "127" },
		{ F_REV, "128" },
		{ F_REGION, "bad" },			/* invalid */
		{ F_BIRTH, "2024-02-30" },		/* invalid, no birth */
		{ F_PERMIT, "bad" },			/* invalid, no permit */
	};
	char *list = region_list(RECORD_MAX_XREGION);
	const char *t[RECORD_NFIELDS];
	struct card c;
	int n1, n2;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		build1(&c, cases[i].f, cases[i].v);
		if (enc_round_trip(&c) == 0)
			fprintf(stderr, "round trip %d=%s\n", cases[i].f,
			    cases[i].v ? cases[i].v : "-");
		CHECK(enc_round_trip(&c) > 0);
	}
	/* Every scheme, the biggest xregion, the longest ids, wide dates. */
	memcpy(t, base, sizeof(t));
	t[F_PERMIT] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
	t[F_XREGION] = list;
	t[F_BIRTH] = "0001-01-01";
	t[F_PERMIT_FROM] = "0001-01-01";
	t[F_PERMIT_UNTIL] = "9999-12-31";
	for (int s = 0; s < SCHEME_COUNT; s++)
		t[F_MEDICAL + s] = "1850-01-01..9999-12-31";
	t[F_REV] = "9999999999999999999";
	build_all(&c, t);
	CHECK(!(c.flags & CARD_INVALID) && c.enrolled == 0x1f);
	CHECK(enc_round_trip(&c) > 0);
	/* An invalid record with a wide birth keeps it. */
	build1(&c, F_BIRTH, "1850-01-01");
	record_invalid(&c, ID, strlen(ID), "test");
	CHECK(enc_round_trip(&c) > 0);
	/* The compact form ends at 2079-06-06: one day later costs bytes. */
	build1(&c, F_BIRTH, "2079-06-06");
	n1 = enc_round_trip(&c);
	build1(&c, F_BIRTH, "2079-06-07");
	n2 = enc_round_trip(&c);
	CHECK(n1 > 0 && n2 > n1);
	build1(&c, F_BIRTH, "1900-01-01");
	n2 = enc_round_trip(&c);
	CHECK(n2 == n1);
	build1(&c, F_BIRTH, "1899-12-31");
	n2 = enc_round_trip(&c);
	CHECK(n2 > n1);
	free(list);
}

/* Export fields build the same card again (valid and invalid). */
static void
test_to_fields_round_trip(void)
{
	static const struct { int f; const char *v; } cases[] = {
		{ -1, NULL }, { F_XREGION, "*" }, { F_XREGION, ABSENT },
		{ F_BIRTH, "0001-01-01" }, { F_MATERNITY, "2024-02-29..2079-06-07" },
		{ F_STATUS, "lost" }, { F_REGION, "000042" },
		{ F_REGION, "bad" }, { F_BIRTH, ABSENT }, { F_PERMIT, ABSENT },
		{ F_REV, "x" },
	};
	char *list = region_list(RECORD_MAX_XREGION);
	char buf[1024 + 7 * RECORD_MAX_XREGION];
	struct record_value v[RECORD_NFIELDS];
	struct card c, d;

	for (size_t i = 0; i <= sizeof(cases) / sizeof(cases[0]); i++) {
		if (i < sizeof(cases) / sizeof(cases[0]))
			build1(&c, cases[i].f, cases[i].v);
		else
			build1(&c, F_XREGION, list);
		CHECK_EQ_INT(record_to_fields(&c, buf, sizeof(buf), v), 0);
		record_build(&d, c.id, c.id_len, v);
		CHECK(card_eq(&c, &d));
	}
	/* Text of the base card, field by field. */
	build1(&c, -1, NULL);
	CHECK_EQ_INT(record_to_fields(&c, buf, sizeof(buf), v), 0);
	CHECK_EQ_STR(v[F_STATUS].p, v[F_STATUS].len, "active");
	CHECK_EQ_STR(v[F_PERMIT].p, v[F_PERMIT].len, "P1234567");
	CHECK_EQ_STR(v[F_CLASS].p, v[F_CLASS].len, "B");
	CHECK_EQ_STR(v[F_BIRTH].p, v[F_BIRTH].len, "1990-05-17");
	CHECK_EQ_STR(v[F_REGION].p, v[F_REGION].len, "110000");
	CHECK_EQ_STR(v[F_XREGION].p, v[F_XREGION].len, "120000,310000");
	CHECK_EQ_STR(v[F_MEDICAL].p, v[F_MEDICAL].len,
	    "2024-01-01..2026-12-31");
	CHECK(v[F_UNEMPLOYMENT].p == NULL && v[F_INJURY].p == NULL);
	CHECK_EQ_STR(v[F_REV].p, v[F_REV].len, "42");
	/* A buffer too small is reported. */
	CHECK_EQ_INT(record_to_fields(&c, buf, 20, v), -1);
	free(list);
}

/* Field names match PROTOCOL.md §7 and look up both ways. */
static void
test_field_names(void)
{
	static const char *const names[RECORD_NFIELDS] = {
		"status", "permit", "class", "permit_from", "permit_until",
		"birth", "region", "xregion", "medical", "pension",
		"unemployment", "injury", "maternity", "rev",
	};

	for (int i = 0; i < RECORD_NFIELDS; i++) {
		CHECK(strcmp(record_field_name(i), names[i]) == 0);
		CHECK_EQ_INT(record_field_lookup(names[i], strlen(names[i])), i);
	}
	CHECK_EQ_INT(record_field_lookup("card", 4), -1);
	CHECK_EQ_INT(record_field_lookup("Status", 6), -1);
	CHECK_EQ_INT(record_field_lookup("statu", 5), -1);
}

int
main(void)
{
	test_id_normalize();
	test_region_parse();
	test_build_valid();
	test_build_edges();
	test_build_invalid_fields();
	test_xregion_max();
	test_build_invalid_kept();
	test_encode_round_trip();
	test_to_fields_round_trip();
	test_field_names();
	TEST_REPORT("record");
}
