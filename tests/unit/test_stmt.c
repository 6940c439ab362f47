/* SPDX-License-Identifier: MIT */
/* Unit tests for protocol/stmt.c: exact statement bytes (PROTOCOL.md §3). */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "date.h"
#include "stmt.h"
#include "testhelp.h"

#define SYNCED_MS	1234567890123LL	/* 2009-02-13T23:31:30.123Z */
#define ISSUED_MS	1700000000000LL	/* 2023-11-14T22:13:20.000Z */

static struct stmt validity_stmt(void);
static struct stmt coverage_stmt(void);

/* A validity answer asked by card, without nonce. */
static struct stmt
validity_stmt(void)
{
	struct stmt s;

	memset(&s, 0, sizeof(s));
	s.check = STMT_VALIDITY;
	s.id = "ABC123";
	s.id_len = 6;
	s.scheme = -1;
	s.region = -1;
	s.at = date_from_civil(2024, 2, 29);
	s.reason = REASON_OK;
	s.rev = 7;
	s.synced_at_ms = SYNCED_MS;
	s.issued_at_ms = ISSUED_MS;
	s.kid = "2026a";
	s.kid_len = 5;
	return s;
}

/* A coverage answer asked by permit, with scheme and region. */
static struct stmt
coverage_stmt(void)
{
	struct stmt s = validity_stmt();

	s.check = STMT_COVERAGE;
	s.by_permit = 1;
	s.id = "P1234567";
	s.id_len = 8;
	s.scheme = SCHEME_MEDICAL;
	s.region = 110000;
	s.reason = REASON_REGION_NOT_COVERED;
	s.rev = 0;
	s.kid = "k1";
	s.kid_len = 2;
	return s;
}

/* The validity statement, byte for byte, with and without a nonce. */
static void
test_validity_bytes(void)
{
	static const char want[] = "{\"v\":1,\"check\":\"validity\","
	    "\"card\":\"ABC123\",\"at\":\"2024-02-29\",\"result\":\"valid\","
	    "\"reason\":\"ok\",\"rev\":7,"
	    "\"synced_at\":\"2009-02-13T23:31:30.123Z\","
	    "\"issued_at\":\"2023-11-14T22:13:20.000Z\",\"kid\":\"2026a\"}";
	static const char want_nonce[] = "{\"v\":1,\"check\":\"validity\","
	    "\"card\":\"ABC123\",\"at\":\"2024-02-29\",\"result\":\"invalid\","
	    "\"reason\":\"permit_expired\",\"rev\":7,"
	    "\"synced_at\":\"2009-02-13T23:31:30.123Z\","
	    "\"issued_at\":\"2023-11-14T22:13:20.000Z\",\"kid\":\"2026a\","
	    "\"nonce\":\"abc-_1\"}";
	struct stmt s = validity_stmt();
	char out[STMT_MAX];
	size_t n;

	n = stmt_write(&s, out, sizeof(out));
	CHECK_EQ_STR(out, n, want);
	s.nonce = "abc-_1";
	s.nonce_len = 6;
	s.reason = REASON_PERMIT_EXPIRED;
	n = stmt_write(&s, out, sizeof(out));
	CHECK_EQ_STR(out, n, want_nonce);
}

