/* SPDX-License-Identifier: MIT */
/*
 * What the sync files share (and nothing outside them includes): the
 * phase, the stream cursor and the figures. The state of each phase
 * stays in its own file.
 */
#ifndef CARDD_SYNC_PRIV_H
#define CARDD_SYNC_PRIV_H

#include <stdatomic.h>
#include <stdint.h>

#include "stats.h"
#include "sync_stream.h"

enum sync_phase {
	SYNC_PHASE_DOWN, SYNC_PHASE_CONNECTING, SYNC_PHASE_FULL,
	SYNC_PHASE_FOLLOW, SYNC_PHASE_STOPPED
};

/* Written by the sync thread only; the atomics are read by /metrics. */
struct sync_state {
	struct sync_stream_id	 cursor;	/* last change applied */
	uint64_t		 consumed;	/* entries up to the cursor */
	int			 have_cursor;
	_Atomic int		 phase;		/* enum sync_phase */
	_Atomic uint64_t	 full_syncs;
	_Atomic uint64_t	 rejected;
	_Atomic uint64_t	 invalid;
	_Atomic int64_t		 lag_ms;
	_Atomic int64_t		 last_full_ms;
	_Atomic uint64_t	 delay[STATS_BUCKETS];	/* change to applied */
	_Atomic uint64_t	 delay_sum_us;
};

extern struct sync_state sync_state;

#endif
