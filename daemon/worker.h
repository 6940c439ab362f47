/* SPDX-License-Identifier: MIT */
/* Worker threads: each runs its own event loop over its own connections. */
#ifndef CARDD_WORKER_H
#define CARDD_WORKER_H

#include <pthread.h>
#include <stddef.h>

#include "clock.h"
#include "net_tcp.h"
#include "stats.h"

struct sign_batch;
struct sign_ctx;

struct worker {
	int		 id;
	pthread_t	 thread;
	struct event_base *base;
	int		 listen_fd[PROTO_COUNT];	/* -1: off */
	struct event	*listen_ev[PROTO_COUNT];
	struct event	*accept_resume;
	struct event	*ctl_ev;
	int		 ctl_fd;
	struct conn	*conns;
	size_t		 nconns;
	struct conn	*deferred;		/* output to write at the pass end */
	struct sign_ctx	*sign;
	struct sign_batch *batch;		/* sign_mode batch */
	int		 live_held;		/* live_enter() is in effect */
	unsigned	 reads;			/* input events this loop turn */
	struct clock	 clock;
	char		*scratch;		/* per-request decoding */
	size_t		 scratch_cap;
	int		 draining;
	struct event	*heartbeat;
	_Atomic uint64_t beats;			/* the loop turns (watchdog) */
	uint64_t	 beats_seen;		/* main thread's last look */
	struct stats	 stats;
};

int	worker_start(int nworkers, int listen_fds[][PROTO_COUNT]);
void	worker_stop(int drain_ms);
int	worker_count(void);
void	worker_stats_sum(struct stats *);
void	worker_accept_pause(struct worker *);
int	worker_alive(void);
void	worker_live_enter(struct worker *);
void	worker_live_leave(struct worker *);

#endif
