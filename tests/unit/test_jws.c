/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for protocol/jws.c against RFC 8037 appendix A: the Ed25519
 * key of A.1, its RFC 7638 thumbprint (A.3) and the JWS of A.4, made
 * detached (RFC 7515 appendix F) by dropping the payload part.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "b64url.h"
#include "jws.h"
#include "testhelp.h"

/* RFC 8037 A.1 */
#define A1_D	"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define A1_X	"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
/* RFC 8037 A.3 */
#define A3_THUMB "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
/* RFC 8037 A.4 */
#define A4_HDR	"eyJhbGciOiJFZERTQSJ9"
#define A4_PAYLOAD_B64 "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
#define A4_SIG	"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iy" \
		"lGjg5BhVsPt9g7sVvpAr_MuM0KAg"
#define A4_MSG	"Example of Ed25519 signing"

static uint8_t pub[JWS_PUB_LEN];

static int	split(const char *s, struct jws_parts *p);
static int	verify(const struct jws_parts *p, const void *msg, size_t len);

/* jws_split on a guarded copy (the parts then point into it). */
static int
split(const char *s, struct jws_parts *p)
{
	return jws_split(codec_guarded(s, strlen(s)), strlen(s), p);
}

/* jws_verify with a roomy scratch buffer. */
static int
verify(const struct jws_parts *p, const void *msg, size_t len)
{
	char scratch[1024];

	return jws_verify(pub, p, msg, len, scratch, sizeof(scratch));
}

/* A.1: x decodes to 32 bytes, and is the public half of d. */
static void
test_a1_key(void)
{
	uint8_t d[32], derived[32];
	size_t n = sizeof(derived);
	EVP_PKEY *k;

	CHECK_EQ_INT(b64url_decode(A1_X, strlen(A1_X), pub, sizeof(pub)), 32);
	CHECK_EQ_INT(b64url_decode(A1_D, strlen(A1_D), d, sizeof(d)), 32);
	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d, 32);
	CHECK(k != NULL && EVP_PKEY_get_raw_public_key(k, derived, &n) == 1);
	CHECK(n == 32 && memcmp(derived, pub, 32) == 0);
	EVP_PKEY_free(k);
}

/* A.3: the RFC 7638 thumbprint of the A.1 public key. */
static void
test_a3_thumbprint(void)
{
	char out[JWS_THUMB_LEN + 1];

	memset(out, '#', sizeof(out));
	jws_thumbprint(pub, out);
	CHECK_EQ_STR(out, JWS_THUMB_LEN, A3_THUMB);
	CHECK(out[JWS_THUMB_LEN] == '#');
}

/* A.4 made detached: split, then verify over the original payload. */
static void
test_a4_detached(void)
{
	struct jws_parts p;
	uint8_t sig[JWS_SIG_LEN];
	char hdr[64];

	CHECK_EQ_INT(split(A4_HDR ".." A4_SIG, &p), 0);
	CHECK_EQ_STR(p.hdr, p.hdr_len, A4_HDR);
	CHECK_EQ_INT(b64url_decode(A4_SIG, strlen(A4_SIG), sig, sizeof(sig)),
	    64);
	CHECK(memcmp(p.sig, sig, 64) == 0);
	CHECK_EQ_INT(verify(&p, A4_MSG, strlen(A4_MSG)), 1);
	/* The header really is {"alg":"EdDSA"} and the payload part is
	 * b64url of the message. */
	CHECK_EQ_INT(b64url_encode("{\"alg\":\"EdDSA\"}", 15, hdr), 20);
	CHECK_EQ_STR(hdr, 20, A4_HDR);
	CHECK_EQ_INT(b64url_encode(A4_MSG, strlen(A4_MSG), hdr),
	    strlen(A4_PAYLOAD_B64));
	CHECK_EQ_STR(hdr, strlen(A4_PAYLOAD_B64), A4_PAYLOAD_B64);
}

