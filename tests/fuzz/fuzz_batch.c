/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: batch_parse(), the body of POST /v1/check, with the
 * daemon's largest batch (100). An accepted batch holds 1 to 100
 * well-formed checks; a refused one leaves nothing to free and says why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "batch.h"
#include "fuzz.h"

#define FUZZ_MAX_BATCH	100

static void	check_accepted(const struct check_req *);

FUZZ_JSON_SEEDED

/* What an accepted check promises the statement writer. */
static void
check_accepted(const struct check_req *r)
{
	unsigned ids = r->seen & (1u << P_CARD | 1u << P_PERMIT |
	    1u << P_CODE);

	FUZZ_ASSERT(r->seen & (1u << P_CHECK));
	FUZZ_ASSERT(r->check == STMT_VALIDITY || r->check == STMT_COVERAGE);
	FUZZ_ASSERT(ids == 1u << P_CARD || ids == 1u << P_PERMIT ||
	    ids == 1u << P_CODE);
	FUZZ_ASSERT(r->by_permit == (ids == 1u << P_PERMIT));
	FUZZ_ASSERT(r->by_code == (ids == 1u << P_CODE));
	if (r->by_code)	/* its card comes from code_store_resolve */
		FUZZ_ASSERT(r->code_len <= CARDCODE_MAX && r->id_len == 0);
	else
		FUZZ_ASSERT(r->id_len >= 6 && r->id_len <= STMT_ID_MAX);
	for (size_t i = 0; i < r->id_len; i++)
		FUZZ_ASSERT((r->id[i] >= '0' && r->id[i] <= '9') ||
		    (r->id[i] >= 'A' && r->id[i] <= 'Z'));
	if (r->check == STMT_VALIDITY)
		FUZZ_ASSERT(r->scheme == -1 && r->region == -1);
	else
		FUZZ_ASSERT(r->scheme >= 0 && r->scheme < SCHEME_COUNT);
	FUZZ_ASSERT(r->region == -1 || (r->region >= 0 &&
	    r->region <= 999999));
	if (r->has_nonce)
		FUZZ_ASSERT(r->nonce_len >= 1 &&
		    r->nonce_len <= STMT_NONCE_MAX);
}

/* The input is the request body. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct check_req *reqs = NULL;
	char detail[256];
	size_t n = 0;
	int too_many = -1;

	memset(detail, 0, sizeof(detail));
	if (batch_parse((const char *)data, size, FUZZ_MAX_BATCH, &reqs, &n,
	    &too_many, detail, sizeof(detail)) == 0) {
		FUZZ_ASSERT(reqs != NULL && !too_many);
		FUZZ_ASSERT(n >= 1 && n <= FUZZ_MAX_BATCH);
		for (size_t i = 0; i < n; i++)
			check_accepted(&reqs[i]);
	} else {
		FUZZ_ASSERT(reqs == NULL);
		FUZZ_ASSERT(too_many == 0 || too_many == 1);
		FUZZ_ASSERT(detail[0] != '\0' &&
		    memchr(detail, '\0', sizeof(detail)) != NULL);
	}
	free(reqs);
	return 0;
}
