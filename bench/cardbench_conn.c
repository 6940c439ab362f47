/* SPDX-License-Identifier: MIT */
/*
 * One connection of a load thread. Requests are encoded into an output
 * buffer and written when the caller flushes (so a refill of DEPTH
 * requests is one send); EV_WRITE is armed only while the kernel buffer
 * is full. Every readable event reads into a growing input buffer,
 * parses every complete answer with the shared codec, hands each to the
 * thread with the slot it answers (answers come in order), and then asks
 * the thread to refill. A connection that breaks (reset, server close,
 * unparseable stream, no answer within --timeout) loses what it had in
 * flight, is counted, and reconnects after a backoff (10 ms doubling to
 * 1 s, reset by the next answer) unless the run is stopping.
 *
 * With --token over RESP, AUTH goes first on every connection, ahead of
 * the checks in the same write, as Redis clients pipeline it; its answer
 * is taken before any check's, and a refusal breaks the connection
 * (counted) rather than letting every check after it fail -NOAUTH.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cardbench_conf.h"
#include "cardbench_conn.h"
#include "cardbench_thread.h"
#include "resp.h"

#define CONN_IN_START	(64 * 1024)
#define CONN_IN_MAX	(64 * 1024 * 1024)
#define CONN_OUT_START	(16 * 1024)
#define CONN_BACKOFF_MIN 10
#define CONN_BACKOFF_MAX 1000

enum conn_why { WHY_CLOSED, WHY_RESET, WHY_PROTOCOL, WHY_TIMEOUT,
	WHY_CONNECT, WHY_AUTH };

static void	cardbench_conn_on_connect(evutil_socket_t, short, void *);
static void	cardbench_conn_on_read(evutil_socket_t, short, void *);
static void	cardbench_conn_on_write(evutil_socket_t, short, void *);
static void	cardbench_conn_on_retry(evutil_socket_t, short, void *);
static void	cardbench_conn_up(struct cardbench_conn *);
static void	cardbench_conn_count(struct cardbench_conn *, enum conn_why);
static void	cardbench_conn_break(struct cardbench_conn *, enum conn_why);
static void	cardbench_conn_close(struct cardbench_conn *);
static void	cardbench_conn_send_auth(struct cardbench_conn *);
static ssize_t	cardbench_conn_auth_reply(struct cardbench_conn *,
		    const char *, size_t);
static int	cardbench_conn_parse(struct cardbench_conn *, uint64_t);
static int	cardbench_conn_read_some(struct cardbench_conn *, uint64_t,
		    int *);
static int	cardbench_conn_reserve(char **, size_t *, size_t, size_t);

/* Monotonic time in ns. */
uint64_t
cardbench_conn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Set up a connection's buffers; it starts closed. */
int
cardbench_conn_init(struct cardbench_conn *c, struct cardbench_thread *th)
{
	memset(c, 0, sizeof(*c));
	c->th = th;
	c->fd = -1;
	c->in_cap = CONN_IN_START;
	c->out_cap = CONN_OUT_START;
	c->in = malloc(c->in_cap);
	c->out = malloc(c->out_cap);
	c->ring = calloc((size_t)th->depth, sizeof(*c->ring));
	c->retry = evtimer_new(th->base, cardbench_conn_on_retry, c);
	c->backoff_ms = CONN_BACKOFF_MIN;
	return c->in && c->out && c->ring && c->retry ? 0 : -1;
}

