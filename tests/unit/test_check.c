/* SPDX-License-Identifier: MIT */
/* Unit tests for daemon/check.c: parameters and reasons (PROTOCOL.md §2). */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "date.h"
#include "record.h"
#include "testhelp.h"

#define END	(-1)
#define ABSENT	((const char *)0)

/* The card most tests start from: valid, enrolled in medical and injury. */
static const char *const base[RECORD_NFIELDS] = {
	[F_STATUS] = "active", [F_PERMIT] = "P1234567", [F_CLASS] = "A",
	[F_PERMIT_FROM] = "2024-01-01", [F_PERMIT_UNTIL] = "2024-12-31",
	[F_BIRTH] = "1990-05-17", [F_REGION] = "110000",
	[F_XREGION] = "120000,310000", [F_MEDICAL] = "2024-02-01..2024-02-29",
	[F_INJURY] = "2023-01-01..2030-12-31", [F_REV] = "42",
};

static int32_t	day(const char *);
static void	mk(struct card *, ...);
static int	rq(struct check_req *, enum stmt_check, ...);
static enum stmt_reason eval(enum stmt_check, const struct card *,
		    const char *at, int require_birth, ...);
static int	set1(enum check_param, const char *);

/* Day number of a real date. */
static int32_t
day(const char *s)
{
	int32_t d;

	if (date_parse(s, strlen(s), &d) != 0)
		abort();
	return d;
}

/* Build the base card with (field, value) overrides, END-terminated. */
static void
mk(struct card *c, ...)
{
	const char *t[RECORD_NFIELDS];
	struct record_value v[RECORD_NFIELDS];
	va_list ap;
	int f;

	memcpy(t, base, sizeof(t));
	va_start(ap, c);
	while ((f = va_arg(ap, int)) != END)
		t[f] = va_arg(ap, const char *);
	va_end(ap);
	for (int i = 0; i < RECORD_NFIELDS; i++) {
		v[i].p = t[i];
		v[i].len = t[i] != NULL ? strlen(t[i]) : 0;
	}
	record_build(c, "ABC123", 6, v);
}

/* A request from (param, value) pairs, END-terminated; 0 when well-formed. */
static int
rq(struct check_req *r, enum stmt_check check, ...)
{
	const char *err = NULL, *v;
	va_list ap;
	int p, rc = 0;

	check_init(r, check);
	va_start(ap, check);
	while ((p = va_arg(ap, int)) != END) {
		v = va_arg(ap, const char *);
		if (check_set(r, p, v, strlen(v), &err) != 0)
			rc = -1;
	}
	va_end(ap);
	if (rc == 0 && check_finish(r, &err) != 0)
		rc = -1;
	if (rc != 0 && err == NULL)
		rc = -2;	/* an error must come with a message */
	return rc;
}

/* check_eval of a request given as pairs after require_birth. */
static enum stmt_reason
eval(enum stmt_check check, const struct card *c, const char *at,
    int require_birth, ...)
{
	struct check_req r;
	const char *err = NULL, *v;
	va_list ap;
	int p;

	check_init(&r, check);
	check_set(&r, P_CARD, "ABC123", 6, &err);
	va_start(ap, require_birth);
	while ((p = va_arg(ap, int)) != END) {
		v = va_arg(ap, const char *);
		if (check_set(&r, p, v, strlen(v), &err) != 0)
			abort();
	}
	va_end(ap);
	if (check_finish(&r, &err) != 0)
		abort();
	return check_eval(&r, c, day(at), require_birth);
}

/* check_set of one parameter on a fresh request; 0 when accepted. */
static int
set1(enum check_param p, const char *v)
{
	struct check_req r;
	const char *err = NULL;
	int rc;

	check_init(&r, STMT_COVERAGE);
	rc = check_set(&r, p, v, strlen(v), &err);
	return rc == 0 ? 0 : err != NULL ? -1 : -2;
}

