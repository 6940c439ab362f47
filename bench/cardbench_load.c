/* SPDX-License-Identifier: MIT */
/*
 * The load threads. Each has its own event_base, connections, PRNG and
 * counters; they share only the -n ticket pool and the stop flag
 * (atomics), and the start time (written between two barriers).
 *
 * Start: every thread connects all its connections, then all threads
 * and the main thread meet at a barrier; the main thread takes the
 * common start time t0, and after a second barrier the run begins.
 * Warmup ends at t0 + warmup and the measured window at that + duration.
 *
 * Closed loop: each connection keeps DEPTH requests outstanding; an
 * answer is replaced at once. Latency runs from the write.
 *
 * Open loop (--rate): thread i owns a schedule of intended send times
 * t0 + (i + k * threads) / rate, k = 0, 1, ... A request is released to
 * the next connection with room as soon as it is due; when every
 * pipeline is full the due requests wait (their intended times are
 * implied by the schedule index, so the queue costs no memory), and the
 * wait counts: latency runs from the intended time, not the write, as
 * wrk2 does against coordinated omission. Two more histograms split it:
 * the service time (write to answer) and the send lag (intended time to
 * write: a full pipeline, or a client too busy to keep its schedule).
 *
 * -n: measured requests take tickets from a shared pool, in chunks of
 * LOAD_CHUNK; a thread whose pool is dry stops when its last answer is
 * in. The run also stops at the end of the duration, or on SIGINT.
 *
 * --codes: a connection asks by code, picking a code from the pool as
 * cards are picked (the pool index stands for the card number) and
 * asking it --code-repeat times in a row before picking the next, as a
 * counter does for a visit's checks.
 */
#include <sys/prctl.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "cardbench_codes.h"
#include "cardbench_conf.h"
#include "cardbench_conn.h"
#include "cardbench_load.h"
#include "cardbench_reply.h"
#include "cardbench_verify.h"

#define LOAD_CHUNK	16
#define LOAD_TICK_MS	50
#define LOAD_SPIN_NS	2000000ull	/* poll when a send is due this soon */

static struct cardbench_thread	*load_th;
static int			 load_n;
static int			 load_limited;
static pthread_barrier_t	 load_barrier;
static _Atomic uint64_t		 load_left;
static _Atomic int		 load_stopflag;
static uint64_t			 load_t0;

static int	cardbench_load_init(struct cardbench_thread *, int);
static void	*cardbench_load_main(void *);
static void	cardbench_load_begin(struct cardbench_thread *);
static void	cardbench_load_halt(struct cardbench_thread *, uint64_t);
static void	cardbench_load_finish(struct cardbench_thread *);
static uint64_t	cardbench_load_backlog(const struct cardbench_thread *);
static int	cardbench_load_take(struct cardbench_thread *, uint64_t);
static void	cardbench_load_make_req(struct cardbench_thread *,
		    struct cardbench_conn *, struct cardbench_req *);
static void	cardbench_load_pick_code(struct cardbench_thread *,
		    struct cardbench_conn *, struct cardbench_req *);
static void	cardbench_load_pump(struct cardbench_thread *);
static void	cardbench_load_loop(struct cardbench_thread *);
static uint64_t	cardbench_load_due(const struct cardbench_thread *);
static struct cardbench_conn *cardbench_load_next_conn(
		    struct cardbench_thread *);
static void	cardbench_load_flush_dirty(struct cardbench_thread *);
static void	cardbench_load_arm(struct event *, uint64_t, uint64_t);
static void	cardbench_load_on_sched(evutil_socket_t, short, void *);
static void	cardbench_load_on_tick(evutil_socket_t, short, void *);
static void	cardbench_load_on_end(evutil_socket_t, short, void *);
static void	cardbench_load_settled(struct cardbench_thread *);
static void	cardbench_load_answer(struct cardbench_thread *,
		    const struct cardbench_slot *, const struct cardbench_reply *,
		    uint64_t);
static void	cardbench_load_refill(struct cardbench_thread *,
		    struct cardbench_conn *);
static void	cardbench_load_check_done(struct cardbench_thread *);
static void	cardbench_load_mark_dirty(struct cardbench_thread *,
		    struct cardbench_conn *);

/* What the connections call back. */
static const struct cardbench_thread_hooks load_hooks = {
	.settled = cardbench_load_settled,
	.answer = cardbench_load_answer,
	.refill = cardbench_load_refill,
	.check_done = cardbench_load_check_done,
	.mark_dirty = cardbench_load_mark_dirty,
};

