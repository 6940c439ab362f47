/* SPDX-License-Identifier: MIT */
/* Unit tests for protocol/csv.c: RFC 4180 records and field quoting. */
#include <string.h>

#include "csv.h"
#include "testhelp.h"

#define MAXF	8

static struct csv_field f[MAXF];
static size_t nf;
static char scratch[1024];
static const char *err;

static ssize_t	rec_len(const char *s, size_t len, int eof, size_t max);
static ssize_t	rec(const char *s, int eof);
static int	field_is(size_t i, const char *want);

/* Parse one record from len guarded bytes with at most max fields. */
static ssize_t
rec_len(const char *s, size_t len, int eof, size_t max)
{
	err = NULL;
	return csv_parse_record(codec_guarded(s, len), len, eof, f, max, &nf,
	    scratch, &err);
}

/* Parse one record from a guarded C string. */
static ssize_t
rec(const char *s, int eof)
{
	return rec_len(s, strlen(s), eof, MAXF);
}

/* True when field i is exactly want. */
static int
field_is(size_t i, const char *want)
{
	return i < nf && f[i].len == strlen(want) &&
	    memcmp(f[i].p, want, f[i].len) == 0;
}

/* Quoted fields hold commas and "" escapes; CRLF and LF end records. */
static void
test_fields(void)
{
	static const char crlf[] = "ABC123,\"120000,310000\",\"say \"\"hi\"\"\""
	    ",\r\n";

	CHECK_EQ_INT(rec(crlf, 0), strlen(crlf));
	CHECK_EQ_INT(nf, 4);
	CHECK(field_is(0, "ABC123") && field_is(1, "120000,310000") &&
	    field_is(2, "say \"hi\"") && field_is(3, ""));
	CHECK_EQ_INT(rec("a,b\nc,d\n", 0), 4);
	CHECK(nf == 2 && field_is(0, "a") && field_is(1, "b"));
	CHECK_EQ_INT(rec(",,\n", 0), 3);
	CHECK(nf == 3 && field_is(0, "") && field_is(1, "") && field_is(2, ""));
	CHECK_EQ_INT(rec("\"\"\n", 0), 3);
	CHECK(nf == 1 && field_is(0, ""));
	CHECK_EQ_INT(rec("\"\"\"\"\n", 0), 5);
	CHECK(nf == 1 && field_is(0, "\""));
	/* Spaces are part of a field (RFC 4180 §2.4). */
	CHECK_EQ_INT(rec(" a , b \n", 0), 8);
	CHECK(field_is(0, " a ") && field_is(1, " b "));
}

/* A quoted field may hold CR, LF and CRLF; they are kept. */
static void
test_embedded_newlines(void)
{
	static const char in[] = "x,\"line1\nline2\r\nline3\",y\r\nnext\r\n";

	CHECK_EQ_INT(rec(in, 0), strlen(in) - 6);
	CHECK(nf == 3 && field_is(0, "x") &&
	    field_is(1, "line1\nline2\r\nline3") && field_is(2, "y"));
}

/* At eof a last line without line end is complete; before eof it is not. */
static void
test_eof(void)
{
	CHECK_EQ_INT(rec("a,b", 1), 3);
	CHECK(nf == 2 && field_is(1, "b"));
	CHECK_EQ_INT(rec("a,b", 0), CSV_PARTIAL);
	CHECK_EQ_INT(rec("a,\"b\"", 1), 5);
	CHECK(nf == 2 && field_is(1, "b"));
	CHECK_EQ_INT(rec("a,\"b\"", 0), CSV_PARTIAL);
	CHECK_EQ_INT(rec("a,\"b", 0), CSV_PARTIAL);
	CHECK_EQ_INT(rec("a,b\r", 0), CSV_PARTIAL);
	CHECK_EQ_INT(rec("a,b\r\n", 1), 5);
}

/* Every strict prefix of a record is PARTIAL when more may come. */
static void
test_every_prefix(void)
{
	static const char *const recs[] = {
		"ABC123,\"120000,310000\",\"say \"\"hi\"\"\",\r\n",
		"x,\"a\nb\",y\n",
		"card,status,permit\r\n",
		"\"\"\r\n",
	};
	long bad = 0;

	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		size_t len = strlen(recs[i]);

		for (size_t k = 0; k < len; k++)
			bad += rec_len(recs[i], k, 0, MAXF) != CSV_PARTIAL;
		CHECK_EQ_INT(rec_len(recs[i], len, 0, MAXF), len);
		CHECK_EQ_INT(rec_len(recs[i], len, 1, MAXF), len);
	}
	CHECK_EQ_INT(bad, 0);
}

