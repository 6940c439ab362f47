/* SPDX-License-Identifier: MIT */
/* Unit tests for daemon/source_csv.c: CSV text to an index (PROTOCOL.md §7). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "date.h"
#include "index.h"
#include "log.h"
#include "record.h"
#include "source_csv.h"
#include "testhelp.h"

#define HEADER	"card,status,permit,class,permit_from,permit_until,birth," \
		"region,xregion,medical,pension,unemployment,injury,maternity,rev\n"
#define ROW(card, permit) card ",active," permit ",A,2024-01-01,2026-12-31," \
		"1990-05-17,110000,,2024-01-01..2026-12-31,,,,,7\n"

static struct index *idx;
static struct csv_report rep;
static char err[512];

static struct index *load(const char *text);
static int	lookup(const char *id, struct card *c);
static int	state(const char *id);
static int	open_fds(void);
static void	write_file(const char *path, const char *text);

/* Parse text as "t.csv" (the previous index is freed). */
static struct index *
load(const char *text)
{
	index_free(idx);
	memset(err, 0, sizeof(err));
	idx = source_csv_parse(text, strlen(text), "t.csv", 99, &rep, err,
	    sizeof(err));
	return idx;
}

/* Decode the card with this number; 0 when found. */
static int
lookup(const char *id, struct card *c)
{
	const uint8_t *rec = idx != NULL ? index_get(idx, id, strlen(id)) :
	    NULL;

	if (rec == NULL)
		return -1;
	record_decode(rec, c);
	return 0;
}

/* 'v' valid, 'i' invalid, '-' absent. */
static int
state(const char *id)
{
	struct card c;

	if (lookup(id, &c) != 0)
		return '-';
	return c.flags & CARD_INVALID ? 'i' : 'v';
}

/* Number of open file descriptors of this process. */
static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* Write text to path. */
static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
		abort();
}

/* A full header and rows: every field loaded, counts right. */
static void
test_basic(void)
{
	struct card c;
	const uint8_t *rec;
	int32_t d;

	CHECK(load(HEADER ROW("ABC123", "P0000001") ROW("abc124", "P0000002")
	    "ABC125,suspended,P0000003,C,2024-01-01,2026-12-31,1990-05-17,"
	    "440300,\"120000,310000, 320500\",,2020-01-01..2020-12-31,,,,99\n")
	    != NULL);
	CHECK_EQ_INT(rep.rows, 3);
	CHECK_EQ_INT(rep.invalid, 0);
	CHECK_EQ_INT(rep.skipped, 0);
	CHECK_EQ_INT(index_count(idx), 3);
	CHECK_EQ_INT(lookup("ABC123", &c), 0);
	CHECK(!(c.flags & CARD_INVALID) && c.rev == 7 && c.region == 110000);
	CHECK(date_parse("2026-12-31", 10, &d) == 0 && c.permit_until == d);
	CHECK_EQ_INT(c.enrolled, 1u << SCHEME_MEDICAL);
	/* Lowercase card numbers are folded. */
	CHECK_EQ_INT(state("ABC124"), 'v');
	/* A quoted xregion list with commas and spaces. */
	CHECK_EQ_INT(lookup("ABC125", &c), 0);
	CHECK(!(c.flags & CARD_INVALID) && c.status == STATUS_SUSPENDED &&
	    c.class == 'C' && c.rev == 99);
	CHECK_EQ_INT(c.nxregion, 3);
	CHECK(c.xregion[0] == 120000 && c.xregion[1] == 310000 &&
	    c.xregion[2] == 320500);
	CHECK_EQ_INT(c.enrolled, 1u << SCHEME_PENSION);
	/* The permit finds the card. */
	CHECK_EQ_INT(index_get_permit(idx, "P0000003", 8, &rec), INDEX_ONE);
	CHECK(rec != NULL && rec == index_get(idx, "ABC125", 6));
}

