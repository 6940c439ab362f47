/* SPDX-License-Identifier: MIT */
/*
 * The signer pool (protocol/PROTOCOL.md §4): Ed25519 costs more than
 * everything else an answer needs together, so workers do not sign.
 * They hand a task (sign_job.c: the statements gathered since their last
 * one) to this pool and go on reading; a signer thread takes the oldest
 * task, runs it with its own signing context, and puts it into the
 * worker's mailbox, whose eventfd wakes the worker's loop. A signer with
 * nothing to do sleeps on a condition variable; nobody polls. As
 * PostgreSQL's group commit does with WAL flushes, the work a worker
 * gathers while its last task is signed goes into the next one, so the
 * batches grow with the load by themselves (sign_queue.c).
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "sign.h"
#include "signer.h"

struct signer_pool {
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;
	struct signer_task	*head;
	struct signer_task	*tail;
	int			 stopping;
	int			 n;
	pthread_t		*threads;
};

static struct signer_pool pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
};

static void	*signer_main(void *);
static void	 signer_post(struct signer_task *);

/* Start n signer threads. */
int
signer_start(int n)
{
	if ((pool.threads = calloc((size_t)n, sizeof(*pool.threads))) == NULL)
		return -1;
	pool.stopping = 0;
	for (pool.n = 0; pool.n < n; pool.n++) {
		if (pthread_create(&pool.threads[pool.n], NULL, signer_main,
		    NULL) != 0) {
			signer_stop();
			return -1;
		}
		pthread_setname_np(pool.threads[pool.n], "cardd-signer");
	}
	return 0;
}

/* Let the signers finish what is queued, then end them. */
void
signer_stop(void)
{
	pthread_mutex_lock(&pool.lock);
	pool.stopping = 1;
	pthread_cond_broadcast(&pool.wake);
	pthread_mutex_unlock(&pool.lock);
	for (int i = 0; i < pool.n; i++)
		pthread_join(pool.threads[i], NULL);
	free(pool.threads);
	pool.threads = NULL;
	pool.n = 0;
}

/* Number of signer threads. */
int
signer_count(void)
{
	return pool.n;
}

/* Queue a task for the next free signer. */
void
signer_submit(struct signer_task *t)
{
	t->next = NULL;
	pthread_mutex_lock(&pool.lock);
	if (pool.tail != NULL)
		pool.tail->next = t;
	else
		pool.head = t;
	pool.tail = t;
	pthread_cond_signal(&pool.wake);
	pthread_mutex_unlock(&pool.lock);
}

/* A signer thread: take the oldest task, run it, post it back; sleep. */
static void *
signer_main(void *arg)
{
	struct sign_ctx *ctx = sign_ctx_new();
	struct signer_task *t;

	(void)arg;
	if (ctx == NULL)
		fatalx("msg=\"cannot make a signing context\"");
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		while (pool.head == NULL && !pool.stopping)
			pthread_cond_wait(&pool.wake, &pool.lock);
		if ((t = pool.head) == NULL)
			break;			/* stopping, and nothing left */
		if ((pool.head = t->next) == NULL)
			pool.tail = NULL;
		pthread_mutex_unlock(&pool.lock);
		t->run(t, ctx);
		signer_post(t);
		pthread_mutex_lock(&pool.lock);
	}
	pthread_mutex_unlock(&pool.lock);
	sign_ctx_free(ctx);
	return NULL;
}

/* Hand a finished task back; wake the owner if its mailbox was empty. */
static void
signer_post(struct signer_task *t)
{
	struct signer_mailbox *box = t->box;
	uint64_t one = 1;
	int was_empty;

	t->next = NULL;
	pthread_mutex_lock(&box->lock);
	was_empty = box->head == NULL;
	if (box->tail != NULL)
		box->tail->next = t;
	else
		box->head = t;
	box->tail = t;
	pthread_mutex_unlock(&box->lock);
	if (was_empty && write(box->fd, &one, sizeof(one)) != sizeof(one))
		log_warn("msg=\"cannot wake a worker\"");
}

/* An empty mailbox with its eventfd. */
int
signer_mailbox_init(struct signer_mailbox *box)
{
	box->head = box->tail = NULL;
	if ((box->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return -1;
	pthread_mutex_init(&box->lock, NULL);
	return 0;
}

/* Close a mailbox (its tasks are the owner's business). */
void
signer_mailbox_free(struct signer_mailbox *box)
{
	if (box->fd < 0)
		return;
	close(box->fd);
	box->fd = -1;
	pthread_mutex_destroy(&box->lock);
}

/*
 * Take every finished task, oldest first (a list through ->next), or
 * NULL. wait: sleep until there is one. The eventfd is read before the
 * list is taken, so a task posted in between wakes the owner again.
 */
struct signer_task *
signer_mailbox_take(struct signer_mailbox *box, int wait)
{
	struct pollfd pfd = { .fd = box->fd, .events = POLLIN };
	struct signer_task *t;
	uint64_t v;

	if (wait)
		while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
			;
	if (read(box->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("msg=\"cannot read a worker's mailbox\"");
	pthread_mutex_lock(&box->lock);
	t = box->head;
	box->head = box->tail = NULL;
	pthread_mutex_unlock(&box->lock);
	return t;
}
