/* SPDX-License-Identifier: MIT */
/*
 * A FHIR R4 CoverageEligibilityRequest (PROTOCOL.md §12) read into the
 * checks of §2: purpose validation asks a validity check, purpose
 * benefits one coverage check per item, whose category names the
 * scheme. The patient is a contained Patient (or a Reference's
 * identifier) identified by card number, permit number or card code;
 * a contained Patient's birthDate binds the holder; servicedDate is the
 * date asked; the facility's region identifier is the region. Anything
 * refused says which element is at fault, as a FHIRPath expression, and
 * never echoes the client's bytes. Elements cardd does not use are left
 * alone, as a FHIR reader does.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "body_json.h"
#include "fhir.h"

#define FHIR_ROOT	"CoverageEligibilityRequest"

/* The patient's identification and the dates and region asked. */
struct fhir_ask {
	enum check_param id_kind;
	const char	*id;
	size_t		 id_len;
	const char	*birth;
	size_t		 birth_len;
	const char	*at;
	size_t		 at_len;
	const char	*region;
	size_t		 region_len;
	int		 schemes[128];
	size_t		 nitems;
};

static int	fhir_fail(struct fhir_error *, int, const char *,
		    const char *, const char *, ...)
		    __attribute__((format(printf, 5, 6)));
static int	fhir_root(json_t *, struct fhir_req *, struct fhir_error *);
static int	fhir_purpose(json_t *, struct fhir_req *, struct fhir_error *);
static json_t	*fhir_contained(json_t *, const char *, const char *, int *);
static int	fhir_patient(json_t *, struct fhir_ask *, struct fhir_error *);
static int	fhir_identifiers(json_t *, const char *, int,
		    struct fhir_ask *, struct fhir_error *);
static int	fhir_dates(json_t *, struct fhir_ask *, struct fhir_error *);
static int	fhir_facility(json_t *, struct fhir_ask *,
		    struct fhir_error *);
static int	fhir_items(json_t *, size_t, struct fhir_req *,
		    struct fhir_ask *, struct fhir_error *);
static int	fhir_build(const struct fhir_req *, const struct fhir_ask *,
		    struct check_req **, size_t *, struct fhir_error *);

/* Fill e and return -1. */
static int
fhir_fail(struct fhir_error *e, int status, const char *code,
    const char *expr, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->code = code;
	snprintf(e->expression, sizeof(e->expression), "%s",
	    expr != NULL ? expr : "");
	va_start(ap, fmt);
	vsnprintf(e->diagnostics, sizeof(e->diagnostics), fmt, ap);
	va_end(ap);
	return -1;
}

/* The string value of member key of o, or NULL (len set when found). */
static const char *
fhir_str(json_t *o, const char *key, size_t *len)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return NULL;
	if (len != NULL)
		*len = json_string_length(v);
	return json_string_value(v);
}

/*
 * Parse a request of at most max checks. On success *reqs (free() it)
 * holds *n checks and fr what the response echoes; on error e says why.
 */
int
fhir_req_parse(const char *body, size_t len, size_t max, struct fhir_req *fr,
    struct check_req **reqs, size_t *n, struct fhir_error *e)
{
	char detail[160];
	json_t *root = body_json_load(body, len, detail, sizeof(detail));
	struct fhir_ask ask;
	int rc;

	memset(fr, 0, sizeof(*fr));
	memset(&ask, 0, sizeof(ask));
	*reqs = NULL;
	*n = 0;
	if (root == NULL)
		return fhir_fail(e, 400, "structure", NULL, "%s", detail);
	rc = fhir_root(root, fr, e) != 0 || fhir_purpose(root, fr, e) != 0 ||
	    fhir_patient(root, &ask, e) != 0 || fhir_dates(root, &ask, e) != 0 ||
	    fhir_facility(root, &ask, e) != 0 ||
	    fhir_items(root, max, fr, &ask, e) != 0 ||
	    fhir_build(fr, &ask, reqs, n, e) != 0 ? -1 : 0;
	json_decref(root);
	return rc;
}

