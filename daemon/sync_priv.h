/* SPDX-License-Identifier: MIT */
/*
 * What the sync files share (and nothing outside them includes): the
 * phase and the figures. The state of each part stays in its own file.
 */
#ifndef CARDD_SYNC_PRIV_H
#define CARDD_SYNC_PRIV_H

#include <stdatomic.h>
#include <stdint.h>

enum sync_phase {
	SYNC_PHASE_DOWN, SYNC_PHASE_CONNECTING, SYNC_PHASE_FULL,
	SYNC_PHASE_FOLLOW, SYNC_PHASE_STOPPED
};

/* Written by the sync thread only; read by /metrics. */
struct sync_state {
	_Atomic int		 phase;		/* enum sync_phase */
	_Atomic uint64_t	 rejected;
};

extern struct sync_state sync_state;

#endif
