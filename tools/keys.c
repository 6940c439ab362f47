/* SPDX-License-Identifier: MIT */
/*
 * cardctl keygen and verify. keygen writes a new Ed25519 key as PEM
 * (PKCS#8, as `openssl genpkey -algorithm ed25519` does) with mode 0600
 * and prints its JWKS. verify checks a statement against a detached JWS
 * and a JWKS: the header must say EdDSA and name a key of the set.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "b64url.h"
#include "cardctl.h"
#include "jws.h"
#include "merkle.h"

static int	keys_find(const char *, size_t, const char *, size_t,
		    uint8_t *, char *, size_t);
static char	*keys_read(const char *, size_t *);
static int	keys_header(const struct jws_parts *, char *, size_t *, char *,
		    size_t);
static int	keys_verify_batch(const char *, size_t, const char *, size_t,
		    const char *, size_t, char *, size_t);

/* cardctl keygen FILE */
int
keys_keygen_main(int argc, char **argv)
{
	EVP_PKEY *pkey;
	uint8_t pub[JWS_PUB_LEN];
	size_t publen = sizeof(pub), n;
	char kid[JWS_THUMB_LEN], jwk[JWS_JWK_MAX], pubpath[4096];
	FILE *fp;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: cardctl keygen FILE\n");
		return CARDCTL_USAGE;
	}
	if ((fd = open(argv[1], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0) {
		fprintf(stderr, "cardctl keygen: %s: %s\n", argv[1],
		    strerror(errno));
		return CARDCTL_USAGE;
	}
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	fp = fdopen(fd, "w");
	if (pkey == NULL || fp == NULL ||
	    PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fclose(fp) != 0 ||
	    EVP_PKEY_get_raw_public_key(pkey, pub, &publen) != 1) {
		fprintf(stderr, "cardctl keygen: cannot make the key\n");
		unlink(argv[1]);
		EVP_PKEY_free(pkey);
		return CARDCTL_USAGE;
	}
	snprintf(pubpath, sizeof(pubpath), "%s.pub", argv[1]);
	if ((fp = fopen(pubpath, "w")) == NULL ||
	    PEM_write_PUBKEY(fp, pkey) != 1 || fclose(fp) != 0)
		fprintf(stderr, "cardctl keygen: cannot write %s\n", pubpath);
	EVP_PKEY_free(pkey);
	jws_thumbprint(pub, kid);
	n = jws_jwk(pub, kid, sizeof(kid), jwk);
	printf("{\"keys\":[%.*s]}\n", (int)n, jwk);
	return CARDCTL_OK;
}

/*
 * cardctl token NAME: a new random bearer token (32 bytes, base64url)
 * and the config line that admits it, which holds only its SHA-256.
 */
int
keys_token_main(int argc, char **argv)
{
	uint8_t raw[32], digest[32];
	char token[B64URL_LEN(32) + 1];
	size_t n;

	if (argc != 2 || strspn(argv[1], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
	    "klmnopqrstuvwxyz0123456789._-") != strlen(argv[1]) ||
	    strlen(argv[1]) == 0 || strlen(argv[1]) > 64) {
		fprintf(stderr, "usage: cardctl token NAME (1-64 of A-Z a-z "
		    "0-9 . _ -)\n");
		return CARDCTL_USAGE;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		fprintf(stderr, "cardctl token: no randomness\n");
		return CARDCTL_USAGE;
	}
	n = b64url_encode(raw, sizeof(raw), token);
	token[n] = '\0';
	if (EVP_Digest(token, n, digest, NULL, EVP_sha256(), NULL) != 1)
		return CARDCTL_USAGE;
	printf("token: %s\nconfig: client %s token=sha256:", token, argv[1]);
	for (size_t i = 0; i < sizeof(digest); i++)
		printf("%02x", digest[i]);
	printf(" allow=validity,coverage rate=100\n");
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(token, sizeof(token));
	return CARDCTL_OK;
}

/* Read a whole file ("-": stdin), NUL-terminated. */
static char *
keys_read(const char *path, size_t *len)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	size_t cap = 4096;
	char *buf = malloc(cap), *p;

	*len = 0;
	if (fp == NULL || buf == NULL) {
		free(buf);
		return NULL;
	}
	while (!feof(fp) && !ferror(fp)) {
		if (cap - *len < 4096) {
			if ((p = realloc(buf, cap *= 2)) == NULL)
				break;
			buf = p;
		}
		*len += fread(buf + *len, 1, cap - *len - 1, fp);
	}
	if (fp != stdin)
		fclose(fp);
	buf[*len] = '\0';
	return buf;
}

