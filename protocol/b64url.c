/* SPDX-License-Identifier: MIT */
/* base64url without padding (RFC 4648 §5), as JWS uses it. */
#include "b64url.h"

static const char b64url_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int	b64url_value(char c);

/* Encode len bytes; out needs B64URL_LEN(len) bytes. Returns that length. */
size_t
b64url_encode(const void *in, size_t len, char *out)
{
	const uint8_t *p = in;
	char *o = out;
	size_t i;

	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
		    p[i + 2];
		*o++ = b64url_alphabet[v >> 18];
		*o++ = b64url_alphabet[v >> 12 & 63];
		*o++ = b64url_alphabet[v >> 6 & 63];
		*o++ = b64url_alphabet[v & 63];
	}
	if (len - i == 1) {
		*o++ = b64url_alphabet[p[i] >> 2];
		*o++ = b64url_alphabet[(p[i] & 3) << 4];
	} else if (len - i == 2) {
		*o++ = b64url_alphabet[p[i] >> 2];
		*o++ = b64url_alphabet[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = b64url_alphabet[(p[i + 1] & 15) << 2];
	}
	return (size_t)(o - out);
}

/* Value of one alphabet character, or -1. */
static int
b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* True when s is non-empty and made only of the alphabet. */
int
b64url_valid(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (b64url_value(s[i]) < 0)
			return 0;
	return 1;
}

/*
 * Decode strictly: no padding, no stray characters, and unused trailing
 * bits must be zero, so that every byte string has exactly one encoding.
 * Returns the decoded length or -1.
 */
ssize_t
b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	size_t bits = 0, n = 0;

	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64url_value(in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	if (acc & ((1u << bits) - 1))
		return -1;
	return (ssize_t)n;
}