/* Each parameter alone: accepted forms and bad requests. */
static void
test_set_params(void)
{
	static const struct { enum check_param p; const char *v; } bad[] = {
		{ P_CHECK, "Validity" }, { P_CHECK, "" }, { P_CHECK, "both" },
		{ P_CARD, "ABC12" }, { P_CARD, "ABC-123" }, { P_CARD, "" },
		{ P_CARD, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456" },
		{ P_CARD, "ABC 123" }, { P_PERMIT, "P12" },
		{ P_PERMIT, "P_123456" }, { P_SCHEME, "dental" },
		{ P_SCHEME, "Medical" }, { P_SCHEME, "" }, { P_REGION, "11000" },
		{ P_REGION, "1100000" }, { P_REGION, "11000a" },
		{ P_REGION, "" }, { P_REGION, "-11000" }, { P_REGION, "*" },
		{ P_AT, "2026-02-30" }, { P_AT, "2026-2-3" }, { P_AT, "today" },
		{ P_AT, "" }, { P_AT, "2023-02-29" }, { P_BIRTH, "1900-02-29" },
		{ P_BIRTH, "1990-13-01" }, { P_BIRTH, "1990-05-17T00:00" },
		{ P_NONCE, "" }, { P_NONCE, "abc=" }, { P_NONCE, "a+b" },
		{ P_NONCE, "a/b" }, { P_NONCE, "a.b" }, { P_NONCE, "a b" },
		{ P_NONCE, "0123456789012345678901234567890123456789"
		    "01234567890123456789abcde" },		/* 65 */
	};
	static const struct { enum check_param p; const char *v; } good[] = {
		{ P_CHECK, "validity" }, { P_CHECK, "coverage" },
		{ P_CARD, "abc123" }, { P_CARD, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345" },
		{ P_PERMIT, "p1234567" }, { P_SCHEME, "medical" },
		{ P_SCHEME, "pension" }, { P_SCHEME, "unemployment" },
		{ P_SCHEME, "injury" }, { P_SCHEME, "maternity" },
		{ P_REGION, "000000" }, { P_REGION, "999999" },
		{ P_AT, "2024-02-29" }, { P_BIRTH, "2000-02-29" },
		{ P_NONCE, "A" }, { P_NONCE, "abc-_XYZ09" },
		{ P_NONCE, "0123456789012345678901234567890123456789"
		    "01234567890123456789abcd" },		/* 64 */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(set1(bad[i].p, bad[i].v), -1);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK_EQ_INT(set1(good[i].p, good[i].v), 0);
}

/* Accepted values land in the request, normalised. */
static void
test_set_values(void)
{
	struct check_req r;

	CHECK_EQ_INT(rq(&r, STMT_COVERAGE, P_PERMIT, "p1234567", P_SCHEME,
	    "maternity", P_REGION, "012345", P_AT, "2024-02-29", P_BIRTH,
	    "1990-05-17", P_NONCE, "n-_1", END), 0);
	CHECK(r.by_permit == 1);
	CHECK_EQ_STR(r.id, r.id_len, "P1234567");
	CHECK_EQ_INT(r.scheme, SCHEME_MATERNITY);
	CHECK_EQ_INT(r.region, 12345);
	CHECK(r.has_at && r.at == day("2024-02-29"));
	CHECK(r.has_birth && r.birth == day("1990-05-17"));
	CHECK(r.has_nonce);
	CHECK_EQ_STR(r.nonce, r.nonce_len, "n-_1");
	CHECK_EQ_INT(rq(&r, STMT_VALIDITY, P_CARD, "abc123", END), 0);
	CHECK(r.by_permit == 0 && !r.has_at && !r.has_birth && !r.has_nonce);
	CHECK(r.scheme == -1 && r.region == -1);
	CHECK_EQ_STR(r.id, r.id_len, "ABC123");
	/* "check" switches the kind of check (batch members). */
	CHECK_EQ_INT(rq(&r, STMT_VALIDITY, P_CHECK, "coverage", P_CARD,
	    "abc123", P_SCHEME, "injury", END), 0);
	CHECK_EQ_INT(r.check, STMT_COVERAGE);
}

/* The combination: one id, scheme only and always on coverage, no twice. */
static void
test_finish(void)
{
	struct check_req r;

	CHECK_EQ_INT(rq(&r, STMT_VALIDITY, P_CARD, "ABC123", P_PERMIT,
	    "P1234567", END), -1);
	CHECK_EQ_INT(rq(&r, STMT_VALIDITY, END), -1);
	CHECK_EQ_INT(rq(&r, STMT_VALIDITY, P_AT, "2024-01-01", END), -1);
	CHECK_EQ_INT(rq(&r, STMT_VALIDITY, P_CARD, "ABC123", P_SCHEME,
	    "medical", END), -1);
	CHECK_EQ_INT(rq(&r, STMT_VALIDITY, P_CARD, "ABC123", P_REGION,
	    "110000", END), -1);
	CHECK_EQ_INT(rq(&r, STMT_COVERAGE, P_CARD, "ABC123", END), -1);
	CHECK_EQ_INT(rq(&r, STMT_COVERAGE, P_CARD, "ABC123", P_REGION,
	    "110000", END), -1);
	CHECK_EQ_INT(rq(&r, STMT_COVERAGE, P_PERMIT, "P1234567", P_SCHEME,
	    "medical", END), 0);
	/* Duplicates, even with the same value. */
	CHECK_EQ_INT(rq(&r, STMT_VALIDITY, P_CARD, "ABC123", P_CARD, "ABC123",
	    END), -1);
	CHECK_EQ_INT(rq(&r, STMT_VALIDITY, P_CARD, "ABC123", P_AT,
	    "2024-01-01", P_AT, "2024-01-02", END), -1);
	CHECK_EQ_INT(rq(&r, STMT_VALIDITY, P_CARD, "ABC123", P_NONCE, "a",
	    P_NONCE, "b", END), -1);
	CHECK_EQ_INT(rq(&r, STMT_COVERAGE, P_CARD, "ABC123", P_SCHEME,
	    "medical", P_SCHEME, "medical", END), -1);
	CHECK_EQ_INT(rq(&r, STMT_VALIDITY, P_PERMIT, "P1234567", P_PERMIT,
	    "P7654321", END), -1);
	/* Parameter names. */
	CHECK_EQ_INT(check_param_lookup("card", 4), P_CARD);
	CHECK_EQ_INT(check_param_lookup("nonce", 5), P_NONCE);
	CHECK_EQ_INT(check_param_lookup("check", 5), P_CHECK);
	CHECK_EQ_INT(check_param_lookup("Card", 4), -1);
	CHECK_EQ_INT(check_param_lookup("cards", 5), -1);
	CHECK_EQ_INT(check_param_lookup("bypermit", 8), -1);
	for (int p = 0; p < P_COUNT; p++)
		CHECK_EQ_INT(check_param_lookup(check_param_name(p),
		    strlen(check_param_name(p))), p);
}

/* Every reason of PROTOCOL.md §2 on its own. */
static void
test_each_reason(void)
{
	struct card c;

	mk(&c, END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 0, END), REASON_OK);
	CHECK_EQ_INT(eval(STMT_VALIDITY, NULL, "2024-02-10", 0, END),
	    REASON_UNKNOWN_CARD);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 0, P_BIRTH,
	    "1990-05-18", END), REASON_HOLDER_MISMATCH);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 0, P_BIRTH,
	    "1990-05-17", END), REASON_OK);
	mk(&c, F_REGION, "bad", END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 0, END),
	    REASON_RECORD_INVALID);
	mk(&c, F_STATUS, "suspended", END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 0, END),
	    REASON_CARD_SUSPENDED);
	mk(&c, F_STATUS, "lost", END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 0, END),
	    REASON_CARD_LOST);
	mk(&c, F_STATUS, "revoked", END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 0, END),
	    REASON_CARD_REVOKED);
	mk(&c, END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2023-06-01", 0, END),
	    REASON_PERMIT_NOT_YET_VALID);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2025-06-01", 0, END),
	    REASON_PERMIT_EXPIRED);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "medical", END), REASON_OK);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "pension", END), REASON_NOT_ENROLLED);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-01-20", 0, P_SCHEME,
	    "medical", END), REASON_COVERAGE_NOT_STARTED);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-03-10", 0, P_SCHEME,
	    "medical", END), REASON_COVERAGE_LAPSED);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "medical", P_REGION, "440300", END), REASON_REGION_NOT_COVERED);
}