/* Grow a buffer so that need more bytes fit after used ones. */
static int
cardbench_conn_reserve(char **buf, size_t *cap, size_t used, size_t need)
{
	size_t n = *cap;
	char *p;

	while (n - used < need)
		n *= 2;
	if (n == *cap)
		return 0;
	if (n > CONN_IN_MAX || (p = realloc(*buf, n)) == NULL)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

/* Start a non-blocking connect. */
void
cardbench_conn_open(struct cardbench_conn *c)
{
	const struct cardbench_conf *cf = &cardbench_conf;
	int one = 1;

	c->progress_ns = cardbench_conn_now();
	c->fd = socket(cf->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		cardbench_conn_break(c, WHY_CONNECT);
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->state = CONN_CONNECTING;
	c->rev = event_new(c->th->base, c->fd, EV_READ | EV_PERSIST,
	    cardbench_conn_on_read, c);
	c->wev = event_new(c->th->base, c->fd, EV_WRITE,
	    cardbench_conn_on_connect, c);
	if (c->rev == NULL || c->wev == NULL ||
	    (connect(c->fd, (const struct sockaddr *)&cf->addr,
	    cf->addrlen) != 0 && errno != EINPROGRESS))
		cardbench_conn_break(c, WHY_CONNECT);
	else
		event_add(c->wev, NULL);
}

/* The connect finished, one way or the other. */
static void
cardbench_conn_on_connect(evutil_socket_t fd, short what, void *arg)
{
	struct cardbench_conn *c = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)what;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
		cardbench_conn_break(c, WHY_CONNECT);
	else
		cardbench_conn_up(c);
}

/* Connected: switch the write event to output, start reading. */
static void
cardbench_conn_up(struct cardbench_conn *c)
{
	struct cardbench_thread *th = c->th;

	event_free(c->wev);
	c->wev = event_new(th->base, c->fd, EV_WRITE,
	    cardbench_conn_on_write, c);
	c->state = CONN_UP;
	c->progress_ns = cardbench_conn_now();
	th->stats.c.connects++;
	th->free_slots += (uint64_t)th->depth;
	event_add(c->rev, NULL);
	cardbench_conn_send_auth(c);
	if (c->first) {
		c->first = 0;
		th->hooks->settled(th);
	}
	th->hooks->refill(th, c);
}

/* Close the socket and drop its events. */
static void
cardbench_conn_close(struct cardbench_conn *c)
{
	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	c->rev = c->wev = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Count why a connection broke, and the requests it lost. */
static void
cardbench_conn_count(struct cardbench_conn *c, enum conn_why why)
{
	struct cardbench_counts *s = &c->th->stats.c;

	switch (why) {
	case WHY_CONNECT:
		s->connect_failed++;
		break;
	case WHY_TIMEOUT:
		s->timeouts++;
		break;
	case WHY_PROTOCOL:
		s->protocol++;
		break;
	case WHY_CLOSED:
		s->closed++;
		break;
	case WHY_RESET:
		s->resets++;
		break;
	case WHY_AUTH:
		s->auth_refused++;
		break;
	}
	s->lost += cardbench_conn_unfinished(c, c->th->measure_ns);
}

/* The connection broke: count it, lose what was in flight, retry. */
static void
cardbench_conn_break(struct cardbench_conn *c, enum conn_why why)
{
	struct cardbench_thread *th = c->th;
	struct timeval tv;

	cardbench_conn_count(c, why);
	if (c->state == CONN_UP)
		th->free_slots -= (uint64_t)(th->depth - (int)c->count);
	th->inflight -= c->count;
	c->count = c->head = 0;
	c->authing = 0;
	c->in_len = c->out_len = c->out_off = 0;
	c->state = CONN_IDLE;
	cardbench_conn_close(c);
	if (c->first) {
		c->first = 0;
		th->hooks->settled(th);
	}
	if (!th->stopping) {
		tv = (struct timeval){ c->backoff_ms / 1000,
		    (suseconds_t)(c->backoff_ms % 1000) * 1000 };
		evtimer_add(c->retry, &tv);
		if ((c->backoff_ms *= 2) > CONN_BACKOFF_MAX)
			c->backoff_ms = CONN_BACKOFF_MAX;
	}
	th->hooks->check_done(th);
}

/* Backoff over: connect again. */
static void
cardbench_conn_on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct cardbench_conn *c = arg;

	(void)fd;
	(void)what;
	if (!c->th->stopping && c->state == CONN_IDLE)
		cardbench_conn_open(c);
}

/* Measured requests still in flight (lost if the connection breaks). */
uint64_t
cardbench_conn_unfinished(const struct cardbench_conn *c, uint64_t measure_ns)
{
	unsigned depth = (unsigned)c->th->depth;
	uint64_t n = 0;

	for (unsigned i = 0; i < c->count; i++)
		if (c->ring[(c->head + i) % depth].start_ns >= measure_ns)
			n++;
	return n;
}

/*
 * Queue one request (the connection must be up with room). start_ns is
 * when it was meant to go; latency is counted from there.
 */
int
cardbench_conn_issue(struct cardbench_conn *c, const struct cardbench_req *r,
    uint64_t start_ns, uint64_t now)
{
	struct cardbench_thread *th = c->th;
	struct cardbench_slot *s;
	size_t n;

	if (cardbench_conn_reserve(&c->out, &c->out_cap, c->out_len,
	    CARDBENCH_REQ_MAX) != 0 ||
	    (n = cardbench_req_encode(r, c->out + c->out_len,
	    CARDBENCH_REQ_MAX)) == 0)
		return -1;
	c->out_len += n;
	s = &c->ring[(c->head + c->count++) % (unsigned)th->depth];
	*s = (struct cardbench_slot){ start_ns, now, *r };
	if (c->count == 1)
		c->progress_ns = now;
	th->inflight++;
	th->free_slots--;
	if (start_ns >= th->measure_ns)
		th->stats.c.sent++;
	if (!c->dirty)
		th->hooks->mark_dirty(th, c);
	c->dirty = 1;
	return 0;
}

/* Write what is buffered; wait for EV_WRITE if the kernel is full. */
void
cardbench_conn_flush(struct cardbench_conn *c)
{
	ssize_t n;

	c->dirty = 0;
	while (c->state == CONN_UP && c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->th->stats.c.bytes_out += (uint64_t)n;
			c->out_off += (size_t)n;
		} else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(c->wev, NULL);
			return;
		} else {
			cardbench_conn_break(c, WHY_RESET);
			return;
		}
	}
	c->out_off = c->out_len = 0;
}

