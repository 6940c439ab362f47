/* SPDX-License-Identifier: MIT */
/*
 * Verifying sampled answers, as a third party would (PROTOCOL.md §4):
 * the signature over the statement bytes exactly as received, then the
 * statement itself (it answers the check asked, for the card asked, and
 * echoes the nonce). Two kinds of signature string:
 *
 *   H..S               detached JWS over the statement (jws_verify);
 *   H.P.S~index~path   batch proof: Ed25519 over the bytes "H.P" (the
 *                      compact JWS's signing input, verified here with
 *                      EVP_DigestVerify) and an RFC 9162 inclusion proof
 *                      of the statement's leaf under P's root
 *                      (merkle_proof_input).
 *
 * Ed25519 verification costs tens of µs, so it stays off the load
 * threads: they copy a sampled answer into a bounded queue (dropping it,
 * counted, when the queue is full) and one verifier thread does the work.
 * On a small machine that thread would take CPU from the server under
 * test, so it keeps to a budget (--verify-cpu, percent of one core): after
 * each verification it sleeps in proportion to the time it took; samples
 * beyond the budget are dropped and counted.
 * The verifier alone writes the results; the main thread reads them
 * after cardbench_verify_finish() has joined it.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "b64url.h"
#include "cardbench_verify.h"
#include "jws.h"
#include "merkle.h"
#include "stmt.h"

#define VERIFY_KEYS	16
#define VERIFY_QUEUE	256
#define VERIFY_STMT_MAX	2048

struct verify_key {
	char		 kid[STMT_KID_MAX];
	size_t		 kid_len;
	uint8_t		 pub[JWS_PUB_LEN];
	EVP_PKEY	*pkey;
};

struct verify_item {
	struct cardbench_req	req;
	size_t			stmt_len;	/* may be > VERIFY_STMT_MAX */
	size_t			sig_len;
	char			stmt[VERIFY_STMT_MAX];
	char			sig[MERKLE_PROOF_MAX];
};

static struct verify_key	 verify_keyset[VERIFY_KEYS];
static size_t			 verify_nkeys;
static const char		*verify_scheme;
static double			 verify_budget = 100;

static struct verify_item	*verify_q;
static size_t			 verify_head, verify_count;
static int			 verify_done, verify_running;
static pthread_t		 verify_tid;
static pthread_mutex_t		 verify_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 verify_cv = PTHREAD_COND_INITIALIZER;
static struct cardbench_verify_result verify_res;

static int	cardbench_verify_add_key(json_t *);
static enum cardbench_vfail cardbench_verify_header(const char *, size_t,
		    const struct verify_key **);
static int	cardbench_verify_ed25519(const struct verify_key *,
		    const void *, size_t, const uint8_t *);
static enum cardbench_vfail cardbench_verify_detached(const char *, size_t,
		    const char *, size_t, const struct verify_key **);
static enum cardbench_vfail cardbench_verify_batch(const char *, size_t,
		    const char *, size_t, const struct verify_key **);
static enum cardbench_vfail cardbench_verify_statement(
		    const struct cardbench_req *, const char *, size_t,
		    const struct verify_key *);
static const struct verify_key *cardbench_verify_find(const char *, size_t);
static int	cardbench_verify_member(json_t *, const char *, const char *,
		    size_t);
static void	*cardbench_verify_main(void *);
static void	cardbench_verify_account(const struct verify_item *);
static uint64_t	cardbench_verify_now(void);
static void	cardbench_verify_rest(uint64_t);

/* Name of a failure kind. */
const char *
cardbench_verify_fail_name(enum cardbench_vfail f)
{
	static const char *const names[VFAIL_COUNT] = { "ok", "format",
	    "header", "unknown_kid", "signature", "proof", "statement",
	    "nonce" };

	return names[f];
}

