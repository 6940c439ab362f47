/* SPDX-License-Identifier: MIT */
/*
 * A request body as JSON (POST /v1/check and FHIR): jansson parses it,
 * refusing a member given twice, and a failure gets a detail in our own
 * words that tells the kind of fault and where it is (line, column).
 * jansson's own text quotes the input near the fault; that could be a
 * card number or code sent in the wrong place, so only a member name
 * that looks like one (letters and _) is ever repeated back.
 */
#include <stdio.h>
#include <string.h>

#include "body_json.h"

static void	body_json_fault(const json_error_t *, char *, size_t);
static void	body_json_dup(const json_error_t *, char *, size_t);

/* The JSON of a body, or NULL with detail saying what is wrong. */
json_t *
body_json_load(const char *body, size_t len, char *detail, size_t cap)
{
	json_error_t e;
	json_t *root;

	if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0) {
		snprintf(detail, cap, "the body starts with a byte-order mark; "
		    "send JSON without one (RFC 8259 section 8.1)");
		return NULL;
	}
	if (len == 0) {
		snprintf(detail, cap, "the body is empty; it must be a JSON "
		    "object");
		return NULL;
	}
	if ((root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e)) == NULL)
		body_json_fault(&e, detail, cap);
	return root;
}

/* Say which kind of fault jansson met, and where. */
static void
body_json_fault(const json_error_t *e, char *detail, size_t cap)
{
	const char *what;

	switch (json_error_code(e)) {
	case json_error_duplicate_key:
		body_json_dup(e, detail, cap);
		return;
	case json_error_invalid_utf8:
		what = "the body is not valid UTF-8";
		break;
	case json_error_premature_end_of_input:
		what = "the body ends before its JSON value does";
		break;
	case json_error_end_of_input_expected:
		what = "the body goes on after its JSON value";
		break;
	case json_error_null_character:
	case json_error_null_byte_in_key:
		what = "the body holds a NUL character";
		break;
	case json_error_numeric_overflow:
		what = "a number is out of range";
		break;
	case json_error_stack_overflow:
		what = "the JSON nests too deeply";
		break;
	default:
		what = "the body is not valid JSON";
		break;
	}
	snprintf(detail, cap, "%s (line %d, column %d)", what, e->line,
	    e->column);
}

/*
 * A member given twice. jansson's text ends in near '"name"'; the name is
 * shown when it is 1-32 letters or _, as every member of ours is.
 */
static void
body_json_dup(const json_error_t *e, char *detail, size_t cap)
{
	const char *p = strstr(e->text, "near '\""), *q;
	size_t n = 0;

	if (p != NULL) {
		p += 7;
		for (q = p; n < 33 && ((*q >= 'a' && *q <= 'z') ||
		    (*q >= 'A' && *q <= 'Z') || *q == '_'); q++)
			n++;
		if (n == 0 || n > 32 || strcmp(q, "\"'") != 0)
			n = 0;
	}
	if (n > 0)
		snprintf(detail, cap, "member %.*s is given twice (line %d, "
		    "column %d)", (int)n, p, e->line, e->column);
	else
		snprintf(detail, cap, "a member is given twice (line %d, "
		    "column %d)", e->line, e->column);
}