/* Ask every thread to stop (async-signal-safe). */
void
cardbench_load_stop(void)
{
	atomic_store(&load_stopflag, 1);
}

/* A thread's loop, connections and generator. */
static int
cardbench_load_init(struct cardbench_thread *th, int nconns)
{
	const struct cardbench_conf *cf = &cardbench_conf;
	struct event_config *cfg = event_config_new();
	struct timeval tick = { 0, LOAD_TICK_MS * 1000 };

	if (cfg == NULL)
		return -1;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	th->hooks = &load_hooks;
	th->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	th->nconns = nconns;
	th->depth = cf->depth;
	th->conns = calloc((size_t)nconns, sizeof(*th->conns));
	th->dirty = calloc((size_t)nconns, sizeof(*th->dirty));
	cardbench_stats_init(&th->stats);
	cardbench_pick_init(&th->pick, cf->seed * 0x100000001b3ull +
	    (uint64_t)th->id, cf->codes ? cardbench_codes_count() : cf->cards,
	    cf->zipf);
	if (cf->codes)
		th->seen = cardbench_codes_seen_new();
	if (th->base == NULL || th->conns == NULL || th->dirty == NULL ||
	    (cf->codes && th->seen == NULL))
		return -1;
	for (int i = 0; i < nconns; i++)
		if (cardbench_conn_init(&th->conns[i], th) != 0)
			return -1;
	th->sched_ev = evtimer_new(th->base, cardbench_load_on_sched, th);
	th->end_ev = evtimer_new(th->base, cardbench_load_on_end, th);
	th->tick_ev = event_new(th->base, -1, EV_PERSIST,
	    cardbench_load_on_tick, th);
	if (th->sched_ev == NULL || th->end_ev == NULL || th->tick_ev == NULL)
		return -1;
	return event_add(th->tick_ev, &tick);
}

/* A load thread: connect, meet the others, run, count what is left. */
static void *
cardbench_load_main(void *arg)
{
	struct cardbench_thread *th = arg;
	int ok = cardbench_load_init(th, th->nconns) == 0;

	/* Open loop sends on timers: do not let the kernel batch wakeups. */
	prctl(PR_SET_TIMERSLACK, 1UL);
	if (ok) {
		th->connecting = th->nconns;
		for (int i = 0; i < th->nconns; i++) {
			th->conns[i].first = 1;
			cardbench_conn_open(&th->conns[i]);
		}
		if (th->connecting > 0)
			event_base_dispatch(th->base);
	}
	pthread_barrier_wait(&load_barrier);
	pthread_barrier_wait(&load_barrier);
	if (ok) {
		cardbench_load_begin(th);
		cardbench_load_loop(th);
	}
	cardbench_load_finish(th);
	return NULL;
}

/* A first connect settled, up or failed. */
static void
cardbench_load_settled(struct cardbench_thread *th)
{
	if (--th->connecting == 0 && !th->started)
		event_base_loopbreak(th->base);
}

/* Arm a one-shot timer for a moment on the monotonic clock. */
static void
cardbench_load_arm(struct event *ev, uint64_t at, uint64_t now)
{
	uint64_t d = at > now ? at - now : 0;
	struct timeval tv = { (time_t)(d / 1000000000ull),
	    (suseconds_t)(d % 1000000000ull / 1000) };

	evtimer_add(ev, &tv);
}

/* The run starts: fix this thread's times and fill the pipelines. */
static void
cardbench_load_begin(struct cardbench_thread *th)
{
	const struct cardbench_conf *cf = &cardbench_conf;
	uint64_t now = cardbench_conn_now();

	th->started = 1;
	th->measure_ns = load_t0 + (uint64_t)(cf->warmup * 1e9);
	th->end_ns = th->measure_ns + (uint64_t)(cf->duration * 1e9);
	cardbench_load_arm(th->end_ev, th->end_ns, now);
	if (cf->rate > 0) {
		th->period_ns = 1e9 * load_n / cf->rate;
		th->t0_ns = load_t0 + (uint64_t)(th->period_ns * th->id /
		    load_n);
		cardbench_load_pump(th);
		return;
	}
	for (int i = 0; i < th->nconns; i++)
		cardbench_load_refill(th, &th->conns[i]);
}

/* Stop this thread's loop; now is when its measurement ended. */
static void
cardbench_load_halt(struct cardbench_thread *th, uint64_t now)
{
	if (th->stopping)
		return;
	th->stopping = 1;
	th->stop_ns = now < th->end_ns ? now : th->end_ns;
	event_base_loopbreak(th->base);
}

