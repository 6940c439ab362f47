/* SPDX-License-Identifier: MIT */
/*
 * Batch signatures (sign_mode batch, protocol/PROTOCOL.md §4.3), in the
 * spirit of Roughtime: the statements answered in one pass of a worker's
 * loop are the leaves of a Merkle tree built as RFC 9162 §2.1.1 (CT v2)
 * builds it, leaf = SHA-256(0x00 || statement), node = SHA-256(0x01 ||
 * left || right); one Ed25519 JWS signs an object naming the root and the
 * number of leaves; each answer carries that JWS, detached, with the
 * number of leaves, its leaf index and its inclusion proof (RFC 9162
 * §2.1.3). The signature string is
 *
 *   H ".." S "~" n "~" index "~" b64url(path hashes, leaf to root)
 *
 * and the detached payload, which a verifier rebuilds from the statement
 * and the path, is {"typ":"cardd-merkle","v":1,"n":<n>,"root":"<b64url>"}.
 * With SM2 (PROTOCOL.md §11) every hash is SM3 instead, and the payload
 * says so: {"typ":"cardd-merkle","v":1,"hash":"SM3","n":…,"root":"…"}.
 *
 * Building: level by level, pairing neighbours and carrying a lone last
 * node up unchanged, which gives the same root as RFC 9162's recursive
 * split at the largest power of two.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "merkle.h"

#define MERKLE_TYP	"{\"typ\":\"cardd-merkle\",\"v\":1,\"n\":"
#define MERKLE_TYP_SM3	"{\"typ\":\"cardd-merkle\",\"v\":1,\"hash\":\"SM3\",\"n\":"

static size_t	merkle_levels(size_t n, size_t *len, size_t *start);
static void	merkle_digest(struct merkle_hasher *, uint8_t, const void *,
		    size_t, const void *, size_t, uint8_t[MERKLE_HASH]);
static void	merkle_node_h(struct merkle_hasher *, const uint8_t[MERKLE_HASH],
		    const uint8_t[MERKLE_HASH], uint8_t[MERKLE_HASH]);
static int	merkle_number(const char *, size_t, uint64_t *);
static size_t	merkle_put_number(uint64_t, char *);

/*
 * A reusable SHA-256 context. OpenSSL 3's one-shot SHA256() fetches the
 * algorithm on every call, under a lock all threads share; a hasher
 * fetches it once. One per thread.
 */
struct merkle_hasher *
merkle_hasher_new(void)
{
	return merkle_hasher_new_alg(JWS_EDDSA);
}

/* A hasher for the trees signed with alg: SHA-256, or SM3 for SM2. */
struct merkle_hasher *
merkle_hasher_new_alg(enum jws_alg alg)
{
	struct merkle_hasher *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->alg = alg;
	h->md = EVP_MD_fetch(NULL, alg == JWS_SM2 ? "SM3" : "SHA256", NULL);
	h->ctx = EVP_MD_CTX_new();
	if (h->md == NULL || h->ctx == NULL) {
		merkle_hasher_free(h);
		return NULL;
	}
	return h;
}

/* Free a hasher. */
void
merkle_hasher_free(struct merkle_hasher *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h);
}

/*
 * SHA-256(prefix || a || b) with h, or with the one-shot functions when
 * h is NULL. A failure yields zeros, which never match a real hash.
 */