/* Add one JWK of the set if it is an Ed25519 public key. */
static int
cardbench_verify_add_key(json_t *jwk)
{
	struct verify_key *k = &verify_keyset[verify_nkeys];
	json_t *kid = json_object_get(jwk, "kid");
	const char *x = json_string_value(json_object_get(jwk, "x"));
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *crv = json_string_value(json_object_get(jwk, "crv"));

	if (verify_nkeys == VERIFY_KEYS || !json_is_string(kid) ||
	    json_string_length(kid) > STMT_KID_MAX || x == NULL ||
	    kty == NULL || crv == NULL || strcmp(kty, "OKP") != 0 ||
	    strcmp(crv, "Ed25519") != 0 ||
	    b64url_decode(x, strlen(x), k->pub, JWS_PUB_LEN) != JWS_PUB_LEN)
		return -1;
	k->kid_len = json_string_length(kid);
	memcpy(k->kid, json_string_value(kid), k->kid_len);
	k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->pub,
	    JWS_PUB_LEN);
	if (k->pkey == NULL)
		return -1;
	verify_nkeys++;
	return 0;
}

/* Load the trusted keys from a JWKS. Returns how many, or -1. */
int
cardbench_verify_keys(const char *jwks, size_t len, const char *scheme)
{
	json_t *set = json_loadb(jwks, len, 0, NULL), *jwk;
	size_t i;

	verify_scheme = scheme;
	json_array_foreach(json_object_get(set, "keys"), i, jwk)
		cardbench_verify_add_key(jwk);
	json_decref(set);
	return verify_nkeys ? (int)verify_nkeys : -1;
}

/* Check a protected header and find the key it names. */
static enum cardbench_vfail
cardbench_verify_header(const char *hdr, size_t len,
    const struct verify_key **key)
{
	uint8_t raw[256];
	ssize_t n = b64url_decode(hdr, len, raw, sizeof(raw));
	json_t *h = n > 0 ? json_loadb((char *)raw, (size_t)n, 0, NULL) : NULL;
	const char *alg = json_string_value(json_object_get(h, "alg"));
	json_t *kid = json_object_get(h, "kid");
	enum cardbench_vfail rc = VFAIL_HEADER;

	if (alg != NULL && strcmp(alg, "EdDSA") == 0 && json_is_string(kid))
		rc = (*key = cardbench_verify_find(json_string_value(kid),
		    json_string_length(kid))) != NULL ? VFAIL_OK : VFAIL_KID;
	json_decref(h);
	return rc;
}

/* The trusted key with this kid, or NULL. */
static const struct verify_key *
cardbench_verify_find(const char *kid, size_t len)
{
	for (size_t i = 0; i < verify_nkeys; i++)
		if (verify_keyset[i].kid_len == len &&
		    memcmp(verify_keyset[i].kid, kid, len) == 0)
			return &verify_keyset[i];
	return NULL;
}

