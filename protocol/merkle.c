/* SPDX-License-Identifier: MIT */
/*
 * Batch signatures (sign_mode batch, protocol/PROTOCOL.md §4.3), in the
 * spirit of Roughtime: the statements answered in one pass of a worker's
 * loop are the leaves of a Merkle tree built as RFC 9162 §2.1.1 (CT v2)
 * builds it, leaf = SHA-256(0x00 || statement), node = SHA-256(0x01 ||
 * left || right); one Ed25519 JWS signs an object naming the root and the
 * number of leaves; each answer carries that JWS, its leaf index and its
 * inclusion proof (RFC 9162 §2.1.3). The signature string is
 *
 *   H "." P "." S "~" index "~" b64url(path hashes, leaf to root)
 *
 * where H.P.S is a compact JWS whose payload P is
 * {"typ":"cardd-merkle","v":1,"n":<leaves>,"root":"<b64url hash>"}.
 *
 * Building: level by level, pairing neighbours and carrying a lone last
 * node up unchanged, which gives the same root as RFC 9162's recursive
 * split at the largest power of two.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "merkle.h"

#define MERKLE_TYP	"{\"typ\":\"cardd-merkle\",\"v\":1,\"n\":"

static size_t	merkle_levels(size_t n, size_t *len, size_t *start);
static int	merkle_number(const char *, size_t, uint64_t *);

/* Leaf hash of a statement (or of a batch body). */
void
merkle_leaf(const void *msg, size_t len, uint8_t out[MERKLE_HASH])
{
	static const uint8_t zero = 0x00;
	uint8_t buf[1 + 1024];
	EVP_MD_CTX *c;

	if (len < sizeof(buf)) {
		/* The common case: one call, no context to allocate. */
		buf[0] = 0x00;
		memcpy(buf + 1, msg, len);
		SHA256(buf, len + 1, out);
		return;
	}
	if ((c = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, &zero, 1) != 1 ||
	    EVP_DigestUpdate(c, msg, len) != 1 ||
	    EVP_DigestFinal_ex(c, out, NULL) != 1)
		memset(out, 0, MERKLE_HASH);	/* never matches a real root */
	EVP_MD_CTX_free(c);
}

/* Interior node hash. */
void
merkle_node(const uint8_t l[MERKLE_HASH], const uint8_t r[MERKLE_HASH],
    uint8_t out[MERKLE_HASH])
{
	uint8_t buf[1 + 2 * MERKLE_HASH];

	buf[0] = 0x01;
	memcpy(buf + 1, l, MERKLE_HASH);
	memcpy(buf + 1 + MERKLE_HASH, r, MERKLE_HASH);
	SHA256(buf, sizeof(buf), out);
}

/* Sizes and offsets of each level of a tree of n leaves; returns levels. */
static size_t
merkle_levels(size_t n, size_t *len, size_t *start)
{
	size_t k = 0, at = 0;

	for (;;) {
		len[k] = n;
		start[k] = at;
		at += n;
		k++;
		if (n == 1)
			return k;
		n = (n + 1) / 2;
	}
}

/*
 * Build the tree over n leaf hashes at tree[0..n); tree needs
 * MERKLE_TREE_SLOTS(n) slots.
 * Returns the index of the root.
 */
size_t
merkle_build(uint8_t (*tree)[MERKLE_HASH], size_t n)
{
	size_t len[MERKLE_MAX_PATH + 2], start[MERKLE_MAX_PATH + 2];
	size_t levels = merkle_levels(n, len, start);

	for (size_t k = 0; k + 1 < levels; k++)
		for (size_t i = 0; i < len[k]; i += 2) {
			uint8_t *up = tree[start[k + 1] + i / 2];

			if (i + 1 < len[k])
				merkle_node(tree[start[k] + i],
				    tree[start[k] + i + 1], up);
			else
				memcpy(up, tree[start[k] + i], MERKLE_HASH);
		}
	return start[levels - 1];
}

/* The inclusion proof of leaf i (RFC 9162 order). Returns its length. */
size_t
merkle_path(const uint8_t (*tree)[MERKLE_HASH], size_t n, size_t i,
    uint8_t (*path)[MERKLE_HASH])
{
	size_t len[MERKLE_MAX_PATH + 2], start[MERKLE_MAX_PATH + 2];
	size_t levels = merkle_levels(n, len, start), np = 0;

	for (size_t k = 0; k + 1 < levels; k++, i /= 2)
		if ((i ^ 1) < len[k])
			memcpy(path[np++], tree[start[k] + (i ^ 1)],
			    MERKLE_HASH);
	return np;
}