static void
merkle_digest(struct merkle_hasher *h, uint8_t prefix, const void *a,
    size_t alen, const void *b, size_t blen, uint8_t out[MERKLE_HASH])
{
	uint8_t buf[1 + 1024];
	EVP_MD_CTX *c;
	int ok;

	if (h == NULL && 1 + alen + blen <= sizeof(buf)) {
		buf[0] = prefix;
		memcpy(buf + 1, a, alen);
		memcpy(buf + 1 + alen, b, blen);
		SHA256(buf, 1 + alen + blen, out);
		return;
	}
	c = h != NULL ? h->ctx : EVP_MD_CTX_new();
	ok = c != NULL && EVP_DigestInit_ex2(c, h != NULL ? h->md :
	    EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(c, &prefix, 1) == 1 &&
	    EVP_DigestUpdate(c, a, alen) == 1 &&
	    EVP_DigestUpdate(c, b, blen) == 1 &&
	    EVP_DigestFinal_ex(c, out, NULL) == 1;
	if (!ok)
		memset(out, 0, MERKLE_HASH);
	if (h == NULL)
		EVP_MD_CTX_free(c);
}

/* Leaf hash of a statement (or of a batch body); h may be NULL. */
void
merkle_leaf_h(struct merkle_hasher *h, const void *msg, size_t len,
    uint8_t out[MERKLE_HASH])
{
	merkle_digest(h, 0x00, msg, len, "", 0, out);
}

/* Leaf hash of a statement. */
void
merkle_leaf(const void *msg, size_t len, uint8_t out[MERKLE_HASH])
{
	merkle_leaf_h(NULL, msg, len, out);
}

/* Interior node hash; h may be NULL. */
static void
merkle_node_h(struct merkle_hasher *h, const uint8_t l[MERKLE_HASH],
    const uint8_t r[MERKLE_HASH], uint8_t out[MERKLE_HASH])
{
	uint8_t both[2 * MERKLE_HASH];

	memcpy(both, l, MERKLE_HASH);
	memcpy(both + MERKLE_HASH, r, MERKLE_HASH);
	merkle_digest(h, 0x01, both, sizeof(both), "", 0, out);
}

/* Interior node hash. */
void
merkle_node(const uint8_t l[MERKLE_HASH], const uint8_t r[MERKLE_HASH],
    uint8_t out[MERKLE_HASH])
{
	merkle_node_h(NULL, l, r, out);
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
 * MERKLE_TREE_SLOTS(n) slots. h may be NULL. Returns the root's index.
 */
size_t
merkle_build_h(struct merkle_hasher *h, uint8_t (*tree)[MERKLE_HASH], size_t n)
{
	size_t len[MERKLE_MAX_PATH + 2], start[MERKLE_MAX_PATH + 2];
	size_t levels = merkle_levels(n, len, start);

	for (size_t k = 0; k + 1 < levels; k++)
		for (size_t i = 0; i < len[k]; i += 2) {
			uint8_t *up = tree[start[k + 1] + i / 2];

			if (i + 1 < len[k])
				merkle_node_h(h, tree[start[k] + i],
				    tree[start[k] + i + 1], up);
			else
				memcpy(up, tree[start[k] + i], MERKLE_HASH);
		}
	return start[levels - 1];
}

/* merkle_build_h without a hasher. */
size_t
merkle_build(uint8_t (*tree)[MERKLE_HASH], size_t n)
{
	return merkle_build_h(NULL, tree, n);
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

/*
 * RFC 9162 §2.1.3.2: the root a path leads to from leaf at index in a
 * tree of n leaves. Returns 0, or -1 when no such tree has such a path.
 */
int
merkle_root_of(const uint8_t leaf[MERKLE_HASH], uint64_t index, uint64_t n,
    const uint8_t (*path)[MERKLE_HASH], size_t npath,
    uint8_t root[MERKLE_HASH])
{
	return merkle_root_of_h(NULL, leaf, index, n, path, npath, root);
}

/* merkle_root_of hashing with h (NULL: SHA-256). */
int
merkle_root_of_h(struct merkle_hasher *h, const uint8_t leaf[MERKLE_HASH],
    uint64_t index, uint64_t n, const uint8_t (*path)[MERKLE_HASH],
    size_t npath, uint8_t root[MERKLE_HASH])
{
	uint64_t fn = index, sn = n - 1;

	if (n == 0 || index >= n)
		return -1;
	memcpy(root, leaf, MERKLE_HASH);
	for (size_t k = 0; k < npath; k++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			merkle_node_h(h, path[k], root, root);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else
			merkle_node_h(h, root, path[k], root);
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 ? 0 : -1;
}

/* Does the path lead from leaf to root? */
int
merkle_verify(const uint8_t leaf[MERKLE_HASH], uint64_t index, uint64_t n,
    const uint8_t (*path)[MERKLE_HASH], size_t npath,
    const uint8_t root[MERKLE_HASH])
{
	uint8_t r[MERKLE_HASH];

	return merkle_root_of(leaf, index, n, path, npath, r) == 0 &&
	    memcmp(r, root, MERKLE_HASH) == 0;
}

/* The signed payload naming the root; out needs MERKLE_ROOT_OBJ_MAX. */
size_t
merkle_root_object(const uint8_t root[MERKLE_HASH], uint64_t n, char *out)
{
	return merkle_root_object_alg(JWS_EDDSA, root, n, out);
}

/* The root object of a tree signed with alg (SM2: it names SM3). */
size_t
merkle_root_object_alg(enum jws_alg alg, const uint8_t root[MERKLE_HASH],
    uint64_t n, char *out)
{
	const char *typ = alg == JWS_SM2 ? MERKLE_TYP_SM3 : MERKLE_TYP;
	size_t at = strlen(typ);

	memcpy(out, typ, at);
	at += merkle_put_number(n, out + at);
	memcpy(out + at, ",\"root\":\"", 9);
	at += 9;
	at += b64url_encode(root, MERKLE_HASH, out + at);
	memcpy(out + at, "\"}", 2);
	return at + 2;
}

/* Append a decimal number; returns its length. */
static size_t
merkle_put_number(uint64_t v, char *out)
{
	char digits[21];
	size_t k = sizeof(digits);

	do {
		digits[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	memcpy(out, digits + k, sizeof(digits) - k);
	return sizeof(digits) - k;
}

/* The JWS signing input for a root: H "." b64url(root object). */
size_t
merkle_signing_input(const char *hdr, size_t hdr_len,
    const uint8_t root[MERKLE_HASH], uint64_t n, char *out)
{
	return merkle_signing_input_alg(JWS_EDDSA, hdr, hdr_len, root, n, out);
}

/* The same for a tree signed with alg. */
size_t
merkle_signing_input_alg(enum jws_alg alg, const char *hdr, size_t hdr_len,
    const uint8_t root[MERKLE_HASH], uint64_t n, char *out)
{
	char obj[MERKLE_ROOT_OBJ_MAX];
	size_t olen = merkle_root_object_alg(alg, root, n, obj);

	memcpy(out, hdr, hdr_len);
	out[hdr_len] = '.';
	return hdr_len + 1 + b64url_encode(obj, olen, out + hdr_len + 1);
}

/* "~n~index~path", which follows the detached JWS H..S. */
size_t
merkle_proof_tail(uint64_t n, uint64_t index,
    const uint8_t (*path)[MERKLE_HASH], size_t npath, char *out)
{
	size_t at = 0;

	out[at++] = '~';
	at += merkle_put_number(n, out + at);
	out[at++] = '~';
	at += merkle_put_number(index, out + at);
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

/* Split a batch proof H..S~n~index~path into its parts. */
int
merkle_proof_parse(const char *sig, size_t len, struct merkle_proof *p)
{
	const char *end = sig + len, *t[3], *at = sig;
	struct jws_parts jp;
	ssize_t plen;

	memset(p, 0, sizeof(*p));
	for (int i = 0; i < 3; i++) {
		if ((t[i] = memchr(at, '~', (size_t)(end - at))) == NULL)
			return -1;
		at = t[i] + 1;
	}
	if (jws_split(sig, (size_t)(t[0] - sig), &jp) != 0 ||
	    merkle_number(t[0] + 1, (size_t)(t[1] - t[0] - 1), &p->n) != 0 ||
	    merkle_number(t[1] + 1, (size_t)(t[2] - t[1] - 1), &p->index) != 0)
		return -1;
	p->hdr = jp.hdr;
	p->hdr_len = jp.hdr_len;
	if (jws_header_alg_of(p->hdr, p->hdr_len, &p->alg) != 0)
		p->alg = JWS_EDDSA;	/* no tree of ours: it will not verify */
	memcpy(p->sig, jp.sig, JWS_SIG_LEN);
	plen = b64url_decode(t[2] + 1, (size_t)(end - t[2] - 1),
	    (uint8_t *)p->path, sizeof(p->path));
	if (plen < 0 || plen % MERKLE_HASH != 0 || p->n < 2 || p->index >= p->n)
		return -1;
	p->npath = (size_t)plen / MERKLE_HASH;
	return 0;
}

/*
 * The signing input the proof's signature must cover if msg is a leaf
 * of the tree: H "." b64url(root object of the root its path leads to).
 * out needs MERKLE_INPUT_MAX bytes. Returns the length, or 0 when the
 * path fits no tree of n leaves. The caller verifies p->sig over it.
 */
size_t
merkle_proof_input(const struct merkle_proof *p, const void *msg, size_t len,
    char *out)
{
	uint8_t leaf[MERKLE_HASH], root[MERKLE_HASH];
	struct merkle_hasher *h = NULL;
	size_t n = 0;

	if (p->hdr_len > JWS_HDR_MAX ||
	    (p->alg == JWS_SM2 && (h = merkle_hasher_new_alg(JWS_SM2)) == NULL))
		return 0;
	merkle_leaf_h(h, msg, len, leaf);
	if (merkle_root_of_h(h, leaf, p->index, p->n,
	    (const uint8_t (*)[MERKLE_HASH])p->path, p->npath, root) == 0)
		n = merkle_signing_input_alg(p->alg, p->hdr, p->hdr_len, root,
		    p->n, out);
	merkle_hasher_free(h);
	return n;
}
