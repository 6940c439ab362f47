/* SPDX-License-Identifier: MIT */
/*
 * The checks of PROTOCOL.md §2. check_set() validates one request parameter
 * (whatever protocol carried it), check_finish() the combination, and
 * check_eval() gives the reason for a card, in the order the contract
 * fixes: the first failing reason wins. No sockets, no index, no clock:
 * the caller passes the record it found and the date "at" stands for.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "b64url.h"
#include "check.h"
#include "date.h"
#include "record.h"

static const char *const check_params[P_COUNT] = {
	"check", "card", "permit", "scheme", "region", "at", "birth", "nonce",
	"code"
};

/* Each parameter's "given twice" message: it names ours, not the client's. */
static const char *const check_twice[P_COUNT] = {
	"check is given twice", "card is given twice", "permit is given twice",
	"scheme is given twice", "region is given twice", "at is given twice",
	"birth is given twice", "nonce is given twice", "code is given twice"
};

static enum stmt_reason check_validity(const struct card *, int32_t);
static enum stmt_reason check_coverage(const struct check_req *,
		    const struct card *, int32_t);

/* An empty request for one check. */
void
check_init(struct check_req *r, enum stmt_check check)
{
	/* Not the code's 2 KB: only by_code says whether it holds one. */
	memset(r, 0, offsetof(struct check_req, code));
	r->code_len = 0;
	r->iss[0] = '\0';
	r->check = check;
	r->scheme = -1;
	r->region = -1;
}

/* enum check_param of a parameter name, or -1. */
int
check_param_lookup(const char *name, size_t len)
{
	for (int i = 0; i < P_COUNT; i++)
		if (strlen(check_params[i]) == len &&
		    memcmp(check_params[i], name, len) == 0)
			return i;
	return -1;
}

/*
 * "WHAT NAME" for a name the client sent that we do not know, into buf;
 * the name only when it is 1-16 of a-z and _ (so never a card number,
 * a code or other data a client put in the wrong place).
 */
const char *
check_unknown(const char *what, const char *name, size_t len, char *buf,
    size_t cap)
{
	size_t i = 0;

	while (i < len && i < 16 && ((name[i] >= 'a' && name[i] <= 'z') ||
	    name[i] == '_'))
		i++;
	if (len == 0 || i != len)
		snprintf(buf, cap, "%s", what);
	else
		snprintf(buf, cap, "%s %.*s", what, (int)len, name);
	return buf;
}

/* Name of a parameter. */
const char *
check_param_name(enum check_param p)
{
	return check_params[p];
}

/*
 * Set one parameter. Returns 0, or -1 with *err a message for the
 * client (it names the parameter, never echoes the value).
 */
int
check_set(struct check_req *r, enum check_param p, const char *v, size_t len,
    const char **err)
{
	int n;

	if (r->seen & (1u << p)) {
		*err = check_twice[p];
		return -1;
	}
	r->seen |= 1u << p;
	switch (p) {
	case P_CHECK:
		if ((n = stmt_check_lookup(v, len)) < 0) {
			*err = "check must be validity or coverage";
			return -1;
		}
		r->check = (enum stmt_check)n;
		return 0;
	case P_CARD:
	case P_PERMIT:
		if ((n = record_id_normalize(v, len, r->id)) < 0) {
			*err = p == P_CARD ?
			    "card must be 6-32 characters of 0-9 and A-Z" :
			    "permit must be 6-32 characters of 0-9 and A-Z";
			return -1;
		}
		r->id_len = (size_t)n;
		r->by_permit = p == P_PERMIT;
		return 0;
	case P_SCHEME:
		if ((r->scheme = stmt_scheme_lookup(v, len)) < 0) {
			*err = "scheme must be medical, pension, "
			    "unemployment, injury or maternity";
			return -1;
		}
		return 0;
	case P_REGION:
		if (record_region_parse(v, len, &r->region) != 0) {
			*err = "region must be a six-digit code";
			return -1;
		}
		return 0;
	case P_AT:
	case P_BIRTH:
		if (date_parse(v, len, p == P_AT ? &r->at : &r->birth) != 0) {
			*err = p == P_AT ? "at must be a real date YYYY-MM-DD" :
			    "birth must be a real date YYYY-MM-DD";
			return -1;
		}
		*(p == P_AT ? &r->has_at : &r->has_birth) = 1;
		return 0;
	case P_CODE:
		if (len > CARDCODE_MAX) {
			*err = "code is longer than 2048 bytes";
			return -1;
		}
		memcpy(r->code, v, len);
		r->code_len = len;
		r->by_code = 1;
		return 0;
	case P_NONCE:
		if (len > STMT_NONCE_MAX || !b64url_valid(v, len)) {
			*err = "nonce must be 1-64 characters of base64url";
			return -1;
		}
		memcpy(r->nonce, v, len);
		r->nonce_len = len;
		r->has_nonce = 1;
		return 0;
	default:
		*err = "unknown parameter";
		return -1;
	}
}

