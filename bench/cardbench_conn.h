/* SPDX-License-Identifier: MIT */
/* cardbench connections: non-blocking sockets on a thread's event loop. */
#ifndef CARDBENCH_CONN_H
#define CARDBENCH_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "cardbench_req.h"

struct event;
struct cardbench_thread;

enum cardbench_conn_state { CONN_IDLE, CONN_CONNECTING, CONN_UP };

/* A request in flight: when it was meant to go, when it went, what. */
struct cardbench_slot {
	uint64_t		start_ns;	/* latency counts from here */
	uint64_t		sent_ns;
	struct cardbench_req	req;
};

struct cardbench_conn {
	struct cardbench_thread	*th;
	enum cardbench_conn_state state;
	int			 fd;
	int			 dirty;		/* output not yet flushed */
	int			 first;		/* first connect not settled */
	int			 authing;	/* RESP AUTH answer awaited */
	struct event		*rev;
	struct event		*wev;
	struct event		*retry;
	char			*in;
	size_t			 in_len, in_cap;
	char			*out;
	size_t			 out_off, out_len, out_cap;
	struct cardbench_slot	*ring;		/* FIFO of depth slots */
	unsigned		 head, count;
	uint64_t		 progress_ns;	/* last sign of life */
	unsigned		 backoff_ms;
	uint64_t		 code;		/* --codes: pool index asked */
	unsigned		 code_left;	/* asks of it still to make */
};

int	cardbench_conn_init(struct cardbench_conn *, struct cardbench_thread *);
void	cardbench_conn_open(struct cardbench_conn *);
int	cardbench_conn_issue(struct cardbench_conn *,
	    const struct cardbench_req *, uint64_t start_ns, uint64_t now);
void	cardbench_conn_flush(struct cardbench_conn *);
void	cardbench_conn_tick(struct cardbench_conn *, uint64_t now);
uint64_t cardbench_conn_unfinished(const struct cardbench_conn *,
	    uint64_t measure_ns);
void	cardbench_conn_free(struct cardbench_conn *);
uint64_t cardbench_conn_now(void);

#endif
