/* SPDX-License-Identifier: MIT */
/* The signer pool: threads that sign what the workers hand them. */
#ifndef CARDD_SIGNER_H
#define CARDD_SIGNER_H

#include <pthread.h>

struct sign_ctx;
struct signer_mailbox;

/*
 * One piece of work: run() on a signer thread with that thread's signing
 * context, then the task goes back to the mailbox it came from.
 */
struct signer_task {
	void			(*run)(struct signer_task *, struct sign_ctx *);
	struct signer_mailbox	*box;
	struct signer_task	*next;
};

/*
 * Where finished tasks come back to: a list under a lock, and an eventfd
 * that the owner's event loop watches (written when the list stops being
 * empty, so a burst of finished tasks wakes the owner once).
 */
struct signer_mailbox {
	pthread_mutex_t		 lock;
	struct signer_task	*head;
	struct signer_task	*tail;
	int			 fd;
};

int	signer_start(int nthreads);
void	signer_stop(void);
int	signer_count(void);
void	signer_submit(struct signer_task *);
int	signer_mailbox_init(struct signer_mailbox *);
void	signer_mailbox_free(struct signer_mailbox *);
struct signer_task *signer_mailbox_take(struct signer_mailbox *, int wait);

#endif
