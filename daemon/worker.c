/* SPDX-License-Identifier: MIT */
/*
 * Worker threads, after memcached's thread.c: each worker has its own
 * event_base (no locking inside libevent), its own listening sockets
 * (SO_REUSEPORT), its own connections, clock and counters. The only state
 * workers share is the live state (live.c) and the signer pool
 * (signer.c), whose threads sign what the worker answers; the worker
 * sleeps in epoll between passes, and a signed job wakes it through its
 * mailbox's eventfd.
 * The main thread talks to a worker through an eventfd: one write asks
 * it to drain, i.e. stop accepting, finish what it was asked, and end.
 * The worker's loop is the one place where a pass ends: the answers are
 * written and the live state is left there (worker_pass_end).
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

#include "code_bind.h"
#include "config.h"
#include "log.h"
#include "live.h"
#include "net_tcp.h"
#include "notify.h"
#include "sign_queue.h"
#include "worker.h"

static struct worker *workers;
static int worker_n;

static int	worker_init(struct worker *, int, const struct net_listener *,
		    size_t);
static void	worker_pass_end(struct worker *);
static void	worker_accept_pause(struct worker *);
static void	*worker_main(void *);
static void	worker_on_accept(evutil_socket_t, short, void *);
static void	worker_on_resume(evutil_socket_t, short, void *);
static void	worker_on_ctl(evutil_socket_t, short, void *);
static void	worker_on_deadline(evutil_socket_t, short, void *);
static void	worker_free(struct worker *);
static void	worker_on_heartbeat(evutil_socket_t, short, void *);

/* Set up one worker's loop, listeners and private state. */
static int
worker_init(struct worker *w, int id, const struct net_listener *ls,
    size_t nls)
{
	struct event_config *cfg = event_config_new();
	/* Beat four times per watchdog period, and not at all without one:
	 * an idle daemon should not wake up (issue 11: 0 CPU ticks). */
	uint64_t wd = notify_watchdog_usec() / 4;
	struct timeval beat = { (time_t)(wd / 1000000),
	    (suseconds_t)(wd % 1000000) };

	w->id = id;
	w->ctl_fd = -1;
	if (cfg == NULL || nls > WORKER_LISTEN_MAX)
		return -1;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	w->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	w->scratch_cap = (size_t)settings.resp_max_arg_len * 4 + 64;
	w->scratch = malloc(w->scratch_cap);
	w->ctl_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->net = (struct net_loop){ .base = w->base, .reader = id,
	    .stats = &w->stats };
	if (w->base == NULL || w->scratch == NULL || w->ctl_fd < 0 ||
	    (w->queue = sign_queue_new(&w->stats, w->base)) == NULL ||
	    (w->bind = code_bind_new(w->base, &w->stats)) == NULL)
		return -1;
	w->ctl_ev = event_new(w->base, w->ctl_fd, EV_READ | EV_PERSIST,
	    worker_on_ctl, w);
	w->heartbeat = event_new(w->base, -1, EV_PERSIST, worker_on_heartbeat,
	    w);
	if (wd > 0)
		event_add(w->heartbeat, &beat);
	w->accept_resume = evtimer_new(w->base, worker_on_resume, w);
	event_add(w->ctl_ev, NULL);
	for (size_t i = 0; i < nls; i++) {
		w->listen[w->nlisten] = ls[i];
		if (ls[i].fd < 0)
			continue;
		w->listen_ev[w->nlisten] = event_new(w->base, ls[i].fd,
		    EV_READ | EV_PERSIST, worker_on_accept, w);
		event_add(w->listen_ev[w->nlisten++], NULL);
	}
	clock_update(&w->clock);
	return 0;
}

/*
 * Start n workers; ls[i * per .. i * per + per - 1] are worker i's
 * listeners (fd -1: off). The workers own the sockets from now on.
 */