/* Check that the parameters make one well-formed request. */
int
check_finish(struct check_req *r, const char **err)
{
	unsigned ids = r->seen & (1u << P_CARD | 1u << P_PERMIT | 1u << P_CODE);

	if (ids == 0 || (ids & (ids - 1)) != 0) {
		*err = "exactly one of card, permit and code is required";
		return -1;
	}
	if (r->check == STMT_VALIDITY &&
	    (r->seen & (1u << P_SCHEME | 1u << P_REGION))) {
		*err = "scheme and region belong to coverage checks";
		return -1;
	}
	if (r->check == STMT_COVERAGE && r->scheme < 0) {
		*err = "scheme is required for a coverage check";
		return -1;
	}
	return 0;
}

/* Reasons 4-5: status, then the permit's dates. */
static enum stmt_reason
check_validity(const struct card *c, int32_t at)
{
	switch (c->status) {
	case STATUS_SUSPENDED:
		return REASON_CARD_SUSPENDED;
	case STATUS_LOST:
		return REASON_CARD_LOST;
	case STATUS_REVOKED:
		return REASON_CARD_REVOKED;
	}
	if (at < c->permit_from)
		return REASON_PERMIT_NOT_YET_VALID;
	if (at > c->permit_until)
		return REASON_PERMIT_EXPIRED;
	return REASON_OK;
}

/* Reasons 6-9: enrolment, coverage dates, region. */
static enum stmt_reason
check_coverage(const struct check_req *r, const struct card *c, int32_t at)
{
	const struct card_cover *cv = &c->cover[r->scheme];

	if (!(c->enrolled & (1u << r->scheme)))
		return REASON_NOT_ENROLLED;
	if (at < cv->from)
		return REASON_COVERAGE_NOT_STARTED;
	if (at > cv->until)
		return REASON_COVERAGE_LAPSED;
	if (r->region < 0 || r->region == c->region ||
	    (c->flags & CARD_XREGION_ALL))
		return REASON_OK;
	for (int i = 0; i < c->nxregion; i++)
		if (c->xregion[i] == r->region)
			return REASON_OK;
	return REASON_REGION_NOT_COVERED;
}

/*
 * The reason for this request against card c (NULL: no such card), at
 * day "at". A holder whose birth date the record lacks cannot be matched,
 * so a given birth is then no mismatch, and the record answers
 * record_invalid. With require_birth, anything short of a matching birth
 * date answers as an unknown card, so a card number alone tells nothing.
 */
enum stmt_reason
check_eval(const struct check_req *r, const struct card *c, int32_t at,
    int require_birth)
{
	int known_birth = c != NULL && (c->flags & CARD_HAS_BIRTH);

	if (c == NULL)
		return REASON_UNKNOWN_CARD;
	if (require_birth && (!r->has_birth || !known_birth ||
	    r->birth != c->birth))
		return REASON_UNKNOWN_CARD;
	if (r->has_birth && known_birth && r->birth != c->birth)
		return REASON_HOLDER_MISMATCH;
	if (c->flags & CARD_INVALID)
		return REASON_RECORD_INVALID;
	if (check_validity(c, at) != REASON_OK || r->check == STMT_VALIDITY)
		return check_validity(c, at);
	return check_coverage(r, c, at);
}
