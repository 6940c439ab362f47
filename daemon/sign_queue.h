/* SPDX-License-Identifier: MIT */
/* A worker's answers on their way to the signers and back. */
#ifndef CARDD_SIGN_QUEUE_H
#define CARDD_SIGN_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "stats.h"

struct buf;
struct conn;
struct event_base;
struct sign_queue;
struct sign_queue_slot;

/*
 * One connection's replies that wait for a signature, oldest first. It
 * lives in the protocol's per-connection state, which forgets it when the
 * connection closes (sign_queue_forget).
 */
struct sign_queue_hold {
	uint32_t		 n;
	struct sign_queue_slot	*first;
	struct sign_queue_slot	*last;
};

/* Writes one reply once its signature string is known. */
typedef void (*sign_queue_render)(struct conn *, struct buf *,
    unsigned flags, const char *stmt, size_t len, const char *sig,
    size_t siglen);

struct sign_queue *sign_queue_new(struct stats *, struct event_base *);
void	sign_queue_free(struct sign_queue *);
int	sign_queue_add(struct sign_queue *, struct conn *,
	    struct sign_queue_hold *, sign_queue_render, unsigned flags,
	    const char *stmt, size_t len, const struct timespec *t0,
	    enum stats_iface);
void	sign_queue_forget(struct sign_queue *, struct sign_queue_hold *);
void	sign_queue_submit(struct sign_queue *);
int	sign_queue_holding(const struct sign_queue *);
void	sign_queue_finish(struct sign_queue *);

#endif
