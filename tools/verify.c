/* SPDX-License-Identifier: MIT */
/*
 * Verifying a signed answer as a third party would (PROTOCOL.md §4),
 * for cardctl verify / check --verify and cardbench --verify-every. The
 * signature string is one of:
 *
 *   H..S               a detached JWS over the statement bytes exactly as
 *                      received (§4.1);
 *   H..S~n~index~path  a batch proof (§4.3): the statement's RFC 9162
 *                      inclusion path leads to a root, and S is Ed25519
 *                      over the signing input of the root object.
 *
 * Either way the protected header must say EdDSA (or SM2, §11) and name,
 * by kid, a key of that algorithm in the JWKS (§4.2); SM2 proofs hash
 * with SM3. The keys are read once into a
 * verify_keys set, which is only read afterwards, so threads can share
 * it. why says in words what held or what did not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "b64url.h"
#include "merkle.h"
#include "sm2.h"
#include "verify.h"

static int	verify_key_parse(json_t *, struct verify_key *);
static enum verify_result verify_header(const struct verify_keys *,
		    const char *, size_t, const struct verify_key **, char *,
		    size_t);
static const struct verify_key *verify_find(const struct verify_keys *,
		    enum jws_alg, const char *, size_t);
static enum verify_result verify_detached(const struct verify_keys *,
		    const char *, size_t, const char *, size_t,
		    struct verify_info *, char *, size_t);
static enum verify_result verify_signed(const char *, size_t,
		    const struct verify_key *, char *, size_t);
static enum verify_result verify_batch(const struct verify_keys *,
		    const char *, size_t, const char *, size_t,
		    struct verify_info *, char *, size_t);

/*
 * One JWK into k, if it is an Ed25519 (OKP) or SM2 (EC, crv SM2) public
 * key with a usable kid.
 */
static int
verify_key_parse(json_t *jwk, struct verify_key *k)
{
	json_t *kid = json_object_get(jwk, "kid");
	const char *x = json_string_value(json_object_get(jwk, "x"));
	const char *y = json_string_value(json_object_get(jwk, "y"));
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *crv = json_string_value(json_object_get(jwk, "crv"));

	if (!json_is_string(kid) || json_string_length(kid) > STMT_KID_MAX ||
	    x == NULL || kty == NULL || crv == NULL)
		return -1;
	if (strcmp(kty, "OKP") == 0 && strcmp(crv, "Ed25519") == 0 &&
	    b64url_decode(x, strlen(x), k->pub, JWS_PUB_LEN) == JWS_PUB_LEN)
		k->alg = JWS_EDDSA;
	else if (strcmp(kty, "EC") == 0 && strcmp(crv, "SM2") == 0 &&
	    y != NULL && b64url_decode(x, strlen(x), k->pub, SM2_COORD_LEN) ==
	    SM2_COORD_LEN && b64url_decode(y, strlen(y), k->pub +
	    SM2_COORD_LEN, SM2_COORD_LEN) == SM2_COORD_LEN)
		k->alg = JWS_SM2;
	else
		return -1;
	if ((k->pkey = jws_pkey_alg(k->alg, k->pub)) == NULL)
		return -1;	/* not a point of the curve */
	k->kid_len = json_string_length(kid);
	memcpy(k->kid, json_string_value(kid), k->kid_len);
	return 0;
}

/*
 * Add the Ed25519 keys of a JWKS to the set. Returns how many were
 * added, or -1 when the JWKS is not JSON or memory runs out.
 */
int
verify_keys_add(struct verify_keys *set, const char *jwks, size_t len)
{
	json_t *doc = json_loadb(jwks, len, 0, NULL), *keys, *jwk;
	struct verify_key k, *v;
	size_t i;
	int added = 0;

	if (doc == NULL) {
		set->not_json = 1;
		return -1;
	}
	keys = json_object_get(doc, "keys");
	json_array_foreach(keys, i, jwk) {
		if (verify_key_parse(jwk, &k) != 0)
			continue;
		if ((v = realloc(set->v, (set->n + 1) * sizeof(*v))) == NULL) {
			EVP_PKEY_free(k.pkey);
			added = -1;
			break;
		}
		set->v = v;
		set->v[set->n++] = k;
		added++;
	}
	json_decref(doc);
	return added;
}