/* Open loop: measured requests due by the stop but never released. */
static uint64_t
cardbench_load_backlog(const struct cardbench_thread *th)
{
	double lim, lo;
	uint64_t hi, first;

	if (cardbench_conf.rate <= 0 || th->exhausted ||
	    th->stop_ns <= th->t0_ns)
		return 0;
	lim = (double)(th->stop_ns - th->t0_ns);
	hi = (uint64_t)(lim / th->period_ns) + 1;	/* due by the stop */
	lo = th->measure_ns > th->t0_ns ?
	    (double)(th->measure_ns - th->t0_ns) / th->period_ns : 0;
	first = (uint64_t)lo + ((double)(uint64_t)lo < lo);
	if (first < th->released)
		first = th->released;
	return hi > first ? hi - first : 0;
}

/* Count what was still in flight or queued, and close everything. */
static void
cardbench_load_finish(struct cardbench_thread *th)
{
	if (th->started)
		th->stats.c.unfinished += cardbench_load_backlog(th);
	for (int i = 0; th->conns != NULL && i < th->nconns; i++) {
		if (th->started)
			th->stats.c.unfinished += cardbench_conn_unfinished(
			    &th->conns[i], th->measure_ns);
		cardbench_conn_free(&th->conns[i]);
	}
	if (th->sched_ev != NULL)
		event_free(th->sched_ev);
	if (th->end_ev != NULL)
		event_free(th->end_ev);
	if (th->tick_ev != NULL)
		event_free(th->tick_ev);
	if (th->base != NULL)
		event_base_free(th->base);
	free(th->conns);
	free(th->dirty);
	th->conns = NULL;
}

/* May a request meant for start go? Measured ones need a -n ticket. */
static int
cardbench_load_take(struct cardbench_thread *th, uint64_t start)
{
	uint64_t left, want;

	if (!load_limited || start < th->measure_ns)
		return 1;
	if (th->tickets > 0) {
		th->tickets--;
		return 1;
	}
	if (th->exhausted)
		return 0;
	left = atomic_load(&load_left);
	do {
		if (left == 0) {
			th->exhausted = 1;
			return 0;
		}
		want = left < LOAD_CHUNK ? left : LOAD_CHUNK;
	} while (!atomic_compare_exchange_weak(&load_left, &left,
	    left - want));
	th->tickets = want - 1;
	return 1;
}

/*
 * --codes: the code connection c asks next. Every connection of every
 * thread presents the same client (one --token, or none at all, which
 * under auth none is the one anonymous client: PROTOCOL.md §10), so a
 * code bound at its first ask answers on any connection after that,
 * never code_replayed; a code's repeats stay on c all the same.
 */
static void
cardbench_load_pick_code(struct cardbench_thread *th,
    struct cardbench_conn *c, struct cardbench_req *r)
{
	if (c->code_left == 0) {
		c->code = cardbench_pick_card(&th->pick);
		c->code_left = (unsigned)cardbench_conf.code_repeat;
		cardbench_codes_seen_mark(th->seen, c->code);
	}
	c->code_left--;
	r->card = c->code;
	r->bycode = 1;
}

/* What connection c asks next: a card or code, a check, a nonce number. */
static void
cardbench_load_make_req(struct cardbench_thread *th, struct cardbench_conn *c,
    struct cardbench_req *r)
{
	const struct cardbench_conf *cf = &cardbench_conf;

	r->bycode = 0;
	if (cf->codes)
		cardbench_load_pick_code(th, c, r);
	else
		r->card = cardbench_pick_card(&th->pick);
	r->seq = th->seq++;
	r->thread = (uint16_t)th->id;
	r->nonce = (uint8_t)cf->nonce;
	if (cf->cmd_template != NULL)
		r->check = BENCH_TEMPLATE;
	else if (cf->coverage > 0 &&
	    cardbench_pick_unit(&th->pick) * 100.0 < cf->coverage)
		r->check = BENCH_COVERAGE;
	else
		r->check = BENCH_VALIDITY;
}

/* Remember a connection with output to flush. */
static void
cardbench_load_mark_dirty(struct cardbench_thread *th,
    struct cardbench_conn *c)
{
	th->dirty[th->ndirty++] = c;
}

/* Write out every connection that got requests. */
static void
cardbench_load_flush_dirty(struct cardbench_thread *th)
{
	for (int i = 0; i < th->ndirty; i++)
		cardbench_conn_flush(th->dirty[i]);
	th->ndirty = 0;
}