/* The protected header must be {"alg":"EdDSA","kid":…}; get the kid. */
static int
keys_header(const struct jws_parts *p, char *kid, size_t *kid_len,
    char *why, size_t whylen)
{
	uint8_t raw[256];
	ssize_t n = b64url_decode(p->hdr, p->hdr_len, raw, sizeof(raw));
	json_t *h = n > 0 ? json_loadb((char *)raw, (size_t)n, 0, NULL) : NULL;
	const char *alg = json_string_value(json_object_get(h, "alg"));
	json_t *k = json_object_get(h, "kid");
	int rc = -1;

	if (h == NULL)
		snprintf(why, whylen, "JWS header is not base64url JSON");
	else if (alg == NULL || strcmp(alg, "EdDSA") != 0)
		snprintf(why, whylen, "JWS header alg is not EdDSA");
	else if (!json_is_string(k) || json_string_length(k) > STMT_KID_MAX)
		snprintf(why, whylen, "JWS header has no usable kid");
	else {
		*kid_len = json_string_length(k);
		memcpy(kid, json_string_value(k), *kid_len);
		rc = 0;
	}
	json_decref(h);
	return rc;
}

/* The Ed25519 key with this kid in a JWKS. */
static int
keys_find(const char *jwks, size_t len, const char *kid, size_t kid_len,
    uint8_t *pub, char *why, size_t whylen)
{
	json_t *set = json_loadb(jwks, len, 0, NULL), *key;
	size_t i;
	int rc = -1;

	json_array_foreach(json_object_get(set, "keys"), i, key) {
		json_t *k = json_object_get(key, "kid");
		const char *x = json_string_value(json_object_get(key, "x"));
		const char *kty = json_string_value(json_object_get(key, "kty"));
		const char *crv = json_string_value(json_object_get(key, "crv"));

		if (!json_is_string(k) || json_string_length(k) != kid_len ||
		    memcmp(json_string_value(k), kid, kid_len) != 0)
			continue;
		if (x != NULL && kty != NULL && crv != NULL &&
		    strcmp(kty, "OKP") == 0 && strcmp(crv, "Ed25519") == 0 &&
		    b64url_decode(x, strlen(x), pub, JWS_PUB_LEN) ==
		    JWS_PUB_LEN)
			rc = 0;
		break;
	}
	if (set == NULL)
		snprintf(why, whylen, "the JWKS is not JSON");
	else if (rc != 0)
		snprintf(why, whylen, "no Ed25519 key with the JWS's kid in "
		    "the JWKS");
	json_decref(set);
	return rc;
}

/*
 * Verify a batch proof (H..S~n~index~path): rebuild the root the
 * statement's path leads to, then the JWS over the root object.
 */
static int
keys_verify_batch(const char *jwks, size_t jwks_len, const char *msg,
    size_t len, const char *sig, size_t sig_len, char *why, size_t whylen)
{
	struct merkle_proof mp;
	struct jws_parts p;
	uint8_t pub[JWS_PUB_LEN];
	char kid[STMT_KID_MAX], input[MERKLE_INPUT_MAX];
	size_t kid_len, n;
	int ok;

	if (merkle_proof_parse(sig, sig_len, &mp) != 0) {
		snprintf(why, whylen, "not a batch proof (H..S~N~INDEX~PATH)");
		return CARDCTL_FAIL;
	}
	p.hdr = mp.hdr;
	p.hdr_len = mp.hdr_len;
	if (keys_header(&p, kid, &kid_len, why, whylen) != 0 ||
	    keys_find(jwks, jwks_len, kid, kid_len, pub, why, whylen) != 0)
		return CARDCTL_FAIL;
	if ((n = merkle_proof_input(&mp, msg, len, input)) == 0) {
		snprintf(why, whylen, "the path fits no tree of %llu leaves",
		    (unsigned long long)mp.n);
		return CARDCTL_FAIL;
	}
	ok = jws_verify_input(pub, input, n, mp.sig);
	if (ok != 1) {
		snprintf(why, whylen, ok == 0 ? "signature does not match (the "
		    "statement is not the one signed)" :
		    "cannot check the signature");
		return ok == 0 ? CARDCTL_FAIL : CARDCTL_USAGE;
	}
	snprintf(why, whylen, "valid (batch of %llu, leaf %llu), kid %.*s",
	    (unsigned long long)mp.n, (unsigned long long)mp.index,
	    (int)kid_len, kid);
	return CARDCTL_OK;
}

