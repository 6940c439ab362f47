/* SPDX-License-Identifier: MIT */
/*
 * Worker threads, after memcached's thread.c: each worker has its own
 * event_base (no locking inside libevent), its own listening sockets
 * (SO_REUSEPORT), its own connections, signing context, clock and
 * counters. The only state workers share is the live state (live.c).
 * The main thread talks to a worker through an eventfd: one write asks
 * it to drain, i.e. stop accepting, finish what it was asked, and end.
 */
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "live.h"
#include "net_tcp.h"
#include "sign.h"
#include "sign_batch.h"
#include "worker.h"

static struct worker *workers;
static int worker_n;

static int	worker_init(struct worker *, int, int *);
static void	*worker_main(void *);
static void	worker_on_accept(evutil_socket_t, short, void *);
static void	worker_on_resume(evutil_socket_t, short, void *);
static void	worker_on_ctl(evutil_socket_t, short, void *);
static void	worker_on_deadline(evutil_socket_t, short, void *);
static void	worker_free(struct worker *);
static void	worker_on_heartbeat(evutil_socket_t, short, void *);

/* Set up one worker's loop, listeners and private state. */
static int
worker_init(struct worker *w, int id, int *fds)
{
	struct event_config *cfg = event_config_new();
	struct timeval beat = { 0, 250000 };

	w->id = id;
	w->ctl_fd = -1;
	if (cfg == NULL)
		return -1;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	w->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	w->sign = sign_ctx_new();
	w->scratch_cap = (size_t)settings.resp_max_arg_len * 4 + 64;
	w->scratch = malloc(w->scratch_cap);
	w->ctl_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->base == NULL || w->sign == NULL || w->scratch == NULL ||
	    w->ctl_fd < 0 || sign_batch_init(w) != 0)
		return -1;
	w->ctl_ev = event_new(w->base, w->ctl_fd, EV_READ | EV_PERSIST,
	    worker_on_ctl, w);
	w->heartbeat = event_new(w->base, -1, EV_PERSIST, worker_on_heartbeat,
	    w);
	event_add(w->heartbeat, &beat);
	w->accept_resume = evtimer_new(w->base, worker_on_resume, w);
	event_add(w->ctl_ev, NULL);
	for (int p = 0; p < PROTO_COUNT; p++) {
		w->listen_fd[p] = fds[p];
		if (fds[p] < 0)
			continue;
		w->listen_ev[p] = event_new(w->base, fds[p], EV_READ |
		    EV_PERSIST, worker_on_accept, w);
		event_add(w->listen_ev[p], NULL);
	}
	clock_update(&w->clock);
	return 0;
}

/* Start the workers; fds[i] are worker i's listening sockets (-1: off). */
int
worker_start(int n, int fds[][PROTO_COUNT])
{
	if ((workers = calloc((size_t)n, sizeof(*workers))) == NULL)
		return -1;
	worker_n = n;
	for (int i = 0; i < n; i++)
		if (worker_init(&workers[i], i, fds[i]) != 0)
			return -1;
	for (int i = 0; i < n; i++)
		if (pthread_create(&workers[i].thread, NULL, worker_main,
		    &workers[i]) != 0)
			return -1;
	return 0;
}

/*
 * A worker thread: its loop runs until it has drained. While answers
 * wait for a batch signature the loop turns without sleeping, so
 * requests that arrive meanwhile join the same signature; they are
 * signed once a turn brings nothing new (or sign_batch says they waited
 * long enough). Every turn ends by writing what it answered (net_tcp.c).
 */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		w->reads = 0;
		if (sign_batch_waiting(w)) {
			event_base_loop(w->base, EVLOOP_NONBLOCK);
			if (sign_batch_due(w, w->reads == 0))
				sign_batch_flush(w);
		} else if (event_base_loop(w->base, EVLOOP_ONCE) != 0)
			break;		/* nothing left to wait for */
		net_tcp_flush_deferred(w);
		if (event_base_got_break(w->base))
			break;
	}
	if (sign_batch_waiting(w))
		sign_batch_flush(w);
	net_tcp_flush_deferred(w);
	return NULL;
}

/* Accept what is pending on a listening socket. */
static void
worker_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	enum conn_proto p = fd == w->listen_fd[PROTO_HTTP] ? PROTO_HTTP :
	    PROTO_RESP;

	(void)what;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int s = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);

		if (s >= 0) {
			/* The TLS context is live state. */
			worker_live_enter(w);
			net_tcp_conn_new(w, s, p, (struct sockaddr *)&ss, len);
			if (!sign_batch_waiting(w))
				worker_live_leave(w);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			log_warn("msg=\"cannot accept\" error=\"%s\" "
			    "action=\"pause 100ms\"", strerror(errno));
			worker_accept_pause(w);
		}
		return;
	}
}

