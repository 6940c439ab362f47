/* SPDX-License-Identifier: MIT */
/* Unit tests for protocol/b64url.c: RFC 4648 §5 without padding, strictly. */
#include <stdint.h>
#include <string.h>

#include "b64url.h"
#include "testhelp.h"

static ssize_t	decode(const char *s, uint8_t *out, size_t cap);

/* Decode a string placed right before unreadable memory. */
static ssize_t
decode(const char *s, uint8_t *out, size_t cap)
{
	size_t len = strlen(s);

	return b64url_decode(codec_guarded(s, len), len, out, cap);
}

/* RFC 4648 §10 test vectors, in the url alphabet without '=' padding. */
static void
test_rfc4648_vectors(void)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char enc[16];
		uint8_t dec[16];
		size_t n = strlen(v[i].in);

		memset(enc, '#', sizeof(enc));
		CHECK_EQ_INT(b64url_encode(v[i].in, n, enc), strlen(v[i].out));
		CHECK_EQ_STR(enc, strlen(v[i].out), v[i].out);
		CHECK(enc[strlen(v[i].out)] == '#');
		CHECK_EQ_INT(B64URL_LEN(n), strlen(v[i].out));
		/* Exact capacity is enough. */
		CHECK_EQ_INT(decode(v[i].out, dec, n), n);
		CHECK(memcmp(dec, v[i].in, n) == 0);
	}
}

/* Bytes whose standard encoding has + and / use - and _ instead. */
static void
test_url_alphabet(void)
{
	static const uint8_t fbff[] = { 0xfb, 0xff }, ones[] = { 0xff, 0xff,
	    0xff }, dashes[] = { 0xfb, 0xef, 0xbe };
	char enc[8];
	uint8_t dec[8];

	CHECK_EQ_INT(b64url_encode(fbff, 2, enc), 3);
	CHECK_EQ_STR(enc, 3, "-_8");
	CHECK_EQ_INT(decode("-_8", dec, sizeof(dec)), 2);
	CHECK(dec[0] == 0xfb && dec[1] == 0xff);
	CHECK_EQ_INT(b64url_encode(ones, 3, enc), 4);
	CHECK_EQ_STR(enc, 4, "____");
	CHECK_EQ_INT(b64url_encode(dashes, 3, enc), 4);
	CHECK_EQ_STR(enc, 4, "----");
	/* The standard alphabet's + and / are not base64url. */
	CHECK_EQ_INT(decode("+_8", dec, sizeof(dec)), -1);
	CHECK_EQ_INT(decode("-/8", dec, sizeof(dec)), -1);
}

/* Padding, stray characters and impossible lengths are refused. */
static void
test_decoder_rejects(void)
{
	static const char *const bad[] = {
		"Zg==", "Zg=", "Zm8=", "Zm9v====", "=", "Zm9v=", "Zm 9v",
		"Zm9v ", " Zm9v", "Zm9v\n", "Zm9\r", "Zm.v", "Zm9v!", "Zm9\x80",
		"Z", "Zm9vY", "Zm9vYmFyZ",
	};
	uint8_t dec[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(decode(bad[i], dec, sizeof(dec)), -1);
	/* A NUL byte inside the input. */
	CHECK_EQ_INT(b64url_decode(codec_guarded("Zm\0v", 4), 4, dec,
	    sizeof(dec)), -1);
}

/* Unused trailing bits must be zero: one encoding per byte string. */
static void
test_non_canonical(void)
{
	uint8_t dec[8];

	CHECK_EQ_INT(decode("Zg", dec, sizeof(dec)), 1);
	CHECK_EQ_INT(decode("Zh", dec, sizeof(dec)), -1);
	CHECK_EQ_INT(decode("Zv", dec, sizeof(dec)), -1);
	CHECK_EQ_INT(decode("Zm8", dec, sizeof(dec)), 2);
	CHECK_EQ_INT(decode("Zm9", dec, sizeof(dec)), -1);
	CHECK_EQ_INT(decode("Zm-", dec, sizeof(dec)), -1);
	CHECK_EQ_INT(decode("-_8", dec, sizeof(dec)), 2);
	CHECK_EQ_INT(decode("-_9", dec, sizeof(dec)), -1);
	CHECK_EQ_INT(decode("-__", dec, sizeof(dec)), -1);
}

/* The decoder never writes past cap, and says so instead. */
static void
test_capacity(void)
{
	uint8_t dec[8];

	memset(dec, 0xaa, sizeof(dec));
	CHECK_EQ_INT(decode("Zm9vYmFy", dec, 5), -1);
	CHECK(dec[5] == 0xaa);
	CHECK_EQ_INT(decode("Zm9vYmFy", dec, 6), 6);
	CHECK_EQ_INT(decode("Zg", dec, 0), -1);
	CHECK_EQ_INT(decode("", dec, 0), 0);
	CHECK_EQ_INT(decode("Zm9vYmE", dec, 4), -1);
	CHECK_EQ_INT(decode("Zm9vYmE", dec, 5), 5);
}

/* b64url_valid: non-empty, alphabet only. */
static void
test_valid(void)
{
	CHECK(b64url_valid("abcXYZ019-_", 11));
	CHECK(!b64url_valid("", 0));
	CHECK(!b64url_valid("abc=", 4));
	CHECK(!b64url_valid("ab c", 4));
	CHECK(!b64url_valid("ab+c", 4));
	CHECK(!b64url_valid("ab/c", 4));
	CHECK(b64url_valid("a", 1));	/* any length: nonces are words */
}

/* Every length 0..200 of varied bytes round-trips, guarded. */
static void
test_round_trip(void)
{
	uint8_t in[200], dec[200];
	char enc[B64URL_LEN(200)];
	long bad = 0;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 151 + 7);
	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t e = b64url_encode(in, n, enc);

		if (e != B64URL_LEN(n) || !(n == 0 || b64url_valid(enc, e)))
			bad++;
		if (b64url_decode(codec_guarded(enc, e), e, dec, n) !=
		    (ssize_t)n || memcmp(dec, in, n) != 0)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
}

int
main(void)
{
	test_rfc4648_vectors();
	test_url_alphabet();
	test_decoder_rejects();
	test_non_canonical();
	test_capacity();
	test_valid();
	test_round_trip();
	TEST_REPORT("b64url");
}