/* Ed25519 over exactly these bytes. 1: holds, 0: does not. */
static int
cardbench_verify_ed25519(const struct verify_key *k, const void *msg,
    size_t len, const uint8_t *sig)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = 0;

	if (ctx != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1)
		ok = EVP_DigestVerify(ctx, sig, JWS_SIG_LEN, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* A detached JWS H..S over the statement. */
static enum cardbench_vfail
cardbench_verify_detached(const char *stmt, size_t len, const char *sig,
    size_t sig_len, const struct verify_key **key)
{
	char scratch[JWS_HDR_MAX + 1 + B64URL_LEN(VERIFY_STMT_MAX)];
	struct jws_parts p;
	enum cardbench_vfail rc;

	if (jws_split(sig, sig_len, &p) != 0)
		return VFAIL_FORMAT;
	if ((rc = cardbench_verify_header(p.hdr, p.hdr_len, key)) != VFAIL_OK)
		return rc;
	if (jws_verify((*key)->pub, &p, stmt, len, scratch,
	    sizeof(scratch)) != 1)
		return VFAIL_SIGNATURE;
	return VFAIL_OK;
}

/*
 * A batch proof H..S~n~index~path: the root the statement's path leads
 * to, then the detached JWS over the root object.
 */
static enum cardbench_vfail
cardbench_verify_batch(const char *stmt, size_t len, const char *sig,
    size_t sig_len,
    const struct verify_key **key)
{
	struct merkle_proof p;
	enum cardbench_vfail rc;
	char input[MERKLE_INPUT_MAX];
	size_t n;

	if (merkle_proof_parse(sig, sig_len, &p) != 0)
		return VFAIL_FORMAT;
	if ((rc = cardbench_verify_header(p.hdr, p.hdr_len, key)) != VFAIL_OK)
		return rc;
	if ((n = merkle_proof_input(&p, stmt, len, input)) == 0)
		return VFAIL_PROOF;
	if (!cardbench_verify_ed25519(*key, input, n, p.sig))
		return VFAIL_SIGNATURE;
	return VFAIL_OK;
}

/* Is member name the string want? (want NULL: must be absent) */
static int
cardbench_verify_member(json_t *o, const char *name, const char *want,
    size_t len)
{
	json_t *m = json_object_get(o, name);

	if (want == NULL)
		return m == NULL;
	return json_is_string(m) && json_string_length(m) == len &&
	    memcmp(json_string_value(m), want, len) == 0;
}

/* The statement answers what was asked, signed by the key it names. */
static enum cardbench_vfail
cardbench_verify_statement(const struct cardbench_req *r, const char *stmt,
    size_t len, const struct verify_key *key)
{
	char card[CARDBENCH_CARD_MAX], nonce[CARDBENCH_NONCE_LEN];
	const char *check = cardbench_req_check_name(r->check);
	int cov = r->check == BENCH_COVERAGE;
	json_t *o = json_loadb(stmt, len, 0, NULL);
	enum cardbench_vfail rc = VFAIL_STATEMENT;

	if (json_integer_value(json_object_get(o, "v")) == 1 &&
	    cardbench_verify_member(o, "check", check, strlen(check)) &&
	    cardbench_verify_member(o, "card", card, cardbench_req_card(r->card,
	        card)) &&
	    cardbench_verify_member(o, "scheme", cov ? verify_scheme : NULL,
	    cov ? strlen(verify_scheme) : 0) &&
	    cardbench_verify_member(o, "kid", key->kid, key->kid_len) &&
	    json_is_string(json_object_get(o, "result")) &&
	    json_is_string(json_object_get(o, "reason")))
		rc = cardbench_verify_member(o, "nonce",
		    r->nonce ? nonce : NULL,
		    r->nonce ? cardbench_req_nonce(r, nonce) : 0) ?
		    VFAIL_OK : VFAIL_NONCE;
	json_decref(o);
	return rc;
}

/*
 * Verify one answer to request r. *batch says which kind of signature it
 * carried; why describes a failure.
 */
enum cardbench_vfail
cardbench_verify_one(const struct cardbench_req *r, const char *stmt,
    size_t len, const char *sig, size_t sig_len, int *batch, char *why,
    size_t whylen)
{
	const struct verify_key *key = NULL;
	char card[CARDBENCH_CARD_MAX];
	enum cardbench_vfail rc;

	*batch = merkle_is_proof(sig, sig_len);
	if (len > VERIFY_STMT_MAX)
		rc = VFAIL_STATEMENT;
	else if (*batch)
		rc = cardbench_verify_batch(stmt, len, sig, sig_len, &key);
	else
		rc = cardbench_verify_detached(stmt, len, sig, sig_len, &key);
	if (rc == VFAIL_OK)
		rc = cardbench_verify_statement(r, stmt, len, key);
	if (rc != VFAIL_OK)
		snprintf(why, whylen, "%s check of card %.*s: %s (%s)",
		    cardbench_req_check_name(r->check),
		    (int)cardbench_req_card(r->card, card), card,
		    cardbench_verify_fail_name(rc),
		    *batch ? "batch proof" : "detached JWS");
	return rc;
}

/* Count one verification (verifier thread only). */
static void
cardbench_verify_account(const struct verify_item *it)
{
	enum cardbench_vfail rc;
	char why[sizeof(verify_res.first)];
	int batch = 0;

	rc = cardbench_verify_one(&it->req, it->stmt, it->stmt_len, it->sig,
	    it->sig_len, &batch, why, sizeof(why));
	if (batch)
		verify_res.batch++;
	else
		verify_res.detached++;
	verify_res.fail[rc]++;
	if (rc == VFAIL_OK) {
		verify_res.ok++;
		return;
	}
	if (verify_res.failed++ == 0)
		snprintf(verify_res.first, sizeof(verify_res.first), "%s", why);
}

/* Monotonic time in ns. */
static uint64_t
cardbench_verify_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sleep so that busy_ns of work stays within the CPU budget. */
static void
cardbench_verify_rest(uint64_t busy_ns)
{
	double ns = (double)busy_ns * (100.0 / verify_budget - 1.0);
	struct timespec ts = { (time_t)(ns / 1e9), (long)fmod(ns, 1e9) };

	if (ns >= 1000)
		nanosleep(&ts, NULL);
}

/* The verifier thread: take items until told to finish and drained. */
static void *
cardbench_verify_main(void *arg)
{
	static struct verify_item it;
	uint64_t t;
	int draining;

	(void)arg;
	pthread_mutex_lock(&verify_mu);
	for (;;) {
		while (verify_count == 0 && !verify_done)
			pthread_cond_wait(&verify_cv, &verify_mu);
		if (verify_count == 0)
			break;
		memcpy(&it, &verify_q[verify_head], sizeof(it));
		verify_head = (verify_head + 1) % VERIFY_QUEUE;
		verify_count--;
		draining = verify_done;
		pthread_mutex_unlock(&verify_mu);
		t = cardbench_verify_now();
		cardbench_verify_account(&it);
		if (!draining)
			cardbench_verify_rest(cardbench_verify_now() - t);
		pthread_mutex_lock(&verify_mu);
	}
	pthread_mutex_unlock(&verify_mu);
	return NULL;
}

/* Start the verifier thread, to use at most cpu_pct of one core. */
int
cardbench_verify_start(double cpu_pct)
{
	verify_budget = cpu_pct;
	if ((verify_q = calloc(VERIFY_QUEUE, sizeof(*verify_q))) == NULL ||
	    pthread_create(&verify_tid, NULL, cardbench_verify_main, NULL) != 0)
		return -1;
	verify_running = 1;
	return 0;
}

/*
 * Queue a sampled answer (called by the load threads). Returns -1 when
 * the queue is full and the sample is dropped.
 */
int
cardbench_verify_submit(const struct cardbench_req *r, const char *stmt,
    size_t stmt_len, const char *sig, size_t sig_len)
{
	struct verify_item *it;

	if (sig_len > MERKLE_PROOF_MAX)
		sig_len = MERKLE_PROOF_MAX;	/* fails as malformed */
	pthread_mutex_lock(&verify_mu);
	if (verify_count == VERIFY_QUEUE) {
		pthread_mutex_unlock(&verify_mu);
		return -1;
	}
	it = &verify_q[(verify_head + verify_count++) % VERIFY_QUEUE];
	it->req = *r;
	it->stmt_len = stmt_len;
	it->sig_len = sig_len;
	memcpy(it->stmt, stmt, stmt_len < VERIFY_STMT_MAX ? stmt_len :
	    VERIFY_STMT_MAX);
	memcpy(it->sig, sig, sig_len);
	pthread_cond_signal(&verify_cv);
	pthread_mutex_unlock(&verify_mu);
	return 0;
}

/* Drain the queue, stop the verifier, and give its results. */
void
cardbench_verify_finish(struct cardbench_verify_result *out)
{
	if (verify_running) {
		pthread_mutex_lock(&verify_mu);
		verify_done = 1;
		pthread_cond_signal(&verify_cv);
		pthread_mutex_unlock(&verify_mu);
		pthread_join(verify_tid, NULL);
		verify_running = 0;
	}
	*out = verify_res;
	free(verify_q);
	verify_q = NULL;
	for (size_t i = 0; i < verify_nkeys; i++)
		EVP_PKEY_free(verify_keyset[i].pkey);
	verify_nkeys = 0;
}
