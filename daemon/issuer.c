/* SPDX-License-Identifier: MIT */
/*
 * The issuers of electronic card codes (PROTOCOL.md §10): one per
 * `code_issuer NAME FILE` line, FILE the JWKS of its Ed25519 or SM2
 * public keys (§11).
 * The table is built whole at start and on each reload and swapped in
 * the live state, so a code is always judged against one consistent
 * set. Each table has a generation: a cached verdict from an older one
 * is verified again.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "b64url.h"
#include "cardcode.h"
#include "issuer.h"
#include "sm2.h"

#define ISSUER_KEYS_MAX	64	/* per issuer */

struct issuer_key {
	char		kid[CARDCODE_NAME_MAX + 1];
	uint8_t		pub[JWS_PUB_MAX];
	EVP_PKEY	*pkey;		/* made once: shared by the workers */
};

struct issuer {
	char			 name[CARDCODE_NAME_MAX + 1];
	struct issuer_key	*keys;
	size_t			 nkeys;
};

struct issuer_table {
	struct issuer	*v;
	size_t		 n;
	uint64_t	 gen;
};

static _Atomic uint64_t issuer_gen;

static int	issuer_line(const char *, struct issuer *, char *, size_t);
static int	issuer_jwks(const char *, struct issuer *, char *, size_t);
static int	issuer_jwk(json_t *, struct issuer_key *, const char **);
static int	issuer_jwk_pub(json_t *, enum jws_alg *, uint8_t *,
		    const char **);

/*
 * The public key of a JWK: Ed25519 (kty OKP) or SM2 (kty EC, crv SM2:
 * PROTOCOL.md §11) into pub. -1 and *why when it is neither.
 */
static int
issuer_jwk_pub(json_t *k, enum jws_alg *alg, uint8_t *pub, const char **why)
{
	const char *kty = json_string_value(json_object_get(k, "kty"));
	const char *crv = json_string_value(json_object_get(k, "crv"));
	const char *x = json_string_value(json_object_get(k, "x"));
	const char *y = json_string_value(json_object_get(k, "y"));
	int ed = kty != NULL && crv != NULL && strcmp(kty, "OKP") == 0 &&
	    strcmp(crv, "Ed25519") == 0;
	int sm = kty != NULL && crv != NULL && strcmp(kty, "EC") == 0 &&
	    strcmp(crv, "SM2") == 0;

	*why = NULL;
	if (!ed && !sm)
		*why = "a key is neither kty OKP, crv Ed25519 nor kty EC, crv SM2";
	else if (json_object_get(k, "d") != NULL)
		*why = "a key holds a private part (d): publish only public keys";
	else if (ed && (x == NULL || b64url_decode(x, strlen(x), pub,
	    JWS_PUB_LEN) != JWS_PUB_LEN))
		*why = "a key's x is not 32 bytes of base64url";
	else if (sm && (x == NULL || y == NULL || b64url_decode(x, strlen(x),
	    pub, SM2_COORD_LEN) != SM2_COORD_LEN || b64url_decode(y,
	    strlen(y), pub + SM2_COORD_LEN, SM2_COORD_LEN) != SM2_COORD_LEN))
		*why = "an SM2 key's x or y is not 32 bytes of base64url";
	*alg = sm ? JWS_SM2 : JWS_EDDSA;
	return *why == NULL ? 0 : -1;
}

/* One JWK: an Ed25519 or SM2 public key with a kid. */
static int
issuer_jwk(json_t *k, struct issuer_key *out, const char **why)
{
	const char *kid = json_string_value(json_object_get(k, "kid"));
	enum jws_alg alg;

	if (issuer_jwk_pub(k, &alg, out->pub, why) != 0)
		return -1;
	if (kid == NULL || *kid == '\0' || strlen(kid) > CARDCODE_NAME_MAX) {
		*why = "a key has no kid (1-64 characters)";
		return -1;
	}
	if ((out->pkey = jws_pkey_alg(alg, out->pub)) == NULL) {
		*why = alg == JWS_SM2 ? "an SM2 key's x, y is not a point of "
		    "the curve" : "a key's x is not an Ed25519 public key";
		return -1;
	}
	strcpy(out->kid, kid);
	return 0;
}

