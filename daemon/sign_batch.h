/* SPDX-License-Identifier: MIT */
/* sign_mode batch: the answers of one loop pass share one signature. */
#ifndef CARDD_SIGN_BATCH_H
#define CARDD_SIGN_BATCH_H

#include <stddef.h>
#include <time.h>

#include "stats.h"

struct buf;
struct conn;
struct worker;

/* Writes one reply once its signature string is known. */
typedef void (*sign_batch_render)(struct conn *, struct buf *,
    unsigned flags, const char *stmt, size_t len, const char *sig,
    size_t siglen);

int	sign_batch_init(struct worker *);
void	sign_batch_free(struct worker *);
int	sign_batch_add(struct conn *, sign_batch_render, unsigned flags,
	    const char *stmt, size_t len, const struct timespec *t0,
	    enum stats_iface);
void	sign_batch_forget(struct conn *);
int	sign_batch_waiting(const struct worker *);
int	sign_batch_due(const struct worker *, int idle);
void	sign_batch_flush(struct worker *);

#endif