/* Malformed records: an error, a message, and the fields read before it. */
static void
test_errors(void)
{
	CHECK_EQ_INT(rec("ab\"c,d\n", 0), CSV_ERROR);
	CHECK(err != NULL);
	CHECK_EQ_INT(nf, 0);
	CHECK_EQ_INT(rec("ABC123,x\"y,z\n", 0), CSV_ERROR);
	CHECK_EQ_INT(nf, 1);
	CHECK(field_is(0, "ABC123"));
	CHECK_EQ_INT(rec("ABC123,s,\"ab\"c,d\n", 0), CSV_ERROR);
	CHECK(err != NULL);
	CHECK_EQ_INT(nf, 2);
	CHECK(field_is(0, "ABC123"));
	CHECK_EQ_INT(rec("ABC123,\"ab\" ,d\n", 0), CSV_ERROR);
	CHECK_EQ_INT(nf, 1);
	CHECK_EQ_INT(rec("ABC123,\"open\nstill open", 1), CSV_ERROR);
	CHECK(err != NULL);
	CHECK_EQ_INT(nf, 1);
	CHECK(field_is(0, "ABC123"));
	CHECK_EQ_INT(rec("ABC123,\"open", 0), CSV_PARTIAL);
	CHECK_EQ_INT(rec("a\rb\n", 0), CSV_ERROR);
}

/* More fields than the caller's array is an error, not an overflow. */
static void
test_too_many(void)
{
	CHECK_EQ_INT(rec_len("a,b,c\n", 6, 0, 3), 6);
	CHECK_EQ_INT(rec_len("a,b,c,d\n", 8, 0, 3), CSV_ERROR);
	CHECK(err != NULL);
	CHECK_EQ_INT(nf, 3);
	CHECK_EQ_INT(rec_len("a,b,c,\n", 7, 0, 3), CSV_ERROR);
}

/* csv_skip_line steps over one physical line. */
static void
test_skip_line(void)
{
	CHECK_EQ_INT(csv_skip_line("bad\"line\nnext\n", 14), 9);
	CHECK_EQ_INT(csv_skip_line("no end", 6), 6);
	CHECK_EQ_INT(csv_skip_line("\n", 1), 1);
}

/* csv_put_field quotes exactly when needed, and parses back the same. */
static void
test_put_round_trip(void)
{
	static const char *const vals[] = {
		"plain", "", "a,b", "say \"hi\"", "two\nlines", "cr\rhere",
		"\"", ",", " spaced ", "120000,310000,440300",
	};
	const size_t n = sizeof(vals) / sizeof(vals[0]);
	char line[512], out[64];
	size_t len = 0, k;

	k = csv_put_field(out, "plain", 5);
	CHECK_EQ_STR(out, k, "plain");
	k = csv_put_field(out, "a,b", 3);
	CHECK_EQ_STR(out, k, "\"a,b\"");
	k = csv_put_field(out, "x\"y", 3);
	CHECK_EQ_STR(out, k, "\"x\"\"y\"");
	k = csv_put_field(out, "", 0);
	CHECK_EQ_INT(k, 0);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			line[len++] = ',';
		len += csv_put_field(line + len, vals[i], strlen(vals[i]));
	}
	memcpy(line + len, "\r\n", 2);
	len += 2;
	err = NULL;
	CHECK_EQ_INT(csv_parse_record(codec_guarded(line, len), len, 0, f,
	    MAXF + 0, &nf, scratch, &err), CSV_ERROR);	/* 10 > MAXF */
	{
		struct csv_field many[16];
		size_t m;

		CHECK_EQ_INT(csv_parse_record(codec_guarded(line, len), len, 0,
		    many, 16, &m, scratch, &err), len);
		CHECK_EQ_INT(m, n);
		for (size_t i = 0; i < n && i < m; i++)
			CHECK_EQ_STR(many[i].p, many[i].len, vals[i]);
	}
}

int
main(void)
{
	test_fields();
	test_embedded_newlines();
	test_eof();
	test_every_prefix();
	test_errors();
	test_too_many();
	test_skip_line();
	test_put_round_trip();
	TEST_REPORT("csv");
}
