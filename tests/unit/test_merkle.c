/* SPDX-License-Identifier: MIT */
/* merkle: RFC 9162 trees, inclusion proofs, the batch proof string. */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "merkle.h"
#include "testhelp.h"

static void	mth(uint8_t (*)[MERKLE_HASH], size_t, uint8_t *);
static void	test_roots_and_paths(void);
static void	test_tamper(void);
static void	test_proof_string(void);

/* RFC 9162 MTH, written as the RFC's recursion, independently of merkle.c. */
static void
mth(uint8_t (*leaves)[MERKLE_HASH], size_t n, uint8_t *out)
{
	uint8_t buf[1 + 2 * MERKLE_HASH];
	size_t k = 1;

	if (n == 1) {
		memcpy(out, leaves[0], MERKLE_HASH);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	buf[0] = 1;
	mth(leaves, k, buf + 1);
	mth(leaves + k, n - k, buf + 1 + MERKLE_HASH);
	SHA256(buf, sizeof(buf), out);
}

/* Every tree of 1..70 leaves: the root matches MTH, every path verifies. */
static void
test_roots_and_paths(void)
{
	static uint8_t tree[MERKLE_TREE_SLOTS(70)][MERKLE_HASH];
	static uint8_t leaves[70][MERKLE_HASH];
	uint8_t expect[MERKLE_HASH], path[MERKLE_MAX_PATH][MERKLE_HASH];
	int bad_root = 0, bad_path = 0, bad_other = 0;

	for (size_t n = 1; n <= 70; n++) {
		size_t root;

		for (size_t i = 0; i < n; i++) {
			char msg[32];
			int len = snprintf(msg, sizeof(msg), "statement %zu", i);

			merkle_leaf(msg, (size_t)len, leaves[i]);
			memcpy(tree[i], leaves[i], MERKLE_HASH);
		}
		root = merkle_build(tree, n);
		mth(leaves, n, expect);
		bad_root += memcmp(tree[root], expect, MERKLE_HASH) != 0;
		for (size_t i = 0; i < n; i++) {
			size_t np = merkle_path((const uint8_t (*)[MERKLE_HASH])
			    tree, n, i, path);

			bad_path += !merkle_verify(leaves[i], i, n,
			    (const uint8_t (*)[MERKLE_HASH])path, np, expect);
			/* The same proof must fail for another index or size. */
			if (n > 1)
				bad_other += merkle_verify(leaves[i], (i + 1) % n,
				    n, (const uint8_t (*)[MERKLE_HASH])path, np,
				    expect);
		}
	}
	CHECK_EQ_INT(bad_root, 0);
	CHECK_EQ_INT(bad_path, 0);
	CHECK_EQ_INT(bad_other, 0);
}

/* A changed leaf, path hash or out-of-range index fails. */
static void
test_tamper(void)
{
	uint8_t tree[MERKLE_TREE_SLOTS(7)][MERKLE_HASH], leaf[MERKLE_HASH];
	uint8_t path[MERKLE_MAX_PATH][MERKLE_HASH];
	size_t root, np;

	for (int i = 0; i < 7; i++)
		merkle_leaf(&i, sizeof(i), tree[i]);
	memcpy(leaf, tree[3], MERKLE_HASH);
	root = merkle_build(tree, 7);
	np = merkle_path((const uint8_t (*)[MERKLE_HASH])tree, 7, 3, path);
	CHECK(merkle_verify(leaf, 3, 7, (const uint8_t (*)[MERKLE_HASH])path,
	    np, tree[root]));
	leaf[0] ^= 1;
	CHECK(!merkle_verify(leaf, 3, 7, (const uint8_t (*)[MERKLE_HASH])path,
	    np, tree[root]));
	leaf[0] ^= 1;
	path[1][5] ^= 0x80;
	CHECK(!merkle_verify(leaf, 3, 7, (const uint8_t (*)[MERKLE_HASH])path,
	    np, tree[root]));
	path[1][5] ^= 0x80;
	CHECK(!merkle_verify(leaf, 7, 7, (const uint8_t (*)[MERKLE_HASH])path,
	    np, tree[root]));
	CHECK(!merkle_verify(leaf, 3, 7, (const uint8_t (*)[MERKLE_HASH])path,
	    np - 1, tree[root]));
}

/* The proof string parses back; its signing input is the root object's. */
static void
test_proof_string(void)
{
	uint8_t tree[MERKLE_TREE_SLOTS(5)][MERKLE_HASH], sig[JWS_SIG_LEN];
	uint8_t path[MERKLE_MAX_PATH][MERKLE_HASH];
	char obj[MERKLE_ROOT_OBJ_MAX], s[MERKLE_PROOF_MAX];
	char want[MERKLE_INPUT_MAX], got[MERKLE_INPUT_MAX];
	struct merkle_proof p;
	size_t n, olen, root, np, wlen, glen;

	for (int i = 0; i < 5; i++)
		merkle_leaf(&i, sizeof(i), tree[i]);
	root = merkle_build(tree, 5);
	olen = merkle_root_object(tree[root], 5, obj);
	CHECK(olen < MERKLE_ROOT_OBJ_MAX);
	CHECK(memcmp(obj, "{\"typ\":\"cardd-merkle\",\"v\":1,\"n\":5,"
	    "\"root\":\"", 40) == 0);
	memset(sig, 7, sizeof(sig));
	n = jws_detached("eyJhIjoxfQ", 10, sig, s);
	np = merkle_path((const uint8_t (*)[MERKLE_HASH])tree, 5, 3, path);
	n += merkle_proof_tail(5, 3, (const uint8_t (*)[MERKLE_HASH])path, np,
	    s + n);
	CHECK(merkle_is_proof(s, n));
	CHECK(merkle_proof_parse(s, n, &p) == 0);
	CHECK_EQ_INT(p.n, 5);
	CHECK_EQ_INT(p.index, 3);
	CHECK_EQ_INT(p.npath, np);
	CHECK(memcmp(p.sig, sig, sizeof(sig)) == 0);
	/* The rebuilt signing input is H "." b64url(root object). */
	wlen = merkle_signing_input("eyJhIjoxfQ", 10, tree[root], 5, want);
	CHECK_EQ_INT(wlen, 11 + B64URL_LEN(olen));
	{
		int three = 3;

		glen = merkle_proof_input(&p, &three, sizeof(three), got);
		CHECK(glen == wlen && memcmp(got, want, wlen) == 0);
		three = 4;	/* another leaf: another root, another input */
		glen = merkle_proof_input(&p, &three, sizeof(three), got);
		CHECK(glen == wlen && memcmp(got, want, wlen) != 0);
	}
	/* Broken forms. */
	CHECK(merkle_proof_parse(s, 40, &p) != 0);
	s[n - 1] = '*';
	CHECK(merkle_proof_parse(s, n, &p) != 0);
	CHECK(!merkle_is_proof("abc..def", 8));
	CHECK(merkle_proof_parse("eyJhIjoxfQ..AAAA~1~0~", 21, &p) != 0);
}

int
main(void)
{
	test_roots_and_paths();
	test_tamper();
	test_proof_string();
	TEST_REPORT("merkle");
}
