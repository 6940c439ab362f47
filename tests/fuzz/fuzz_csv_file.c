/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: source_csv_parse(), a whole CSV card file into an
 * index. A refused file says why; a loaded one counts no more cards than
 * lines it read, and every record in the index is found again by its card
 * number and (when it has one) by its permit number. The hash seed is
 * fixed so that runs repeat; bad lines are logged as warnings, which
 * log_init(LOGL_ERROR) keeps quiet.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "log.h"
#include "record.h"
#include "source_csv.h"
#include "fuzz.h"

#define FUZZ_SEED	0x5eed

struct walk {
	const struct index	*idx;
	size_t			 n;
};

int	LLVMFuzzerInitialize(int *, char ***);

static void	check_record(const uint8_t *, void *);

/* Quiet the per-line warnings; libFuzzer's own output stays. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(LOGL_ERROR);
	return 0;
}

/* One record of the index: it decodes, and its keys lead back to it. */
static void
check_record(const uint8_t *rec, void *arg)
{
	struct walk *w = arg;
	const uint8_t *found;
	struct card c;
	size_t len;

	w->n++;
	len = record_decode(rec, &c);
	FUZZ_ASSERT(len == record_size(rec) && len <= RECORD_ENC_MAX);
	FUZZ_ASSERT(c.id_len >= 6 && c.id_len <= STMT_ID_MAX);
	FUZZ_ASSERT(index_get(w->idx, c.id, c.id_len) == rec);
	if (c.permit_len > 0)
		FUZZ_ASSERT(index_get_permit(w->idx, c.permit, c.permit_len,
		    &found) != INDEX_NONE);
}

/* The input is the file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_report rep;
	struct index *idx;
	struct walk w;
	char err[512];

	err[0] = '\0';
	idx = source_csv_parse((const char *)data, size, "fuzz.csv",
	    FUZZ_SEED, &rep, err, sizeof(err));
	if (idx == NULL) {
		FUZZ_ASSERT(strncmp(err, "fuzz.csv", 8) == 0);
		return 0;
	}
	FUZZ_ASSERT(rep.invalid <= rep.rows);
	FUZZ_ASSERT(index_count(idx) <= rep.rows);
	w.idx = idx;
	w.n = 0;
	index_foreach(idx, check_record, &w);
	FUZZ_ASSERT(w.n == index_count(idx));
	index_free(idx);
	return 0;
}
