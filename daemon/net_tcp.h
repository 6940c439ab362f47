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

struct ssl_st;
struct worker;

#define NET_TOKEN_MAX	128	/* longest bearer token remembered */

enum conn_proto { PROTO_HTTP, PROTO_RESP, PROTO_COUNT };

struct conn {
	int		 fd;
	enum conn_proto	 proto;
	struct worker	*w;
	struct event	 ev_read;
	struct event	 ev_write;
	struct buf	 in;
	struct buf	 out;
	unsigned	 closing:1;	/* close once out is written */
	unsigned	 paused:1;	/* not reading: out is too full */
	unsigned	 writing:1;	/* ev_write is added */
	unsigned	 continue_sent:1; /* HTTP 100 Continue for this body */
	unsigned	 handshaking:1;	/* TLS handshake under way */
	unsigned	 deferred:1;	/* on the worker's end-of-pass list */
	uint32_t	 batch_pending;	/* replies waiting for their signature */
	uint32_t	 batch_first;	/* their leaves (sign_batch.c) */
	uint32_t	 batch_last;
	struct ssl_st	*ssl;		/* NULL: plain TCP */
	struct auth_id	 id;		/* certificate or RESP AUTH */
	struct auth_id	 http_id;	/* the last Authorization header's */
	char		 http_token[NET_TOKEN_MAX];
	size_t		 http_token_len;
	int64_t		 partial_ms;	/* since when a request is incomplete */
	struct sockaddr_storage peer;
	struct conn	*prev;
	struct conn	*next;
	struct conn	*defer_prev;	/* the end-of-pass list */
	struct conn	*defer_next;
};

int	net_tcp_listen(const char *addr, int backlog, char *err, size_t);
int	net_tcp_probe(const char *addr, char *err, size_t);
struct conn *net_tcp_conn_new(struct worker *, int fd, enum conn_proto,
	    const struct sockaddr *, socklen_t);
void	net_tcp_conn_close(struct conn *);
void	net_tcp_conn_output(struct conn *);
void	net_tcp_conn_drain(struct conn *);
void	net_tcp_conn_defer(struct conn *);
void	net_tcp_flush_deferred(struct worker *);

#endif