/* Open loop: the next connection that is up and has room. */
static struct cardbench_conn *
cardbench_load_next_conn(struct cardbench_thread *th)
{
	for (int k = 0; k < th->nconns; k++) {
		struct cardbench_conn *c = &th->conns[th->rr];

		th->rr = (th->rr + 1) % th->nconns;
		if (c->state == CONN_UP && c->count < (unsigned)th->depth)
			return c;
	}
	return NULL;
}

/* Open loop: the intended send time of the next request to release. */
static uint64_t
cardbench_load_due(const struct cardbench_thread *th)
{
	return th->t0_ns + (uint64_t)((double)th->released * th->period_ns);
}

/* Open loop: release every due request there is room for. */
static void
cardbench_load_pump(struct cardbench_thread *th)
{
	uint64_t now = cardbench_conn_now(), start;
	struct cardbench_conn *c;
	struct cardbench_req r;

	while (!th->stopping && !th->sched_done && th->free_slots > 0) {
		start = cardbench_load_due(th);
		if (start >= th->end_ns) {
			th->sched_done = 1;
			break;
		}
		if (start > now) {
			/* Wake early: the loop polls the last stretch. */
			if (!evtimer_pending(th->sched_ev, NULL))
				cardbench_load_arm(th->sched_ev, start -
				    LOAD_SPIN_NS / 2, now);
			break;
		}
		if ((c = cardbench_load_next_conn(th)) == NULL)
			break;
		if (!cardbench_load_take(th, start)) {
			th->sched_done = 1;
			break;
		}
		cardbench_load_make_req(th, c, &r);
		if (cardbench_conn_issue(c, &r, start, now) != 0)
			break;
		th->released++;
	}
	cardbench_load_flush_dirty(th);
	cardbench_load_check_done(th);
}

/*
 * Room on a connection (an answer came, or it connected): closed loop
 * fills it back to DEPTH; open loop releases whatever is due.
 */
static void
cardbench_load_refill(struct cardbench_thread *th, struct cardbench_conn *c)
{
	uint64_t now;
	struct cardbench_req r;

	if (!th->started || th->stopping)
		return;
	if (cardbench_conf.rate > 0) {
		cardbench_load_pump(th);
		return;
	}
	now = cardbench_conn_now();
	while (c->state == CONN_UP && c->count < (unsigned)th->depth &&
	    now < th->end_ns && cardbench_load_take(th, now)) {
		cardbench_load_make_req(th, c, &r);
		if (cardbench_conn_issue(c, &r, now, now) != 0)
			break;
	}
	cardbench_load_flush_dirty(th);
	cardbench_load_check_done(th);
}

/* -n: stop once the pool is dry and the last answer is in. */
static void
cardbench_load_check_done(struct cardbench_thread *th)
{
	if (!th->started || th->stopping || !load_limited)
		return;
	if (!th->exhausted && th->tickets == 0 &&
	    atomic_load(&load_left) == 0)
		th->exhausted = 1;
	if (th->exhausted && th->tickets == 0 && th->inflight == 0)
		cardbench_load_halt(th, cardbench_conn_now());
}

/* Count one answer to the request in slot s, and sample it. */
static void
cardbench_load_answer(struct cardbench_thread *th,
    const struct cardbench_slot *s, const struct cardbench_reply *a,
    uint64_t now)
{
	const struct cardbench_conf *cf = &cardbench_conf;
	struct cardbench_stats *st = &th->stats;

	if (s->start_ns < th->measure_ns || !th->started)
		return;
	st->c.answers++;
	st->c.by_check[s->req.check]++;
	if (a->ok) {
		st->c.ok++;
		st->c.by_reason[a->reason]++;
	} else {
		st->c.refused++;
		cardbench_stats_refused(st, a->kind, 1);
	}
	cardbench_hist_record(&st->latency, now - s->start_ns);
	if (cf->rate > 0) {
		cardbench_hist_record(&st->service, now - s->sent_ns);
		cardbench_hist_record(&st->lag, s->sent_ns - s->start_ns);
	}
	st->last_ns = now;
	if (a->ok && cf->verify_every && ++th->verify_n % cf->verify_every ==
	    0) {
		st->c.verify_sampled++;
		if (cardbench_verify_submit(&s->req, a->stmt, a->stmt_len,
		    a->sig, a->sig_len) != 0)
			st->c.verify_dropped++;
	}
}

