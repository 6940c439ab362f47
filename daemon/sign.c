/* SPDX-License-Identifier: MIT */
/*
 * Signing keys and signatures. A keyring holds the key that signs
 * (Ed25519, or SM2 with sign_alg sm2: protocol/sm2.c), its kid (configured, or the RFC 7638 thumbprint), the b64url
 * JWS header that never changes for that key, and the JWKS text that
 * publishes it. A keyring is immutable once loaded; reload builds a new
 * one and swaps it in through live.c. The private key file must not be
 * readable by group or others, and its bytes are wiped once parsed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "b64url.h"
#include "sign.h"
#include "sm2.h"

#define SIGN_PEM_MAX	8192
#define SIGN_MAX_OTHERS	16	/* published keys besides the signer */

static _Atomic uint64_t sign_generations;

/* A public key published beside the signer: retired, or configured. */
struct sign_pub {
	enum jws_alg	 alg;
	uint8_t		 pub[JWS_PUB_MAX];
	char		 kid[STMT_KID_MAX + 1];
	size_t		 kid_len;
	int		 retired;	/* a former signer of this process */
};

struct sign_keyring {
	_Atomic int	 refs;		/* the live state's, signer jobs' */
	uint64_t	 generation;	/* tells keyrings apart */
	struct sign_pub	 others[SIGN_MAX_OTHERS];
	size_t		 nothers;
	EVP_PKEY	*pkey;
	enum jws_alg	 alg;
	uint8_t		 pub[JWS_PUB_MAX];
	char		 kid[STMT_KID_MAX + 1];
	size_t		 kid_len;
	char		 hdr[JWS_HDR_MAX];
	size_t		 hdr_len;
	char		*jwks;
	size_t		 jwks_len;
	char		 etag[SIGN_ETAG_MAX];	/* "b64url(SHA-256(jwks))" */
	size_t		 etag_len;
};

struct sign_ctx {
	EVP_MD_CTX	*md;
	uint64_t	 generation;	/* keyring md was last set up for */
	char		*input;		/* the JWS signing input */
	size_t		 cap;
};

static EVP_PKEY	*sign_read_pem(const char *, enum jws_alg, uint8_t *, char *,
		    size_t);
static int	sign_publish(struct sign_keyring *);
static int	sign_etag(struct sign_keyring *);
static void	sign_add_other(struct sign_keyring *, const struct sign_pub *);
static int	sign_read_public(const char *, size_t, struct sign_pub *, char *,
		    size_t);
static int	sign_others(struct sign_keyring *, const char *,
		    const struct sign_keyring *, char *, size_t);

/*
 * Read a private key file that only its owner can read, a key of alg;
 * pub gets its public key.
 */