/* The coverage statement, byte for byte: permit, scheme, region. */
static void
test_coverage_bytes(void)
{
	static const char want[] = "{\"v\":1,\"check\":\"coverage\","
	    "\"permit\":\"P1234567\",\"scheme\":\"medical\","
	    "\"region\":\"110000\",\"at\":\"2024-02-29\","
	    "\"result\":\"not_covered\",\"reason\":\"region_not_covered\","
	    "\"rev\":0,\"synced_at\":\"2009-02-13T23:31:30.123Z\","
	    "\"issued_at\":\"2023-11-14T22:13:20.000Z\",\"kid\":\"k1\"}";
	static const char want_ok[] = "{\"v\":1,\"check\":\"coverage\","
	    "\"permit\":\"P1234567\",\"scheme\":\"maternity\","
	    "\"at\":\"2024-02-29\",\"result\":\"covered\",\"reason\":\"ok\","
	    "\"rev\":18446744073709551615,"
	    "\"synced_at\":\"2009-02-13T23:31:30.123Z\","
	    "\"issued_at\":\"2023-11-14T22:13:20.000Z\",\"kid\":\"k1\","
	    "\"nonce\":\"N\"}";
	struct stmt s = coverage_stmt();
	char out[STMT_MAX];
	size_t n;

	n = stmt_write(&s, out, sizeof(out));
	CHECK_EQ_STR(out, n, want);
	/* Region not asked, highest revision, a nonce. */
	s.scheme = SCHEME_MATERNITY;
	s.region = -1;
	s.reason = REASON_OK;
	s.rev = UINT64_MAX;
	s.nonce = "N";
	s.nonce_len = 1;
	n = stmt_write(&s, out, sizeof(out));
	CHECK_EQ_STR(out, n, want_ok);
}

/* Region codes keep their leading zeros (six digits, 000000..999999). */
static void
test_region_digits(void)
{
	struct stmt s = coverage_stmt();
	char out[STMT_MAX];
	size_t n;

	s.region = 42;
	n = stmt_write(&s, out, sizeof(out));
	CHECK(n > 0 && memmem(out, n, "\"region\":\"000042\"", 17) != NULL);
	s.region = 0;
	n = stmt_write(&s, out, sizeof(out));
	CHECK(n > 0 && memmem(out, n, "\"region\":\"000000\"", 17) != NULL);
	s.region = 999999;
	n = stmt_write(&s, out, sizeof(out));
	CHECK(n > 0 && memmem(out, n, "\"region\":\"999999\"", 17) != NULL);
}

/* Reason words and result words: only "ok" is positive. */
static void
test_reasons_and_results(void)
{
	/* PROTOCOL.md §10 and §2, in precedence order. */
	static const char *const reasons[REASON_COUNT] = {
		"ok", "code_invalid", "code_expired", "code_replayed",
		"unknown_card", "holder_mismatch", "record_invalid",
		"card_suspended", "card_lost", "card_revoked",
		"permit_not_yet_valid", "permit_expired", "not_enrolled",
		"coverage_not_started", "coverage_lapsed",
		"region_not_covered",
	};
	struct stmt s = coverage_stmt();
	char out[STMT_MAX], want[128];

	for (int r = 0; r < REASON_COUNT; r++) {
		const char *v = stmt_result_name(STMT_VALIDITY, r);
		const char *c = stmt_result_name(STMT_COVERAGE, r);
		size_t n;

		CHECK(strcmp(stmt_reason_name(r), reasons[r]) == 0);
		CHECK(strcmp(v, r == REASON_OK ? "valid" : "invalid") == 0);
		CHECK(strcmp(c, r == REASON_OK ? "covered" :
		    "not_covered") == 0);
		s.reason = r;
		n = stmt_write(&s, out, sizeof(out));
		snprintf(want, sizeof(want), "\"result\":\"%s\",\"reason\":"
		    "\"%s\",", c, reasons[r]);
		CHECK(n > 0 && memmem(out, n, want, strlen(want)) != NULL);
	}
}

/* Names and lookups of checks and schemes are exact words. */
static void
test_lookups(void)
{
	static const char *const schemes[SCHEME_COUNT] = {
		"medical", "pension", "unemployment", "injury", "maternity"
	};

	CHECK_EQ_INT(stmt_check_lookup("validity", 8), STMT_VALIDITY);
	CHECK_EQ_INT(stmt_check_lookup("coverage", 8), STMT_COVERAGE);
	CHECK_EQ_INT(stmt_check_lookup("Validity", 8), -1);
	CHECK_EQ_INT(stmt_check_lookup("validit", 7), -1);
	CHECK_EQ_INT(stmt_check_lookup("validityx", 9), -1);
	CHECK_EQ_INT(stmt_check_lookup("", 0), -1);
	CHECK(strcmp(stmt_check_name(STMT_VALIDITY), "validity") == 0);
	CHECK(strcmp(stmt_check_name(STMT_COVERAGE), "coverage") == 0);
	for (int i = 0; i < SCHEME_COUNT; i++) {
		CHECK_EQ_INT(stmt_scheme_lookup(schemes[i], strlen(schemes[i])),
		    i);
		CHECK(strcmp(stmt_scheme_name(i), schemes[i]) == 0);
	}
	CHECK_EQ_INT(stmt_scheme_lookup("Medical", 7), -1);
	CHECK_EQ_INT(stmt_scheme_lookup("medica", 6), -1);
	CHECK_EQ_INT(stmt_scheme_lookup("dental", 6), -1);
}

