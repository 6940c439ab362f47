/* SPDX-License-Identifier: MIT */
/* Saving the live index's snapshot from a forked child, when it changed. */
#ifndef CARDD_SNAPSHOT_SAVE_H
#define CARDD_SNAPSHOT_SAVE_H

struct event_base;
struct snapshot_meta;

void	snapshot_save_init(struct event_base *,
	    int (*meta)(struct snapshot_meta *));
void	snapshot_save_arm(void);
void	snapshot_save_changed(void);
void	snapshot_save_now(void);
void	snapshot_save_final(void);
void	snapshot_save_free(void);
double	snapshot_save_fork_seconds(void);

#endif
