/* SPDX-License-Identifier: MIT */
/*
 * A worker's answers between their statement and their signature
 * (protocol/PROTOCOL.md §4). An answer is not signed where it is made:
 * its statement goes into the worker's open job (sign_job.c), and the
 * place in its connection's output where the reply belongs is kept.
 * When a loop pass ends, the open job goes to the signer pool
 * (signer.c) unless the worker already has one there (sign_mode batch:
 * group commit, so a job holds whatever arrived while the last was
 * signed, one answer when the daemon is quiet, hundreds under load) or
 * is at the in-flight limit (per-answer: small jobs, many at once, so
 * every signer thread works). Jobs come back through the worker's
 * mailbox, in any order; they are placed in the order they were made,
 * so each connection's replies keep the order of its requests.
 *
 * Positions: a held reply's place is counted in the connection's raw
 * output (every byte but the held replies), so it stays right however
 * much is written or placed before it. net_tcp writes a connection's
 * output up to its first held reply (c->hold_at) and never closes it
 * while replies are held.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "config.h"
#include "live.h"
#include "log.h"
#include "net_tcp.h"
#include "sign.h"
#include "sign_job.h"
#include "sign_queue.h"
#include "signer.h"

#define SIGN_QUEUE_EACH	32	/* per-answer: statements in one job */
/*
 * Batch mode with the signer free and a small job open: look for more
 * requests (a loop turn that does not sleep) up to SIGN_QUEUE_HOLD_TURNS
 * times before signing, while the job has fewer than SIGN_QUEUE_HOLD_MAX
 * statements. At 50 connections and pipeline 1 that took a signature's
 * share from about 15 answers to about twice as many, and answers per
 * second up by a sixth (bench/RESULTS.md, issue 11). A lone answer is
 * not held: a quiet daemon signs it at once, and one never sleeps less.
 */
#define SIGN_QUEUE_HOLD_MAX	64
#define SIGN_QUEUE_HOLD_TURNS	2

struct sign_queue_slot {
	struct conn		*c;		/* NULL: placed, or conn gone */
	struct sign_queue_hold	*hold;		/* c's */
	sign_queue_render	 render;
	unsigned		 flags;
	uint64_t		 pos;		/* in c's raw output */
	struct sign_queue_slot	*next;		/* c's next held reply */
	struct timespec		 t0;
	enum stats_iface	 iface;
};

struct sign_queue_job {
	struct sign_job		 job;		/* first: the signer's part */
	struct sign_queue_slot	 slot[SIGN_JOB_MAX];
	struct sign_queue_job	*next;		/* in the queue, or spare */
	int			 sent;		/* handed to the pool */
	int			 done;		/* back from it */
	int			 full;		/* takes no more statements */
};

struct sign_queue {
	struct signer_mailbox	 box;
	struct event		*ev;
	struct stats		*stats;		/* the worker's */
	struct sign_queue_job	*head;		/* oldest; tail is the open one */
	struct sign_queue_job	*tail;
	struct sign_queue_job	*spare;
	int			 out;		/* jobs with the signers */
	int			 held;		/* turns the open job waited */
	struct sign_ctx		*ctx;		/* for a lone answer */
};

static void	sign_queue_on_mail(evutil_socket_t, short, void *);
static struct sign_queue_job *sign_queue_open(struct sign_queue *);
static void	sign_queue_back(struct sign_queue *, struct signer_task *);
static void	sign_queue_place_job(struct sign_queue *,
		    struct sign_queue_job *);
static void	sign_queue_place(struct sign_queue *, struct sign_queue_job *,
		    struct sign_queue_slot *);

/* A worker's queue, its mailbox watched by the worker's loop. */
struct sign_queue *
sign_queue_new(struct stats *stats, struct event_base *base)
{
	struct sign_queue *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->stats = stats;
	if (signer_mailbox_init(&q->box) != 0) {
		free(q);
		return NULL;
	}
	if ((q->ctx = sign_ctx_new()) == NULL) {
		sign_queue_free(q);
		return NULL;
	}
	q->ev = event_new(base, q->box.fd, EV_READ | EV_PERSIST,
	    sign_queue_on_mail, q);
	if (q->ev == NULL || event_add(q->ev, NULL) != 0) {
		sign_queue_free(q);
		return NULL;
	}
	return q;
}