/* Columns in any order; unknown columns are ignored. */
static void
test_column_order(void)
{
	struct card c;

	CHECK(load("rev,region,notes,birth,permit_until,permit_from,class,"
	    "permit,status,card,maternity\r\n"
	    "5,310000,\"free, text\",1980-02-29,2025-06-30,2025-01-01,B,"
	    "p7777777,lost,xyz789,2025-01-01..2025-03-31\r\n") != NULL);
	CHECK_EQ_INT(rep.rows, 1);
	CHECK_EQ_INT(lookup("XYZ789", &c), 0);
	CHECK(!(c.flags & CARD_INVALID));
	CHECK(c.rev == 5 && c.region == 310000 && c.class == 'B' &&
	    c.status == STATUS_LOST);
	CHECK_EQ_STR(c.permit, c.permit_len, "P7777777");
	CHECK_EQ_INT(c.enrolled, 1u << SCHEME_MATERNITY);
}

/* A header without card, or naming a column twice, refuses the file. */
static void
test_bad_headers(void)
{
	CHECK(load("status,permit,rev\nactive,P1234567,1\n") == NULL);
	CHECK(strncmp(err, "t.csv:1:", 8) == 0 && strstr(err, "card") != NULL);
	CHECK(load("card,status,status\nABC123,active,active\n") == NULL);
	CHECK(strncmp(err, "t.csv:1:", 8) == 0 &&
	    strstr(err, "repeat") != NULL);
	CHECK(load("card,rev,card\nABC123,1,ABC123\n") == NULL);
	CHECK(strncmp(err, "t.csv:1:", 8) == 0);
	CHECK(load("") == NULL);
	CHECK(err[0] != '\0');
	CHECK(load("card,\"status\n") == NULL);		/* broken header */
	CHECK(err[0] != '\0');
	/* A header alone is an empty index. */
	CHECK(load(HEADER) != NULL);
	CHECK(index_count(idx) == 0 && rep.rows == 0);
	CHECK(load("card") != NULL);
	CHECK_EQ_INT(index_count(idx), 0);
}

/* Broken lines with a readable card answer invalid; others are skipped. */
static void
test_bad_rows(void)
{
	CHECK(load(HEADER
	    ROW("GOOD01", "P0000001")
	    "BADQ01,act\"ive,P0000002,A,2024-01-01,2026-12-31,1990-05-17,"
	    "110000,,,,,,,7\n"				/* quote in a field */
	    "FEW001,active,P0000003\n"			/* too few fields */
	    "MANY01,active,P0000004,A,2024-01-01,2026-12-31,1990-05-17,"
	    "110000,,,,,,,7,extra\n"			/* too many fields */
	    "BADD01,active,P0000005,A,2024-02-30,2026-12-31,1990-05-17,"
	    "110000,,,,,,,7\n"				/* impossible date */
	    "AB-123,active,P0000006,A,2024-01-01,2026-12-31,1990-05-17,"
	    "110000,,,,,,,7\n"				/* unreadable card */
	    ",active,P0000007,A,2024-01-01,2026-12-31,1990-05-17,"
	    "110000,,,,,,,7\n"				/* no card */
	    "\"BADQ\"02,active\n"			/* broken card field */
	    ROW("GOOD02", "P0000008")) != NULL);
	CHECK_EQ_INT(state("GOOD01"), 'v');
	CHECK_EQ_INT(state("GOOD02"), 'v');
	CHECK_EQ_INT(state("BADQ01"), 'i');
	CHECK_EQ_INT(state("FEW001"), 'i');
	CHECK_EQ_INT(state("MANY01"), 'i');
	CHECK_EQ_INT(state("BADD01"), 'i');
	CHECK_EQ_INT(state("AB-123"), '-');
	CHECK_EQ_INT(state("BADQ02"), '-');
	CHECK_EQ_INT(rep.invalid, 4);
	CHECK_EQ_INT(rep.skipped, 3);
	CHECK_EQ_INT(index_count(idx), 6);
	/* An invalid card keeps its revision and permit. */
	{
		struct card c;
		const uint8_t *rec;

		CHECK_EQ_INT(lookup("BADD01", &c), 0);
		CHECK_EQ_INT(c.rev, 7);
		CHECK_EQ_STR(c.permit, c.permit_len, "P0000005");
		CHECK_EQ_INT(index_get_permit(idx, "P0000005", 8, &rec),
		    INDEX_ONE);
	}
}

