/* SPDX-License-Identifier: MIT */
/* Batch signatures: one Ed25519 JWS over a Merkle tree of statements. */
#ifndef CARDD_MERKLE_H
#define CARDD_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "jws.h"

#define MERKLE_HASH	32
#define MERKLE_MAX_PATH	32	/* trees of up to 2^32 leaves */
#define MERKLE_TREE_SLOTS(n) (2 * (n) + MERKLE_MAX_PATH)
/* {"typ":"cardd-merkle","v":1,"hash":"SM3","n":<19 digits>,"root":"<43>"} */
#define MERKLE_ROOT_OBJ_MAX 128
/* H..S~n~index~path */
#define MERKLE_PROOF_MAX (JWS_DETACHED_MAX + 2 * 21 + 1 + \
			    B64URL_LEN(MERKLE_MAX_PATH * MERKLE_HASH))
/* H.P, the signing input rebuilt by a verifier */
#define MERKLE_INPUT_MAX (JWS_HDR_MAX + 1 + B64URL_LEN(MERKLE_ROOT_OBJ_MAX))

struct merkle_proof {
	const char	*hdr;		/* H */
	size_t		 hdr_len;
	uint8_t		 sig[JWS_SIG_LEN];
	enum jws_alg	 alg;		/* H's: SM2 hashes with SM3 */
	uint64_t	 n;		/* leaves in the tree */
	uint64_t	 index;
	uint8_t		 path[MERKLE_MAX_PATH][MERKLE_HASH];
	size_t		 npath;
};

struct merkle_hasher {
	struct evp_md_ctx_st	*ctx;
	struct evp_md_st	*md;
	enum jws_alg		 alg;	/* SHA-256 for EdDSA, SM3 for SM2 */
};

struct merkle_hasher *merkle_hasher_new(void);
struct merkle_hasher *merkle_hasher_new_alg(enum jws_alg);
void	merkle_hasher_free(struct merkle_hasher *);
void	merkle_leaf_h(struct merkle_hasher *, const void *msg, size_t len,
	    uint8_t out[MERKLE_HASH]);
size_t	merkle_build_h(struct merkle_hasher *, uint8_t (*tree)[MERKLE_HASH],
	    size_t n);
void	merkle_leaf(const void *msg, size_t len, uint8_t out[MERKLE_HASH]);
void	merkle_node(const uint8_t l[MERKLE_HASH], const uint8_t r[MERKLE_HASH],
	    uint8_t out[MERKLE_HASH]);
size_t	merkle_build(uint8_t (*tree)[MERKLE_HASH], size_t n);
size_t	merkle_path(const uint8_t (*tree)[MERKLE_HASH], size_t n, size_t i,
	    uint8_t (*path)[MERKLE_HASH]);
int	merkle_root_of(const uint8_t leaf[MERKLE_HASH], uint64_t index,
	    uint64_t n, const uint8_t (*path)[MERKLE_HASH], size_t npath,
	    uint8_t root[MERKLE_HASH]);
int	merkle_verify(const uint8_t leaf[MERKLE_HASH], uint64_t index,
	    uint64_t n, const uint8_t (*path)[MERKLE_HASH], size_t npath,
	    const uint8_t root[MERKLE_HASH]);
size_t	merkle_root_object(const uint8_t root[MERKLE_HASH], uint64_t n,
	    char *out);
size_t	merkle_root_object_alg(enum jws_alg, const uint8_t root[MERKLE_HASH],
	    uint64_t n, char *out);
int	merkle_root_of_h(struct merkle_hasher *, const uint8_t leaf[MERKLE_HASH],
	    uint64_t index, uint64_t n, const uint8_t (*path)[MERKLE_HASH],
	    size_t npath, uint8_t root[MERKLE_HASH]);
size_t	merkle_signing_input_alg(enum jws_alg, const char *hdr,
	    size_t hdr_len, const uint8_t root[MERKLE_HASH], uint64_t n,
	    char *out);
size_t	merkle_signing_input(const char *hdr, size_t hdr_len,
	    const uint8_t root[MERKLE_HASH], uint64_t n, char *out);
size_t	merkle_proof_tail(uint64_t n, uint64_t index,
	    const uint8_t (*path)[MERKLE_HASH], size_t npath, char *out);
int	merkle_is_proof(const char *sig, size_t len);
int	merkle_proof_parse(const char *sig, size_t len, struct merkle_proof *);
size_t	merkle_proof_input(const struct merkle_proof *, const void *msg,
	    size_t len, char *out);

#endif
