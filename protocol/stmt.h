/* SPDX-License-Identifier: MIT */
/* The statement: the signed JSON object of every answer (PROTOCOL.md §3). */
#ifndef CARDD_STMT_H
#define CARDD_STMT_H

#include <stddef.h>
#include <stdint.h>

enum stmt_check { STMT_VALIDITY, STMT_COVERAGE, STMT_CHECK_COUNT };

enum stmt_scheme {
	SCHEME_MEDICAL, SCHEME_PENSION, SCHEME_UNEMPLOYMENT, SCHEME_INJURY,
	SCHEME_MATERNITY, SCHEME_COUNT
};

/* In precedence order (PROTOCOL.md §2): the first failing reason wins. */
enum stmt_reason {
	REASON_OK,
	REASON_CODE_INVALID,		/* §10: asked by code, before all */
	REASON_CODE_EXPIRED,
	REASON_CODE_REPLAYED,
	REASON_UNKNOWN_CARD,
	REASON_HOLDER_MISMATCH,
	REASON_RECORD_INVALID,
	REASON_CARD_SUSPENDED,
	REASON_CARD_LOST,
	REASON_CARD_REVOKED,
	REASON_PERMIT_NOT_YET_VALID,
	REASON_PERMIT_EXPIRED,
	REASON_NOT_ENROLLED,
	REASON_COVERAGE_NOT_STARTED,
	REASON_COVERAGE_LAPSED,
	REASON_REGION_NOT_COVERED,
	REASON_COUNT
};

#define STMT_ID_MAX	32	/* card and permit numbers: 6..32 of 0-9A-Z */
#define STMT_KID_MAX	64
#define STMT_CODE_LEN	43	/* b64url of a SHA-256: a code's hash */
#define STMT_NONCE_MAX	64
#define STMT_MAX	768	/* bound on one statement's bytes */

struct stmt {
	enum stmt_check	 check;
	int		 by_permit;	/* the id is a permit number */
	const char	*id;		/* NULL: not shown (a code's card) */
	size_t		 id_len;
	const char	*code;		/* asked by code: its hash, 43 chars */
	const char	*iss;		/* with code: the issuer, or NULL */
	size_t		 iss_len;
	const char	*permit;	/* with code: the permit shown, or NULL */
	size_t		 permit_len;
	int		 scheme;	/* enum stmt_scheme, or -1 */
	int32_t		 region;	/* 0..999999, or -1 when not asked */
	int32_t		 at;		/* day number */
	enum stmt_reason reason;
	uint64_t	 rev;
	int64_t		 synced_at_ms;
	int64_t		 issued_at_ms;
	const char	*kid;
	size_t		 kid_len;
	const char	*nonce;		/* NULL when not sent */
	size_t		 nonce_len;
	int		 has_until;	/* "until": the scheme's paid-through */
	int32_t		 until;
	int		 replay_local;	/* "replay":"local" */
	const char	*zone;		/* "at_zone": at was today there */
	size_t		 zone_len;
};

const char	*stmt_check_name(enum stmt_check);
const char	*stmt_scheme_name(enum stmt_scheme);
const char	*stmt_reason_name(enum stmt_reason);
const char	*stmt_result_name(enum stmt_check, enum stmt_reason);
int		 stmt_check_lookup(const char *, size_t);
int		 stmt_scheme_lookup(const char *, size_t);
size_t		 stmt_write(const struct stmt *, char *out, size_t cap);

#endif
