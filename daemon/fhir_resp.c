/* SPDX-License-Identifier: MIT */
/*
 * What cardd answers in FHIR R4 (PROTOCOL.md §12): the Coverage-
 * EligibilityResponse to a request's checks, an OperationOutcome for a
 * request refused, and the CapabilityStatement. The response carries
 * each check's statement, byte for byte, in an extension; the whole body
 * is signed like a POST /v1/check body, so a verifier checks the body's
 * signature and then reads the statements. jansson writes the JSON, so
 * identifiers echoed from the request are escaped as JSON needs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "date.h"
#include "fhir.h"

static json_t	*fhir_patient_ref(const struct check_req *);
static json_t	*fhir_insurance(const struct fhir_req *,
		    const struct check_req *, const struct fhir_answer *,
		    size_t);
static json_t	*fhir_errors(const struct fhir_req *,
		    const struct check_req *, const struct fhir_answer *,
		    size_t);
static void	fhir_disposition(const struct fhir_req *,
		    const struct check_req *, const struct fhir_answer *,
		    size_t, char *, size_t);

/* A reason that says the card or its holder could not be established. */
static int
fhir_unidentified(enum stmt_reason r)
{
	return r >= REASON_CODE_INVALID && r <= REASON_RECORD_INVALID;
}

/* A reason about the card itself (before the scheme's own reasons). */
static int
fhir_card_level(enum stmt_reason r)
{
	return r != REASON_OK && r < REASON_NOT_ENROLLED;
}

/* A coding of one of cardd's systems. */
static json_t *
fhir_coding(const char *system, const char *code)
{
	return json_pack("{s:[{s:s,s:s}]}", "coding", "system", system,
	    "code", code);
}

/* The patient as the statements show it: never a code's card number. */
static json_t *
fhir_patient_ref(const struct check_req *r)
{
	if (r->by_code)
		return json_pack("{s:{s:s,s:s#}}", "identifier", "system",
		    FHIR_SYS_CODE_HASH, "value", r->code_hash,
		    (int)STMT_CODE_LEN);
	return json_pack("{s:{s:s,s:s#}}", "identifier", "system",
	    r->by_permit ? FHIR_SYS_PERMIT : FHIR_SYS_CARD, "value", r->id,
	    (int)r->id_len);
}

/* The request the response answers: its identifier, when it had one. */
static json_t *
fhir_request_ref(const struct fhir_req *fr)
{
	if (!fr->has_ident)
		return json_pack("{s:s}", "display", "the request posted");
	if (fr->ident_system[0] == '\0')
		return json_pack("{s:{s:s}}", "identifier", "value",
		    fr->ident_value);
	return json_pack("{s:{s:s,s:s}}", "identifier", "system",
	    fr->ident_system, "value", fr->ident_value);
}

/*
 * The response to answered checks (ans[i] answers reqs[i]); NULL when
 * out of memory. The caller frees it.
 */
char *
fhir_resp_render(const struct fhir_req *fr, const struct check_req *reqs,
    const struct fhir_answer *ans, size_t n, int64_t created_ms,
    int32_t today, size_t *len)
{
	char created[DATE_RFC3339_LEN + 1], at[DATE_LEN + 1], disp[1024];
	json_t *root, *ext = json_array(), *purpose = json_array(), *errs;
	char *out = NULL;

	date_rfc3339_ms(created_ms, created);
	created[DATE_RFC3339_LEN] = '\0';
	date_format(reqs[0].has_at ? reqs[0].at : today, at);
	at[DATE_LEN] = '\0';
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ext, json_pack("{s:s,s:s#}", "url",
		    FHIR_EXT_STATEMENT, "valueString", ans[i].stmt,
		    (int)ans[i].len));
	if (fr->purposes & FHIR_VALIDATION)
		json_array_append_new(purpose, json_string("validation"));
	if (fr->purposes & FHIR_BENEFITS)
		json_array_append_new(purpose, json_string("benefits"));
	fhir_disposition(fr, reqs, ans, n, disp, sizeof(disp));
	root = json_pack("{s:s,s:o,s:s,s:o,s:o,s:s,s:s,s:o,s:s,s:s,s:{s:s},"
	    "s:[o]}", "resourceType", "CoverageEligibilityResponse",
	    "extension", ext, "status", "active", "purpose", purpose,
	    "patient", fhir_patient_ref(&reqs[0]), "servicedDate", at,
	    "created", created, "request", fhir_request_ref(fr),
	    "outcome", fhir_unidentified(ans[0].reason) ? "error" : "complete",
	    "disposition", disp, "insurer", "display", "cardd",
	    "insurance", fhir_insurance(fr, reqs, ans, n));
	if (root != NULL && (errs = fhir_errors(fr, reqs, ans, n)) != NULL)
		json_object_set_new(root, "error", errs);
	if (root != NULL)
		out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	*len = out != NULL ? strlen(out) : 0;
	return out;
}

/*
 * insurance[0]: inforce says the card is in force (the validity check,
 * or, asked for benefits only, no item refused for the card itself);
 * one item per benefits check, excluded when not covered.
 */
