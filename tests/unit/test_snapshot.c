/* SPDX-License-Identifier: MIT */
/* Unit tests for store/snapshot.c: save and load round trips, refusals. */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index.h"
#include "record.h"
#include "snapshot.h"
#include "testhelp.h"

#define SEED		0x5eedULL
#define WRITER_BUF	65536	/* snapshot.c's SNAP_BUF */

static struct index *build(int n, size_t pad);
static void	add(struct index *, int i, size_t pad);
static int	round_trip(const char *path, int n, size_t pad, long *size);

/* Card i; pad > 0 gives card 0 an xregion list of that many codes. */
static void
add(struct index *idx, int i, size_t pad)
{
	struct record_value v[RECORD_NFIELDS];
	char id[16], permit[16], xregion[256];
	struct card c;

	memset(v, 0, sizeof(v));
	snprintf(id, sizeof(id), "%012d", i);
	snprintf(permit, sizeof(permit), "WP%08d", i);
	xregion[0] = '\0';
	for (size_t j = 0; j < pad && strlen(xregion) + 8 < sizeof(xregion); j++)
		snprintf(xregion + strlen(xregion), sizeof(xregion) -
		    strlen(xregion), "%s%06zu", j ? "," : "", 110000 + j * 100);
#define SET(f, s) (v[f].p = (s), v[f].len = strlen(s))
	SET(F_STATUS, "active");
	SET(F_PERMIT, permit);
	SET(F_CLASS, "B");
	SET(F_PERMIT_FROM, "2025-01-01");
	SET(F_PERMIT_UNTIL, "2027-12-31");
	SET(F_BIRTH, "1991-02-03");
	SET(F_REGION, "310000");
	SET(F_MEDICAL, "2025-01-01..2027-12-31");
	SET(F_REV, "7");
	if (i == 0 && pad > 0)
		SET(F_XREGION, xregion);
#undef SET
	record_build(&c, id, strlen(id), v);
	CHECK(index_put(idx, &c) >= 0);
}

/* An index of n cards. */
static struct index *
build(int n, size_t pad)
{
	struct index *idx = index_new((size_t)n, SEED);

	for (int i = 0; i < n; i++)
		add(idx, i, pad);
	return idx;
}

/*
 * Save n cards, load them back, compare every record byte for byte.
 * Returns 0 when all held; *size is the file's size.
 */
static int
round_trip(const char *path, int n, size_t pad, long *size)
{
	struct snapshot_meta m = { .synced_at_ms = 1764316800000,
	    .cursor_ms = 1764316800000, .cursor_seq = 3, .cursor_count = 9 };
	struct snapshot_meta back;
	struct index *idx = build(n, pad), *got;
	char err[512], id[16];
	struct stat st;
	int bad = 0;

	snprintf(m.run_id, sizeof(m.run_id), "%040d", 7);
	CHECK_EQ_INT(snapshot_save(path, idx, &m, err, sizeof(err)), 0);
	CHECK(stat(path, &st) == 0);
	*size = (long)st.st_size;
	got = snapshot_load(path, SEED, &back, err, sizeof(err));
	CHECK(got != NULL);
	if (got == NULL) {
		fprintf(stderr, "load: %s\n", err);
		index_free(idx);
		return -1;
	}
	CHECK_EQ_INT(index_count(got), n);
	CHECK_EQ_INT(back.cursor_seq, 3);
	CHECK_EQ_INT(back.cursor_count, 9);
	CHECK(strcmp(back.run_id, m.run_id) == 0);
	for (int i = 0; i < n; i++) {
		const uint8_t *a, *b;

		snprintf(id, sizeof(id), "%012d", i);
		a = index_get(idx, id, 12);
		b = index_get(got, id, 12);
		if (a == NULL || b == NULL || record_size(a) != record_size(b) ||
		    memcmp(a, b, record_size(a)) != 0)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	index_free(idx);
	index_free(got);
	return bad == 0 ? 0 : -1;
}

/*
 * The writer buffers 64 KiB and adds the 16-byte checksum after the
 * last record: grow card 0 three bytes at a time (one more xregion code)
 * so the file's end sweeps across a buffer boundary, the checksum
 * straddling it at least once.
 */
static void
test_buffer_boundaries(const char *path)
{
	int n = 900, straddled = 0;
	long size;

	/* First a count whose file ends a little before a boundary. */
	for (; n < 2000; n++) {
		if (round_trip(path, n, 0, &size) != 0)
			return;
		if ((size - 16) % WRITER_BUF >= WRITER_BUF - 16 - 100 &&
		    (size - 16) % WRITER_BUF < WRITER_BUF - 16)
			break;
	}
	CHECK(n < 2000);
	for (size_t pad = 1; pad <= 40; pad++) {
		if (round_trip(path, n, pad, &size) != 0) {
			fprintf(stderr, "round trip failed at pad %zu\n", pad);
			break;
		}
		/* Where the checksum started in its buffer. */
		if ((size - 16) % WRITER_BUF > WRITER_BUF - 16)
			straddled++;
	}
	CHECK(straddled > 0);
}

/* Empty and one-card indexes; a flipped byte or a short file is refused. */
static void
test_small_and_damaged(const char *path)
{
	struct snapshot_meta back;
	char err[512];
	long size;
	FILE *fp;

	CHECK_EQ_INT(round_trip(path, 0, 0, &size), 0);
	CHECK_EQ_INT(size, 104 + 16);
	CHECK_EQ_INT(round_trip(path, 1, 0, &size), 0);
	CHECK_EQ_INT(round_trip(path, 5000, 0, &size), 0);
	fp = fopen(path, "r+b");
	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	fseek(fp, size / 2, SEEK_SET);
	fputc(fgetc(fp) ^ 0x40, fp);
	fclose(fp);
	CHECK(snapshot_load(path, SEED, &back, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "checksum") != NULL || strstr(err, "record") != NULL);
	CHECK(truncate(path, size - 1) == 0);
	CHECK(snapshot_load(path, SEED, &back, err, sizeof(err)) == NULL);
}

/* Saving where it cannot write says why, and leaves nothing behind. */
static void
test_unwritable(void)
{
	struct snapshot_meta m = { 0 };
	struct index *idx = build(10, 0);
	char err[512];

	CHECK_EQ_INT(snapshot_save("/nonexistent-dir/cards.snap", idx, &m, err,
	    sizeof(err)), -1);
	CHECK(strstr(err, "/nonexistent-dir/cards.snap.tmp") != NULL);
	index_free(idx);
}

/* Every test on one temporary file. */
int
main(void)
{
	char path[] = "/tmp/cardd-test-snapshot-XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	test_buffer_boundaries(path);
	test_small_and_damaged(path);
	test_unwritable();
	unlink(path);
	TEST_REPORT("snapshot");
}
