/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: fhir_req_parse(), the body of POST
 * /fhir/CoverageEligibilityRequest/$check, with the daemon's largest
 * batch (100); then what is answered from it. An accepted request holds
 * 1 to 100 well-formed checks, validity first when asked, one card for
 * all, and its response is one JSON resource; a refused one leaves
 * nothing to free and its OperationOutcome is JSON that says why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fhir.h"
#include "fuzz.h"

#define FUZZ_MAX_BATCH	100

FUZZ_JSON_SEEDED

/* The text is one JSON object of this resourceType. */
static void
check_resource(const char *text, size_t len, const char *type)
{
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	const char *rt = json_string_value(json_object_get(o, "resourceType"));

	FUZZ_ASSERT(o != NULL && rt != NULL && strcmp(rt, type) == 0);
	json_decref(o);
}

/* What an accepted request promises: the checks, then the answer. */
static void
check_accepted(const struct fhir_req *fr, struct check_req *reqs, size_t n)
{
	struct fhir_answer ans[FUZZ_MAX_BATCH];
	char *body;
	size_t len;

	FUZZ_ASSERT(n >= 1 && n <= FUZZ_MAX_BATCH);
	FUZZ_ASSERT(fr->purposes != 0 && fr->purposes <= 3);
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(reqs[i].check == ((fr->validity && i == 0) ?
		    STMT_VALIDITY : STMT_COVERAGE));
		FUZZ_ASSERT(reqs[i].by_code || (reqs[i].id_len >= 6 &&
		    reqs[i].id_len <= STMT_ID_MAX));
		FUZZ_ASSERT(reqs[i].id_len == reqs[0].id_len &&
		    memcmp(reqs[i].id, reqs[0].id, reqs[0].id_len) == 0);
		FUZZ_ASSERT(reqs[i].check == STMT_VALIDITY ? reqs[i].scheme ==
		    -1 : reqs[i].scheme >= 0 && reqs[i].scheme < SCHEME_COUNT);
		if (reqs[i].by_code)	/* as code_store_resolve fills it */
			memset(reqs[i].code_hash, 'A', STMT_CODE_LEN);
		ans[i].stmt = "{\"v\":1}";
		ans[i].len = 7;
		ans[i].reason = (enum stmt_reason)((i * 7) % REASON_COUNT);
	}
	body = fhir_resp_render(fr, reqs, ans, n, 1764309600000, 20000, &len);
	FUZZ_ASSERT(body != NULL && len == strlen(body));
	check_resource(body, len, "CoverageEligibilityResponse");
	free(body);
}

/* The input is the request body. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct check_req *reqs = NULL;
	struct fhir_req fr;
	struct fhir_error e;
	char out[1024];
	size_t n = 0, len;

	memset(&e, 0, sizeof(e));
	if (fhir_req_parse((const char *)data, size, FUZZ_MAX_BATCH, &fr,
	    &reqs, &n, &e) == 0) {
		FUZZ_ASSERT(reqs != NULL);
		check_accepted(&fr, reqs, n);
	} else {
		FUZZ_ASSERT(reqs == NULL && n == 0);
		FUZZ_ASSERT(e.status == 400 || e.status == 413 ||
		    e.status == 422 || e.status == 500);
		FUZZ_ASSERT(e.code != NULL && e.diagnostics[0] != '\0');
		FUZZ_ASSERT(memchr(e.expression, '\0',
		    sizeof(e.expression)) != NULL);
		len = fhir_outcome(out, sizeof(out), e.code, e.diagnostics,
		    e.expression);
		FUZZ_ASSERT(len > 0);
		check_resource(out, len, "OperationOutcome");
	}
	free(reqs);
	return 0;
}
