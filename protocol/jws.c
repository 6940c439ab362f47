/* SPDX-License-Identifier: MIT */
/*
 * Detached JWS with EdDSA over Ed25519 (RFC 7515 appendix F, RFC 8037) or
 * SM2 (protocol/sm2.c, PROTOCOL.md §11), and the JWK forms of a public
 * key (RFC 7517, RFC 7638 thumbprint). Signing
 * lives with the keys in daemon/sign.c; this file builds and splits the
 * compact forms, and verifies, for cardctl, cardbench and the tests.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "jws.h"
#include "sm2.h"

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
	return jws_header_alg(JWS_EDDSA, kid, kid_len, out);
}

/* The JWS "alg" name of an algorithm. */
const char *
jws_alg_name(enum jws_alg alg)
{
	return alg == JWS_SM2 ? "SM2" : "EdDSA";
}

/* Bytes of a public key: Ed25519's 32, SM2's X ‖ Y. */
size_t
jws_pub_len(enum jws_alg alg)
{
	return alg == JWS_SM2 ? SM2_PUB_LEN : JWS_PUB_LEN;
}

/* b64url of the protected header {"alg":"…","kid":"…"}. */
size_t
jws_header_alg(enum jws_alg alg, const char *kid, size_t kid_len, char *out)
{
	char json[24 + STMT_KID_MAX];
	size_t n = 0;

	if (kid_len > STMT_KID_MAX)
		kid_len = STMT_KID_MAX;
	n = JWS_LIT(json, n, "{\"alg\":\"");
	n = jws_cat(json, n, jws_alg_name(alg), strlen(jws_alg_name(alg)));
	n = JWS_LIT(json, n, "\",\"kid\":\"");
	n = jws_cat(json, n, kid, kid_len);
	n = JWS_LIT(json, n, "\"}");
	return b64url_encode(json, n, out);
}

/*
 * The alg of a b64url protected header that starts {"alg":"EdDSA" or
 * {"alg":"SM2" (as ours do); -1 for any other.
 */
int
jws_header_alg_of(const char *hdr, size_t hdr_len, enum jws_alg *alg)
{
	uint8_t json[16];
	char b64[B64URL_LEN(15)];
	ssize_t n;

	if (hdr_len < sizeof(b64))
		return -1;
	memcpy(b64, hdr, sizeof(b64));	/* 20 chars: 15 whole bytes */
	if ((n = b64url_decode(b64, sizeof(b64), json, sizeof(json))) != 15)
		return -1;
	if (memcmp(json, "{\"alg\":\"SM2\",", 13) == 0)
		*alg = JWS_SM2;
	else if (memcmp(json, "{\"alg\":\"EdDSA\",", 15) == 0)
		*alg = JWS_EDDSA;
	else
		return -1;
	return 0;
}

/*
 * What a loaded key is: Ed25519 or SM2, with its public key; -1 (and
 * *why) for any other kind of key.
 */
int
jws_key_of(EVP_PKEY *key, enum jws_alg *alg, uint8_t pub[JWS_PUB_MAX],
    const char **why)
{
	size_t len = JWS_PUB_LEN;

	if (EVP_PKEY_get_id(key) == EVP_PKEY_ED25519) {
		*alg = JWS_EDDSA;
		if (EVP_PKEY_get_raw_public_key(key, pub, &len) == 1)
			return 0;
		*why = "cannot read its public key";
		return -1;
	}
	if (!sm2_is_key(key, why))
		return -1;
	*alg = JWS_SM2;
	if (sm2_pub(key, pub) == 0)
		return 0;
	*why = "cannot read its public key";
	return -1;
}

/* A public key to verify with, made once (NULL: not a key of alg). */
EVP_PKEY *
jws_pkey_alg(enum jws_alg alg, const uint8_t *pub)
{
	return alg == JWS_SM2 ? sm2_pkey(pub) : jws_pkey(pub);
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
	EVP_MD_CTX *ctx;
	int rc = -1;

	if (EVP_PKEY_is_a(key, "SM2") == 1)
		return sm2_verify(key, input, len, sig);
	ctx = EVP_MD_CTX_new();
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

/* RFC 7638 thumbprint of an Ed25519 key. */
void
jws_thumbprint(const uint8_t pub[JWS_PUB_LEN], char out[JWS_THUMB_LEN])
{
	jws_thumbprint_alg(JWS_EDDSA, pub, out);
}

/*
 * RFC 7638 thumbprint: SHA-256 of the required members in lexical order
 * (crv, kty, x for OKP; crv, kty, x, y for EC).
 */
void
jws_thumbprint_alg(enum jws_alg alg, const uint8_t *pub,
    char out[JWS_THUMB_LEN])
{
	char json[160];
	uint8_t digest[SHA256_DIGEST_LENGTH];
	size_t n = 0;

	if (alg == JWS_SM2) {
		n = JWS_LIT(json, n, "{\"crv\":\"SM2\",\"kty\":\"EC\",\"x\":\"");
		n += b64url_encode(pub, SM2_COORD_LEN, json + n);
		n = JWS_LIT(json, n, "\",\"y\":\"");
		n += b64url_encode(pub + SM2_COORD_LEN, SM2_COORD_LEN, json + n);
	} else {
		n = JWS_LIT(json, n, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\","
		    "\"x\":\"");
		n += b64url_encode(pub, JWS_PUB_LEN, json + n);
	}
	n = JWS_LIT(json, n, "\"}");
	SHA256((const unsigned char *)json, n, digest);
	b64url_encode(digest, sizeof(digest), out);
}

/* The public JWK of an Ed25519 key; out needs JWS_JWK_MAX bytes. */
size_t
jws_jwk(const uint8_t pub[JWS_PUB_LEN], const char *kid, size_t kid_len,
    char *out)
{
	return jws_jwk_alg(JWS_EDDSA, pub, kid, kid_len, out);
}

/* The public JWK as one JSON object; out needs JWS_JWK_MAX bytes. */
size_t
jws_jwk_alg(enum jws_alg alg, const uint8_t *pub, const char *kid,
    size_t kid_len, char *out)
{
	size_t n = 0;

	if (kid_len > STMT_KID_MAX)
		kid_len = STMT_KID_MAX;
	if (alg == JWS_SM2) {
		n = JWS_LIT(out, n, "{\"kty\":\"EC\",\"crv\":\"SM2\",\"x\":\"");
		n += b64url_encode(pub, SM2_COORD_LEN, out + n);
		n = JWS_LIT(out, n, "\",\"y\":\"");
		n += b64url_encode(pub + SM2_COORD_LEN, SM2_COORD_LEN, out + n);
	} else {
		n = JWS_LIT(out, n, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
		    "\"x\":\"");
		n += b64url_encode(pub, JWS_PUB_LEN, out + n);
	}
	n = JWS_LIT(out, n, "\",\"kid\":\"");
	n = jws_cat(out, n, kid, kid_len);
	n = JWS_LIT(out, n, "\",\"use\":\"sig\",\"alg\":\"");
	n = jws_cat(out, n, jws_alg_name(alg), strlen(jws_alg_name(alg)));
	n = JWS_LIT(out, n, "\"}");
	return n;
}