/* A CoverageEligibilityRequest; its identifier[0] is echoed. */
static int
fhir_root(json_t *root, struct fhir_req *fr, struct fhir_error *e)
{
	const char *rt = fhir_str(root, "resourceType", NULL), *s, *v;
	json_t *ids = json_object_get(root, "identifier"), *id0;
	size_t slen, vlen;

	if (!json_is_object(root) || rt == NULL)
		return fhir_fail(e, 400, "structure", "resourceType", "the body "
		    "is not a FHIR resource (no resourceType)");
	if (strcmp(rt, FHIR_ROOT) != 0)
		return fhir_fail(e, 400, "invalid", "resourceType",
		    "resourceType must be " FHIR_ROOT);
	if (ids == NULL)
		return 0;
	if (!json_is_array(ids) || !json_is_object(id0 = json_array_get(ids,
	    0)))
		return fhir_fail(e, 400, "structure", FHIR_ROOT ".identifier",
		    "identifier must be an array of Identifier");
	s = fhir_str(id0, "system", &slen);
	v = fhir_str(id0, "value", &vlen);
	if (v == NULL)
		return 0;	/* nothing to echo */
	if (vlen > FHIR_TEXT_MAX || (s != NULL && slen > FHIR_TEXT_MAX))
		return fhir_fail(e, 400, "too-long", FHIR_ROOT ".identifier[0]",
		    "identifier system and value are at most %d characters",
		    FHIR_TEXT_MAX);
	fr->has_ident = 1;
	snprintf(fr->ident_system, sizeof(fr->ident_system), "%s",
	    s != NULL ? s : "");
	snprintf(fr->ident_value, sizeof(fr->ident_value), "%s", v);
	return 0;
}

/* purpose: validation and/or benefits. */
static int
fhir_purpose(json_t *root, struct fhir_req *fr, struct fhir_error *e)
{
	json_t *p = json_object_get(root, "purpose"), *v;
	char expr[FHIR_EXPR_MAX];
	const char *s;
	size_t i;

	if (!json_is_array(p) || json_array_size(p) == 0)
		return fhir_fail(e, 400, "required", FHIR_ROOT ".purpose",
		    "purpose is required: validation, benefits or both");
	json_array_foreach(p, i, v) {
		snprintf(expr, sizeof(expr), FHIR_ROOT ".purpose[%zu]", i);
		if ((s = json_string_value(v)) == NULL)
			return fhir_fail(e, 400, "structure", expr,
			    "purpose must hold codes");
		if (strcmp(s, "validation") == 0)
			fr->purposes |= FHIR_VALIDATION;
		else if (strcmp(s, "benefits") == 0)
			fr->purposes |= FHIR_BENEFITS;
		else if (strcmp(s, "auth-requirements") == 0 ||
		    strcmp(s, "discovery") == 0)
			return fhir_fail(e, 422, "not-supported", expr,
			    "purpose %s is not offered: ask validation or "
			    "benefits", s[0] == 'a' ? "auth-requirements" :
			    "discovery");
		else
			return fhir_fail(e, 400, "code-invalid", expr,
			    "purpose must be validation, benefits, "
			    "auth-requirements or discovery");
	}
	return 0;
}

/*
 * The contained resource of this type that reference "#id" names, or
 * NULL; *at is its index in contained.
 */
static json_t *
fhir_contained(json_t *root, const char *ref, const char *type, int *at)
{
	json_t *c = json_object_get(root, "contained"), *r;
	const char *id, *rt;
	size_t i;

	json_array_foreach(c, i, r) {
		id = fhir_str(r, "id", NULL);
		rt = fhir_str(r, "resourceType", NULL);
		if (id != NULL && rt != NULL && strcmp(id, ref + 1) == 0 &&
		    strcmp(rt, type) == 0) {
			*at = (int)i;
			return r;
		}
	}
	return NULL;
}

