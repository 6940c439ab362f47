/* SPDX-License-Identifier: MIT */
/*
 * TCP for the worker threads. Each worker has its own listening socket per
 * listener (SO_REUSEPORT, so the kernel spreads connections) and owns
 * every connection it accepts until it closes. A connection reads into
 * its input buffer, lets its protocol answer every complete request there
 * through the ops table its listener gave it (struct conn_ops: this file
 * knows no protocol), and writes the answers with one write(2) when the
 * loop pass ends (worker.c), together with every other connection's.
 * While replies wait for their signature (c->held, sign_queue.c), the
 * output is written up to the first of them, and the connection is not
 * closed for being done.
 *
 * Bounds: an idle connection is closed after idle_timeout; when the
 * client does not read its answers and the output passes
 * client_max_output, the connection stops reading (so it cannot make the
 * daemon buffer more), and is cut off if the output does not move for
 * idle_timeout. The total number of connections is bounded too.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>
#include <openssl/crypto.h>

#include "auth.h"
#include "config.h"
#include "clock.h"
#include "live.h"
#include "log.h"
#include "net_tcp.h"
#include "tls.h"

#define NET_READ_CHUNK	16384

static _Atomic int net_tcp_nconns;

static int	net_tcp_addr(const char *, struct sockaddr_storage *,
		    socklen_t *, char *, size_t);
static void	net_tcp_on_read(evutil_socket_t, short, void *);
static void	net_tcp_on_write(evutil_socket_t, short, void *);
static void	net_tcp_input(struct conn *);
static size_t	net_tcp_final(const struct conn *);
static int	net_tcp_write(struct conn *);
static void	net_tcp_want_write(struct conn *, int);
static void	net_tcp_pause(struct conn *, int);
static int	net_tcp_read(struct conn *);
static int	net_tcp_handshake(struct conn *);
static int	net_tcp_late(struct conn *);
static void	net_tcp_refuse(int, const struct conn_ops *);
static void	net_tcp_undefer(struct conn *);

/* Parse "host:port" or "[v6]:port" (numeric hosts) into an address. */
static int
net_tcp_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
    char *err, size_t errlen)
{
	int sl = (int)sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)ss, &sl) != 0) {
		snprintf(err, errlen, "%s: not a numeric address:port", spec);
		return -1;
	}
	*len = (socklen_t)sl;
	return 0;
}

/*
 * Bind once without SO_REUSEPORT: fails when anything else holds the
 * port, which SO_REUSEPORT sockets of the same user would otherwise share
 * silently.
 */
