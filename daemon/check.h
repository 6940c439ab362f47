/* SPDX-License-Identifier: MIT */
/* The checks of PROTOCOL.md §2: what a request asks, the answer's reason. */
#ifndef CARDD_CHECK_H
#define CARDD_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "cardcode.h"
#include "record.h"
#include "stmt.h"

enum check_param {
	P_CHECK, P_CARD, P_PERMIT, P_SCHEME, P_REGION, P_AT, P_BIRTH, P_NONCE,
	P_CODE, P_COUNT
};

struct check_req {
	enum stmt_check	 check;
	int		 by_permit;
	char		 id[STMT_ID_MAX];
	size_t		 id_len;
	int		 scheme;	/* -1: not asked */
	int32_t		 region;	/* -1: not asked */
	int32_t		 at;		/* valid when has_at */
	int		 has_at;
	int32_t		 birth;		/* valid when has_birth */
	int		 has_birth;
	char		 nonce[STMT_NONCE_MAX];
	size_t		 nonce_len;
	int		 has_nonce;
	unsigned	 seen;		/* bit per enum check_param */
	/* Asked by code (PROTOCOL.md §10); code_store_resolve() fills the
	 * rest, and id with the card the code names. */
	int		 by_code;
	char		 code[CARDCODE_MAX];
	size_t		 code_len;
	enum stmt_reason code_reason;	/* OK, CODE_INVALID or CODE_EXPIRED */
	uint8_t		 code_digest[32];
	char		 code_hash[STMT_CODE_LEN];
	char		 iss[CARDCODE_NAME_MAX + 1];	/* "": none */
};

void	check_init(struct check_req *, enum stmt_check);
int	check_param_lookup(const char *, size_t);
const char *check_param_name(enum check_param);
const char *check_unknown(const char *what, const char *name, size_t len,
	    char *buf, size_t cap);
int	check_set(struct check_req *, enum check_param, const char *,
	    size_t, const char **err);
int	check_finish(struct check_req *, const char **err);
enum stmt_reason check_eval(const struct check_req *, const struct card *,
	    int32_t at, int require_birth);

#endif