/* patient: a contained Patient, or a Reference with an identifier. */
static int
fhir_patient(json_t *root, struct fhir_ask *a, struct fhir_error *e)
{
	json_t *p = json_object_get(root, "patient"), *pat;
	const char *ref = fhir_str(p, "reference", NULL);
	char base[FHIR_EXPR_MAX];
	int at;

	if (!json_is_object(p))
		return fhir_fail(e, 400, "required", FHIR_ROOT ".patient",
		    "patient is required");
	if (ref == NULL) {
		if (!json_is_object(json_object_get(p, "identifier")))
			return fhir_fail(e, 400, "required", FHIR_ROOT
			    ".patient.identifier", "patient needs a "
			    "reference to a contained Patient or an "
			    "identifier");
		return fhir_identifiers(json_object_get(p, "identifier"),
		    FHIR_ROOT ".patient.identifier", 0, a, e);
	}
	if (ref[0] != '#' || (pat = fhir_contained(root, ref, "Patient",
	    &at)) == NULL)
		return fhir_fail(e, 422, "not-supported", FHIR_ROOT
		    ".patient.reference", "patient.reference must name a "
		    "contained Patient (#id)");
	snprintf(base, sizeof(base), FHIR_ROOT ".contained[%d]", at);
	if ((a->birth = fhir_str(pat, "birthDate", &a->birth_len)) == NULL &&
	    json_object_get(pat, "birthDate") != NULL)
		return fhir_fail(e, 400, "structure", base,
		    "birthDate must be a date string");
	snprintf(base, sizeof(base), FHIR_ROOT ".contained[%d].identifier",
	    at);
	return fhir_identifiers(json_object_get(pat, "identifier"), base, 1,
	    a, e);
}

/* System of an identifier: P_CARD, P_PERMIT, P_CODE, or -1. */
static int
fhir_id_kind(const char *system)
{
	if (system == NULL)
		return -1;
	if (strcmp(system, FHIR_SYS_CARD) == 0)
		return P_CARD;
	if (strcmp(system, FHIR_SYS_PERMIT) == 0)
		return P_PERMIT;
	if (strcmp(system, FHIR_SYS_CODE) == 0)
		return P_CODE;
	return -1;
}

/*
 * The one identifier of cardd's systems among ids (an array when many,
 * else one Identifier); others (a passport number, say) are left alone.
 */
static int
fhir_identifiers(json_t *ids, const char *path, int many, struct fhir_ask *a,
    struct fhir_error *e)
{
	char expr[FHIR_EXPR_MAX + 16];
	size_t i, n = many ? json_array_size(ids) : 1;
	json_t *id;
	int kind;

	if (n == 0)		/* json_array_size: 0 for a non-array */
		return fhir_fail(e, 400, "required", path, "the patient needs "
		    "an identifier: card, permit or card code");
	for (i = 0; i < n; i++) {
		id = many ? json_array_get(ids, i) : ids;
		snprintf(expr, sizeof(expr), many ? "%s[%zu]" : "%s", path, i);
		if (!json_is_object(id) || (kind = fhir_id_kind(fhir_str(id,
		    "system", NULL))) < 0)
			continue;
		if (a->id != NULL)
			return fhir_fail(e, 400, "invalid", expr, "the patient "
			    "has more than one card, permit or code "
			    "identifier");
		if ((a->id = fhir_str(id, "value", &a->id_len)) == NULL)
			return fhir_fail(e, 400, "required", expr, "the "
			    "identifier has no value");
		a->id_kind = (enum check_param)kind;
	}
	if (a->id == NULL) {
		snprintf(expr, sizeof(expr), many ? "%s[0].system" :
		    "%s.system", path);
		return fhir_fail(e, 422, "not-supported", expr, "no identifier "
		    "of system " FHIR_SYS_CARD ", " FHIR_SYS_PERMIT " or "
		    FHIR_SYS_CODE);
	}
	return 0;
}