/*
 * The run. Open loop polls while its next send is due within
 * LOAD_SPIN_NS and sleeps otherwise: epoll_wait's timeout counts whole
 * milliseconds, and the finer timer libevent offers (PRECISE_TIMER, a
 * timerfd) is re-armed with a syscall on every turn, which perf put at a
 * third of this client's time at 41k requests/s. So an open-loop thread
 * keeps its core busy; give it one.
 */
static void
cardbench_load_loop(struct cardbench_thread *th)
{
	if (cardbench_conf.rate <= 0) {
		event_base_dispatch(th->base);
		return;
	}
	while (!th->stopping) {
		int spin = !th->sched_done && th->free_slots > 0 &&
		    cardbench_load_due(th) < cardbench_conn_now() + LOAD_SPIN_NS;

		if (event_base_loop(th->base, spin ? EVLOOP_NONBLOCK :
		    EVLOOP_ONCE) != 0)
			break;
		if (spin && !th->stopping)
			cardbench_load_pump(th);
	}
}

/* Open loop: the next request is due. */
static void
cardbench_load_on_sched(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cardbench_load_pump(arg);
}

/* The measured window is over. */
static void
cardbench_load_on_end(evutil_socket_t fd, short what, void *arg)
{
	struct cardbench_thread *th = arg;

	(void)fd;
	(void)what;
	cardbench_load_halt(th, th->end_ns);
}

/* Every LOAD_TICK_MS: the stop flag, timeouts, a dry -n pool. */
static void
cardbench_load_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct cardbench_thread *th = arg;
	uint64_t now = cardbench_conn_now();

	(void)fd;
	(void)what;
	if (atomic_load(&load_stopflag)) {
		if (th->started)
			cardbench_load_halt(th, now);
		else
			event_base_loopbreak(th->base);
		return;
	}
	for (int i = 0; i < th->nconns; i++)
		cardbench_conn_tick(&th->conns[i], now);
	cardbench_load_check_done(th);
}

/*
 * Run the load: start the threads, give them a common start time, and
 * wait until they have all stopped. Returns -1 if a thread could not
 * be set up.
 */
int
cardbench_load_run(int nthreads)
{
	const struct cardbench_conf *cf = &cardbench_conf;
	int rc = 0;

	load_n = nthreads;
	load_limited = cf->requests > 0;
	atomic_store(&load_left, cf->requests);
	if ((load_th = calloc((size_t)nthreads, sizeof(*load_th))) == NULL ||
	    pthread_barrier_init(&load_barrier, NULL,
	    (unsigned)nthreads + 1) != 0)
		return -1;
	for (int i = 0; i < nthreads; i++) {
		load_th[i].id = i;
		load_th[i].nconns = cf->conns / nthreads +
		    (i < cf->conns % nthreads);
		if (pthread_create(&load_th[i].tid, NULL, cardbench_load_main,
		    &load_th[i]) != 0)
			abort();	/* startup: the barrier would hang */
	}
	pthread_barrier_wait(&load_barrier);
	load_t0 = cardbench_conn_now();
	pthread_barrier_wait(&load_barrier);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(load_th[i].tid, NULL);
		if (!load_th[i].started)
			rc = -1;
	}
	pthread_barrier_destroy(&load_barrier);
	return rc;
}

/* Sum the threads' counters; the measured window's start and end. */
void
cardbench_load_sum(struct cardbench_stats *sum, uint64_t *measure_ns,
    uint64_t *stop_ns)
{
	cardbench_stats_init(sum);
	*measure_ns = load_t0 + (uint64_t)(cardbench_conf.warmup * 1e9);
	*stop_ns = *measure_ns;
	for (int i = 0; i < load_n; i++) {
		cardbench_stats_merge(sum, &load_th[i].stats);
		if (load_th[i].stop_ns > *stop_ns)
			*stop_ns = load_th[i].stop_ns;
	}
}

/* --codes: how many distinct codes the threads asked, warmup included. */
uint64_t
cardbench_load_codes_asked(void)
{
	uint64_t *all, n;

	if (cardbench_codes_count() == 0 || load_th == NULL ||
	    (all = cardbench_codes_seen_new()) == NULL)
		return 0;
	for (int i = 0; i < load_n; i++)
		if (load_th[i].seen != NULL)
			cardbench_codes_seen_merge(all, load_th[i].seen);
	n = cardbench_codes_seen_count(all);
	free(all);
	return n;
}

/* Free the threads' state. */
void
cardbench_load_free(void)
{
	for (int i = 0; load_th != NULL && i < load_n; i++)
		free(load_th[i].seen);
	free(load_th);
	load_th = NULL;
}