/* Any flipped bit of message, header or signature fails verification. */
static void
test_flipped_bits(void)
{
	char msg[] = A4_MSG, hdr[] = A4_HDR;
	struct jws_parts p, q;
	long wrong = 0;

	CHECK_EQ_INT(split(A4_HDR ".." A4_SIG, &p), 0);
	for (size_t i = 0; i < strlen(msg) * 8; i++) {
		msg[i / 8] ^= (char)(1 << i % 8);
		wrong += verify(&p, msg, strlen(A4_MSG)) != 0;
		msg[i / 8] ^= (char)(1 << i % 8);
	}
	for (size_t i = 0; i < JWS_SIG_LEN * 8; i++) {
		q = p;
		q.sig[i / 8] ^= (uint8_t)(1 << i % 8);
		wrong += verify(&q, A4_MSG, strlen(A4_MSG)) != 0;
	}
	CHECK_EQ_INT(wrong, 0);
	/* Another header (one character changed) is another signing input. */
	q = p;
	hdr[5] = 'X';
	q.hdr = hdr;
	CHECK_EQ_INT(verify(&q, A4_MSG, strlen(A4_MSG)), 0);
	/* A message one byte shorter or longer. */
	CHECK_EQ_INT(verify(&p, A4_MSG, strlen(A4_MSG) - 1), 0);
	CHECK_EQ_INT(verify(&p, A4_MSG ".", strlen(A4_MSG) + 1), 0);
	/* Another key. */
	pub[0] ^= 1;
	CHECK(verify(&p, A4_MSG, strlen(A4_MSG)) != 1);
	pub[0] ^= 1;
	CHECK_EQ_INT(verify(&p, A4_MSG, strlen(A4_MSG)), 1);
}

/* A scratch buffer too small for the signing input: cannot check. */
static void
test_verify_scratch(void)
{
	struct jws_parts p;
	size_t need = strlen(A4_HDR) + 1 + strlen(A4_PAYLOAD_B64);
	char scratch[128];

	CHECK_EQ_INT(split(A4_HDR ".." A4_SIG, &p), 0);
	CHECK_EQ_INT(jws_verify(pub, &p, A4_MSG, strlen(A4_MSG), scratch,
	    need - 1), -1);
	CHECK_EQ_INT(jws_verify(pub, &p, A4_MSG, strlen(A4_MSG), scratch,
	    need), 1);
}

/* Only "header..signature" with a 64-byte signature splits. */
static void
test_split_rejects(void)
{
	static const char *const bad[] = {
		"",
		".",
		"..",
		".." A4_SIG,				/* no header */
		A4_HDR,					/* no dots */
		A4_HDR ".",
		A4_HDR "..",				/* no signature */
		A4_HDR "." A4_SIG,			/* one dot */
		A4_HDR "." A4_PAYLOAD_B64 "." A4_SIG,	/* not detached */
		A4_HDR "..." A4_SIG,
		A4_HDR ".." A4_SIG "A",			/* 87 characters */
		A4_HDR ".." A4_SIG "AA",		/* 65 bytes */
		A4_HDR ".." A4_SIG ".",
		A4_HDR ".." "hgyY0il",			/* short */
		"eyJhb+ciOiJFZERTQSJ9.." A4_SIG,	/* bad header char */
		"eyJhbGciOiJFZERTQSJ9=.." A4_SIG,	/* padded header */
		A4_HDR ".." "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijc"
		    "NR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAh",	/* non-canonical */
		A4_HDR ".." "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijc"
		    "NR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KA=",	/* bad char */
		A4_HDR ".." "hgyY0il_MGCjP0JzlnLWG1PPOt7+09PGcvMg3AIbQR6dWbhijc"
		    "NR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",	/* std alphabet */
	};
	struct jws_parts p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(split(bad[i], &p), -1);
}

