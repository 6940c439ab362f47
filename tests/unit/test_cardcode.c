/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for protocol/cardcode.c against the worked example of
 * PROTOCOL.md §10 (the RFC 8037 A.1 key): what reads, what is a bad
 * request and what an invalid code, the time rules at their boundaries.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "b64url.h"
#include "cardcode.h"
#include "code_example.h"
#include "testhelp.h"

#define SIG64	"." \
    "lpYWVym_zWGGFQI9rbGiZVbrzjKABTCJKV_N1_sWdsvA3l1Vb-b5lXV93tZjmDljG_R" \
    "3BtlGcVqWcO4kT_uuDg"

static uint8_t pub[JWS_PUB_LEN];
static EVP_PKEY *pkey;

static enum cardcode_verdict parse_parts(const char *, const char *,
		    struct cardcode *, const char **);

/* Parse b64url(hdr).b64url(claims) with the example's signature. */
static enum cardcode_verdict
parse_parts(const char *hdr, const char *claims, struct cardcode *cc,
    const char **err)
{
	static char text[4096];
	size_t n = b64url_encode(hdr, strlen(hdr), text);

	text[n++] = '.';
	n += b64url_encode(claims, strlen(claims), text + n);
	memcpy(text + n, SIG64, sizeof(SIG64));
	n += sizeof(SIG64) - 1;
	return cardcode_parse(codec_guarded(text, n), n, cc, err);
}

/* The worked example reads, verifies, and hashes as documented. */
static void
test_example(void)
{
	const char *text = codec_guarded(GOOD, sizeof(GOOD) - 1), *err;
	struct cardcode cc;
	char hash[CARDCODE_HASH_LEN];

	CHECK_EQ_INT(cardcode_parse(text, sizeof(GOOD) - 1, &cc, &err),
	    CARDCODE_OK);
	CHECK_EQ_STR(cc.kid, strlen(cc.kid),
	    "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
	CHECK_EQ_STR(cc.iss, strlen(cc.iss), "demo-card-platform");
	CHECK_EQ_STR(cc.sub, strlen(cc.sub), "000000000001");
	CHECK(cc.iat == IAT && cc.exp == IAT + 60 && cc.nbf == 0);
	CHECK_EQ_INT(cardcode_verify(&cc, pkey), 1);
	cardcode_hash(GOOD, sizeof(GOOD) - 1, hash);
	CHECK_EQ_STR(hash, sizeof(hash),
	    "h-5CpyzoGEQ_TZ0G_oGG5qznVBSjr2Y3JCnsmHUzZzs");
}

/* Every byte of the signing input and the signature is covered. */
static void
test_tampered(void)
{
	char text[sizeof(GOOD)];
	struct cardcode cc;
	const char *err;
	size_t sig = strrchr(GOOD, '.') - GOOD + 1;

	memcpy(text, GOOD, sizeof(GOOD));
	text[sig + 3] = text[sig + 3] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(cardcode_parse(text, sizeof(GOOD) - 1, &cc, &err),
	    CARDCODE_OK);
	CHECK_EQ_INT(cardcode_verify(&cc, pkey), 0);
	memcpy(text, GOOD, sizeof(GOOD));
	text[sig - 5] = text[sig - 5] == 'A' ? 'B' : 'A';
	if (cardcode_parse(text, sizeof(GOOD) - 1, &cc, &err) == CARDCODE_OK)
		CHECK_EQ_INT(cardcode_verify(&cc, pkey), 0);
}

/* Not a code at all: bad requests, each with its reason. */
static void
test_bad(void)
{
	static const char *const texts[] = {
		"", "abc", "a.b", "a.b.c.d", ".b.c", "a..c", "a.b.",
		"a*b.c.d", "eyJ9.eyJ9.AAAA",
	};
	static char big[CARDCODE_MAX + 2];
	struct cardcode cc;
	const char *err;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		err = NULL;
		CHECK_EQ_INT(cardcode_parse(codec_guarded(texts[i],
		    strlen(texts[i])), strlen(texts[i]), &cc, &err),
		    CARDCODE_BAD);
		CHECK(err != NULL);
	}
	memset(big, 'A', sizeof(big) - 1);
	CHECK_EQ_INT(cardcode_parse(big, CARDCODE_MAX + 1, &cc, &err),
	    CARDCODE_BAD);
	CHECK_EQ_INT(parse_parts("{\"alg\":\"none\"}", "{}", &cc, &err),
	    CARDCODE_BAD);
	CHECK_EQ_STR(err, strlen(err), "code alg must be EdDSA or SM2");
	CHECK_EQ_INT(parse_parts("{\"alg\":\"HS256\",\"kid\":\"k\"}", "{}",
	    &cc, &err), CARDCODE_BAD);
	CHECK_EQ_INT(parse_parts("[\"EdDSA\"]", "{}", &cc, &err),
	    CARDCODE_BAD);
	CHECK_EQ_INT(parse_parts("{\"alg\":\"EdDSA\",\"alg\":\"EdDSA\"}", "{}",
	    &cc, &err), CARDCODE_BAD);
	CHECK_EQ_INT(parse_parts("{\"alg\":\"EdDSA\"}", "\"x\"", &cc, &err),
	    CARDCODE_BAD);
}

