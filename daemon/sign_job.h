/* SPDX-License-Identifier: MIT */
/* A signer task: statements in, their signature strings out. */
#ifndef CARDD_SIGN_JOB_H
#define CARDD_SIGN_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "merkle.h"
#include "signer.h"

struct sign_keyring;

#define SIGN_JOB_MAX	1024	/* statements in one job */
#define SIGN_JOB_TREE	128	/* leaves of one Merkle tree: short proofs */
/* An SM2 signature costs about ten Ed25519 ones: its trees may be 8 times
 * larger, for proofs of 3 hashes more (PROTOCOL.md §11). */
#define SIGN_JOB_TREE_SM2 1024

/*
 * The worker fills stmts and hands the job to the pool; the signer fills
 * sigs; the worker reads both once the job is back. Nobody touches a job
 * that is with the other side.
 */
struct sign_job {
	struct signer_task	 task;		/* first: the pool's handle */
	int			 batch;		/* Merkle trees, not one each */
	struct sign_keyring	*kr;		/* a reference, for its life */
	size_t			 n;
	size_t			 stmt_off[SIGN_JOB_MAX + 1];
	struct buf		 stmts;
	size_t			 sig_off[SIGN_JOB_MAX + 1];
	struct buf		 sigs;
	uint64_t		 signatures;	/* signatures made */
	int			 failed;
	struct merkle_hasher	*hasher;	/* SHA-256, for Ed25519 */
	struct merkle_hasher	*hasher_sm3;	/* for SM2, made when needed */
	uint8_t			(*nodes)[MERKLE_HASH];
};

int	sign_job_init(struct sign_job *, struct signer_mailbox *);
void	sign_job_free(struct sign_job *);
void	sign_job_open(struct sign_job *, struct sign_keyring *, int batch);
int	sign_job_add(struct sign_job *, const char *stmt, size_t len);
void	sign_job_close(struct sign_job *);
const char *sign_job_stmt(const struct sign_job *, size_t i, size_t *len);
const char *sign_job_sig(const struct sign_job *, size_t i, size_t *len);

#endif