/* The kernel has room again. */
static void
cardbench_conn_on_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cardbench_conn_flush(arg);
}

/* RESP with --token: queue AUTH, the first thing the server reads. */
static void
cardbench_conn_send_auth(struct cardbench_conn *c)
{
	size_t n;

	if (cardbench_conn_reserve(&c->out, &c->out_cap, c->out_len,
	    CARDBENCH_REQ_MAX) != 0 ||
	    (n = cardbench_req_auth(c->out + c->out_len,
	    CARDBENCH_REQ_MAX)) == 0)
		return;
	c->out_len += n;
	c->authing = 1;
	if (!c->dirty)
		c->th->hooks->mark_dirty(c->th, c);
	c->dirty = 1;
}

/* AUTH's answer: its length, partial, or -1 (refused: broke). */
static ssize_t
cardbench_conn_auth_reply(struct cardbench_conn *c, const char *buf,
    size_t len)
{
	struct resp_reply r;
	ssize_t k = resp_parse_reply(buf, len, &r);

	if (k == RESP_PARTIAL)
		return CARDBENCH_REPLY_PARTIAL;
	if (k < 0 || r.type != RESP_STATUS) {
		cardbench_conn_break(c, k < 0 ? WHY_PROTOCOL : WHY_AUTH);
		return -1;
	}
	c->authing = 0;
	return k;
}

/* Parse every whole answer in the input buffer. -1: the stream broke. */
static int
cardbench_conn_parse(struct cardbench_conn *c, uint64_t now)
{
	struct cardbench_thread *th = c->th;
	struct cardbench_reply a;
	const struct cardbench_conf *cf = &cardbench_conf;
	size_t off = 0;
	ssize_t k;

	while (off < c->in_len) {
		if (c->authing) {
			k = cardbench_conn_auth_reply(c, c->in + off,
			    c->in_len - off);
			if (k == -1)
				return -1;
			if (k == CARDBENCH_REPLY_PARTIAL)
				break;
			off += (size_t)k;
			continue;
		}
		k = cardbench_reply_parse(cf->proto, cf->cmd_template != NULL,
		    c->in + off, c->in_len - off, &a);
		if (k == CARDBENCH_REPLY_PARTIAL)
			break;
		if (k < 0 || c->count == 0) {
			cardbench_conn_break(c, WHY_PROTOCOL);
			return -1;
		}
		th->hooks->answer(th, &c->ring[c->head], &a, now);
		c->head = (c->head + 1) % (unsigned)th->depth;
		c->count--;
		th->inflight--;
		th->free_slots++;
		c->backoff_ms = CONN_BACKOFF_MIN;
		off += (size_t)k;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return 0;
}

/* One read. 0: go on; -1: the connection broke. *more: buffer filled. */
static int
cardbench_conn_read_some(struct cardbench_conn *c, uint64_t now, int *more)
{
	ssize_t n;

	*more = 0;
	if (cardbench_conn_reserve(&c->in, &c->in_cap, c->in_len, 4096) != 0) {
		cardbench_conn_break(c, WHY_PROTOCOL);
		return -1;
	}
	n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		cardbench_conn_break(c, n == 0 ? WHY_CLOSED : WHY_RESET);
		return -1;
	}
	if (n < 0)
		return 0;
	c->th->stats.c.bytes_in += (uint64_t)n;
	*more = c->in_len + (size_t)n == c->in_cap;
	c->in_len += (size_t)n;
	c->progress_ns = now;
	return cardbench_conn_parse(c, now);
}

/* Answers arrived: take them all, then refill the pipeline. */
static void
cardbench_conn_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct cardbench_conn *c = arg;
	uint64_t now = cardbench_conn_now();
	int more = 1;

	(void)fd;
	(void)what;
	for (int i = 0; more && i < 8; i++)
		if (cardbench_conn_read_some(c, now, &more) != 0)
			return;
	c->th->hooks->refill(c->th, c);
}

/* Periodic check: a connect or an answer that takes too long. */
void
cardbench_conn_tick(struct cardbench_conn *c, uint64_t now)
{
	uint64_t limit = (uint64_t)(cardbench_conf.timeout * 1e9);

	if (now - c->progress_ns < limit)
		return;
	if (c->state == CONN_CONNECTING)
		cardbench_conn_break(c, WHY_CONNECT);
	else if (c->state == CONN_UP && c->count > 0)
		cardbench_conn_break(c, WHY_TIMEOUT);
}

/* Close and free a connection at the end of the run. */
void
cardbench_conn_free(struct cardbench_conn *c)
{
	if (c->th == NULL)
		return;		/* never set up */
	cardbench_conn_close(c);
	if (c->retry != NULL)
		event_free(c->retry);
	free(c->in);
	free(c->out);
	free(c->ring);
}