/* servicedDate (a servicedPeriod is not answered). */
static int
fhir_dates(json_t *root, struct fhir_ask *a, struct fhir_error *e)
{
	if (json_object_get(root, "servicedPeriod") != NULL)
		return fhir_fail(e, 422, "not-supported", FHIR_ROOT
		    ".servicedPeriod", "ask for one day, servicedDate");
	if (json_object_get(root, "servicedDate") != NULL &&
	    (a->at = fhir_str(root, "servicedDate", &a->at_len)) == NULL)
		return fhir_fail(e, 400, "structure", FHIR_ROOT
		    ".servicedDate", "servicedDate must be a date string");
	return 0;
}

/* The region identifier of a Reference or the contained Location it names. */
static const char *
fhir_region_of(json_t *root, json_t *ref, size_t *len)
{
	const char *r = fhir_str(ref, "reference", NULL), *sys;
	json_t *loc, *ids, *id;
	size_t i;
	int at;

	id = json_object_get(ref, "identifier");
	sys = fhir_str(id, "system", NULL);
	if (sys != NULL && strcmp(sys, FHIR_SYS_REGION) == 0)
		return fhir_str(id, "value", len);
	if (r == NULL || r[0] != '#' ||
	    (loc = fhir_contained(root, r, "Location", &at)) == NULL)
		return NULL;
	ids = json_object_get(loc, "identifier");
	json_array_foreach(ids, i, id) {
		sys = fhir_str(id, "system", NULL);
		if (sys != NULL && strcmp(sys, FHIR_SYS_REGION) == 0)
			return fhir_str(id, "value", len);
	}
	return NULL;
}

/*
 * facility: where the care is given. A facility given must say its
 * region, or a coverage check would silently ignore where it is asked.
 */
static int
fhir_facility(json_t *root, struct fhir_ask *a, struct fhir_error *e)
{
	json_t *f = json_object_get(root, "facility");

	if (f == NULL)
		return 0;
	if (!json_is_object(f) ||
	    (a->region = fhir_region_of(root, f, &a->region_len)) == NULL)
		return fhir_fail(e, 422, "not-supported", FHIR_ROOT
		    ".facility", "facility must give its region: an "
		    "identifier of system " FHIR_SYS_REGION ", in the "
		    "Reference or in the contained Location it names");
	return 0;
}

/* The scheme an item's category names (a coding of FHIR_SYS_SCHEME). */
static int
fhir_item(json_t *item, size_t i, int *scheme, struct fhir_error *e)
{
	json_t *cat = json_object_get(item, "category"), *codings, *c;
	char expr[FHIR_EXPR_MAX];
	const char *sys, *code;
	size_t j, len;

	snprintf(expr, sizeof(expr), FHIR_ROOT ".item[%zu].category", i);
	if (!json_is_object(cat))
		return fhir_fail(e, 400, "required", expr, "each item needs a "
		    "category naming the scheme");
	codings = json_object_get(cat, "coding");
	json_array_foreach(codings, j, c) {
		sys = fhir_str(c, "system", NULL);
		if (sys == NULL || strcmp(sys, FHIR_SYS_SCHEME) != 0)
			continue;
		snprintf(expr, sizeof(expr), FHIR_ROOT
		    ".item[%zu].category.coding[%zu].code", i, j);
		if ((code = fhir_str(c, "code", &len)) == NULL ||
		    (*scheme = stmt_scheme_lookup(code, len)) < 0)
			return fhir_fail(e, 422, "code-invalid", expr,
			    "the scheme code must be medical, pension, "
			    "unemployment, injury or maternity");
		return 0;
	}
	return fhir_fail(e, 422, "not-supported", expr, "the category has "
	    "no coding of system " FHIR_SYS_SCHEME);
}