/* Read an issuer's JWKS file into is->keys. */
static int
issuer_jwks(const char *path, struct issuer *is, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	json_t *keys = json_object_get(root, "keys");
	const char *why = NULL;
	size_t n = json_array_size(keys);

	if (root == NULL) {
		snprintf(err, errlen, "code_issuer %s: %s: %s", is->name, path,
		    je.text);
		return -1;
	}
	if (!json_is_array(keys) || n == 0 || n > ISSUER_KEYS_MAX)
		why = "not a JWKS with 1-64 keys";
	else if ((is->keys = calloc(n, sizeof(*is->keys))) == NULL)
		why = "out of memory";
	for (size_t i = 0; why == NULL && i < n; i++) {
		if (issuer_jwk(json_array_get(keys, i), &is->keys[i], &why))
			break;
		for (size_t k = 0; k < i; k++)
			if (strcmp(is->keys[k].kid, is->keys[i].kid) == 0)
				why = "two keys have the same kid";
		is->nkeys = i + 1;
	}
	json_decref(root);
	if (why != NULL) {
		snprintf(err, errlen, "code_issuer %s: %s: %s", is->name, path,
		    why);
		return -1;
	}
	return 0;
}

/* One config line: NAME FILE. */
static int
issuer_line(const char *line, struct issuer *is, char *err, size_t errlen)
{
	size_t n = strcspn(line, " \t");
	const char *path = line + n + strspn(line + n, " \t");

	if (!cardcode_name_valid(line, n)) {
		snprintf(err, errlen, "code_issuer NAME FILE: NAME is 1-64 "
		    "characters of A-Z a-z 0-9 . _ -");
		return -1;
	}
	memcpy(is->name, line, n);
	if (*path == '\0' || path[strcspn(path, " \t")] != '\0') {
		snprintf(err, errlen, "code_issuer %s: give one FILE (a JWKS)",
		    is->name);
		return -1;
	}
	return issuer_jwks(path, is, err, errlen);
}

/* The table of the config's code_issuer lines (none: an empty table). */
struct issuer_table *
issuer_table_new(char *const *lines, size_t n, char *err, size_t errlen)
{
	struct issuer_table *t = calloc(1, sizeof(*t));

	if (t == NULL || (n > 0 && (t->v = calloc(n, sizeof(*t->v))) == NULL)) {
		snprintf(err, errlen, "out of memory");
		free(t);
		return NULL;
	}
	t->gen = atomic_fetch_add(&issuer_gen, 1) + 1;
	for (size_t i = 0; i < n; i++) {
		t->n = i + 1;
		if (issuer_line(lines[i], &t->v[i], err, errlen) != 0) {
			issuer_table_free(t);
			return NULL;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(t->v[k].name, t->v[i].name) == 0) {
				snprintf(err, errlen, "code_issuer %s is named "
				    "twice", t->v[i].name);
				issuer_table_free(t);
				return NULL;
			}
	}
	return t;
}

/* Free a table. */
void
issuer_table_free(struct issuer_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		for (size_t k = 0; k < t->v[i].nkeys; k++)
			EVP_PKEY_free(t->v[i].keys[k].pkey);
		free(t->v[i].keys);
	}
	free(t->v);
	free(t);
}

/* How many issuers. */
size_t
issuer_table_size(const struct issuer_table *t)
{
	return t == NULL ? 0 : t->n;
}

/* The table's generation: it changes with every table built. */
uint64_t
issuer_table_gen(const struct issuer_table *t)
{
	return t == NULL ? 0 : t->gen;
}

/*
 * The public key of issuer iss named kid. NULL with *why "unknown issuer"
 * or "unknown kid".
 */
EVP_PKEY *
issuer_key(const struct issuer_table *t, const char *iss, const char *kid,
    const char **why)
{
	for (size_t i = 0; t != NULL && i < t->n; i++) {
		if (strcmp(t->v[i].name, iss) != 0)
			continue;
		for (size_t k = 0; k < t->v[i].nkeys; k++)
			if (strcmp(t->v[i].keys[k].kid, kid) == 0)
				return t->v[i].keys[k].pkey;
		*why = "unknown kid";
		return NULL;
	}
	*why = "unknown issuer";
	return NULL;
}