/* Header, signing input and detached form have the documented shapes. */
static void
test_builders(void)
{
	char hdr[JWS_HDR_MAX], json[128], in[256], det[JWS_DETACHED_MAX];
	uint8_t sig[JWS_SIG_LEN];
	struct jws_parts p;
	size_t n, m;

	n = jws_header("2026a", 5, hdr);
	m = (size_t)b64url_decode(hdr, n, (uint8_t *)json, sizeof(json));
	CHECK_EQ_STR(json, m, "{\"alg\":\"EdDSA\",\"kid\":\"2026a\"}");
	n = jws_signing_input(A4_HDR, strlen(A4_HDR), A4_MSG, strlen(A4_MSG),
	    in);
	CHECK_EQ_STR(in, n, A4_HDR "." A4_PAYLOAD_B64);
	CHECK_EQ_INT(b64url_decode(A4_SIG, strlen(A4_SIG), sig, 64), 64);
	n = jws_detached(A4_HDR, strlen(A4_HDR), sig, det);
	CHECK_EQ_STR(det, n, A4_HDR ".." A4_SIG);
	/* The longest kid fits the documented bounds and splits back. */
	memset(json, 'k', 64);
	n = jws_header(json, 64, hdr);
	CHECK(n <= JWS_HDR_MAX);
	m = jws_detached(hdr, n, sig, det);
	CHECK(m <= JWS_DETACHED_MAX);
	CHECK_EQ_INT(jws_split(det, m, &p), 0);
	CHECK(p.hdr_len == n && memcmp(p.sig, sig, 64) == 0);
}

/* The JWK of the A.1 key (RFC 7517 / RFC 8037 §2 members). */
static void
test_jwk(void)
{
	char out[JWS_JWK_MAX];
	size_t n = jws_jwk(pub, "2026a", 5, out);

	CHECK_EQ_STR(out, n, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\""
	    A1_X "\",\"kid\":\"2026a\",\"use\":\"sig\",\"alg\":\"EdDSA\"}");
	CHECK(n <= JWS_JWK_MAX);
}

/* Sign a statement with the A.1 key as cardd does; it verifies. */
static void
test_sign_round_trip(void)
{
	static const char msg[] = "{\"v\":1,\"check\":\"validity\"}";
	char hdr[JWS_HDR_MAX], in[512], det[JWS_DETACHED_MAX];
	uint8_t d[32], sig[JWS_SIG_LEN];
	size_t hn, n, siglen = sizeof(sig);
	struct jws_parts p;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY *k;

	b64url_decode(A1_D, strlen(A1_D), d, sizeof(d));
	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d, 32);
	hn = jws_header("kid-1", 5, hdr);
	n = jws_signing_input(hdr, hn, msg, strlen(msg), in);
	CHECK(ctx != NULL && k != NULL &&
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)in, n) == 1);
	n = jws_detached(hdr, hn, sig, det);
	CHECK_EQ_INT(jws_split(det, n, &p), 0);
	CHECK_EQ_INT(verify(&p, msg, strlen(msg)), 1);
	CHECK_EQ_INT(verify(&p, msg, strlen(msg) - 1), 0);
	/* Deterministic Ed25519: the A.4 input gives the A.4 signature. */
	EVP_MD_CTX_reset(ctx);
	CHECK(EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)
	    A4_HDR "." A4_PAYLOAD_B64, strlen(A4_HDR "." A4_PAYLOAD_B64)) == 1);
	n = jws_detached(A4_HDR, strlen(A4_HDR), sig, det);
	CHECK_EQ_STR(det, n, A4_HDR ".." A4_SIG);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
}

int
main(void)
{
	test_a1_key();
	test_a3_thumbprint();
	test_a4_detached();
	test_flipped_bits();
	test_verify_scratch();
	test_split_rejects();
	test_builders();
	test_jwk();
	test_sign_round_trip();
	TEST_REPORT("jws");
}