/* Forget every key. */
void
verify_keys_free(struct verify_keys *set)
{
	for (size_t i = 0; i < set->n; i++)
		EVP_PKEY_free(set->v[i].pkey);
	free(set->v);
	memset(set, 0, sizeof(*set));
}

/* The first key of the set with this alg and kid, or NULL. */
static const struct verify_key *
verify_find(const struct verify_keys *set, enum jws_alg alg, const char *kid,
    size_t len)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].alg == alg && set->v[i].kid_len == len &&
		    memcmp(set->v[i].kid, kid, len) == 0)
			return &set->v[i];
	return NULL;
}

/*
 * The protected header must be {"alg":"EdDSA","kid":…} or {"alg":"SM2",
 * "kid":…} with the kid of a key of that algorithm; that key into *key.
 */
static enum verify_result
verify_header(const struct verify_keys *set, const char *hdr, size_t len,
    const struct verify_key **key, char *why, size_t whylen)
{
	uint8_t raw[256];
	ssize_t n = b64url_decode(hdr, len, raw, sizeof(raw));
	json_t *h = n > 0 ? json_loadb((char *)raw, (size_t)n, 0, NULL) : NULL;
	const char *alg = json_string_value(json_object_get(h, "alg"));
	json_t *kid = json_object_get(h, "kid");
	enum verify_result rc = VERIFY_HEADER;
	enum jws_alg a = alg != NULL && strcmp(alg, "SM2") == 0 ? JWS_SM2 :
	    JWS_EDDSA;

	if (h == NULL)
		snprintf(why, whylen, "JWS header is not base64url JSON");
	else if (alg == NULL || (strcmp(alg, "EdDSA") != 0 &&
	    strcmp(alg, "SM2") != 0))
		snprintf(why, whylen, "JWS header alg is neither EdDSA nor SM2");
	else if (!json_is_string(kid) || json_string_length(kid) >
	    STMT_KID_MAX)
		snprintf(why, whylen, "JWS header has no usable kid");
	else if ((*key = verify_find(set, a, json_string_value(kid),
	    json_string_length(kid))) != NULL)
		rc = VERIFY_OK;
	else {
		snprintf(why, whylen, set->not_json ? "the JWKS is not JSON" :
		    a == JWS_SM2 ? "no SM2 key with the JWS's kid in the JWKS" :
		    "no Ed25519 key with the JWS's kid in the JWKS");
		rc = VERIFY_KID;
	}
	json_decref(h);
	return rc;
}

