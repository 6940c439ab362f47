/* SPDX-License-Identifier: MIT */
/* cardbench verification: sampled answers checked on their own thread. */
#ifndef CARDBENCH_VERIFY_H
#define CARDBENCH_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "cardbench_req.h"

enum cardbench_vfail {
	VFAIL_OK,
	VFAIL_FORMAT,		/* neither H..S nor H.P.S~index~path */
	VFAIL_HEADER,		/* header not JSON, alg not EdDSA, no kid */
	VFAIL_KID,		/* no key with that kid in the JWKS */
	VFAIL_SIGNATURE,	/* Ed25519 does not hold */
	VFAIL_PROOF,		/* the statement is not a leaf of the root */
	VFAIL_STATEMENT,	/* not the statement asked for */
	VFAIL_NONCE,		/* nonce not echoed */
	VFAIL_COUNT
};

struct cardbench_verify_result {
	uint64_t	ok;
	uint64_t	failed;
	uint64_t	detached;	/* signatures of each kind seen */
	uint64_t	batch;
	uint64_t	fail[VFAIL_COUNT];
	char		first[256];	/* the first failure, described */
};

int		cardbench_verify_keys(const char *jwks, size_t len,
		    const char *scheme);
int		cardbench_verify_start(double cpu_pct);
int		cardbench_verify_submit(const struct cardbench_req *,
		    const char *stmt, size_t stmt_len, const char *sig,
		    size_t sig_len);
void		cardbench_verify_finish(struct cardbench_verify_result *);
enum cardbench_vfail cardbench_verify_one(const struct cardbench_req *,
		    const char *stmt, size_t stmt_len, const char *sig,
		    size_t sig_len, int *batch, char *why, size_t whylen);
const char	*cardbench_verify_fail_name(enum cardbench_vfail);

#endif
