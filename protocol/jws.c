/* SPDX-License-Identifier: MIT */
/*
 * Detached JWS with EdDSA over Ed25519 (RFC 7515 appendix F, RFC 8037) and
 * the JWK forms of a public key (RFC 7517, RFC 7638 thumbprint). Signing
 * lives with the keys in daemon/sign.c; this file builds and splits the
 * compact forms, and verifies, for cardctl, cardbench and the tests.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "jws.h"

static size_t	jws_cat(char *out, size_t at, const char *s, size_t len);

/* Append a string literal. */
#define JWS_LIT(out, at, lit)	jws_cat(out, at, lit, sizeof(lit) - 1)

/* Copy bytes at an offset and return the new offset. */
static size_t
jws_cat(char *out, size_t at, const char *s, size_t len)
{
	memcpy(out + at, s, len);
	return at + len;
}

/* b64url of the protected header {"alg":"EdDSA","kid":"…"}. */
size_t
jws_header(const char *kid, size_t kid_len, char *out)
{
	char json[24 + STMT_KID_MAX];
	size_t n = 0;

	if (kid_len > STMT_KID_MAX)
		kid_len = STMT_KID_MAX;
	n = JWS_LIT(json, n, "{\"alg\":\"EdDSA\",\"kid\":\"");
	n = jws_cat(json, n, kid, kid_len);
	n = JWS_LIT(json, n, "\"}");
	return b64url_encode(json, n, out);
}

/*
 * The JWS signing input: header "." b64url(msg). out needs
 * hdr_len + 1 + B64URL_LEN(msg_len) bytes.
 */
size_t
jws_signing_input(const char *hdr, size_t hdr_len, const void *msg,
    size_t msg_len, char *out)
{
	size_t n = jws_cat(out, 0, hdr, hdr_len);

	out[n++] = '.';
	return n + b64url_encode(msg, msg_len, out + n);
}

/* The detached form: header ".." b64url(signature). */
size_t
jws_detached(const char *hdr, size_t hdr_len, const uint8_t sig[JWS_SIG_LEN],
    char *out)
{
	size_t n = jws_cat(out, 0, hdr, hdr_len);

	n = JWS_LIT(out, n, "..");
	return n + b64url_encode(sig, JWS_SIG_LEN, out + n);
}

/*
 * Split a detached JWS into its header and signature. The payload part
 * must be empty: a statement travels beside its signature, never in it.
 */
int
jws_split(const char *jws, size_t len, struct jws_parts *p)
{
	const char *dot = memchr(jws, '.', len);
	size_t rest;

	if (dot == NULL || dot == jws)
		return -1;
	p->hdr = jws;
	p->hdr_len = (size_t)(dot - jws);
	if (!b64url_valid(p->hdr, p->hdr_len))
		return -1;
	rest = len - p->hdr_len - 1;
	if (rest < 1 || dot[1] != '.')
		return -1;
	if (b64url_decode(dot + 2, rest - 1, p->sig, JWS_SIG_LEN) !=
	    JWS_SIG_LEN)
		return -1;
	return 0;
}

/*
 * Verify an Ed25519 signature over a whole signing input. Returns 1 when
 * it holds, 0 when it does not, -1 when it cannot be checked.
 */
int
jws_verify_input(const uint8_t pub[JWS_PUB_LEN], const void *input,
    size_t len, const uint8_t sig[JWS_SIG_LEN])
{
	EVP_PKEY *key = jws_pkey(pub);
	int rc = key != NULL ? jws_verify_pkey(key, input, len, sig) : -1;

	EVP_PKEY_free(key);
	return rc;
}

/* An Ed25519 public key, made once for many verifications (NULL: none). */
EVP_PKEY *
jws_pkey(const uint8_t pub[JWS_PUB_LEN])
{
	return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
	    JWS_PUB_LEN);
}

/*
 * Verify sig over input with key, which stays unchanged (so threads may
 * share it, as OpenSSL 3 allows). Returns as jws_verify_input().
 */
int
jws_verify_pkey(EVP_PKEY *key, const void *input, size_t len,
    const uint8_t sig[JWS_SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1)
		rc = EVP_DigestVerify(ctx, sig, JWS_SIG_LEN, input, len) == 1;
	EVP_MD_CTX_free(ctx);
	return rc;
}

/*
 * Verify a detached Ed25519 JWS over msg. scratch holds the signing
 * input and needs hdr_len + 1 + B64URL_LEN(msg_len) bytes. Returns as
 * jws_verify_input().
 */
int
jws_verify(const uint8_t pub[JWS_PUB_LEN], const struct jws_parts *p,
    const void *msg, size_t msg_len, char *scratch, size_t cap)
{
	size_t n;

	if (cap < p->hdr_len + 1 + B64URL_LEN(msg_len))
		return -1;
	n = jws_signing_input(p->hdr, p->hdr_len, msg, msg_len, scratch);
	return jws_verify_input(pub, scratch, n, p->sig);
}

/* RFC 7638 thumbprint: SHA-256 of the required members in lexical order. */
void
jws_thumbprint(const uint8_t pub[JWS_PUB_LEN], char out[JWS_THUMB_LEN])
{
	char json[80];
	uint8_t digest[SHA256_DIGEST_LENGTH];
	size_t n = 0;

	n = JWS_LIT(json, n, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"");
	n += b64url_encode(pub, JWS_PUB_LEN, json + n);
	n = JWS_LIT(json, n, "\"}");
	SHA256((const unsigned char *)json, n, digest);
	b64url_encode(digest, sizeof(digest), out);
}

/* The public JWK as one JSON object; out needs JWS_JWK_MAX bytes. */
size_t
jws_jwk(const uint8_t pub[JWS_PUB_LEN], const char *kid, size_t kid_len,
    char *out)
{
	size_t n = 0;

	if (kid_len > STMT_KID_MAX)
		kid_len = STMT_KID_MAX;
	n = JWS_LIT(out, n, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"");
	n += b64url_encode(pub, JWS_PUB_LEN, out + n);
	n = JWS_LIT(out, n, "\",\"kid\":\"");
	n = jws_cat(out, n, kid, kid_len);
	n = JWS_LIT(out, n, "\",\"use\":\"sig\",\"alg\":\"EdDSA\"}");
	return n;
}
