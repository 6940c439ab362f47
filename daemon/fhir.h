/* SPDX-License-Identifier: MIT */
/*
 * FHIR R4 for hospital systems (PROTOCOL.md §12): a CoverageEligibility-
 * Request in (fhir_req.c), a CoverageEligibilityResponse, an
 * OperationOutcome or the CapabilityStatement out (fhir_resp.c).
 */
#ifndef CARDD_FHIR_H
#define CARDD_FHIR_H

#include <stddef.h>
#include <stdint.h>

#include "check.h"

/* The identifier and code systems of PROTOCOL.md §12. */
#define FHIR_SYS_CARD		"urn:cardd:id:card"
#define FHIR_SYS_PERMIT		"urn:cardd:id:permit"
#define FHIR_SYS_CODE		"urn:cardd:id:code"
#define FHIR_SYS_CODE_HASH	"urn:cardd:id:code-hash"
#define FHIR_SYS_REGION		"urn:cardd:region"
#define FHIR_SYS_SCHEME		"urn:cardd:scheme"
#define FHIR_SYS_REASON		"urn:cardd:reason"
#define FHIR_EXT_STATEMENT	"urn:cardd:fhir:statement"
#define FHIR_CTYPE		"application/fhir+json"

#define FHIR_TEXT_MAX		128	/* an identifier echoed back */
#define FHIR_EXPR_MAX		160

enum fhir_purpose { FHIR_VALIDATION = 1, FHIR_BENEFITS = 2 };

/* What a response echoes of its request. */
struct fhir_req {
	unsigned	 purposes;		/* enum fhir_purpose bits */
	int		 validity;		/* reqs[0] is the validity check */
	int		 has_ident;		/* identifier[0] */
	char		 ident_system[FHIR_TEXT_MAX + 1];
	char		 ident_value[FHIR_TEXT_MAX + 1];
};

/* Why a request is refused: the OperationOutcome's issue. */
struct fhir_error {
	int		 status;		/* HTTP */
	const char	*code;			/* IssueType */
	char		 diagnostics[192];
	char		 expression[FHIR_EXPR_MAX];	/* "": none */
};

/* One answered check: its statement and reason. */
struct fhir_answer {
	const char	*stmt;
	size_t		 len;
	enum stmt_reason reason;
};

int	fhir_req_parse(const char *body, size_t len, size_t max,
	    struct fhir_req *, struct check_req **reqs, size_t *n,
	    struct fhir_error *);
char	*fhir_resp_render(const struct fhir_req *, const struct check_req *,
	    const struct fhir_answer *, size_t n, int64_t created_ms,
	    int32_t today, size_t *len);
size_t	fhir_outcome(char *out, size_t cap, const char *code,
	    const char *diagnostics, const char *expression);
const char *fhir_issue_code(int status);
const char *fhir_metadata(size_t *len);

#endif