/* When several rules fail, the first in PROTOCOL.md §2 order wins. */
static void
test_precedence(void)
{
	struct card c;

	/* 1 before everything: no card, whatever else is asked. */
	CHECK_EQ_INT(eval(STMT_COVERAGE, NULL, "1999-01-01", 0, P_SCHEME,
	    "pension", P_BIRTH, "2000-01-01", P_REGION, "440300", END),
	    REASON_UNKNOWN_CARD);
	/* 2 before 3: an invalid record whose birth is known and differs. */
	mk(&c, F_REGION, "bad", F_STATUS, "revoked", END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 0, P_BIRTH,
	    "1990-05-18", END), REASON_HOLDER_MISMATCH);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 0, P_BIRTH,
	    "1990-05-17", END), REASON_RECORD_INVALID);
	/* 2 before 4, 5 and 6-9. */
	mk(&c, F_STATUS, "lost", END);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2030-01-01", 0, P_SCHEME,
	    "pension", P_REGION, "440300", P_BIRTH, "1991-01-01", END),
	    REASON_HOLDER_MISMATCH);
	/* 3 before 4 and 5: suspended and expired, but the record is bad. */
	mk(&c, F_STATUS, "suspended", F_CLASS, "D", END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2030-01-01", 0, END),
	    REASON_RECORD_INVALID);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2030-01-01", 0, P_SCHEME,
	    "pension", END), REASON_RECORD_INVALID);
	/* 4 before 5, and before 6-9. */
	mk(&c, F_STATUS, "suspended", END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2030-01-01", 0, END),
	    REASON_CARD_SUSPENDED);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2000-01-01", 0, END),
	    REASON_CARD_SUSPENDED);
	mk(&c, F_STATUS, "lost", END);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2030-01-01", 0, P_SCHEME,
	    "pension", END), REASON_CARD_LOST);
	mk(&c, F_STATUS, "revoked", END);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "medical", P_REGION, "440300", END), REASON_CARD_REVOKED);
	/* 5 before 6-9: the permit's dates come first. */
	mk(&c, END);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2023-06-01", 0, P_SCHEME,
	    "pension", END), REASON_PERMIT_NOT_YET_VALID);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2023-06-01", 0, P_SCHEME,
	    "injury", P_REGION, "440300", END), REASON_PERMIT_NOT_YET_VALID);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2025-01-01", 0, P_SCHEME,
	    "medical", END), REASON_PERMIT_EXPIRED);
	/* 6 before 9, 7 before 9, 8 before 9. */
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "pension", P_REGION, "440300", END), REASON_NOT_ENROLLED);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-01-20", 0, P_SCHEME,
	    "medical", P_REGION, "440300", END), REASON_COVERAGE_NOT_STARTED);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-03-01", 0, P_SCHEME,
	    "medical", P_REGION, "440300", END), REASON_COVERAGE_LAPSED);
}

