/* SPDX-License-Identifier: MIT */
/*
 * Verifying sampled answers, as a third party would (PROTOCOL.md §4):
 * the signature over the statement bytes exactly as received, a
 * detached JWS or a batch proof, checked by tools/verify.c as cardctl
 * checks it, then the statement itself (it answers the check asked, for
 * the card asked, signed by the key it names, and echoes the nonce).
 * An answer asked by code (PROTOCOL.md §10) names the code instead: its
 * "code" must be the SHA-256 of the code text sent, its "iss" the
 * code's own issuer claim (absent when that is not an issuer's name),
 * and a "card", shown only to a client allowed to see it, the code's
 * "sub"; the code's payload is read here, apart from cardd's codec.
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
#include "cardbench_codes.h"
#include "cardbench_verify.h"
#include "merkle.h"
#include "verify.h"

#define VERIFY_QUEUE	256
#define VERIFY_STMT_MAX	2048
#define VERIFY_NAME_MAX	64	/* an issuer's name */

/* What an answer by code must say of the code it was asked with. */
struct verify_code {
	char	hash[JWS_THUMB_LEN];	/* b64url SHA-256 of the text */
	char	iss[VERIFY_NAME_MAX];
	size_t	iss_len;		/* 0: no issuer name in the code */
	char	sub[STMT_ID_MAX];	/* folded */
	size_t	sub_len;		/* 0: no usable sub */
};

struct verify_item {
	struct cardbench_req	req;
	size_t			stmt_len;	/* may be > VERIFY_STMT_MAX */
	size_t			sig_len;
	char			stmt[VERIFY_STMT_MAX];
	char			sig[MERKLE_PROOF_MAX];
};

static struct verify_keys	 verify_keyset;
static const char		*verify_scheme;
static double			 verify_budget = 100;

static struct verify_item	*verify_q;
static size_t			 verify_head, verify_count;
static int			 verify_done, verify_running;
static pthread_t		 verify_tid;
static pthread_mutex_t		 verify_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 verify_cv = PTHREAD_COND_INITIALIZER;
static struct cardbench_verify_result verify_res;

static enum cardbench_vfail cardbench_verify_signature(const char *,
		    size_t, const char *, size_t, const struct verify_key **,
		    char *, size_t);
static enum cardbench_vfail cardbench_verify_statement(
		    const struct cardbench_req *, const char *, size_t,
		    const struct verify_key *);
static int	cardbench_verify_member(json_t *, const char *, const char *,
		    size_t);
static int	cardbench_verify_name(const char *, size_t);
static void	cardbench_verify_claims(json_t *, struct verify_code *);
static int	cardbench_verify_code(const char *, size_t,
		    struct verify_code *);
static int	cardbench_verify_subject(const struct cardbench_req *,
		    json_t *);
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

/* Load the trusted keys from a JWKS. Returns how many, or -1. */
int
cardbench_verify_keys(const char *jwks, size_t len, const char *scheme)
{
	verify_scheme = scheme;
	verify_keys_add(&verify_keyset, jwks, len);
	return verify_keyset.n ? (int)verify_keyset.n : -1;
}

