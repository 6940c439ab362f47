/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a query string as GET /v1/validity and /v1/coverage
 * read it (daemon/http.c http_params()): split by http1_query_next(),
 * percent-decoded into buffers of the same sizes, checked by check_set()
 * and check_finish(). The buffers are heap blocks of exactly those sizes,
 * so a decode that writes one byte too many traps. A request that
 * check_finish() accepts must be one the statement writer can rely on.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http1.h"
#include "fuzz.h"

#define NAME_MAX_LEN	16	/* as char name[16] in http_params() */
#define VALUE_MAX_LEN	128	/* HTTP_VALUE_MAX in daemon/http.c */

static int	query_params(const char *, size_t, struct check_req *,
		    const char **);
static void	check_accepted(const struct check_req *, enum stmt_check);

/* Fill a request from a query string, as http_params() does. */
static int
query_params(const char *q, size_t len, struct check_req *r, const char **err)
{
	const char *cur = q, *end = q + len;
	struct http1_param p;
	char *name = malloc(NAME_MAX_LEN), *value = malloc(VALUE_MAX_LEN);
	ssize_t nlen, vlen;
	int id, rc = -1;

	FUZZ_ASSERT(name != NULL && value != NULL);
	while (http1_query_next(&cur, end, &p)) {
		FUZZ_ASSERT(p.name >= q && p.name + p.name_len <= end);
		FUZZ_ASSERT(p.value >= q && p.value + p.value_len <= end);
		FUZZ_ASSERT(memchr(p.name, '&', p.name_len) == NULL &&
		    memchr(p.name, '=', p.name_len) == NULL &&
		    memchr(p.value, '&', p.value_len) == NULL);
		FUZZ_ASSERT(cur >= p.value + p.value_len && cur <= end);
		if (p.name_len > NAME_MAX_LEN || p.value_len > VALUE_MAX_LEN ||
		    (nlen = http1_pct_decode(p.name, p.name_len, name)) < 0 ||
		    (vlen = http1_pct_decode(p.value, p.value_len, value)) < 0) {
			*err = "malformed or overlong query parameter";
			goto done;
		}
		FUZZ_ASSERT((size_t)nlen <= p.name_len &&
		    (size_t)vlen <= p.value_len);
		id = check_param_lookup(name, (size_t)nlen);
		if (id < 0 || id == P_CHECK) {
			*err = "unknown query parameter";
			goto done;
		}
		if (check_set(r, id, value, (size_t)vlen, err) != 0)
			goto done;
	}
	rc = check_finish(r, err);
done:
	free(name);
	free(value);
	return rc;
}

/* What an accepted request promises the statement writer. */
static void
check_accepted(const struct check_req *r, enum stmt_check check)
{
	unsigned ids = r->seen & (1u << P_CARD | 1u << P_PERMIT |
	    1u << P_CODE);

	FUZZ_ASSERT(r->check == check);
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
	if (check == STMT_VALIDITY)
		FUZZ_ASSERT(r->scheme == -1 && r->region == -1);
	else
		FUZZ_ASSERT(r->scheme >= 0 && r->scheme < SCHEME_COUNT);
	FUZZ_ASSERT(r->region == -1 || (r->region >= 0 &&
	    r->region <= 999999));
	if (r->has_nonce)
		FUZZ_ASSERT(r->nonce_len >= 1 &&
		    r->nonce_len <= STMT_NONCE_MAX);
	else
		FUZZ_ASSERT(r->nonce_len == 0);
}

/* The input is the query string, read for each kind of check. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum stmt_check checks[] = { STMT_VALIDITY,
	    STMT_COVERAGE };

	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		struct check_req r;
		const char *err = NULL;

		check_init(&r, checks[i]);
		if (query_params((const char *)data, size, &r, &err) == 0)
			check_accepted(&r, checks[i]);
		else
			FUZZ_ASSERT(err != NULL && err[0] != '\0');
	}
	return 0;
}