/* Date edges are inclusive, leap days included. */
static void
test_date_edges(void)
{
	struct card c;

	mk(&c, F_PERMIT_UNTIL, "2024-02-29", END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2023-12-31", 0, END),
	    REASON_PERMIT_NOT_YET_VALID);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-01-01", 0, END), REASON_OK);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-28", 0, END), REASON_OK);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-29", 0, END), REASON_OK);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-03-01", 0, END),
	    REASON_PERMIT_EXPIRED);
	/* Coverage 2024-02-01..2024-02-29. */
	mk(&c, END);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-01-31", 0, P_SCHEME,
	    "medical", END), REASON_COVERAGE_NOT_STARTED);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-01", 0, P_SCHEME,
	    "medical", END), REASON_OK);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-29", 0, P_SCHEME,
	    "medical", END), REASON_OK);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-03-01", 0, P_SCHEME,
	    "medical", END), REASON_COVERAGE_LAPSED);
	/* One-day permit and one-day coverage. */
	mk(&c, F_PERMIT_FROM, "2024-06-15", F_PERMIT_UNTIL, "2024-06-15",
	    F_MATERNITY, "2024-06-15..2024-06-15", END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-06-14", 0, END),
	    REASON_PERMIT_NOT_YET_VALID);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-06-15", 0, END), REASON_OK);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-06-16", 0, END),
	    REASON_PERMIT_EXPIRED);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-06-15", 0, P_SCHEME,
	    "maternity", END), REASON_OK);
	/* Coverage reaching past the permit: the permit still decides. */
	mk(&c, F_PERMIT_UNTIL, "2024-02-15", END);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-16", 0, P_SCHEME,
	    "medical", END), REASON_PERMIT_EXPIRED);
}