/* item: one coverage check each, with purpose benefits. */
static int
fhir_items(json_t *root, size_t max, struct fhir_req *fr,
    struct fhir_ask *a, struct fhir_error *e)
{
	json_t *items = json_object_get(root, "item"), *it;
	size_t i, n = json_array_size(items);

	fr->validity = (fr->purposes & FHIR_VALIDATION) != 0;
	if (items != NULL && !json_is_array(items))
		return fhir_fail(e, 400, "structure", FHIR_ROOT ".item",
		    "item must be an array");
	if (n > 0 && !(fr->purposes & FHIR_BENEFITS))
		return fhir_fail(e, 400, "invalid", FHIR_ROOT ".item",
		    "items are checked with purpose benefits");
	if (n == 0 && (fr->purposes & FHIR_BENEFITS))
		return fhir_fail(e, 400, "required", FHIR_ROOT ".item",
		    "purpose benefits needs at least one item");
	if (n + (size_t)fr->validity > max ||
	    n > sizeof(a->schemes) / sizeof(a->schemes[0]))
		return fhir_fail(e, 413, "too-costly", FHIR_ROOT ".item",
		    "a request holds at most %zu checks (the validity check "
		    "counts as one)", max);
	json_array_foreach(items, i, it)
		if (fhir_item(it, i, &a->schemes[i], e) != 0)
			return -1;
	a->nitems = n;
	return 0;
}

/* One check for who asked; the parameters go through check_set. */
static int
fhir_one(struct check_req *r, enum stmt_check check, int scheme,
    const struct fhir_ask *a, struct fhir_error *e)
{
	const char *err;

	check_init(r, check);
	if (check_set(r, a->id_kind, a->id, a->id_len, &err) != 0)
		return fhir_fail(e, 400, "value", FHIR_ROOT ".patient",
		    "the patient's identifier: %s", err);
	if (a->birth != NULL && check_set(r, P_BIRTH, a->birth, a->birth_len,
	    &err) != 0)
		return fhir_fail(e, 400, "value", FHIR_ROOT ".patient",
		    "the patient's birthDate must be a full date YYYY-MM-DD");
	if (a->at != NULL && check_set(r, P_AT, a->at, a->at_len, &err) != 0)
		return fhir_fail(e, 400, "value", FHIR_ROOT ".servicedDate",
		    "servicedDate must be a full date YYYY-MM-DD");
	if (check == STMT_COVERAGE) {
		r->seen |= 1u << P_SCHEME;
		r->scheme = scheme;
		if (a->region != NULL && check_set(r, P_REGION, a->region,
		    a->region_len, &err) != 0)
			return fhir_fail(e, 400, "value", FHIR_ROOT
			    ".facility", "the facility's region must be a "
			    "six-digit code");
	}
	return check_finish(r, &err) == 0 ? 0 : fhir_fail(e, 400, "invalid",
	    FHIR_ROOT, "%s", err);
}

/* The checks: validity first when asked, then one per item. */
static int
fhir_build(const struct fhir_req *fr, const struct fhir_ask *a,
    struct check_req **reqs, size_t *n, struct fhir_error *e)
{
	size_t k = (size_t)fr->validity + a->nitems;

	if ((*reqs = calloc(k, sizeof(**reqs))) == NULL)
		return fhir_fail(e, 500, "exception", NULL, "out of memory");
	if (fr->validity && fhir_one(&(*reqs)[0], STMT_VALIDITY, -1, a, e))
		goto fail;
	for (size_t i = 0; i < a->nitems; i++)
		if (fhir_one(&(*reqs)[(size_t)fr->validity + i], STMT_COVERAGE,
		    a->schemes[i], a, e) != 0)
			goto fail;
	*n = k;
	return 0;
fail:
	free(*reqs);
	*reqs = NULL;
	return -1;
}
