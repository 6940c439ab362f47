/* SPDX-License-Identifier: MIT */
/* base64url without padding (RFC 4648 §5), as JWS uses it. */
#ifndef CARDD_B64URL_H
#define CARDD_B64URL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define B64URL_LEN(n)	(((n) * 4 + 2) / 3)

size_t	b64url_encode(const void *in, size_t len, char *out);
ssize_t	b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);
int	b64url_valid(const char *s, size_t len);

#endif