/*
 * Verify msg against its signature string (a detached JWS, or a batch
 * proof) and a JWKS. Returns CARDCTL_OK, CARDCTL_FAIL (it does not hold)
 * or CARDCTL_USAGE (cannot tell); why says what went wrong.
 */
int
keys_verify_text(const char *jwks, size_t jwks_len, const char *msg,
    size_t len, const char *jws, size_t jws_len, char *why, size_t whylen)
{
	struct jws_parts p;
	uint8_t pub[JWS_PUB_LEN];
	char kid[STMT_KID_MAX];
	size_t kid_len, cap;
	char *scratch;
	int ok;

	if (merkle_is_proof(jws, jws_len))
		return keys_verify_batch(jwks, jwks_len, msg, len, jws, jws_len,
		    why, whylen);
	if (jws_split(jws, jws_len, &p) != 0) {
		snprintf(why, whylen, "not a detached JWS (HEADER..SIGNATURE)");
		return CARDCTL_FAIL;
	}
	if (keys_header(&p, kid, &kid_len, why, whylen) != 0 ||
	    keys_find(jwks, jwks_len, kid, kid_len, pub, why, whylen) != 0)
		return CARDCTL_FAIL;
	cap = p.hdr_len + 1 + B64URL_LEN(len);
	if ((scratch = malloc(cap)) == NULL)
		return CARDCTL_USAGE;
	ok = jws_verify(pub, &p, msg, len, scratch, cap);
	free(scratch);
	if (ok != 1)
		snprintf(why, whylen, ok == 0 ? "signature does not match" :
		    "cannot check the signature");
	else
		snprintf(why, whylen, "valid, kid %.*s", (int)kid_len, kid);
	return ok == 1 ? CARDCTL_OK : ok == 0 ? CARDCTL_FAIL : CARDCTL_USAGE;
}

/* cardctl verify --jwks FILE [--statement FILE] [--jws JWS] */
int
keys_verify_main(int argc, char **argv)
{
	const char *jwks_path = NULL, *stmt_path = NULL, *jws = NULL;
	char *jwks, *msg, *nl, why[256];
	size_t jwks_len, len;
	int rc;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--jwks") == 0)
			jwks_path = argv[i + 1];
		else if (strcmp(argv[i], "--statement") == 0)
			stmt_path = argv[i + 1];
		else if (strcmp(argv[i], "--jws") == 0)
			jws = argv[i + 1];
		else
			jwks_path = NULL, i = argc;
	}
	if (jwks_path == NULL || argc % 2 == 0) {
		fprintf(stderr, "usage: cardctl verify --jwks FILE "
		    "[--statement FILE] [--jws JWS]\n");
		return CARDCTL_USAGE;
	}
	jwks = keys_read(jwks_path, &jwks_len);
	msg = keys_read(stmt_path ? stmt_path : "-", &len);
	if (jwks == NULL || msg == NULL) {
		fprintf(stderr, "cardctl verify: cannot read %s\n",
		    jwks == NULL ? jwks_path : stmt_path ? stmt_path : "stdin");
		free(jwks);
		free(msg);
		return CARDCTL_USAGE;
	}
	/* The statement is one line; a JWS may follow it (check's output). */
	if ((nl = memchr(msg, '\n', len)) != NULL) {
		*nl = '\0';
		if (jws == NULL)
			jws = strtok(nl + 1, "\r\n");
		len = (size_t)(nl - msg);
	}
	if (jws == NULL) {
		fprintf(stderr, "cardctl verify: no JWS given\n");
		rc = CARDCTL_USAGE;
	} else {
		rc = keys_verify_text(jwks, jwks_len, msg, len, jws,
		    strlen(jws), why, sizeof(why));
		fprintf(rc == CARDCTL_OK ? stdout : stderr, "%s%s\n",
		    rc == CARDCTL_OK ? "signature " : "cardctl verify: ", why);
	}
	free(jwks);
	free(msg);
	return rc;
}