/* Region: home, listed, "*", not covered, not asked. */
static void
test_region(void)
{
	struct card c;

	mk(&c, END);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "medical", P_REGION, "110000", END), REASON_OK);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "medical", P_REGION, "120000", END), REASON_OK);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "medical", P_REGION, "310000", END), REASON_OK);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "medical", P_REGION, "310001", END), REASON_REGION_NOT_COVERED);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "medical", P_REGION, "000000", END), REASON_REGION_NOT_COVERED);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "medical", END), REASON_OK);
	mk(&c, F_XREGION, "*", END);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "medical", P_REGION, "440300", END), REASON_OK);
	mk(&c, F_XREGION, ABSENT, END);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "medical", P_REGION, "120000", END), REASON_REGION_NOT_COVERED);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "medical", P_REGION, "110000", END), REASON_OK);
	mk(&c, F_REGION, "000000", F_XREGION, "", END);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "medical", P_REGION, "000000", END), REASON_OK);
}

/* require_birth: anything short of a matching birth is an unknown card. */
static void
test_require_birth(void)
{
	struct card c;

	mk(&c, END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 1, END),
	    REASON_UNKNOWN_CARD);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 1, P_BIRTH,
	    "1990-05-18", END), REASON_UNKNOWN_CARD);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 1, P_BIRTH,
	    "1990-05-17", END), REASON_OK);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-03-10", 1, P_SCHEME,
	    "medical", P_BIRTH, "1990-05-17", END), REASON_COVERAGE_LAPSED);
	CHECK_EQ_INT(eval(STMT_VALIDITY, NULL, "2024-02-10", 1, P_BIRTH,
	    "1990-05-17", END), REASON_UNKNOWN_CARD);
	mk(&c, F_STATUS, "suspended", END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 1, P_BIRTH,
	    "1990-05-17", END), REASON_CARD_SUSPENDED);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 1, END),
	    REASON_UNKNOWN_CARD);
	/* An invalid record with a known birth: matching birth tells it. */
	mk(&c, F_REGION, "bad", END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 1, P_BIRTH,
	    "1990-05-17", END), REASON_RECORD_INVALID);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 1, P_BIRTH,
	    "1990-05-16", END), REASON_UNKNOWN_CARD);
	/* A record without a birth can never match. */
	mk(&c, F_BIRTH, ABSENT, END);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 1, P_BIRTH,
	    "1990-05-17", END), REASON_UNKNOWN_CARD);
}

/* A record without a known birth: a given birth is no mismatch. */
static void
test_unknown_birth(void)
{
	struct card c;

	mk(&c, F_BIRTH, ABSENT, END);
	CHECK(c.flags & CARD_INVALID);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 0, P_BIRTH,
	    "1990-05-17", END), REASON_RECORD_INVALID);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 0, P_BIRTH,
	    "2001-01-01", END), REASON_RECORD_INVALID);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &c, "2024-02-10", 0, END),
	    REASON_RECORD_INVALID);
	mk(&c, F_BIRTH, "1990-02-30", END);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &c, "2024-02-10", 0, P_SCHEME,
	    "medical", P_BIRTH, "1990-03-02", END), REASON_RECORD_INVALID);
}

/* The same semantics through an encoded record, as the daemon sees it. */
static void
test_via_encoding(void)
{
	uint8_t buf[RECORD_ENC_MAX];
	struct card c, d;

	mk(&c, F_XREGION, "*", F_PERMIT_UNTIL, "2079-06-07", END);
	record_encode(&c, buf);
	record_decode(buf, &d);
	CHECK_EQ_INT(eval(STMT_COVERAGE, &d, "2024-02-10", 0, P_SCHEME,
	    "medical", P_REGION, "440300", END), REASON_OK);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &d, "2079-06-07", 0, END), REASON_OK);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &d, "2079-06-08", 0, END),
	    REASON_PERMIT_EXPIRED);
	mk(&c, F_CLASS, "X", END);
	record_encode(&c, buf);
	record_decode(buf, &d);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &d, "2024-02-10", 0, P_BIRTH,
	    "1990-05-18", END), REASON_HOLDER_MISMATCH);
	CHECK_EQ_INT(eval(STMT_VALIDITY, &d, "2024-02-10", 0, END),
	    REASON_RECORD_INVALID);
}

int
main(void)
{
	test_set_params();
	test_set_values();
	test_finish();
	test_each_reason();
	test_precedence();
	test_date_edges();
	test_region();
	test_require_birth();
	test_unknown_birth();
	test_via_encoding();
	TEST_REPORT("check");
}
