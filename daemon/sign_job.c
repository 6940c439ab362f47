/* SPDX-License-Identifier: MIT */
/*
 * What a signer thread does with a job (protocol/PROTOCOL.md §4): in
 * sign_mode per-answer, a detached JWS over each statement; in batch,
 * Merkle trees of near-equal size (at most SIGN_JOB_TREE leaves, or
 * SIGN_JOB_TREE_SM2 with SM2, so proofs stay short), one signature over
 * each root and each statement's proof. A tree of one leaf is signed as a plain detached JWS, so a
 * quiet daemon's answers look like per-answer ones. The job holds a
 * reference to the keyring that named itself in the statements, so a
 * reload in between cannot sign them with another key.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sign.h"
#include "sign_job.h"

static void	sign_job_run(struct signer_task *, struct sign_ctx *);
static int	sign_job_one(struct sign_job *, struct sign_ctx *, size_t);
static int	sign_job_tree(struct sign_job *, struct sign_ctx *, size_t,
		    size_t);

/* A job that comes back to box when signed. */
int
sign_job_init(struct sign_job *j, struct signer_mailbox *box)
{
	memset(j, 0, sizeof(*j));
	j->task.run = sign_job_run;
	j->task.box = box;
	j->hasher = merkle_hasher_new();
	j->nodes = malloc(MERKLE_TREE_SLOTS(SIGN_JOB_TREE_SM2) * MERKLE_HASH);
	return j->hasher != NULL && j->nodes != NULL ? 0 : -1;
}

/* Free what a job holds. */
void
sign_job_free(struct sign_job *j)
{
	sign_job_close(j);
	merkle_hasher_free(j->hasher);
	merkle_hasher_free(j->hasher_sm3);
	free(j->nodes);
	buf_free(&j->stmts);
	buf_free(&j->sigs);
}

/* Start gathering statements that kr's key will sign. */
void
sign_job_open(struct sign_job *j, struct sign_keyring *kr, int batch)
{
	j->kr = sign_keyring_ref(kr);
	j->batch = batch;
	j->n = 0;
	j->signatures = 0;
	j->failed = 0;
	j->stmt_off[0] = 0;
	j->sig_off[0] = 0;
	j->stmts.len = j->stmts.off = 0;
	j->sigs.len = j->sigs.off = 0;
}

/* Add a statement; -1 when full or out of memory. */
int
sign_job_add(struct sign_job *j, const char *stmt, size_t len)
{
	if (j->n >= SIGN_JOB_MAX || buf_append(&j->stmts, stmt, len) != 0)
		return -1;
	j->stmt_off[++j->n] = j->stmts.len;
	return 0;
}

/* Done with a job's answers: let go of its keyring. */
void
sign_job_close(struct sign_job *j)
{
	sign_keyring_free(j->kr);
	j->kr = NULL;
}

/* Statement i. */
const char *
sign_job_stmt(const struct sign_job *j, size_t i, size_t *len)
{
	*len = j->stmt_off[i + 1] - j->stmt_off[i];
	return buf_head(&j->stmts) + j->stmt_off[i];
}

/* The signature string of statement i (length 0: signing failed). */
const char *
sign_job_sig(const struct sign_job *j, size_t i, size_t *len)
{
	*len = j->failed ? 0 : j->sig_off[i + 1] - j->sig_off[i];
	return buf_head(&j->sigs) + j->sig_off[i];
}

/* On a signer thread: sign every statement, one way or the other. */
static void
sign_job_run(struct signer_task *t, struct sign_ctx *ctx)
{
	struct sign_job *j = (struct sign_job *)(void *)t;
	size_t tree = sign_alg(j->kr) == JWS_SM2 ? SIGN_JOB_TREE_SM2 :
	    SIGN_JOB_TREE;
	size_t k = (j->n + tree - 1) / tree, at = 0;

	for (size_t i = 0; !j->batch && i < j->n && !j->failed; i++)
		j->failed = sign_job_one(j, ctx, i);
	for (size_t tr = 0; j->batch && tr < k && !j->failed; tr++) {
		size_t cnt = j->n / k + (tr < j->n % k);

		j->failed = cnt == 1 ? sign_job_one(j, ctx, at) :
		    sign_job_tree(j, ctx, at, cnt);
		at += cnt;
	}
	if (j->failed)
		log_error("msg=\"signing failed\" answers=%zu", j->n);
}

/* Statement i as a detached JWS of its own. */
static int
sign_job_one(struct sign_job *j, struct sign_ctx *ctx, size_t i)
{
	size_t len, slen;
	const char *stmt = sign_job_stmt(j, i, &slen);

	if (buf_reserve(&j->sigs, JWS_DETACHED_MAX) != 0 ||
	    sign_jws(ctx, j->kr, stmt, slen, buf_tail(&j->sigs), &len) != 0)
		return -1;
	j->sigs.len += len;
	j->sig_off[i + 1] = j->sigs.len;
	j->signatures++;
	return 0;
}

/* Statements first .. first + n - 1 as one tree: sign it, write proofs. */
static int
sign_job_tree(struct sign_job *j, struct sign_ctx *ctx, size_t first,
    size_t n)
{
	char input[MERKLE_INPUT_MAX], jws[JWS_DETACHED_MAX];
	uint8_t sig[JWS_SIG_LEN], path[MERKLE_MAX_PATH][MERKLE_HASH];
	size_t hlen, root, len, jlen, np;
	const char *hdr = sign_header(j->kr, &hlen), *stmt;
	enum jws_alg alg = sign_alg(j->kr);
	struct merkle_hasher *h = j->hasher;

	/* An SM2 answer is SM-only: its tree hashes with SM3 (§11). */
	if (alg == JWS_SM2 && (h = j->hasher_sm3) == NULL &&
	    (h = j->hasher_sm3 = merkle_hasher_new_alg(JWS_SM2)) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		stmt = sign_job_stmt(j, first + i, &len);
		merkle_leaf_h(h, stmt, len, j->nodes[i]);
	}
	root = merkle_build_h(h, j->nodes, n);
	len = merkle_signing_input_alg(alg, hdr, hlen, j->nodes[root], n,
	    input);
	if (sign_raw(ctx, j->kr, input, len, sig) != 0)
		return -1;
	j->signatures++;
	jlen = jws_detached(hdr, hlen, sig, jws);
	for (size_t i = 0; i < n; i++) {
		if (buf_reserve(&j->sigs, MERKLE_PROOF_MAX) != 0)
			return -1;
		np = merkle_path((const uint8_t (*)[MERKLE_HASH])j->nodes, n, i,
		    path);
		memcpy(buf_tail(&j->sigs), jws, jlen);
		len = merkle_proof_tail(n, i, (const uint8_t (*)[MERKLE_HASH])
		    path, np, buf_tail(&j->sigs) + jlen);
		j->sigs.len += jlen + len;
		j->sig_off[first + i + 1] = j->sigs.len;
	}
	return 0;
}