/* The signature over the statement (verify.c); the key that made it. */
static enum cardbench_vfail
cardbench_verify_signature(const char *stmt, size_t len, const char *sig,
    size_t sig_len, const struct verify_key **key, char *why, size_t whylen)
{
	static const enum cardbench_vfail fails[] = {
		[VERIFY_OK] = VFAIL_OK,
		[VERIFY_FORMAT] = VFAIL_FORMAT,
		[VERIFY_HEADER] = VFAIL_HEADER,
		[VERIFY_KID] = VFAIL_KID,
		[VERIFY_SIGNATURE] = VFAIL_SIGNATURE,
		[VERIFY_PROOF] = VFAIL_PROOF,
		[VERIFY_ERROR] = VFAIL_SIGNATURE,	/* it did not hold */
	};
	struct verify_info info;
	enum verify_result rc;

	rc = verify_answer(&verify_keyset, stmt, len, sig, sig_len, &info, why,
	    whylen);
	*key = info.key;
	return fails[rc];
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

/* An issuer's name (PROTOCOL.md §10): 1 to 64 of A-Z a-z 0-9 . _ - */
static int
cardbench_verify_name(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' &&
		    s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return len >= 1 && len <= VERIFY_NAME_MAX;
}

/* The issuer and the card (folded, §1) a code's claims name. */
static void
cardbench_verify_claims(json_t *claims, struct verify_code *vc)
{
	json_t *iss = json_object_get(claims, "iss");
	json_t *sub = json_object_get(claims, "sub");
	size_t n;

	if (json_is_string(iss) && cardbench_verify_name(json_string_value(
	    iss), (n = json_string_length(iss)))) {
		memcpy(vc->iss, json_string_value(iss), n);
		vc->iss_len = n;
	}
	if (json_is_string(sub) && (n = json_string_length(sub)) <=
	    STMT_ID_MAX) {
		for (size_t i = 0; i < n; i++) {
			char ch = json_string_value(sub)[i];

			vc->sub[i] = ch >= 'a' && ch <= 'z' ? ch - 32 : ch;
		}
		vc->sub_len = n;
	}
}

/* What a code's answer must say of it: its hash, issuer and card. */
static int
cardbench_verify_code(const char *code, size_t len, struct verify_code *vc)
{
	uint8_t digest[32], payload[CARDBENCH_CODE_MAX];
	const char *p = memchr(code, '.', len), *q = NULL;
	json_t *claims = NULL;
	ssize_t n = -1;

	memset(vc, 0, sizeof(*vc));
	if (EVP_Digest(code, len, digest, NULL, EVP_sha256(), NULL) != 1)
		return -1;
	b64url_encode(digest, sizeof(digest), vc->hash);
	if (p != NULL)
		q = memchr(p + 1, '.', len - (size_t)(p + 1 - code));
	if (q != NULL)
		n = b64url_decode(p + 1, (size_t)(q - p - 1), payload,
		    sizeof(payload));
	if (n > 0)
		claims = json_loadb((const char *)payload, (size_t)n, 0, NULL);
	cardbench_verify_claims(claims, vc);
	json_decref(claims);
	return 0;
}

/* The statement names what was asked: the card, or the code. */
static int
cardbench_verify_subject(const struct cardbench_req *r, json_t *o)
{
	char card[CARDBENCH_CARD_MAX];
	struct verify_code vc;
	const char *code;
	size_t len;

	if (!r->bycode)
		return cardbench_verify_member(o, "card", card,
		    cardbench_req_card(r->card, card));
	code = cardbench_codes_get(r->card, &len);
	return cardbench_verify_code(code, len, &vc) == 0 &&
	    cardbench_verify_member(o, "code", vc.hash, sizeof(vc.hash)) &&
	    cardbench_verify_member(o, "iss", vc.iss_len ? vc.iss : NULL,
	    vc.iss_len) &&
	    (json_object_get(o, "card") == NULL || (vc.sub_len > 0 &&
	    cardbench_verify_member(o, "card", vc.sub, vc.sub_len)));
}

/* The statement answers what was asked, signed by the key it names. */
static enum cardbench_vfail
cardbench_verify_statement(const struct cardbench_req *r, const char *stmt,
    size_t len, const struct verify_key *key)
{
	char nonce[CARDBENCH_NONCE_LEN];
	const char *check = cardbench_req_check_name(r->check);
	int cov = r->check == BENCH_COVERAGE;
	json_t *o = json_loadb(stmt, len, 0, NULL);
	enum cardbench_vfail rc = VFAIL_STATEMENT;

	if (json_integer_value(json_object_get(o, "v")) == 1 &&
	    cardbench_verify_member(o, "check", check, strlen(check)) &&
	    cardbench_verify_subject(r, o) &&
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
	else
		rc = cardbench_verify_signature(stmt, len, sig, sig_len, &key,
		    why, whylen);
	if (rc == VFAIL_OK)
		rc = cardbench_verify_statement(r, stmt, len, key);
	if (rc != VFAIL_OK && r->bycode)
		snprintf(why, whylen, "%s check by code %llu of the pool: %s "
		    "(%s)", cardbench_req_check_name(r->check),
		    (unsigned long long)r->card + 1,
		    cardbench_verify_fail_name(rc),
		    *batch ? "batch proof" : "detached JWS");
	else if (rc != VFAIL_OK)
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
	verify_keys_free(&verify_keyset);
}
