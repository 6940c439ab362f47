/* SPDX-License-Identifier: MIT */
/* TCP: listening sockets, and connections with their buffers and timers. */
#ifndef CARDD_NET_TCP_H
#define CARDD_NET_TCP_H

#include <sys/socket.h>

#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "auth.h"
#include "buf.h"
#include "stats.h"

struct conn;
struct ssl_st;

#define NET_HOLD_NONE	UINT64_MAX	/* c->hold_at: nothing held */
#define NET_HELD_MAX	256		/* held replies that stop reading */

/*
 * What a protocol does with its connections, chosen at accept by the
 * listener (as h2o's socket callbacks, OpenSMTPD's per-session handlers):
 * the socket layer knows no protocol. A protocol's own per-connection
 * state (state_size bytes, zeroed) is c->state.
 */
struct conn_ops {
	const char	*name;		/* "http", "resp" */
	enum stats_iface iface;		/* whose counters a failed handshake is */
	size_t		 state_size;
	const char	*refusal;	/* said to a connection turned away */
	size_t		 refusal_len;
	void		(*input)(struct conn *);  /* answer what c->in holds */
	void		(*close)(struct conn *);  /* before the free; or NULL */
};

/* A listening socket, and what its connections speak. */
struct net_listener {
	int			 fd;	/* -1: off */
	int			 tls;
	const struct conn_ops	*ops;
};

/* One worker's connections: all of them belong to one event loop. */
struct net_loop {
	struct event_base *base;
	int		 reader;	/* live_enter() slot of the thread */
	int		 live_held;	/* live_enter() is in effect */
	int		 draining;	/* close each connection once it is done */
	unsigned	 reads;		/* input events this loop turn */
	struct stats	*stats;
	struct conn	*conns;
	size_t		 nconns;
	struct conn	*deferred;	/* output to write at the pass end */
};

struct conn {
	int		 fd;
	const struct conn_ops *ops;
	struct net_loop	*loop;
	void		*state;		/* the protocol's (ops->state_size) */
	struct event	 ev_read;
	struct event	 ev_write;
	struct buf	 in;
	struct buf	 out;
	unsigned	 closing:1;	/* close once out is written */
	unsigned	 paused:1;	/* not reading: out is too full */
	unsigned	 writing:1;	/* ev_write is added */
	unsigned	 handshaking:1;	/* TLS handshake under way */
	unsigned	 deferred:1;	/* on the loop's end-of-pass list */
	unsigned	 waiting:1;	/* a reply awaits its codes' binding */
	uint32_t	 held;		/* replies not signed yet (sign_queue.c) */
	uint64_t	 hold_at;	/* the first one's place in raw output */
	uint64_t	 out_sent;	/* bytes of out written so far */
	uint64_t	 out_placed;	/* bytes of held replies put into out */
	struct ssl_st	*ssl;		/* NULL: plain TCP */
	struct auth_id	 id;		/* certificate or RESP AUTH */
	int64_t		 partial_ms;	/* since when a request is incomplete */
	int64_t		 opened_ms;	/* accepted at, ms since the epoch */
	struct sockaddr_storage peer;
	struct conn	*prev;
	struct conn	*next;
	struct conn	*defer_prev;	/* the end-of-pass list */
	struct conn	*defer_next;
};

/*
 * May the protocol answer more of c's requests now? Not while one waits
 * for its codes' binding (code_bind.c): the next must come after it.
 */
static inline int
net_tcp_room(const struct conn *c, long max_output)
{
	return c->out.len < (size_t)max_output && c->held < NET_HELD_MAX &&
	    !c->waiting;
}

int	net_tcp_listen(const char *addr, int backlog, char *err, size_t);
int	net_tcp_probe(const char *addr, char *err, size_t);
void	net_tcp_live_enter(struct net_loop *);
struct conn *net_tcp_conn_new(struct net_loop *, int fd,
	    const struct net_listener *, const struct sockaddr *, socklen_t);
void	net_tcp_conn_close(struct conn *);
void	net_tcp_conn_output(struct conn *);
void	net_tcp_conn_drain(struct conn *);
void	net_tcp_conn_defer(struct conn *);
void	net_tcp_flush_deferred(struct net_loop *);

#endif
