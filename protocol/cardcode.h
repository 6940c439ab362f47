/* SPDX-License-Identifier: MIT */
/* Electronic card codes: issuer-signed compact JWS (PROTOCOL.md §10). */
#ifndef CARDD_CARDCODE_H
#define CARDD_CARDCODE_H

#include <stddef.h>
#include <stdint.h>

#include "jws.h"

#define CARDCODE_MAX		2048	/* bytes of code text */
#define CARDCODE_BIND_PREFIX	"code:"	/* fleet bindings' keys, PROTOCOL.md §10 */
#define CARDCODE_NAME_MAX	64	/* iss and kid */
#define CARDCODE_SUB_MAX	64	/* sub as given, before the card rules */
#define CARDCODE_HASH_LEN	JWS_THUMB_LEN	/* b64url of SHA-256 */

enum cardcode_verdict {
	CARDCODE_OK,		/* well formed, claims read */
	CARDCODE_BAD,		/* not a code at all: a bad request */
	CARDCODE_INVALID,	/* a code, but not one to accept */
	CARDCODE_EXPIRED
};

/* What a code says, read (not yet verified) by cardcode_parse(). */
struct cardcode {
	const char	*input;		/* the signing input: header.payload */
	size_t		 input_len;
	uint8_t		 sig[JWS_SIG_LEN];
	enum jws_alg	 alg;		/* EdDSA, or SM2 (PROTOCOL.md §11) */
	char		 kid[CARDCODE_NAME_MAX + 1];
	char		 iss[CARDCODE_NAME_MAX + 1];	/* "" when unusable */
	char		 sub[CARDCODE_SUB_MAX + 1];
	int64_t		 iat;
	int64_t		 exp;
	int64_t		 nbf;		/* 0: absent */
	const char	*why;		/* CARDCODE_INVALID: what, for logs */
};

enum cardcode_verdict cardcode_parse(const char *text, size_t len,
		    struct cardcode *, const char **err);
enum cardcode_verdict cardcode_times(const struct cardcode *, int64_t now,
		    int64_t max_lifetime, int64_t skew);
int		 cardcode_verify(const struct cardcode *, EVP_PKEY *);
void		 cardcode_hash(const char *text, size_t len,
		    char out[CARDCODE_HASH_LEN]);
void		 cardcode_digest(const char *text, size_t len, uint8_t out[32]);
int		 cardcode_name_valid(const char *, size_t);

#endif