/* RFC 9162 §2.1.3.2: does the path lead from leaf to root? */
int
merkle_verify(const uint8_t leaf[MERKLE_HASH], uint64_t index, uint64_t n,
    const uint8_t (*path)[MERKLE_HASH], size_t npath,
    const uint8_t root[MERKLE_HASH])
{
	uint64_t fn = index, sn = n - 1;
	uint8_t r[MERKLE_HASH];

	if (n == 0 || index >= n)
		return 0;
	memcpy(r, leaf, MERKLE_HASH);
	for (size_t k = 0; k < npath; k++) {
		if (sn == 0)
			return 0;
		if ((fn & 1) || fn == sn) {
			merkle_node(path[k], r, r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else
			merkle_node(r, path[k], r);
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(r, root, MERKLE_HASH) == 0;
}

/* The signed payload naming the root; out needs MERKLE_ROOT_OBJ_MAX. */
size_t
merkle_root_object(const uint8_t root[MERKLE_HASH], uint64_t n, char *out)
{
	char digits[21];
	size_t k = sizeof(digits), at = sizeof(MERKLE_TYP) - 1;

	memcpy(out, MERKLE_TYP, at);
	do {
		digits[--k] = (char)('0' + n % 10);
		n /= 10;
	} while (n != 0);
	memcpy(out + at, digits + k, sizeof(digits) - k);
	at += sizeof(digits) - k;
	memcpy(out + at, ",\"root\":\"", 9);
	at += 9;
	at += b64url_encode(root, MERKLE_HASH, out + at);
	memcpy(out + at, "\"}", 2);
	return at + 2;
}

/* "~index~path" that follows the compact JWS. */
size_t
merkle_proof_tail(uint64_t index, const uint8_t (*path)[MERKLE_HASH],
    size_t npath, char *out)
{
	char digits[21];
	size_t k = sizeof(digits), at = 0;

	do {
		digits[--k] = (char)('0' + index % 10);
		index /= 10;
	} while (index != 0);
	out[at++] = '~';
	memcpy(out + at, digits + k, sizeof(digits) - k);
	at += sizeof(digits) - k;
	out[at++] = '~';
	return at + b64url_encode(path, npath * MERKLE_HASH, out + at);
}

/* True when a signature string is a batch proof (not a detached JWS). */
int
merkle_is_proof(const char *sig, size_t len)
{
	return memchr(sig, '~', len) != NULL;
}

/* Read a decimal number of at most 19 digits. */
static int
merkle_number(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * Split a batch proof into its parts and read the signed root object,
 * which must have exactly the form merkle_root_object() writes.
 */
int
merkle_proof_parse(const char *sig, size_t len, struct merkle_proof *p)
{
	const char *t1 = memchr(sig, '~', len), *t2, *d1, *d2, *end = sig + len;
	char obj[MERKLE_ROOT_OBJ_MAX + 1];
	const char *q;
	ssize_t olen, plen;

	memset(p, 0, sizeof(*p));
	if (t1 == NULL || (t2 = memchr(t1 + 1, '~', (size_t)(end - t1 - 1)))
	    == NULL || (d1 = memchr(sig, '.', (size_t)(t1 - sig))) == NULL ||
	    (d2 = memchr(d1 + 1, '.', (size_t)(t1 - d1 - 1))) == NULL)
		return -1;
	p->hdr = sig;
	p->hdr_len = (size_t)(d1 - sig);
	p->signed_part = sig;
	p->signed_len = (size_t)(d2 - sig);
	if (!b64url_valid(p->hdr, p->hdr_len) ||
	    b64url_decode(d2 + 1, (size_t)(t1 - d2 - 1), p->sig, JWS_SIG_LEN) !=
	    JWS_SIG_LEN ||
	    merkle_number(t1 + 1, (size_t)(t2 - t1 - 1), &p->index) != 0)
		return -1;
	plen = b64url_decode(t2 + 1, (size_t)(end - t2 - 1),
	    (uint8_t *)p->path, sizeof(p->path));
	olen = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), (uint8_t *)obj,
	    MERKLE_ROOT_OBJ_MAX);
	if (plen < 0 || plen % MERKLE_HASH != 0 || olen < 0)
		return -1;
	p->npath = (size_t)plen / MERKLE_HASH;
	obj[olen] = '\0';
	if (strncmp(obj, MERKLE_TYP, sizeof(MERKLE_TYP) - 1) != 0 ||
	    (q = strstr(obj, ",\"root\":\"")) == NULL ||
	    merkle_number(obj + sizeof(MERKLE_TYP) - 1, (size_t)(q - obj) -
	    (sizeof(MERKLE_TYP) - 1), &p->n) != 0 ||
	    strlen(q) != 9 + 43 + 2 || strcmp(q + 9 + 43, "\"}") != 0 ||
	    b64url_decode(q + 9, 43, p->root, MERKLE_HASH) != MERKLE_HASH)
		return -1;
	return 0;
}

/* The statement is a leaf of the proof's tree (the JWS is checked apart). */
int
merkle_proof_check(const struct merkle_proof *p, const void *msg, size_t len)
{
	uint8_t leaf[MERKLE_HASH];

	merkle_leaf(msg, len, leaf);
	return merkle_verify(leaf, p->index, p->n,
	    (const uint8_t (*)[MERKLE_HASH])p->path, p->npath, p->root);
}
