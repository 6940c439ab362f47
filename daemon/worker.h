/* SPDX-License-Identifier: MIT */
/* Worker threads: each runs its own event loop over its own connections. */
#ifndef CARDD_WORKER_H
#define CARDD_WORKER_H

#include <pthread.h>
#include <stddef.h>

#include "clock.h"
#include "net_tcp.h"
#include "stats.h"

struct code_bind;
struct sign_queue;

#define WORKER_LISTEN_MAX	4	/* listeners per worker */

/*
 * One worker thread and what the protocols answer with: its clock, the
 * queue its answers are signed through, scratch space and counters.
 */
struct worker {
	int		 id;
	pthread_t	 thread;
	struct event_base *base;
	struct net_loop	 net;			/* its connections */
	struct net_listener listen[WORKER_LISTEN_MAX];
	struct event	*listen_ev[WORKER_LISTEN_MAX];
	size_t		 nlisten;
	struct event	*accept_resume;
	struct event	*ctl_ev;
	int		 ctl_fd;
	struct sign_queue *queue;		/* answers to the signers */
	struct code_bind *bind;			/* codes to the fleet's store */
	struct clock	 clock;
	char		*scratch;		/* per-request decoding */
	size_t		 scratch_cap;
	struct event	*heartbeat;
	_Atomic uint64_t beats;			/* the loop turns (watchdog) */
	uint64_t	 beats_seen;		/* main thread's last look */
	struct stats	 stats;
};

/* The worker whose loop a connection belongs to. */
static inline struct worker *
worker_of(const struct conn *c)
{
	return (struct worker *)(void *)((char *)c->loop -
	    offsetof(struct worker, net));
}

int	worker_start(int nworkers, const struct net_listener *, size_t per);
void	worker_stop(int drain_ms);
int	worker_count(void);
void	worker_stats_sum(struct stats *);
int	worker_alive(void);

#endif
