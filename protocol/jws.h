/* SPDX-License-Identifier: MIT */
/* Detached JWS with EdDSA/Ed25519 (RFC 7515 appendix F, RFC 8037), JWKs. */
#ifndef CARDD_JWS_H
#define CARDD_JWS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "b64url.h"
#include "stmt.h"

#define JWS_PUB_LEN	32
#define JWS_SIG_LEN	64
#define JWS_SIG_B64_LEN	86
#define JWS_THUMB_LEN	43	/* b64url of a SHA-256 digest */
/* {"alg":"EdDSA","kid":""} is 24 bytes before the kid. */
#define JWS_HDR_MAX	B64URL_LEN(24 + STMT_KID_MAX)
#define JWS_DETACHED_MAX (JWS_HDR_MAX + 2 + JWS_SIG_B64_LEN)
#define JWS_JWK_MAX	(128 + STMT_KID_MAX)

struct jws_parts {
	const char	*hdr;		/* b64url protected header */
	size_t		 hdr_len;
	uint8_t		 sig[JWS_SIG_LEN];
};

size_t	jws_header(const char *kid, size_t kid_len, char *out);
size_t	jws_signing_input(const char *hdr, size_t hdr_len, const void *msg,
	    size_t msg_len, char *out);
size_t	jws_detached(const char *hdr, size_t hdr_len,
	    const uint8_t sig[JWS_SIG_LEN], char *out);
int	jws_split(const char *jws, size_t len, struct jws_parts *);
EVP_PKEY *jws_pkey(const uint8_t pub[JWS_PUB_LEN]);
int	jws_verify_pkey(EVP_PKEY *, const void *input, size_t len,
	    const uint8_t sig[JWS_SIG_LEN]);
int	jws_verify_input(const uint8_t pub[JWS_PUB_LEN], const void *input,
	    size_t len, const uint8_t sig[JWS_SIG_LEN]);
int	jws_verify(const uint8_t pub[JWS_PUB_LEN], const struct jws_parts *,
	    const void *msg, size_t msg_len, char *scratch, size_t cap);
void	jws_thumbprint(const uint8_t pub[JWS_PUB_LEN],
	    char out[JWS_THUMB_LEN]);
size_t	jws_jwk(const uint8_t pub[JWS_PUB_LEN], const char *kid,
	    size_t kid_len, char *out);

#endif