static EVP_PKEY *
sign_read_pem(const char *path, enum jws_alg alg, uint8_t *pub, char *err,
    size_t errlen)
{
	char buf[SIGN_PEM_MAX];
	EVP_PKEY *pkey = NULL;
	enum jws_alg is = JWS_SM2;
	const char *why = NULL;
	struct stat st;
	ssize_t n;
	BIO *bio;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s: private key is accessible by group "
		    "or others (mode %03o); run chmod 600 on it", path,
		    (unsigned)st.st_mode & 0777);
		close(fd);
		return NULL;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n > 0 && (bio = BIO_new_mem_buf(buf, (int)n)) != NULL) {
		pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (pkey == NULL) {
		snprintf(err, errlen, "%s: not a PEM private key", path);
		return NULL;
	}
	if (jws_key_of(pkey, &is, pub, &why) != 0 || is != alg) {
		if (alg == JWS_SM2)
			snprintf(err, errlen, "%s: %s, but sign_alg is sm2 (make "
			    "an SM2 key with cardctl keygen --sm2, or openssl "
			    "genpkey -algorithm SM2)", path, is == JWS_EDDSA &&
			    why == NULL ? "an Ed25519 key" : "not an SM2 key");
		else
			snprintf(err, errlen, "%s: not an Ed25519 key, but "
			    "sign_alg is ed25519 (make one with cardctl keygen, "
			    "or openssl genpkey -algorithm ed25519)", path);
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

/*
 * Precompute the JWS header, the JWKS (the signer first, then others)
 * and the JWKS's HTTP ETag, the quoted base64url of its SHA-256.
 */
static int
sign_publish(struct sign_keyring *kr)
{
	char jwk[JWS_JWK_MAX];
	size_t n;

	kr->hdr_len = jws_header_alg(kr->alg, kr->kid, kr->kid_len, kr->hdr);
	if ((kr->jwks = malloc((kr->nothers + 1) * (JWS_JWK_MAX + 1) + 16)) ==
	    NULL)
		return -1;
	n = jws_jwk_alg(kr->alg, kr->pub, kr->kid, kr->kid_len, jwk);
	kr->jwks_len = (size_t)sprintf(kr->jwks, "{\"keys\":[%.*s", (int)n,
	    jwk);
	for (size_t i = 0; i < kr->nothers; i++) {
		n = jws_jwk_alg(kr->others[i].alg, kr->others[i].pub,
		    kr->others[i].kid, kr->others[i].kid_len, jwk);
		kr->jwks_len += (size_t)sprintf(kr->jwks + kr->jwks_len, ",%.*s",
		    (int)n, jwk);
	}
	kr->jwks_len += (size_t)sprintf(kr->jwks + kr->jwks_len, "]}");
	return sign_etag(kr);
}

/* The JWKS's ETag: it changes exactly when the JWKS bytes do. */
static int
sign_etag(struct sign_keyring *kr)
{
	kr->etag_len = sign_etag_of(kr->jwks, kr->jwks_len, kr->etag);
	return kr->etag_len > 0 ? 0 : -1;
}

/*
 * An HTTP entity tag for some bytes: the base64url SHA-256, quoted, NUL
 * ended in out (SIGN_ETAG_MAX). Its length, or 0 if hashing failed.
 */
size_t
sign_etag_of(const void *p, size_t len, char *out)
{
	unsigned char md[32];
	size_t n;

	if (EVP_Digest(p, len, md, NULL, EVP_sha256(), NULL) != 1)
		return 0;
	out[0] = '"';
	n = 1 + b64url_encode(md, sizeof(md), out + 1);
	out[n++] = '"';
	out[n] = '\0';
	return n;
}

/* Add a published key unless its kid is there already. */
static void
sign_add_other(struct sign_keyring *kr, const struct sign_pub *p)
{
	if (p->kid_len == kr->kid_len && memcmp(p->kid, kr->kid, p->kid_len) == 0)
		return;
	for (size_t i = 0; i < kr->nothers; i++)
		if (kr->others[i].kid_len == p->kid_len &&
		    memcmp(kr->others[i].kid, p->kid, p->kid_len) == 0)
			return;
	if (kr->nothers < SIGN_MAX_OTHERS)
		kr->others[kr->nothers++] = *p;
}

/*
 * Read one "FILE[=KID]" of publish_keys: a PEM public key (openssl pkey
 * -pubout), Ed25519 or SM2 whatever signs now, published with KID or
 * its thumbprint.
 */
static int
sign_read_public(const char *spec, size_t len, struct sign_pub *p, char *err,
    size_t errlen)
{
	char path[4096];
	const char *eq = memchr(spec, '=', len);
	size_t plen = eq ? (size_t)(eq - spec) : len;
	EVP_PKEY *key = NULL;
	const char *why = "unreadable";
	FILE *fp;

	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "%.*s", (int)plen, spec);
	if ((fp = fopen(path, "r")) != NULL) {
		key = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
		fclose(fp);
	}
	if (key == NULL || jws_key_of(key, &p->alg, p->pub, &why) != 0) {
		snprintf(err, errlen, "publish_keys: %s: not an Ed25519 or SM2 "
		    "public key PEM (%s)", path, key == NULL ? "unreadable" :
		    why);
		EVP_PKEY_free(key);
		return -1;
	}
	EVP_PKEY_free(key);
	if (eq != NULL && (size_t)(spec + len - eq - 1) <= STMT_KID_MAX &&
	    eq + 1 < spec + len) {
		p->kid_len = (size_t)(spec + len - eq - 1);
		memcpy(p->kid, eq + 1, p->kid_len);
	} else {
		jws_thumbprint_alg(p->alg, p->pub, p->kid);
		p->kid_len = JWS_THUMB_LEN;
	}
	return 0;
}

/*
 * The published keys besides the signer: the previous keyring's signer
 * and retired keys (a key rotated out by SIGHUP stays published until
 * restart), then the publish_keys list (space-separated FILE[=KID]).
 */
static int
sign_others(struct sign_keyring *kr, const char *publish,
    const struct sign_keyring *prev, char *err, size_t errlen)
{
	struct sign_pub p;

	if (prev != NULL) {
		p.alg = prev->alg;
		memcpy(p.pub, prev->pub, JWS_PUB_MAX);
		memcpy(p.kid, prev->kid, prev->kid_len);
		p.kid_len = prev->kid_len;
		p.retired = 1;
		sign_add_other(kr, &p);
		for (size_t i = 0; i < prev->nothers; i++)
			if (prev->others[i].retired)
				sign_add_other(kr, &prev->others[i]);
	}
	while (publish != NULL && *publish != '\0') {
		size_t n = strcspn(publish, " \t");

		if (n > 0) {
			if (sign_read_public(publish, n, &p, err, errlen) != 0)
				return -1;
			sign_add_other(kr, &p);
		}
		publish += n + strspn(publish + n, " \t");
	}
	return 0;
}

/*
 * Load the signing key, of alg; kid NULL means the key's thumbprint.
 * publish (may be NULL) and prev (the keyring it replaces, may be NULL)
 * give the other keys the JWKS publishes, of either algorithm.
 */
struct sign_keyring *
sign_keyring_load(const char *path, enum jws_alg alg, const char *kid,
    const char *publish, const struct sign_keyring *prev, char *err,
    size_t errlen)
{
	struct sign_keyring *kr = calloc(1, sizeof(*kr));

	if (kr == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	kr->refs = 1;
	kr->generation = atomic_fetch_add(&sign_generations, 1) + 1;
	kr->alg = alg;
	if ((kr->pkey = sign_read_pem(path, alg, kr->pub, err, errlen)) ==
	    NULL)
		goto fail;
	if (kid != NULL) {
		kr->kid_len = strlen(kid);
		memcpy(kr->kid, kid, kr->kid_len);
	} else {
		jws_thumbprint_alg(alg, kr->pub, kr->kid);
		kr->kid_len = JWS_THUMB_LEN;
	}
	if (sign_others(kr, publish, prev, err, errlen) != 0)
		goto fail;
	if (sign_publish(kr) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return kr;
fail:
	sign_keyring_free(kr);
	return NULL;
}

/* Free a keyring; OpenSSL wipes the private key it frees. */
void
sign_keyring_free(struct sign_keyring *kr)
{
	if (kr == NULL || atomic_fetch_sub(&kr->refs, 1) > 1)
		return;
	EVP_PKEY_free(kr->pkey);
	free(kr->jwks);
	free(kr);
}

/* One more holder of a keyring (a job signing with it); free drops it. */
struct sign_keyring *
sign_keyring_ref(struct sign_keyring *kr)
{
	atomic_fetch_add(&kr->refs, 1);
	return kr;
}

/* The algorithm that signs. */
enum jws_alg
sign_alg(const struct sign_keyring *kr)
{
	return kr->alg;
}

/* The kid that signs. */
const char *
sign_kid(const struct sign_keyring *kr, size_t *len)
{
	*len = kr->kid_len;
	return kr->kid;
}

/* The JWKS document. */
const char *
sign_jwks(const struct sign_keyring *kr, size_t *len)
{
	*len = kr->jwks_len;
	return kr->jwks;
}

/* The JWKS document's ETag, quotes included. */
const char *
sign_jwks_etag(const struct sign_keyring *kr, size_t *len)
{
	*len = kr->etag_len;
	return kr->etag;
}

/* A per-thread signing context. */
struct sign_ctx *
sign_ctx_new(void)
{
	struct sign_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->md = EVP_MD_CTX_new()) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

/* Free a signing context. */
void
sign_ctx_free(struct sign_ctx *c)
{
	if (c == NULL)
		return;
	EVP_MD_CTX_free(c->md);
	free(c->input);
	free(c);
}

/* The b64url protected header of the signing key. */
const char *
sign_header(const struct sign_keyring *kr, size_t *len)
{
	*len = kr->hdr_len;
	return kr->hdr;
}

/* Sign bytes given whole (a JWS signing input built elsewhere). */
int
sign_raw(struct sign_ctx *c, const struct sign_keyring *kr, const void *input,
    size_t len, uint8_t sig[JWS_SIG_LEN])
{
	size_t siglen = JWS_SIG_LEN;

	/* SM2 hashes Z ‖ M with SM3: its context is set up for each one. */
	if (kr->alg == JWS_SM2) {
		c->generation = 0;
		return sm2_sign(c->md, kr->pkey, input, len, sig);
	}
	/*
	 * One set-up per keyring: Ed25519 signs each message whole, so the
	 * context holds nothing between signatures and may sign again
	 * (saves the provider lookups of EVP_DigestSignInit each time). A
	 * new keyring needs a fresh context: OpenSSL 3 keeps a set-up
	 * context bound to its first key, whatever a later init names.
	 */
	if (c->generation != kr->generation) {
		EVP_MD_CTX_reset(c->md);
		c->generation = 0;
		if (EVP_DigestSignInit(c->md, NULL, NULL, NULL, kr->pkey) != 1)
			return -1;
		c->generation = kr->generation;
	}
	if (EVP_DigestSign(c->md, sig, &siglen, input, len) != 1) {
		c->generation = 0;	/* set up again next time */
		return -1;
	}
	return 0;
}

/*
 * Sign msg as a detached JWS; out needs JWS_DETACHED_MAX bytes.
 * Returns 0, or -1 when OpenSSL fails or memory runs out.
 */
int
sign_jws(struct sign_ctx *c, const struct sign_keyring *kr, const void *msg,
    size_t len, char *out, size_t *outlen)
{
	size_t need = kr->hdr_len + 1 + B64URL_LEN(len), n;
	uint8_t sig[JWS_SIG_LEN];

	if (need > c->cap) {
		char *p = realloc(c->input, need);

		if (p == NULL)
			return -1;
		c->input = p;
		c->cap = need;
	}
	n = jws_signing_input(kr->hdr, kr->hdr_len, msg, len, c->input);
	if (sign_raw(c, kr, c->input, n, sig) != 0)
		return -1;
	*outlen = jws_detached(kr->hdr, kr->hdr_len, sig, out);
	return 0;
}