/* A card number on two lines answers invalid. */
static void
test_duplicates(void)
{
	CHECK(load(HEADER ROW("DUP001", "P0000001") ROW("OTHER1", "P0000002")
	    ROW("dup001", "P0000003")) != NULL);
	CHECK_EQ_INT(state("DUP001"), 'i');
	CHECK_EQ_INT(state("OTHER1"), 'v');
	CHECK_EQ_INT(rep.rows, 3);
	CHECK_EQ_INT(rep.invalid, 1);
	CHECK_EQ_INT(index_count(idx), 2);
}

/* Blank lines are skipped; a last line without line end still counts. */
static void
test_blank_and_last_lines(void)
{
	static const char text[] = HEADER "\n" ROW("ABC123", "P0000001")
	    "\r\n\n" ROW("ABC124", "P0000002")
	    "ABC125,active,P0000003,A,2024-01-01,2026-12-31,1990-05-17,"
	    "110000,,,,,,,7";

	CHECK(load(text) != NULL);
	CHECK_EQ_INT(rep.rows, 3);
	CHECK_EQ_INT(rep.invalid, 0);
	CHECK_EQ_INT(rep.skipped, 0);
	CHECK_EQ_INT(state("ABC125"), 'v');
	CHECK_EQ_INT(index_count(idx), 3);
}

/* A quoted field across lines does not disturb the lines after it. */
static void
test_multiline_field(void)
{
	CHECK(load("card,notes,status,permit,class,permit_from,permit_until,"
	    "birth,region,rev\n"
	    "ABC123,\"two\nlines, and \"\"quotes\"\"\",active,P0000001,A,"
	    "2024-01-01,2026-12-31,1990-05-17,110000,1\n"
	    "ABC124,,active,P0000002,A,2024-01-01,2026-12-31,1990-05-17,"
	    "110000,2\n") != NULL);
	CHECK_EQ_INT(rep.rows, 2);
	CHECK_EQ_INT(state("ABC123"), 'v');
	CHECK_EQ_INT(state("ABC124"), 'v');
}

/* A line longer than the loader's window is refused, the rest loads. */
static void
test_long_line(void)
{
	static char text[200000];
	size_t at;

	at = (size_t)snprintf(text, sizeof(text), "%sLONG01,\"", HEADER);
	memset(text + at, 'x', 100000);
	at += 100000;
	at += (size_t)snprintf(text + at, sizeof(text) - at, "\"\n%s",
	    ROW("ABC123", "P0000001"));
	CHECK(load(text) != NULL);
	CHECK(state("LONG01") != 'v');
	CHECK_EQ_INT(state("ABC123"), 'v');
}

/* source_csv_load reads files, and closes them, even empty ones. */
static void
test_load_file(void)
{
	char path[] = "/tmp/cardd-unit-XXXXXX";
	int fd = mkstemp(path), before;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	close(fd);
	write_file(path, HEADER ROW("FILE01", "P0000001"));
	index_free(idx);
	before = open_fds();
	idx = source_csv_load(path, 5, &rep, err, sizeof(err));
	CHECK(idx != NULL && rep.rows == 1);
	CHECK_EQ_INT(state("FILE01"), 'v');
	CHECK_EQ_INT(open_fds(), before);
	/* An empty file: an error, and no descriptor left open. */
	write_file(path, "");
	index_free(idx);
	idx = source_csv_load(path, 5, &rep, err, sizeof(err));
	CHECK(idx == NULL && err[0] != '\0');
	CHECK_EQ_INT(open_fds(), before);
	unlink(path);
	before = open_fds();
	idx = source_csv_load(path, 5, &rep, err, sizeof(err));
	CHECK(idx == NULL && strstr(err, path) != NULL);
	CHECK_EQ_INT(open_fds(), before);
}

int
main(void)
{
	log_set_level(LOGL_ERROR);	/* bad lines are logged as warnings */
	test_basic();
	test_column_order();
	test_bad_headers();
	test_bad_rows();
	test_duplicates();
	test_blank_and_last_lines();
	test_multiline_field();
	test_long_line();
	test_load_file();
	index_free(idx);
	TEST_REPORT("source_csv");
}
