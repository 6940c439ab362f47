/* SPDX-License-Identifier: MIT */
/* The full sync: every card read from Redis into a new index, swapped in. */
#ifndef CARDD_SYNC_FULL_H
#define CARDD_SYNC_FULL_H

void	sync_full_begin(void (*done)(void));
void	sync_full_abandon(void);

#endif