int
worker_start(int n, const struct net_listener *ls, size_t per)
{
	if ((workers = calloc((size_t)n, sizeof(*workers))) == NULL)
		return -1;
	worker_n = n;
	for (int i = 0; i < n; i++)
		if (worker_init(&workers[i], i, ls + (size_t)i * per, per) != 0)
			return -1;
	for (int i = 0; i < n; i++) {
		if (pthread_create(&workers[i].thread, NULL, worker_main,
		    &workers[i]) != 0)
			return -1;
		pthread_setname_np(workers[i].thread, "cardd-worker");
	}
	return 0;
}

/*
 * A worker thread: its loop runs until it has drained, sleeping in epoll
 * until a socket, a signed job or the main thread wakes it. Every turn
 * ends the pass (worker_pass_end). Before it ends, every job it handed
 * the signers comes back.
 */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		/* A small batch held for more: look, but do not sleep. */
		if (event_base_loop(w->base, EVLOOP_ONCE |
		    (sign_queue_holding(w->queue) ? EVLOOP_NONBLOCK : 0)) != 0)
			break;		/* nothing left to wait for */
		worker_pass_end(w);
		if (event_base_got_break(w->base))
			break;
	}
	sign_queue_finish(w->queue);
	worker_pass_end(w);
	return NULL;
}

/*
 * The pass is over: hand the signers what it answered, write what came
 * back signed, and let writers of the live state in (each job holds the
 * keys its statements named). Writing can answer more (a connection
 * that paused for its waiting answers reads on), and a lone answer is
 * signed in place, so the two go round until nothing is left to write.
 */
static void
worker_pass_end(struct worker *w)
{
	for (;;) {
		sign_queue_submit(w->queue);
		if (w->net.deferred == NULL)
			break;
		net_tcp_flush_deferred(&w->net);
	}
	if (w->net.live_held) {
		live_leave(w->id);
		w->net.live_held = 0;
	}
}

/* Accept what is pending on a listening socket. */
static void
worker_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	const struct net_listener *ls = w->listen;

	(void)what;
	while (ls->fd != fd)
		ls++;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int s = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);

		if (s >= 0) {
			net_tcp_conn_new(&w->net, s, ls, (struct sockaddr *)&ss,
			    len);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			log_warn("msg=\"cannot accept\" action=\"pause 100ms\"");
			worker_accept_pause(w);
		}
		return;
	}
}

/*
 * Stop accepting for a moment: out of descriptors, a level-triggered
 * listener would otherwise spin.
 */
static void
worker_accept_pause(struct worker *w)
{
	struct timeval tv = { 0, 100000 };

	for (size_t i = 0; i < w->nlisten; i++)
		event_del(w->listen_ev[i]);
	evtimer_add(w->accept_resume, &tv);
}

/* Accept again after a pause. */
static void
worker_on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (w->net.draining)
		return;
	for (size_t i = 0; i < w->nlisten; i++)
		event_add(w->listen_ev[i], NULL);
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
	w->net.draining = 1;
	for (size_t i = 0; i < w->nlisten; i++)
		event_del(w->listen_ev[i]);
	event_del(w->ctl_ev);
	event_del(w->heartbeat);
	for (c = w->net.conns; c != NULL; c = next) {
		next = c->next;
		net_tcp_conn_drain(c);
	}
	if (w->net.nconns == 0)
		event_base_loopbreak(w->base);
	else
		event_base_once(w->base, -1, EV_TIMEOUT, worker_on_deadline, w,
		    &tv);
}

/* Free a stopped worker and whatever connections it still had. */
static void
worker_free(struct worker *w)
{
	while (w->net.conns != NULL)
		net_tcp_conn_close(w->net.conns);
	code_bind_free(w->bind);
	sign_queue_free(w->queue);
	if (w->net.live_held)
		live_leave(w->id);
	for (size_t i = 0; i < w->nlisten; i++) {
		event_free(w->listen_ev[i]);
		close(w->listen[i].fd);
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

/* Four times per watchdog period: the loop turns. */
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
