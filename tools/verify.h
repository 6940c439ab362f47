/* SPDX-License-Identifier: MIT */
/* Verifying a signed answer against a JWKS, for cardctl and cardbench. */
#ifndef CARDD_VERIFY_H
#define CARDD_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "jws.h"
#include "stmt.h"

enum verify_result {
	VERIFY_OK,
	VERIFY_FORMAT,		/* neither H..S nor H..S~n~index~path */
	VERIFY_HEADER,		/* header not JSON, alg not EdDSA/SM2, no kid */
	VERIFY_KID,		/* no key of that alg and kid in the JWKS */
	VERIFY_SIGNATURE,	/* the signature does not hold */
	VERIFY_PROOF,		/* the path fits no tree of n leaves */
	VERIFY_ERROR		/* cannot tell (out of memory, OpenSSL) */
};

struct verify_key {
	char		kid[STMT_KID_MAX];
	size_t		kid_len;
	enum jws_alg	alg;
	uint8_t		pub[JWS_PUB_MAX];
	EVP_PKEY	*pkey;		/* made once, shared by threads */
};

/* The Ed25519 and SM2 keys of one or more JWKSs; read-only once loaded. */
struct verify_keys {
	struct verify_key	*v;
	size_t			 n;
	int			 not_json;	/* a JWKS given was not JSON */
};

/* What a verification found besides its result. */
struct verify_info {
	int			 batch;		/* a batch proof, not a JWS */
	const struct verify_key	*key;		/* the key that signed */
	uint64_t		 n;		/* batch: leaves, leaf index */
	uint64_t		 index;
};

int	verify_keys_add(struct verify_keys *, const char *jwks, size_t len);
void	verify_keys_free(struct verify_keys *);
enum verify_result verify_answer(const struct verify_keys *, const char *msg,
	    size_t len, const char *sig, size_t sig_len, struct verify_info *,
	    char *why, size_t whylen);

#endif
