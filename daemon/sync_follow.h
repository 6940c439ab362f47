/* SPDX-License-Identifier: MIT */
/* The stream follow: changes read from the cursor on, applied card by card. */
#ifndef CARDD_SYNC_FOLLOW_H
#define CARDD_SYNC_FOLLOW_H

void	sync_follow_begin(void (*gap)(void));
void	sync_follow_abandon(void);

#endif
