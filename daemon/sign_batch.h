/* SPDX-License-Identifier: MIT */
/* sign_mode batch: the answers of one loop pass share one signature. */
#ifndef CARDD_SIGN_BATCH_H
#define CARDD_SIGN_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "stats.h"

struct buf;
struct conn;
struct sign_batch;
struct sign_ctx;

/*
 * One connection's replies that wait for a signature. It lives in the
 * protocol's per-connection state, which forgets it when the connection
 * closes (sign_batch_forget).
 */
struct sign_batch_hold {
	uint32_t	 n;
	uint32_t	 first;		/* leaves, in order */
	uint32_t	 last;
};

/* Writes one reply once its signature string is known. */
typedef void (*sign_batch_render)(struct conn *, struct buf *,
    unsigned flags, const char *stmt, size_t len, const char *sig,
    size_t siglen);

struct sign_batch *sign_batch_new(struct sign_ctx *, struct stats *);
void	sign_batch_free(struct sign_batch *);
int	sign_batch_add(struct sign_batch *, struct conn *,
	    struct sign_batch_hold *, sign_batch_render, unsigned flags,
	    const char *stmt, size_t len, const struct timespec *t0,
	    enum stats_iface);
void	sign_batch_forget(struct sign_batch *, struct sign_batch_hold *);
int	sign_batch_waiting(const struct sign_batch *);
int	sign_batch_due(const struct sign_batch *, int idle);
void	sign_batch_flush(struct sign_batch *);

#endif
