/* SPDX-License-Identifier: MIT */
/* Signing keys (Ed25519 or SM2 through OpenSSL), detached JWS, the JWKS. */
#ifndef CARDD_SIGN_H
#define CARDD_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "jws.h"

#define SIGN_ETAG_MAX	48	/* a quoted base64url SHA-256, NUL ended */

struct sign_keyring;
struct sign_ctx;

struct sign_keyring *sign_keyring_load(const char *path, enum jws_alg,
		    const char *kid, const char *publish,
		    const struct sign_keyring *prev, char *err, size_t errlen);
enum jws_alg	 sign_alg(const struct sign_keyring *);
struct sign_keyring *sign_keyring_ref(struct sign_keyring *);
void		 sign_keyring_free(struct sign_keyring *);
const char	*sign_kid(const struct sign_keyring *, size_t *len);
const char	*sign_jwks(const struct sign_keyring *, size_t *len);
const char	*sign_jwks_etag(const struct sign_keyring *, size_t *len);
size_t		 sign_etag_of(const void *, size_t, char *out);
struct sign_ctx	*sign_ctx_new(void);
void		 sign_ctx_free(struct sign_ctx *);
const char	*sign_header(const struct sign_keyring *, size_t *len);
int		 sign_raw(struct sign_ctx *, const struct sign_keyring *,
		    const void *input, size_t len, uint8_t sig[JWS_SIG_LEN]);
int		 sign_jws(struct sign_ctx *, const struct sign_keyring *,
		    const void *msg, size_t len, char *out, size_t *outlen);

#endif