/* A detached JWS H..S over the statement. */
static enum verify_result
verify_detached(const struct verify_keys *set, const char *msg, size_t len,
    const char *sig, size_t sig_len, struct verify_info *info, char *why,
    size_t whylen)
{
	struct jws_parts p;
	enum verify_result rc;
	size_t cap;
	char *scratch;
	int ok;

	if (jws_split(sig, sig_len, &p) != 0) {
		snprintf(why, whylen, "not a detached JWS (HEADER..SIGNATURE)");
		return VERIFY_FORMAT;
	}
	if ((rc = verify_header(set, p.hdr, p.hdr_len, &info->key, why,
	    whylen)) != VERIFY_OK)
		return rc;
	cap = p.hdr_len + 1 + B64URL_LEN(len);
	if ((scratch = malloc(cap)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return VERIFY_ERROR;
	}
	ok = jws_verify_pkey(info->key->pkey, scratch, jws_signing_input(
	    p.hdr, p.hdr_len, msg, len, scratch), p.sig);
	free(scratch);
	if (ok != 1) {
		snprintf(why, whylen, ok == 0 ? "signature does not match" :
		    "cannot check the signature");
		return ok == 0 ? VERIFY_SIGNATURE : VERIFY_ERROR;
	}
	snprintf(why, whylen, "valid, kid %.*s", (int)info->key->kid_len,
	    info->key->kid);
	return VERIFY_OK;
}

/*
 * A batch proof H..S~n~index~path: the root the statement's path leads
 * to, then the signature over the root object.
 */
static enum verify_result
verify_batch(const struct verify_keys *set, const char *msg, size_t len,
    const char *sig, size_t sig_len, struct verify_info *info, char *why,
    size_t whylen)
{
	struct merkle_proof mp;
	enum verify_result rc;
	char input[MERKLE_INPUT_MAX];
	size_t n;
	int ok;

	if (merkle_proof_parse(sig, sig_len, &mp) != 0) {
		snprintf(why, whylen, "not a batch proof (H..S~N~INDEX~PATH)");
		return VERIFY_FORMAT;
	}
	info->n = mp.n;
	info->index = mp.index;
	if ((rc = verify_header(set, mp.hdr, mp.hdr_len, &info->key, why,
	    whylen)) != VERIFY_OK)
		return rc;
	if ((n = merkle_proof_input(&mp, msg, len, input)) == 0) {
		snprintf(why, whylen, "the path fits no tree of %llu leaves",
		    (unsigned long long)mp.n);
		return VERIFY_PROOF;
	}
	ok = jws_verify_pkey(info->key->pkey, input, n, mp.sig);
	if (ok != 1) {
		snprintf(why, whylen, ok == 0 ? "signature does not match (the "
		    "statement is not the one signed)" :
		    "cannot check the signature");
		return ok == 0 ? VERIFY_SIGNATURE : VERIFY_ERROR;
	}
	snprintf(why, whylen, "valid (batch of %llu, leaf %llu), kid %.*s",
	    (unsigned long long)mp.n, (unsigned long long)mp.index,
	    (int)info->key->kid_len, info->key->kid);
	return VERIFY_OK;
}

/*
 * Verify the statement msg against its signature string (a detached JWS
 * or a batch proof) with the keys of set. info says which kind it was and
 * which key signed; why what held or what did not.
 */
enum verify_result
verify_answer(const struct verify_keys *set, const char *msg, size_t len,
    const char *sig, size_t sig_len, struct verify_info *info, char *why,
    size_t whylen)
{
	enum verify_result rc;

	memset(info, 0, sizeof(*info));
	info->batch = merkle_is_proof(sig, sig_len);
	rc = info->batch ? verify_batch(set, msg, len, sig, sig_len, info, why,
	    whylen) : verify_detached(set, msg, len, sig, sig_len, info, why,
	    whylen);
	return rc == VERIFY_OK ? verify_signed(msg, len, info->key, why,
	    whylen) : rc;
}

/*
 * What a valid signature covers must be an answer: never a Merkle root
 * object (signed too, but it says nothing of a card), and a statement
 * must name the key that signed it (PROTOCOL.md §3, kid).
 */
static enum verify_result
verify_signed(const char *msg, size_t len, const struct verify_key *key,
    char *why, size_t whylen)
{
	static const char root[] = "{\"typ\":\"cardd-merkle\"";
	static const char kid[] = ",\"kid\":\"";
	const char *p, *end = msg + len;

	if (len >= sizeof(root) - 1 && memcmp(msg, root, sizeof(root) - 1)
	    == 0) {
		snprintf(why, whylen, "a Merkle root object, not an answer");
		return VERIFY_FORMAT;
	}
	if (len < 5 || memcmp(msg, "{\"v\":", 5) != 0)
		return VERIFY_OK;	/* a body: batch results or FHIR */
	p = memmem(msg, len, kid, sizeof(kid) - 1);
	if (p != NULL)
		p += sizeof(kid) - 1;
	if (p == NULL || (size_t)(end - p) <= key->kid_len ||
	    memcmp(p, key->kid, key->kid_len) != 0 || p[key->kid_len] != '"') {
		snprintf(why, whylen, "the statement does not name the key "
		    "that signed it (kid %.*s)", (int)key->kid_len, key->kid);
		return VERIFY_KID;
	}
	return VERIFY_OK;
}
