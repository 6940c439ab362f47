/* SPDX-License-Identifier: MIT */
/*
 * Detached JWS with EdDSA/Ed25519 (RFC 7515 appendix F, RFC 8037) or SM2
 * (PROTOCOL.md §11), and JWKs.
 */
#ifndef CARDD_JWS_H
#define CARDD_JWS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "b64url.h"
#include "stmt.h"

#define JWS_PUB_LEN	32	/* an Ed25519 key */
#define JWS_PUB_MAX	64	/* any key: SM2's is X ‖ Y */
#define JWS_SIG_LEN	64
#define JWS_SIG_B64_LEN	86
#define JWS_THUMB_LEN	43	/* b64url of a SHA-256 digest */
/* {"alg":"EdDSA","kid":""} is 24 bytes before the kid. */
#define JWS_HDR_MAX	B64URL_LEN(24 + STMT_KID_MAX)
#define JWS_DETACHED_MAX (JWS_HDR_MAX + 2 + JWS_SIG_B64_LEN)
#define JWS_JWK_MAX	(192 + STMT_KID_MAX)

/* The signature algorithms: "EdDSA" (Ed25519) and "SM2" (with SM3). */
enum jws_alg { JWS_EDDSA, JWS_SM2 };

struct jws_parts {
	const char	*hdr;		/* b64url protected header */
	size_t		 hdr_len;
	uint8_t		 sig[JWS_SIG_LEN];
};

size_t	jws_header(const char *kid, size_t kid_len, char *out);
size_t	jws_pub_len(enum jws_alg);
const char *jws_alg_name(enum jws_alg);
size_t	jws_header_alg(enum jws_alg, const char *kid, size_t kid_len,
	    char *out);
int	jws_header_alg_of(const char *hdr, size_t hdr_len, enum jws_alg *);
int	jws_key_of(EVP_PKEY *, enum jws_alg *, uint8_t pub[JWS_PUB_MAX],
	    const char **why);
EVP_PKEY *jws_pkey_alg(enum jws_alg, const uint8_t *pub);
void	jws_thumbprint_alg(enum jws_alg, const uint8_t *pub,
	    char out[JWS_THUMB_LEN]);
size_t	jws_jwk_alg(enum jws_alg, const uint8_t *pub, const char *kid,
	    size_t kid_len, char *out);
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
