/* SPDX-License-Identifier: MIT */
/*
 * SM2 signatures with SM3 (GM/T 0003, GM/T 0004; user ID of GM/T 0009)
 * through OpenSSL 3, in the JWS form of PROTOCOL.md §11: r‖s, 64 bytes.
 */
#ifndef CARDD_SM2_H
#define CARDD_SM2_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#define SM2_ID		"1234567812345678"	/* GM/T 0009's default */
#define SM2_COORD_LEN	32
#define SM2_PUB_LEN	(2 * SM2_COORD_LEN)	/* X ‖ Y */
#define SM2_SIG_LEN	64			/* r ‖ s */

int		 sm2_is_key(EVP_PKEY *, const char **why);
EVP_PKEY	*sm2_pkey(const uint8_t pub[SM2_PUB_LEN]);
int		 sm2_pub(EVP_PKEY *, uint8_t pub[SM2_PUB_LEN]);
int		 sm2_sign(EVP_MD_CTX *, EVP_PKEY *, const void *msg, size_t len,
		    uint8_t sig[SM2_SIG_LEN]);
int		 sm2_verify(EVP_PKEY *, const void *msg, size_t len,
		    const uint8_t sig[SM2_SIG_LEN]);
int		 sm2_sig_from_der(const uint8_t *der, size_t len,
		    uint8_t sig[SM2_SIG_LEN]);
int		 sm2_sig_to_der(const uint8_t sig[SM2_SIG_LEN], uint8_t *der,
		    size_t *len);

#endif