static json_t *
fhir_insurance(const struct fhir_req *fr, const struct check_req *reqs,
    const struct fhir_answer *ans, size_t n)
{
	json_t *ins, *items = json_array();
	int inforce = 1;
	char what[96];

	for (size_t i = 0; i < n; i++) {
		if (fr->validity ? i == 0 && ans[0].reason != REASON_OK :
		    fhir_card_level(ans[i].reason))
			inforce = 0;
		if (reqs[i].check != STMT_COVERAGE)
			continue;
		snprintf(what, sizeof(what), ans[i].reason == REASON_OK ?
		    "covered" : "not covered: %s",
		    stmt_reason_name(ans[i].reason));
		json_array_append_new(items, json_pack("{s:o,s:b,s:s}",
		    "category", fhir_coding(FHIR_SYS_SCHEME,
		    stmt_scheme_name((enum stmt_scheme)reqs[i].scheme)),
		    "excluded", ans[i].reason != REASON_OK, "description",
		    what));
	}
	ins = json_pack("{s:o,s:b}", "coverage", fhir_patient_ref(&reqs[0]),
	    "inforce", inforce);
	if (ins != NULL && json_array_size(items) > 0)
		json_object_set(ins, "item", items);
	json_decref(items);
	return ins;
}

/* What a check is called in texts: validity, or item[i] (scheme). */
static void
fhir_check_name(const struct fhir_req *fr, const struct check_req *reqs,
    size_t i, char *out, size_t cap)
{
	if (reqs[i].check == STMT_VALIDITY)
		snprintf(out, cap, "validity");
	else
		snprintf(out, cap, "item[%zu] (%s)", i - (size_t)fr->validity,
		    stmt_scheme_name((enum stmt_scheme)reqs[i].scheme));
}

/* error[]: each negative reason, coded from FHIR_SYS_REASON; NULL: none. */
static json_t *
fhir_errors(const struct fhir_req *fr, const struct check_req *reqs,
    const struct fhir_answer *ans, size_t n)
{
	json_t *errs = NULL, *code;
	char name[64], text[128];

	for (size_t i = 0; i < n; i++) {
		if (ans[i].reason == REASON_OK)
			continue;
		if (errs == NULL)
			errs = json_array();
		fhir_check_name(fr, reqs, i, name, sizeof(name));
		snprintf(text, sizeof(text), "%s: %s", name,
		    stmt_reason_name(ans[i].reason));
		code = fhir_coding(FHIR_SYS_REASON,
		    stmt_reason_name(ans[i].reason));
		json_object_set_new(code, "text", json_string(text));
		json_array_append_new(errs, json_pack("{s:o}", "code", code));
	}
	return errs;
}

/* The human text: each check's result, in the order asked. */
static void
fhir_disposition(const struct fhir_req *fr, const struct check_req *reqs,
    const struct fhir_answer *ans, size_t n, char *out, size_t cap)
{
	char name[64];
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && len < cap; i++) {
		fhir_check_name(fr, reqs, i, name, sizeof(name));
		len += (size_t)snprintf(out + len, cap - len, "%s%s: %s%s%s",
		    i > 0 ? "; " : "", name, stmt_result_name(reqs[i].check,
		    ans[i].reason), ans[i].reason != REASON_OK ? ", " : "",
		    ans[i].reason != REASON_OK ?
		    stmt_reason_name(ans[i].reason) : "");
	}
}

/*
 * An OperationOutcome of one error issue into out (cap bytes); returns
 * its length. expression may be NULL or "".
 */
size_t
fhir_outcome(char *out, size_t cap, const char *code, const char *diagnostics,
    const char *expression)
{
	json_t *issue = json_pack("{s:s,s:s,s:s}", "severity", "error", "code",
	    code, "diagnostics", diagnostics), *root;
	size_t n;

	if (issue != NULL && expression != NULL && expression[0] != '\0')
		json_object_set_new(issue, "expression",
		    json_pack("[s]", expression));
	root = json_pack("{s:s,s:[o]}", "resourceType", "OperationOutcome",
	    "issue", issue);
	n = root != NULL ? json_dumpb(root, out, cap, JSON_COMPACT) : 0;
	json_decref(root);
	return n <= cap ? n : 0;
}

/* The IssueType of an HTTP error status. */
const char *
fhir_issue_code(int status)
{
	switch (status) {
	case 401: return "login";
	case 403: return "forbidden";
	case 404: return "not-found";
	case 405: case 415: case 501: return "not-supported";
	case 411: case 413: case 431: return "too-costly";
	case 429: return "throttled";
	case 500: return "exception";
	case 503: return "transient";
	default: return "invalid";
	}
}

/* GET /fhir/metadata: what this server offers, as a CapabilityStatement. */
const char *
fhir_metadata(size_t *len)
{
	static const char cs[] = "{\"resourceType\":\"CapabilityStatement\","
	    "\"status\":\"active\",\"date\":\"2026-12-07\",\"publisher\":"
	    "\"cardd\",\"kind\":\"instance\",\"software\":{\"name\":\"cardd\","
	    "\"version\":\"" CARDD_VERSION "\"},\"implementation\":"
	    "{\"description\":\"cardd card eligibility register\"},"
	    "\"fhirVersion\":\"4.0.1\",\"format\":[\"json\"],\"rest\":[{"
	    "\"mode\":\"server\",\"documentation\":\"Card validity and "
	    "coverage checks (protocol/PROTOCOL.md section 12). Answers are "
	    "signed: the Card-Signature header holds a detached JWS over the "
	    "body.\",\"resource\":[{\"type\":\"CoverageEligibilityRequest\","
	    "\"operation\":[{\"name\":\"check\",\"definition\":"
	    "\"urn:cardd:fhir:OperationDefinition:check\",\"documentation\":"
	    "\"POST a CoverageEligibilityRequest, get a signed "
	    "CoverageEligibilityResponse\"}]}]}]}";

	*len = sizeof(cs) - 1;
	return cs;
}
