/* SPDX-License-Identifier: MIT */
/*
 * cardctl keygen and verify. keygen writes a new Ed25519 key as PEM
 * (PKCS#8, as `openssl genpkey -algorithm ed25519` does) with mode 0600
 * and prints its JWKS. verify checks a statement against its signature
 * (a detached JWS or a batch proof) and a JWKS, with verify.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "b64url.h"
#include "cardcode.h"
#include "cardctl.h"
#include "jws.h"
#include "verify.h"

/* verify's options as given. */
struct keys_verify_args {
	const char	*jwks;
	const char	*statement;
	const char	*jws;
	const char	*code;		/* the card code asked, or NULL */
};

static char	*keys_read(const char *, size_t *);
static int	keys_verify_code(const char *, size_t, const char *, char *,
		    size_t);
static void	keys_verify_split(char *, size_t *, const char **);

/*
 * The statement answers the card code asked: its "code" member is the
 * code's hash (PROTOCOL.md §10), so an answer about another code, or
 * about a number, does not pass for this one.
 */
static int
keys_verify_code(const char *msg, size_t len, const char *code, char *why,
    size_t whylen)
{
	char hash[CARDCODE_HASH_LEN];
	json_t *st = json_loadb(msg, len, 0, NULL);
	const char *got = json_string_value(json_object_get(st, "code"));
	int ok;

	cardcode_hash(code, strlen(code), hash);
	ok = got != NULL && strlen(got) == sizeof(hash) &&
	    memcmp(got, hash, sizeof(hash)) == 0;
	json_decref(st);
	if (!ok) {
		snprintf(why, whylen, "the statement is not about this code");
		return CARDCTL_FAIL;
	}
	return CARDCTL_OK;
}

/* cardctl keygen [--sm2] FILE: an Ed25519 (or SM2) key and its JWKS. */
int
keys_keygen_main(int argc, char **argv)
{
	EVP_PKEY *pkey;
	uint8_t pub[JWS_PUB_MAX];
	size_t n;
	char kid[JWS_THUMB_LEN], jwk[JWS_JWK_MAX], pubpath[4096];
	enum jws_alg alg = JWS_EDDSA;
	const char *why = NULL;
	FILE *fp;
	int fd;

	if (argc == 3 && strcmp(argv[1], "--sm2") == 0) {
		alg = JWS_SM2;
		argv++;
		argc--;
	}
	if (argc != 2 || argv[1][0] == '-')
		return CARDCTL_BADARGS;
	if ((fd = open(argv[1], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0) {
		fprintf(stderr, "cardctl keygen: %s: %s\n", argv[1],
		    strerror(errno));
		return CARDCTL_USAGE;
	}
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, alg == JWS_SM2 ? "SM2" :
	    "ED25519");
	fp = fdopen(fd, "w");
	if (pkey == NULL || fp == NULL ||
	    PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fclose(fp) != 0 || jws_key_of(pkey, &alg, pub, &why) != 0) {
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
	jws_thumbprint_alg(alg, pub, kid);
	n = jws_jwk_alg(alg, pub, kid, sizeof(kid), jwk);
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
	    strlen(argv[1]) == 0 || strlen(argv[1]) > 64)
		return CARDCTL_BADARGS;
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

/*
 * Verify msg against its signature string (a detached JWS, or a batch
 * proof) and a JWKS (verify.c). Returns CARDCTL_OK, CARDCTL_FAIL (it does
 * not hold) or CARDCTL_USAGE (cannot tell); why says what went wrong.
 */
int
keys_verify_text(const char *jwks, size_t jwks_len, const char *msg,
    size_t len, const char *jws, size_t jws_len, char *why, size_t whylen)
{
	struct verify_keys set = { 0 };
	struct verify_info info;
	enum verify_result r;

	verify_keys_add(&set, jwks, jwks_len);
	r = verify_answer(&set, msg, len, jws, jws_len, &info, why, whylen);
	verify_keys_free(&set);
	if (r == VERIFY_OK)
		return CARDCTL_OK;
	return r == VERIFY_ERROR ? CARDCTL_USAGE : CARDCTL_FAIL;
}

/* The statement is one line; a JWS may follow it (check's output). */
static void
keys_verify_split(char *msg, size_t *len, const char **jws)
{
	char *nl = memchr(msg, '\n', *len);

	if (nl == NULL)
		return;
	*nl = '\0';
	if (*jws == NULL)
		*jws = strtok(nl + 1, "\r\n");
	*len = (size_t)(nl - msg);
}

/* cardctl verify --jwks FILE [--statement FILE] [--jws JWS] */
int
keys_verify_main(int argc, char **argv)
{
#define KEYS_OPT(name, field) \
	{ name, 1, offsetof(struct keys_verify_args, field), NULL }
	static const struct cardctl_opt opts[] = {
		KEYS_OPT("--jwks", jwks),
		KEYS_OPT("--statement", statement),
		KEYS_OPT("--jws", jws),
		KEYS_OPT("--code", code),
	};
#undef KEYS_OPT
	struct keys_verify_args a = { 0 };
	char *jwks = NULL, *msg = NULL, why[256];
	size_t jwks_len, len;
	int npos, rc;

	if ((rc = cardctl_parse(argc, argv, opts, CARDCTL_NOPTS(opts), &a,
	    NULL, 0, &npos)) != 0)
		return rc;
	if (a.jwks == NULL)
		return CARDCTL_BADARGS;
	if ((jwks = keys_read(a.jwks, &jwks_len)) == NULL) {
		fprintf(stderr, "cardctl verify: cannot read %s\n", a.jwks);
		rc = CARDCTL_USAGE;
		goto done;
	}
	if ((msg = keys_read(a.statement ? a.statement : "-", &len)) == NULL) {
		fprintf(stderr, "cardctl verify: cannot read %s\n",
		    a.statement ? a.statement : "stdin");
		rc = CARDCTL_USAGE;
		goto done;
	}
	keys_verify_split(msg, &len, &a.jws);
	if (a.jws == NULL) {
		fprintf(stderr, "cardctl verify: no JWS given\n");
		rc = CARDCTL_USAGE;
		goto done;
	}
	rc = keys_verify_text(jwks, jwks_len, msg, len, a.jws, strlen(a.jws),
	    why, sizeof(why));
	if (rc == CARDCTL_OK && a.code != NULL)
		rc = keys_verify_code(msg, len, a.code, why, sizeof(why));
	if (rc == CARDCTL_OK)
		printf("signature %s\n", why);
	else
		fprintf(stderr, "cardctl verify: %s\n", why);
done:
	free(jwks);
	free(msg);
	return rc;
}
