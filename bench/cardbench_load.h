/* SPDX-License-Identifier: MIT */
/* cardbench load threads: closed or open loop, one event_base each. */
#ifndef CARDBENCH_LOAD_H
#define CARDBENCH_LOAD_H

#include <pthread.h>
#include <stdint.h>

#include "cardbench_conn.h"
#include "cardbench_pick.h"
#include "cardbench_reply.h"
#include "cardbench_stats.h"

struct event_base;

struct cardbench_thread {
	int			 id;
	pthread_t		 tid;
	struct event_base	*base;
	struct cardbench_conn	*conns;
	int			 nconns;
	int			 depth;
	int			 connecting;	/* first connects not settled */
	int			 started;
	int			 stopping;
	int			 sched_done;	/* open loop: nothing more */
	int			 exhausted;	/* -n: no tickets left */
	uint64_t		 inflight;
	uint64_t		 free_slots;	/* room on connections up */
	uint64_t		 tickets;	/* from the shared -n pool */
	struct cardbench_pick	 pick;
	uint64_t		 seq;		/* nonce counter */
	uint64_t		 verify_n;
	uint64_t		 t0_ns;		/* open loop: first send */
	uint64_t		 measure_ns;	/* warmup ends */
	uint64_t		 end_ns;	/* duration ends */
	uint64_t		 stop_ns;	/* when this thread stopped */
	double			 period_ns;	/* open loop: interval */
	uint64_t		 released;	/* open loop: schedule index */
	int			 rr;		/* open loop: next connection */
	struct cardbench_conn	**dirty;
	int			 ndirty;
	struct event		*sched_ev;
	struct event		*tick_ev;
	struct event		*end_ev;
	struct cardbench_stats	 stats;
};

uint64_t cardbench_load_now(void);
int	cardbench_load_run(int nthreads);
void	cardbench_load_stop(void);
void	cardbench_load_sum(struct cardbench_stats *, uint64_t *measure_ns,
	    uint64_t *stop_ns);
void	cardbench_load_free(void);
void	cardbench_load_settled(struct cardbench_thread *);
void	cardbench_load_answer(struct cardbench_thread *,
	    const struct cardbench_slot *, const struct cardbench_reply *,
	    uint64_t now);
void	cardbench_load_refill(struct cardbench_thread *,
	    struct cardbench_conn *);
void	cardbench_load_check_done(struct cardbench_thread *);
void	cardbench_load_mark_dirty(struct cardbench_thread *,
	    struct cardbench_conn *);

#endif