int
net_tcp_probe(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (net_tcp_addr(spec, &ss, &len, err, errlen) != 0)
		return -1;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0) {
		snprintf(err, errlen, "%s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* A non-blocking listening socket with SO_REUSEPORT. */
int
net_tcp_listen(const char *spec, int backlog, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (net_tcp_addr(spec, &ss, &len, err, errlen) != 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 ||
	    listen(fd, backlog) != 0) {
		snprintf(err, errlen, "%s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * Turn a connection away with a word of why (as Redis does), then close.
 * One non-blocking write: a client that cannot take it gets the close.
 */
static void
net_tcp_refuse(int fd, const struct conn_ops *ops)
{
	(void)!write(fd, ops->refusal, ops->refusal_len);
	close(fd);
}

/* Enter the live state once per pass, however many callbacks want it. */
void
net_tcp_live_enter(struct net_loop *l)
{
	if (!l->live_held) {
		live_enter(l->reader);
		l->live_held = 1;
	}
}

/*
 * Take over an accepted socket; NULL (socket closed) when over limits:
 * connections in all, connections from this address, memory.
 */
struct conn *
net_tcp_conn_new(struct net_loop *l, int fd, const struct net_listener *ls,
    const struct sockaddr *sa, socklen_t salen)
{
	struct timeval idle = { settings.idle_timeout, 0 };
	/* The protocol's state follows the conn, aligned for any type. */
	size_t head = (sizeof(struct conn) + _Alignof(max_align_t) - 1) /
	    _Alignof(max_align_t) * _Alignof(max_align_t);
	struct conn *c = NULL;
	int one = 1;

	if (atomic_fetch_add(&net_tcp_nconns, 1) >= settings.max_connections ||
	    l->draining || auth_addr_acquire(sa, settings.max_connections_per_ip)
	    != 0) {
		atomic_fetch_sub(&net_tcp_nconns, 1);
		STAT_ADD(l->stats->conns_refused, 1);
		net_tcp_refuse(fd, ls->ops);
		return NULL;
	}
	if (ls->tls)
		net_tcp_live_enter(l);	/* the TLS context is live state */
	if ((c = calloc(1, head + ls->ops->state_size)) == NULL ||
	    (ls->tls && (c->ssl = tls_conn_new(live_tls(), fd)) == NULL)) {
		auth_addr_release(sa);
		atomic_fetch_sub(&net_tcp_nconns, 1);
		STAT_ADD(l->stats->conns_refused, 1);
		free(c);
		close(fd);
		return NULL;
	}
	memcpy(&c->peer, sa, salen < sizeof(c->peer) ? salen : sizeof(c->peer));
	c->handshaking = c->ssl != NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->loop = l;
	c->ops = ls->ops;
	c->state = (char *)c + head;
	c->hold_at = NET_HOLD_NONE;
	c->opened_ms = clock_now_ms();
	event_assign(&c->ev_read, l->base, fd, EV_READ | EV_PERSIST,
	    net_tcp_on_read, c);
	event_assign(&c->ev_write, l->base, fd, EV_WRITE | EV_PERSIST,
	    net_tcp_on_write, c);
	event_add(&c->ev_read, &idle);
	c->next = l->conns;
	if (l->conns != NULL)
		l->conns->prev = c;
	l->conns = c;
	l->nconns++;
	STAT_ADD(l->stats->conns_accepted, 1);
	STAT_ADD(l->stats->conns_open, 1);
	return c;
}

/* Close a connection and free it. */
void
net_tcp_conn_close(struct conn *c)
{
	struct net_loop *l = c->loop;

	/* The protocol lets go of its state (and of replies it holds). */
	if (c->ops->close != NULL)
		c->ops->close(c);
	if (c->deferred)
		net_tcp_undefer(c);
	event_del(&c->ev_read);
	event_del(&c->ev_write);
	tls_conn_free(c->ssl);
	close(c->fd);
	auth_addr_release((struct sockaddr *)&c->peer);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	l->nconns--;
	STAT_ADD(l->stats->conns_open, (uint64_t)-1);
	atomic_fetch_sub(&net_tcp_nconns, 1);
	/* The input may hold a token (AUTH, Authorization). */
	if (c->in.data != NULL)
		OPENSSL_cleanse(c->in.data, c->in.cap);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
	if (l->draining && l->nconns == 0)
		event_base_loopbreak(l->base);
}

/* Stop or resume reading (backpressure on a client that does not read). */
static void
net_tcp_pause(struct conn *c, int pause)
{
	struct timeval idle = { settings.idle_timeout, 0 };

	if (pause == c->paused)
		return;
	c->paused = pause ? 1 : 0;
	if (pause)
		event_del(&c->ev_read);
	else
		event_add(&c->ev_read, &idle);
}

/*
 * Let the protocol answer what is buffered, with the live state entered;
 * the worker leaves it when the pass ends (worker.c).
 */
static void
net_tcp_input(struct conn *c)
{
	size_t before = c->in.len;

	net_tcp_live_enter(c->loop);
	c->ops->input(c);
	/* A request was taken: what is left is a new one, timed afresh. */
	if (c->in.len < before)
		c->partial_ms = 0;
	/*
	 * Requests left for lack of room wait for a resume, which only a
	 * paused connection gets: pause now, even if replies placed later
	 * in this pass make room again before the output is settled.
	 */
	if (c->in.len > 0 && !net_tcp_room(c, settings.client_max_output))
		net_tcp_pause(c, 1);
}

/* Bytes of the output that are final: up to the first held reply. */
static size_t
net_tcp_final(const struct conn *c)
{
	if (c->held == 0)
		return c->out.len;
	return (size_t)(c->hold_at + c->out_placed - c->out_sent);
}

/* Write what we can; returns -1 when the connection is gone. */
static int
net_tcp_write(struct conn *c)
{
	size_t want;

	while ((want = net_tcp_final(c)) > 0) {
		ssize_t n = c->ssl != NULL ? tls_write(c->ssl,
		    buf_head(&c->out), want) : write(c->fd,
		    buf_head(&c->out), want);

		if (n > 0) {
			buf_consume(&c->out, (size_t)n);
			c->out_sent += (uint64_t)n;
			continue;
		}
		if (n == TLS_WANT || (n < 0 && (errno == EAGAIN ||
		    errno == EWOULDBLOCK)))
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		return -1;
	}
	return 0;
}

/*
 * Send pending output, then settle the connection's state: wait for
 * writability while final output is pending, read again once it drained,
 * close once a closing connection has said everything. Held replies are
 * not pending: their signer's mailbox brings the connection back here.
 */
void
net_tcp_conn_output(struct conn *c)
{
	for (;;) {
		/* A draining worker lets each connection finish its request. */
		if (c->loop->draining && c->in.len == 0)
			c->closing = 1;
		if (net_tcp_write(c) != 0) {
			log_debug("msg=\"connection closed\" reason=write "
			    "held=%u pending=%zu", c->held, c->out.len);
			net_tcp_conn_close(c);
			return;
		}
		if (c->closing && c->out.len == 0 && c->held == 0 &&
		    !c->waiting) {
			net_tcp_conn_close(c);
			return;
		}
		net_tcp_want_write(c, net_tcp_final(c) > 0);
		if (c->closing || !net_tcp_room(c, settings.client_max_output)) {
			net_tcp_pause(c, 1);
			return;
		}
		if (!c->paused || net_tcp_final(c) > 0)
			return;
		net_tcp_pause(c, 0);
		/* Requests may be waiting in the input already. */
		if (c->in.len == 0)
			return;
		net_tcp_input(c);	/* pauses again if room runs out */
	}
}

/* Watch for writability, or stop. */
static void
net_tcp_want_write(struct conn *c, int want)
{
	struct timeval idle = { settings.idle_timeout, 0 };

	if (want && !c->writing)
		event_add(&c->ev_write, &idle);
	else if (!want && c->writing)
		event_del(&c->ev_write);
	c->writing = want ? 1 : 0;
}

/*
 * Read what the kernel holds into the input buffer. Returns 1 with new
 * bytes, 0 when there were none, -1 when the connection is over. Over
 * TLS, bytes OpenSSL already decrypted are taken too: the socket will
 * not signal them again.
 */
static int
net_tcp_read(struct conn *c)
{
	int got = 0;
	ssize_t n;

	do {
		if (buf_reserve(&c->in, NET_READ_CHUNK) != 0)
			return -1;
		if (c->ssl != NULL)
			n = tls_read(c->ssl, buf_tail(&c->in),
			    c->in.cap - c->in.off - c->in.len);
		else {
			n = read(c->fd, buf_tail(&c->in),
			    c->in.cap - c->in.off - c->in.len);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR))
				n = TLS_WANT;
		}
		if (n == TLS_WANT)
			return got;
		if (n <= 0)
			return -1;
		c->in.len += (size_t)n;
		got = 1;
	} while (c->ssl != NULL && tls_pending(c->ssl) > 0 &&
	    c->in.len < NET_READ_CHUNK * 8);
	return 1;
}

/*
 * Move a TLS handshake on. Returns 1 once it is done (the connection
 * then carries its certificate's name as its claim), 0 while it waits,
 * -1 when it failed.
 */
static int
net_tcp_handshake(struct conn *c)
{
	char name[256];
	int want_write, r = tls_handshake(c->ssl, &want_write), n;

	if (r == TLS_WANT) {
		if (want_write && !c->writing) {
			struct timeval idle = { settings.idle_timeout, 0 };

			event_add(&c->ev_write, &idle);
			c->writing = 1;
		}
		return 0;
	}
	if (r < 0) {
		STAT_ADD(c->loop->stats->errors[c->ops->iface][ERR_UNAUTHORIZED],
		    1);
		return -1;
	}
	c->handshaking = 0;
	if ((n = tls_peer_name(c->ssl, name, sizeof(name))) > 0)
		auth_id_cert(&c->id, name, (size_t)n);
	return 1;
}

/*
 * Slowloris: a request may take request_timeout from its first byte to
 * its last, however often bytes trickle in. The clock restarts whenever
 * a request is taken (net_tcp_input), so a client that pipelines without
 * pause, whose buffer never empties, is not mistaken for a slow one.
 * Returns -1 when it is late.
 */
static int
net_tcp_late(struct conn *c)
{
	int64_t now = clock_now_ms();

	if (c->in.len == 0) {
		c->partial_ms = 0;
		return 0;
	}
	if (c->partial_ms == 0)
		c->partial_ms = now;
	return now - c->partial_ms > (int64_t)settings.request_timeout * 1000 ?
	    -1 : 0;
}

/* Readable (or idle too long). */
static void
net_tcp_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int r = 0;

	(void)fd;
	if (what & EV_TIMEOUT) {
		log_debug("msg=\"connection closed\" reason=idle_timeout");
		net_tcp_conn_close(c);
		return;
	}
	if (c->handshaking && (r = net_tcp_handshake(c)) <= 0) {
		if (r < 0)
			net_tcp_conn_close(c);
		return;
	}
	if ((r = net_tcp_read(c)) < 0) {
		log_debug("msg=\"connection closed\" reason=read held=%u "
		    "pending=%zu", c->held, c->out.len);
		net_tcp_conn_close(c);
		return;
	}
	if (r == 0)
		return;
	c->loop->reads++;
	net_tcp_input(c);
	if (net_tcp_late(c) != 0) {
		log_info("msg=\"request not complete within request_timeout\" "
		    "action=close");
		net_tcp_conn_close(c);
		return;
	}
	net_tcp_conn_defer(c);
}

/*
 * Output waits for the end of the loop pass, as Redis writes its replies
 * before it sleeps: the answers of every connection that was readable go
 * out together, so a client with several connections is woken once per
 * pass rather than once per connection (perf: waking a sleeping reader
 * from inside write(2) was 6% of the worker in sign_mode per-answer).
 * sign_queue.c queues its signed replies here too.
 */
void
net_tcp_conn_defer(struct conn *c)
{
	struct net_loop *l = c->loop;

	if (c->deferred)
		return;
	c->deferred = 1;
	c->defer_prev = NULL;
	c->defer_next = l->deferred;
	if (l->deferred != NULL)
		l->deferred->defer_prev = c;
	l->deferred = c;
}

/* Take a connection off the end-of-pass list. */
static void
net_tcp_undefer(struct conn *c)
{
	if (c->defer_prev != NULL)
		c->defer_prev->defer_next = c->defer_next;
	else
		c->loop->deferred = c->defer_next;
	if (c->defer_next != NULL)
		c->defer_next->defer_prev = c->defer_prev;
	c->deferred = 0;
}

/* The pass is over: write what it answered. */
void
net_tcp_flush_deferred(struct net_loop *l)
{
	struct conn *c;

	while ((c = l->deferred) != NULL) {
		net_tcp_undefer(c);
		net_tcp_conn_output(c);
	}
}

/*
 * Drain (SIGTERM): requests the client already sent, even those still in
 * the kernel's buffer, are answered before the connection closes; a
 * connection that was sent nothing closes now.
 */
void
net_tcp_conn_drain(struct conn *c)
{
	int r = c->paused || c->handshaking ? 0 : net_tcp_read(c);

	if (r < 0 || (c->in.len == 0 && c->out.len == 0 && c->held == 0 &&
	    !c->waiting)) {
		net_tcp_conn_close(c);
		return;
	}
	if (r > 0)
		net_tcp_input(c);
	net_tcp_conn_output(c);
}

/* Writable again (or the client stopped reading for too long). */
static void
net_tcp_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		log_info("msg=\"client does not read its answers\" "
		    "action=close pending=%zu", c->out.len);
		net_tcp_conn_close(c);
		return;
	}
	if (c->handshaking) {
		int r = net_tcp_handshake(c);

		if (r < 0) {
			net_tcp_conn_close(c);
			return;
		}
		if (r == 0)
			return;
		event_del(&c->ev_write);
		c->writing = 0;
	}
	net_tcp_conn_output(c);
}