/* A code, but not one to accept: invalid, with the issuer kept. */
static void
test_invalid(void)
{
	static const char *const hdrs[] = {
		"{\"alg\":\"EdDSA\",\"typ\":\"card-code+jwt\"}",
		"{\"alg\":\"EdDSA\",\"kid\":\"k\"}",
		"{\"alg\":\"EdDSA\",\"kid\":\"k\",\"typ\":\"JWT\"}",
		"{\"alg\":\"EdDSA\",\"kid\":\"k\",\"typ\":\"card-code+jwt\","
		    "\"crit\":[\"x\"]}",
	};
	static const char *const claims[] = {
		"{\"sub\":\"ABC123\",\"iat\":1,\"exp\":2,\"jti\":\"abcdefgh\"}",
		"{\"iss\":\"a b\",\"sub\":\"ABC123\",\"iat\":1,\"exp\":2,"
		    "\"jti\":\"abcdefgh\"}",
		"{\"iss\":\"x\",\"sub\":\"ABC123\",\"iat\":1.5,\"exp\":2,"
		    "\"jti\":\"abcdefgh\"}",
		"{\"iss\":\"x\",\"sub\":\"ABC123\",\"iat\":1,\"jti\":"
		    "\"abcdefgh\"}",
		"{\"iss\":\"x\",\"sub\":\"ABC123\",\"iat\":1,\"exp\":2,\"jti\":"
		    "\"short\"}",
		"{\"iss\":\"x\",\"sub\":7,\"iat\":1,\"exp\":2,\"jti\":"
		    "\"abcdefgh\"}",
	};
	const char *ok = "{\"alg\":\"EdDSA\",\"kid\":\"k\",\"typ\":"
	    "\"Application/Card-Code+JWT\"}";
	struct cardcode cc;
	const char *err;

	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
		CHECK_EQ_INT(parse_parts(hdrs[i], "{\"iss\":\"x\"}", &cc, &err),
		    CARDCODE_INVALID);
	for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
		CHECK_EQ_INT(parse_parts(ok, claims[i], &cc, &err),
		    CARDCODE_INVALID);
		CHECK(cc.why != NULL);
	}
	CHECK_EQ_INT(parse_parts(ok, "{\"iss\":\"x\",\"sub\":\"ABC123\",\"iat"
	    "\":1,\"exp\":2,\"jti\":\"abcdefgh\"}", &cc, &err), CARDCODE_OK);
}

/* The time rules at their boundaries (max 120 s, skew 30 s). */
static void
test_times(void)
{
	struct cardcode cc;

	memset(&cc, 0, sizeof(cc));
	cc.iat = IAT;
	cc.exp = IAT + 120;
	CHECK_EQ_INT(cardcode_times(&cc, IAT, 120, 30), CARDCODE_OK);
	CHECK_EQ_INT(cardcode_times(&cc, IAT - 30, 120, 30), CARDCODE_OK);
	CHECK_EQ_INT(cardcode_times(&cc, IAT - 31, 120, 30), CARDCODE_INVALID);
	CHECK_EQ_INT(cardcode_times(&cc, IAT + 150, 120, 30), CARDCODE_OK);
	CHECK_EQ_INT(cardcode_times(&cc, IAT + 151, 120, 30), CARDCODE_EXPIRED);
	cc.exp = IAT + 121;
	CHECK_EQ_INT(cardcode_times(&cc, IAT, 120, 30), CARDCODE_INVALID);
	cc.exp = IAT;
	CHECK_EQ_INT(cardcode_times(&cc, IAT, 120, 30), CARDCODE_INVALID);
	cc.exp = IAT + 60;
	cc.nbf = IAT + 31;
	CHECK_EQ_INT(cardcode_times(&cc, IAT, 120, 30), CARDCODE_INVALID);
	cc.nbf = IAT + 30;
	CHECK_EQ_INT(cardcode_times(&cc, IAT, 120, 30), CARDCODE_OK);
}

int
main(void)
{
	CHECK(b64url_decode(A1_X, strlen(A1_X), pub, sizeof(pub)) ==
	    JWS_PUB_LEN);
	CHECK((pkey = jws_pkey(pub)) != NULL);
	test_example();
	test_tampered();
	test_bad();
	test_invalid();
	test_times();
	EVP_PKEY_free(pkey);
	TEST_REPORT("cardcode");
}