/*
 * Stop accepting for a moment: out of descriptors, a level-triggered
 * listener would otherwise spin.
 */
void
worker_accept_pause(struct worker *w)
{
	struct timeval tv = { 0, 100000 };

	for (int p = 0; p < PROTO_COUNT; p++)
		if (w->listen_ev[p] != NULL)
			event_del(w->listen_ev[p]);
	evtimer_add(w->accept_resume, &tv);
}

/* Accept again after a pause. */
static void
worker_on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (w->draining)
		return;
	for (int p = 0; p < PROTO_COUNT; p++)
		if (w->listen_ev[p] != NULL)
			event_add(w->listen_ev[p], NULL);
}

/* Give up waiting for connections to finish. */
static void
worker_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(w->base);
}

/*
 * A message from the main thread: drain. Stop accepting; let every
 * connection answer what it was sent, including requests still in the
 * kernel's buffer, then close (net_tcp closes each once its answers are
 * written); the loop ends when none is left or the deadline passes.
 */
static void
worker_on_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval tv;
	uint64_t v;
	struct conn *c, *next;

	(void)what;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return;
	tv.tv_sec = (time_t)(v / 1000);
	tv.tv_usec = (suseconds_t)(v % 1000 * 1000);
	w->draining = 1;
	for (int p = 0; p < PROTO_COUNT; p++)
		if (w->listen_ev[p] != NULL)
			event_del(w->listen_ev[p]);
	event_del(w->ctl_ev);
	event_del(w->heartbeat);
	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		net_tcp_conn_drain(c);
	}
	if (w->nconns == 0)
		event_base_loopbreak(w->base);
	else
		event_base_once(w->base, -1, EV_TIMEOUT, worker_on_deadline, w,
		    &tv);
}

/* Free a stopped worker and whatever connections it still had. */
static void
worker_free(struct worker *w)
{
	while (w->conns != NULL)
		net_tcp_conn_close(w->conns);
	sign_batch_free(w);
	worker_live_leave(w);
	for (int p = 0; p < PROTO_COUNT; p++) {
		if (w->listen_ev[p] != NULL)
			event_free(w->listen_ev[p]);
		if (w->listen_fd[p] >= 0)
			close(w->listen_fd[p]);
	}
	if (w->accept_resume != NULL)
		event_free(w->accept_resume);
	if (w->heartbeat != NULL)
		event_free(w->heartbeat);
	if (w->ctl_ev != NULL)
		event_free(w->ctl_ev);
	if (w->ctl_fd >= 0)
		close(w->ctl_fd);
	if (w->base != NULL)
		event_base_free(w->base);
	sign_ctx_free(w->sign);
	free(w->scratch);
}

/* Ask every worker to drain within drain_ms, wait for them, free them. */
void
worker_stop(int drain_ms)
{
	uint64_t v = (uint64_t)(drain_ms > 0 ? drain_ms : 1);

	for (int i = 0; i < worker_n; i++)
		if (write(workers[i].ctl_fd, &v, sizeof(v)) != sizeof(v))
			log_error("msg=\"cannot signal worker\" worker=%d", i);
	for (int i = 0; i < worker_n; i++)
		pthread_join(workers[i].thread, NULL);
	for (int i = 0; i < worker_n; i++)
		worker_free(&workers[i]);
	free(workers);
	workers = NULL;
	worker_n = 0;
}

/* Four times a second: the loop turns. */
static void
worker_on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	atomic_fetch_add(&w->beats, 1);
}

/*
 * For the watchdog: has every worker's loop turned since the last call?
 * A worker stuck in a callback (or a deadlock) stops the pings, and
 * systemd restarts the service.
 */
int
worker_alive(void)
{
	int alive = 1;

	for (int i = 0; i < worker_n; i++) {
		uint64_t b = atomic_load(&workers[i].beats);

		alive &= b != workers[i].beats_seen;
		workers[i].beats_seen = b;
	}
	return alive;
}

/* Enter the live state once, however many callbacks want it. */
void
worker_live_enter(struct worker *w)
{
	if (!w->live_held) {
		live_enter(w->id);
		w->live_held = 1;
	}
}

/* Leave the live state. */
void
worker_live_leave(struct worker *w)
{
	if (w->live_held) {
		live_leave(w->id);
		w->live_held = 0;
	}
}

/* Number of workers. */
int
worker_count(void)
{
	return worker_n;
}

/* Add every worker's counters into sum. */
void
worker_stats_sum(struct stats *sum)
{
	for (int i = 0; i < worker_n; i++)
		stats_sum(sum, &workers[i].stats);
}