/* Any cap below the length gives 0 and writes nothing past cap. */
static void
test_small_caps(void)
{
	struct stmt v = validity_stmt(), c = coverage_stmt();
	const struct stmt *all[] = { &v, &c };
	char full[STMT_MAX], out[STMT_MAX + 1];

	v.nonce = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
	v.nonce_len = 64;
	for (size_t k = 0; k < 2; k++) {
		size_t len = stmt_write(all[k], full, sizeof(full)), bad = 0;

		CHECK(len > 0 && len < STMT_MAX);
		for (size_t cap = 0; cap < len; cap++) {
			memset(out, '#', sizeof(out));
			if (stmt_write(all[k], out, cap) != 0)
				bad++;
			for (size_t i = cap; i < sizeof(out); i++)
				bad += out[i] != '#';
		}
		CHECK_EQ_INT(bad, 0);
		CHECK_EQ_INT(stmt_write(all[k], out, len), len);
		CHECK(memcmp(out, full, len) == 0);
	}
}

/* The biggest statement fits in STMT_MAX and is valid JSON with all fields. */
static void
test_max_is_json(void)
{
	static const char id[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
	static const char big[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
	struct stmt s = coverage_stmt();
	char out[STMT_MAX];
	json_t *j;
	size_t n;

	s.id = id;
	s.id_len = 32;
	s.scheme = SCHEME_UNEMPLOYMENT;
	s.reason = REASON_PERMIT_NOT_YET_VALID;
	s.rev = 9007199254740993ULL;	/* 2^53 + 1: jansson's long long */
	s.kid = big;
	s.kid_len = 64;
	s.nonce = big;
	s.nonce_len = 64;
	s.synced_at_ms = -62135596800000LL;
	s.issued_at_ms = 253402300799999LL;
	n = stmt_write(&s, out, sizeof(out));
	CHECK(n > 0);
	j = json_loadb(out, n, JSON_REJECT_DUPLICATES, NULL);
	CHECK(j != NULL);
	if (j == NULL)
		return;
	CHECK(json_integer_value(json_object_get(j, "v")) == 1);
	CHECK(json_integer_value(json_object_get(j, "rev")) ==
	    9007199254740993LL);
	CHECK(strcmp(json_string_value(json_object_get(j, "permit")), id) == 0);
	CHECK(json_object_get(j, "card") == NULL);
	CHECK(strcmp(json_string_value(json_object_get(j, "scheme")),
	    "unemployment") == 0);
	CHECK(strcmp(json_string_value(json_object_get(j, "result")),
	    "not_covered") == 0);
	CHECK(strcmp(json_string_value(json_object_get(j, "synced_at")),
	    "0001-01-01T00:00:00.000Z") == 0);
	CHECK(strcmp(json_string_value(json_object_get(j, "issued_at")),
	    "9999-12-31T23:59:59.999Z") == 0);
	CHECK(strcmp(json_string_value(json_object_get(j, "nonce")), big) == 0);
	CHECK(json_object_size(j) == 13);
	json_decref(j);
}

int
main(void)
{
	test_validity_bytes();
	test_coverage_bytes();
	test_region_digits();
	test_reasons_and_results();
	test_lookups();
	test_small_caps();
	test_max_is_json();
	TEST_REPORT("stmt");
}