/* Free a queue that has nothing with the signers (sign_queue_finish). */
void
sign_queue_free(struct sign_queue *q)
{
	struct sign_queue_job *j, *next;

	if (q == NULL)
		return;
	for (int pass = 0; pass < 2; pass++)
		for (j = pass ? q->spare : q->head; j != NULL; j = next) {
			next = j->next;
			sign_job_free(&j->job);
			free(j);
		}
	if (q->ev != NULL)
		event_free(q->ev);
	sign_ctx_free(q->ctx);
	signer_mailbox_free(&q->box);
	free(q);
}

/*
 * The job new statements go into: the open one while it has room and
 * the same key and mode, or a new one at the tail.
 */
static struct sign_queue_job *
sign_queue_open(struct sign_queue *q)
{
	struct sign_queue_job *j = q->tail;
	struct sign_keyring *kr = live_keys();
	int batch = settings.sign_mode == SIGN_BATCH;

	if (j != NULL && !j->sent && j->job.n == 0) {
		sign_job_close(&j->job);	/* empty: take it as new */
		sign_job_open(&j->job, kr, batch);
		return j;
	}
	if (j != NULL && !j->sent && !j->full && j->job.kr == kr &&
	    j->job.batch == batch && j->job.n < (batch ? SIGN_JOB_MAX :
	    SIGN_QUEUE_EACH))
		return j;
	if (j != NULL && !j->sent)
		j->full = 1;
	if ((j = q->spare) != NULL)
		q->spare = j->next;
	else if ((j = calloc(1, sizeof(*j))) == NULL ||
	    sign_job_init(&j->job, &q->box) != 0) {
		if (j != NULL)
			sign_job_free(&j->job);
		free(j);
		return NULL;
	}
	sign_job_open(&j->job, kr, batch);
	j->next = NULL;
	j->sent = j->done = j->full = 0;
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	return j;
}

/*
 * Keep a statement for signing; its reply goes where the connection's
 * output ends now. The caller holds the live state. -1: out of memory.
 */
int
sign_queue_add(struct sign_queue *q, struct conn *c,
    struct sign_queue_hold *h, sign_queue_render render, unsigned flags,
    const char *stmt, size_t len, const struct timespec *t0,
    enum stats_iface iface)
{
	struct sign_queue_job *j = sign_queue_open(q);
	struct sign_queue_slot *s;

	if (j == NULL || sign_job_add(&j->job, stmt, len) != 0)
		return -1;
	s = &j->slot[j->job.n - 1];
	*s = (struct sign_queue_slot){ .c = c, .hold = h, .render = render,
	    .flags = flags, .pos = c->out_sent + c->out.len - c->out_placed,
	    .t0 = *t0, .iface = iface };
	if (h->n++ == 0) {
		h->first = s;
		c->hold_at = s->pos;
	} else
		h->last->next = s;
	h->last = s;
	c->held++;
	return 0;
}

/* A connection closes with replies held: they are not placed. */
void
sign_queue_forget(struct sign_queue *q, struct sign_queue_hold *h)
{
	(void)q;
	for (struct sign_queue_slot *s = h->first; h->n > 0 && s != NULL;
	    s = s->next)
		s->c = NULL;
	h->n = 0;
	h->first = h->last = NULL;
}

/*
 * The pass is over: hand the signers what waits, oldest first, as far
 * as the mode allows (batch: one job out at a time, so the next one
 * gathers meanwhile; per-answer: enough to keep every signer busy).
 * A lone answer on a quiet worker is signed here: handing it over would
 * wake two threads across cores (a futex and an eventfd, about 20 us of
 * CPU on this kind of machine) to save none. A small batch may first
 * wait a turn or two of the loop for more (SIGN_QUEUE_HOLD_TURNS).
 */
void
sign_queue_submit(struct sign_queue *q)
{
	struct sign_queue_job *j;

	for (j = q->head; j != NULL && j->sent; j = j->next)
		;
	if (j != NULL && j->job.batch && q->out == 0 && j->job.n >= 2 &&
	    j->job.n < SIGN_QUEUE_HOLD_MAX && q->held < SIGN_QUEUE_HOLD_TURNS) {
		q->held++;
		return;
	}
	q->held = 0;
	if (j != NULL && q->out == 0 && j->next == NULL && j->job.n == 1) {
		j->sent = j->full = 1;
		q->out++;
		j->job.task.run(&j->job.task, q->ctx);
		j->job.task.next = NULL;
		sign_queue_back(q, &j->job.task);
		return;
	}
	for (; j != NULL && j->job.n > 0; j = j->next) {
		int limit = j->job.batch ? 1 : 2 * signer_count() + 2;

		if (q->out >= limit)
			return;
		j->sent = j->full = 1;
		q->out++;
		signer_submit(&j->job.task);
	}
}

