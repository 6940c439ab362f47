/* SPDX-License-Identifier: MIT */
/* Unit tests for protocol/date.c: day numbers, YYYY-MM-DD, RFC 3339. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "testhelp.h"

static int	parse(const char *s, int32_t *days);
static int	leap(int y);
static unsigned	month_days(int y, unsigned m);

/* date_parse on a copy that ends where unreadable memory starts. */
static int
parse(const char *s, int32_t *days)
{
	size_t len = strlen(s);

	return date_parse(codec_guarded(s, len), len, days);
}

/* The Gregorian rule, written again here so the test does not trust date.c. */
static int
leap(int y)
{
	return y % 400 == 0 || (y % 4 == 0 && y % 100 != 0);
}

/* Month lengths, independent of date.c. */
static unsigned
month_days(int y, unsigned m)
{
	static const unsigned len[13] =
	    { 0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap(y) ? 29 : len[m];
}

/* Known day numbers from the contract's epoch (1970-01-01 = 0). */
static void
test_known_values(void)
{
	int32_t d = 12345;

	CHECK_EQ_INT(date_from_civil(1970, 1, 1), 0);
	CHECK_EQ_INT(date_from_civil(1969, 12, 31), -1);
	CHECK_EQ_INT(date_from_civil(2000, 3, 1), 11017);
	CHECK_EQ_INT(date_from_civil(2000, 2, 29), 11016);
	CHECK_EQ_INT(date_from_civil(1900, 1, 1), -25567);
	CHECK_EQ_INT(date_from_civil(1, 1, 1), -719162);
	CHECK_EQ_INT(date_from_civil(9999, 12, 31), 2932896);
	CHECK(parse("1970-01-01", &d) == 0 && d == 0);
	CHECK(parse("1969-12-31", &d) == 0 && d == -1);
	CHECK(parse("2000-03-01", &d) == 0 && d == 11017);
	CHECK(parse("2024-12-01", &d) == 0 && d == 20058);
}

/* Real leap days parse; impossible dates are errors, never normalised. */
static void
test_impossible_dates(void)
{
	static const char *const bad[] = {
		"2026-02-30", "2023-02-29", "2024-02-30", "1900-02-29",
		"2100-02-29", "2024-00-10", "2024-13-01", "2024-01-00",
		"2024-01-32", "2024-04-31", "2024-06-31", "2024-09-31",
		"2024-11-31", "2024-99-99", "0000-00-00",
	};
	static const char *const good[] = {
		"2000-02-29", "2024-02-29", "1600-02-29", "2024-01-31",
		"2024-04-30", "2024-12-31", "0001-01-01", "9999-12-31",
	};
	int32_t d;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d = 777;
		CHECK(parse(bad[i], &d) == -1);
		CHECK_EQ_INT(d, 777);	/* untouched on error */
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(parse(good[i], &d) == 0);
	CHECK(parse("2024-02-29", &d) == 0 && d == date_from_civil(2024, 2, 29));
	CHECK(parse("2000-02-29", &d) == 0 && d == 11016);
}

/* Exactly YYYY-MM-DD: wrong lengths, signs, spaces, other separators. */
static void
test_strict_syntax(void)
{
	static const char *const bad[] = {
		"", "2024", "2024-2-29", "2024-02-9", "24-02-29",
		"2024-02-029", "02024-02-29", "20240229", "2024-02-29 ",
		" 2024-02-29", "2024-02-29T", "2024/02/29", "2024.02.29",
		"+024-02-29", "-024-02-29", "2024-+2-29", "2024--2-29",
		"2024-02--9", "2024-02-+9", "2024 02-29", "2024-02 29",
		"2024-0 -29", "2O24-02-29", "2024-02-2a", "2024-0x-01",
		"2024-02-29\n",
	};
	int32_t d;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(parse(bad[i], &d) == -1);
	/* A NUL inside the ten bytes is not a digit. */
	CHECK(date_parse(codec_guarded("2024-02-2\0", 10), 10, &d) == -1);
	/* Only len bytes count: the prefix of a longer buffer parses. */
	CHECK(date_parse("2024-02-29xyz", 10, &d) == 0);
	CHECK(date_parse("2024-02-29", 9, &d) == -1);
}

/* Every day of years 1..9999, counted independently, round-trips. */
static void
test_every_day(void)
{
	int32_t n = -719162;	/* 0001-01-01: 719162 days before 1970 */
	long bad_from = 0, bad_to = 0, bad_parse = 0, bad_fmt = 0;
	char text[64], out[DATE_LEN];

	for (int y = 1; y <= 9999; y++)
		for (unsigned m = 1; m <= 12; m++)
			for (unsigned d = 1; d <= month_days(y, m); d++, n++) {
				int yy;
				unsigned mm, dd;
				int32_t p = 0;

				if (date_from_civil(y, m, d) != n && bad_from++ == 0)
					fprintf(stderr, "from_civil %d-%u-%u\n", y, m, d);
				date_to_civil(n, &yy, &mm, &dd);
				if ((yy != y || mm != m || dd != d) && bad_to++ == 0)
					fprintf(stderr, "to_civil %ld\n", (long)n);
				snprintf(text, sizeof(text), "%04d-%02u-%02u", y, m, d);
				if ((date_parse(text, 10, &p) != 0 || p != n) &&
				    bad_parse++ == 0)
					fprintf(stderr, "parse %s\n", text);
				date_format(n, out);
				if (memcmp(out, text, DATE_LEN) != 0 && bad_fmt++ == 0)
					fprintf(stderr, "format %s\n", text);
			}
	CHECK_EQ_INT(bad_from, 0);
	CHECK_EQ_INT(bad_to, 0);
	CHECK_EQ_INT(bad_parse, 0);
	CHECK_EQ_INT(bad_fmt, 0);
	CHECK_EQ_INT(n - 1, 2932896);	/* 9999-12-31 */
}

/* date_format writes exactly ten bytes, zero-padded. */
static void
test_format(void)
{
	char out[DATE_LEN + 1];

	memset(out, '#', sizeof(out));
	date_format(0, out);
	CHECK_EQ_STR(out, DATE_LEN, "1970-01-01");
	CHECK(out[DATE_LEN] == '#');
	date_format(-719162, out);
	CHECK_EQ_STR(out, DATE_LEN, "0001-01-01");
	date_format(11016, out);
	CHECK_EQ_STR(out, DATE_LEN, "2000-02-29");
	date_format(-1, out);
	CHECK_EQ_STR(out, DATE_LEN, "1969-12-31");
}

/* RFC 3339 with milliseconds, including before 1970 and at ms edges. */
static void
test_rfc3339_known(void)
{
	static const struct { int64_t ms; const char *want; } cases[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ 1, "1970-01-01T00:00:00.001Z" },
		{ 999, "1970-01-01T00:00:00.999Z" },
		{ 1000, "1970-01-01T00:00:01.000Z" },
		{ 1001, "1970-01-01T00:00:01.001Z" },
		{ 59999, "1970-01-01T00:00:59.999Z" },
		{ 86399999, "1970-01-01T23:59:59.999Z" },
		{ 86400000, "1970-01-02T00:00:00.000Z" },
		{ -1, "1969-12-31T23:59:59.999Z" },
		{ -999, "1969-12-31T23:59:59.001Z" },
		{ -1000, "1969-12-31T23:59:59.000Z" },
		{ -1001, "1969-12-31T23:59:58.999Z" },
		{ -86400000, "1969-12-31T00:00:00.000Z" },
		{ -86400001, "1969-12-30T23:59:59.999Z" },
		{ 951782400000, "2000-02-29T00:00:00.000Z" },
		{ 1234567890123, "2009-02-13T23:31:30.123Z" },
		{ 1700000000000, "2023-11-14T22:13:20.000Z" },
		{ -62135596800000, "0001-01-01T00:00:00.000Z" },
		{ 253402300799999, "9999-12-31T23:59:59.999Z" },
	};
	char out[DATE_RFC3339_LEN + 1];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, '#', sizeof(out));
		date_rfc3339_ms(cases[i].ms, out);
		CHECK_EQ_STR(out, DATE_RFC3339_LEN, cases[i].want);
		CHECK(out[DATE_RFC3339_LEN] == '#');
	}
}

/* RFC 3339 agrees with libc's gmtime_r over years 1..9999. */
static void
test_rfc3339_vs_gmtime(void)
{
	const int64_t lo = -62135596800000, hi = 253402300799999;
	uint64_t x = 88172645463325252ull;
	long bad = 0;

	for (int i = 0; i < 200000; i++) {
		char want[96], out[DATE_RFC3339_LEN];
		int64_t ms, s;
		struct tm tm;
		time_t t;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ms = lo + (int64_t)(x % (uint64_t)(hi - lo + 1));
		s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
		t = (time_t)s;
		if (gmtime_r(&t, &tm) == NULL)
			continue;
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d."
		    "%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		    tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms - s * 1000));
		date_rfc3339_ms(ms, out);
		if (memcmp(out, want, DATE_RFC3339_LEN) != 0 && bad++ == 0)
			fprintf(stderr, "rfc3339 %lld: %.24s, libc %s\n",
			    (long long)ms, out, want);
	}
	CHECK_EQ_INT(bad, 0);
}

int
main(void)
{
	test_known_values();
	test_impossible_dates();
	test_strict_syntax();
	test_every_day();
	test_format();
	test_rfc3339_known();
	test_rfc3339_vs_gmtime();
	TEST_REPORT("date");
}
