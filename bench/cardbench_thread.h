/* SPDX-License-Identifier: MIT */
/*
 * One cardbench load thread's state, shared by the load loop that owns it
 * (cardbench_load.c) and the connections on its event loop
 * (cardbench_conn.c), which call back into the loop through hooks.
 */
#ifndef CARDBENCH_THREAD_H
#define CARDBENCH_THREAD_H

#include <pthread.h>
#include <stdint.h>

#include "cardbench_pick.h"
#include "cardbench_stats.h"

struct cardbench_conn;
struct cardbench_reply;
struct cardbench_slot;
struct cardbench_thread;
struct event;
struct event_base;

/* What a connection tells its load thread (cardbench_load.c sets them). */
struct cardbench_thread_hooks {
	void	(*settled)(struct cardbench_thread *);
	void	(*answer)(struct cardbench_thread *,
		    const struct cardbench_slot *,
		    const struct cardbench_reply *, uint64_t now);
	void	(*refill)(struct cardbench_thread *, struct cardbench_conn *);
	void	(*check_done)(struct cardbench_thread *);
	void	(*mark_dirty)(struct cardbench_thread *,
		    struct cardbench_conn *);
};

struct cardbench_thread {
	const struct cardbench_thread_hooks *hooks;
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
	uint64_t		*seen;		/* --codes: codes asked */
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

#endif
