/* SPDX-License-Identifier: MIT */
/*
 * SM2 with SM3 through OpenSSL 3's EVP interface (PROTOCOL.md §11). The
 * digest is SM3(Z ‖ M), Z computed by OpenSSL from the user ID SM2_ID
 * and the public key; OpenSSL's signature is DER (SEQUENCE of r, s), the
 * JWS carries r ‖ s, each 32 bytes big-endian, as ES256 does (RFC 7518
 * §3.4). A key is "SM2" only when OpenSSL has it as an SM2 key (PEM from
 * openssl genpkey -algorithm SM2), on the SM2 curve.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "sm2.h"

static EVP_PKEY_CTX *sm2_ctx(EVP_MD_CTX *, EVP_PKEY *, int sign);
static void	sm2_done(EVP_MD_CTX *, EVP_PKEY_CTX *);

/* Is key an SM2 key on the SM2 curve? *why says what it is if not. */
int
sm2_is_key(EVP_PKEY *key, const char **why)
{
	char group[64] = "";
	size_t n;

	if (EVP_PKEY_is_a(key, "SM2") != 1) {
		*why = EVP_PKEY_is_a(key, "EC") == 1 ? "an EC key, not an SM2 "
		    "key (make one with openssl genpkey -algorithm SM2)" :
		    "not an SM2 key";
		return 0;
	}
	if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), &n) != 1 || strcmp(group, "SM2") != 0) {
		*why = "an SM2 key on a curve other than SM2";
		return 0;
	}
	return 1;
}

/* The public key X ‖ Y as an SM2 key (NULL: not a point of the curve). */
EVP_PKEY *
sm2_pkey(const uint8_t pub[SM2_PUB_LEN])
{
	uint8_t pt[1 + SM2_PUB_LEN] = { 0x04 };
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	EVP_PKEY *key = NULL;

	memcpy(pt + 1, pub, SM2_PUB_LEN);
	if (b != NULL && ctx != NULL &&
	    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME,
	    "SM2", 0) == 1 && OSSL_PARAM_BLD_push_octet_string(b,
	    OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)) == 1 &&
	    (params = OSSL_PARAM_BLD_to_param(b)) != NULL &&
	    EVP_PKEY_fromdata_init(ctx) == 1)
		(void)EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

/* The public key of an SM2 key as X ‖ Y; -1 when it has none. */
int
sm2_pub(EVP_PKEY *key, uint8_t pub[SM2_PUB_LEN])
{
	BIGNUM *x = NULL, *y = NULL;
	int rc = -1;

	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1 &&
	    BN_bn2binpad(x, pub, SM2_COORD_LEN) == SM2_COORD_LEN &&
	    BN_bn2binpad(y, pub + SM2_COORD_LEN, SM2_COORD_LEN) ==
	    SM2_COORD_LEN)
		rc = 0;
	BN_free(x);
	BN_free(y);
	return rc;
}

/*
 * Set md up to sign or verify with key: SM3, and the user ID, which
 * OpenSSL takes from a key context given before the init. Returns that
 * context, which md does not own: sm2_done frees it. NULL on failure.
 */
static EVP_PKEY_CTX *
sm2_ctx(EVP_MD_CTX *md, EVP_PKEY *key, int sign)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key, NULL);
	int ok;

	EVP_MD_CTX_reset(md);
	if (pctx == NULL || EVP_PKEY_CTX_set1_id(pctx, SM2_ID,
	    sizeof(SM2_ID) - 1) != 1) {
		EVP_PKEY_CTX_free(pctx);
		return NULL;
	}
	EVP_MD_CTX_set_pkey_ctx(md, pctx);
	ok = sign ? EVP_DigestSignInit(md, NULL, EVP_sm3(), NULL, key) :
	    EVP_DigestVerifyInit(md, NULL, EVP_sm3(), NULL, key);
	if (ok != 1) {
		sm2_done(md, pctx);
		return NULL;
	}
	return pctx;
}

/* Let go of what sm2_ctx set up. */
static void
sm2_done(EVP_MD_CTX *md, EVP_PKEY_CTX *pctx)
{
	EVP_MD_CTX_reset(md);
	EVP_PKEY_CTX_free(pctx);
}

/* Sign msg with an SM2 private key, md the caller's scratch context. */
int
sm2_sign(EVP_MD_CTX *md, EVP_PKEY *key, const void *msg, size_t len,
    uint8_t sig[SM2_SIG_LEN])
{
	EVP_PKEY_CTX *pctx = sm2_ctx(md, key, 1);
	uint8_t der[80];
	size_t dlen = sizeof(der);
	int ok;

	if (pctx == NULL)
		return -1;
	ok = EVP_DigestSign(md, der, &dlen, msg, len) == 1;
	sm2_done(md, pctx);
	return ok ? sm2_sig_from_der(der, dlen, sig) : -1;
}

/* 1 when sig (r ‖ s) holds for msg, 0 when not, -1 when it cannot tell. */
int
sm2_verify(EVP_PKEY *key, const void *msg, size_t len,
    const uint8_t sig[SM2_SIG_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx;
	uint8_t der[80];
	size_t dlen = sizeof(der);
	int rc = -1;

	if (md != NULL && sm2_sig_to_der(sig, der, &dlen) == 0 &&
	    (pctx = sm2_ctx(md, key, 0)) != NULL) {
		rc = EVP_DigestVerify(md, der, dlen, msg, len) == 1;
		sm2_done(md, pctx);
	}
	EVP_MD_CTX_free(md);
	return rc;
}

/* OpenSSL's DER signature as r ‖ s; -1 when it is not one. */
int
sm2_sig_from_der(const uint8_t *der, size_t len, uint8_t sig[SM2_SIG_LEN])
{
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *s;
	int rc = -1;

	if (es == NULL)
		return -1;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, SM2_COORD_LEN) == SM2_COORD_LEN &&
	    BN_bn2binpad(s, sig + SM2_COORD_LEN, SM2_COORD_LEN) ==
	    SM2_COORD_LEN)
		rc = 0;
	ECDSA_SIG_free(es);
	return rc;
}

/* r ‖ s as DER into der (*len: its room, then its length). */
int
sm2_sig_to_der(const uint8_t sig[SM2_SIG_LEN], uint8_t *der, size_t *len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, SM2_COORD_LEN, NULL);
	BIGNUM *s = BN_bin2bn(sig + SM2_COORD_LEN, SM2_COORD_LEN, NULL);
	unsigned char *p = der;
	int n;

	if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s)
	    != 1) {
		ECDSA_SIG_free(es);
		BN_free(r);
		BN_free(s);
		return -1;
	}
	n = i2d_ECDSA_SIG(es, NULL);
	if (n <= 0 || (size_t)n > *len || i2d_ECDSA_SIG(es, &p) != n) {
		ECDSA_SIG_free(es);
		return -1;
	}
	ECDSA_SIG_free(es);
	*len = (size_t)n;
	return 0;
}