/* Is a small batch waiting for more (the next loop turn must not sleep)? */
int
sign_queue_holding(const struct sign_queue *q)
{
	return q->held > 0;
}

/* Jobs are back: mark them, then place every reply that can be. */
static void
sign_queue_on_mail(evutil_socket_t fd, short what, void *arg)
{
	struct sign_queue *q = arg;

	(void)fd;
	(void)what;
	sign_queue_back(q, signer_mailbox_take(&q->box, 0));
}

/* Mark a list of finished jobs, and place those at the head, in order. */
static void
sign_queue_back(struct sign_queue *q, struct signer_task *t)
{
	struct sign_queue_job *j;

	for (; t != NULL; t = t->next) {
		j = (struct sign_queue_job *)(void *)t;
		j->done = 1;
		q->out--;
		STAT_ADD(q->stats->signatures, j->job.signatures);
	}
	while ((j = q->head) != NULL && j->done) {
		sign_queue_place_job(q, j);
		if ((q->head = j->next) == NULL)
			q->tail = NULL;
		sign_job_close(&j->job);
		j->next = q->spare;
		q->spare = j;
	}
}

/* Put every reply of a signed job in its connection's output. */
static void
sign_queue_place_job(struct sign_queue *q, struct sign_queue_job *j)
{
	for (size_t i = 0; i < j->job.n; i++)
		if (j->slot[i].c != NULL)
			sign_queue_place(q, j, &j->slot[i]);
}

/*
 * Rebuild the output of s's connection with its replies from job j in
 * their places (s is the first of them); net_tcp writes it when the
 * pass ends. A reply that cannot be made closes the connection.
 */
static void
sign_queue_place(struct sign_queue *q, struct sign_queue_job *j,
    struct sign_queue_slot *s)
{
	struct conn *c = s->c;
	struct sign_queue_hold *h = s->hold;
	struct buf nb = { 0 };
	uint64_t base = c->out_placed - c->out_sent;
	size_t prev = 0, len, siglen, n = 0;
	const char *stmt, *sig;
	int fail = 0;

	for (; s != NULL && s >= j->slot && s < j->slot + j->job.n;
	    s = s->next, n++) {
		size_t off = (size_t)(s->pos + base), i = (size_t)(s - j->slot);

		fail |= buf_append(&nb, buf_head(&c->out) + prev, off - prev);
		prev = off;
		stmt = sign_job_stmt(&j->job, i, &len);
		sig = sign_job_sig(&j->job, i, &siglen);
		if (siglen == 0)
			fail = 1;
		else
			s->render(c, &nb, s->flags, stmt, len, sig, siglen);
		stats_latency(q->stats, s->iface, clock_elapsed_us(&s->t0));
		s->c = NULL;
	}
	fail |= buf_append(&nb, buf_head(&c->out) + prev, c->out.len - prev);
	c->out_placed += nb.len - c->out.len;
	buf_free(&c->out);
	c->out = nb;
	c->held -= (uint32_t)n;
	h->n -= (uint32_t)n;
	h->first = s;
	c->hold_at = s != NULL ? s->pos : NET_HOLD_NONE;
	if (s == NULL)
		h->last = NULL;
	if (fail) {
		log_error("msg=\"cannot sign or place answers\" action=close");
		net_tcp_conn_close(c);
		return;
	}
	net_tcp_conn_defer(c);
}

/*
 * The worker stops: hand over what waits, wait for every job to come
 * back and place its replies (connections still open get them).
 */
void
sign_queue_finish(struct sign_queue *q)
{
	struct sign_queue_job *j;

	for (j = q->head; j != NULL; j = j->next)
		if (!j->sent && j->job.n > 0) {
			j->sent = j->full = 1;
			q->out++;
			signer_submit(&j->job.task);
		}
	while (q->out > 0)
		sign_queue_back(q, signer_mailbox_take(&q->box, 1));
	sign_queue_back(q, NULL);
}
