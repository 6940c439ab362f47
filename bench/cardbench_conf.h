/* SPDX-License-Identifier: MIT */
/* cardbench settings: the command line, parsed once at startup. */
#ifndef CARDBENCH_CONF_H
#define CARDBENCH_CONF_H

#include <sys/socket.h>

#include <stdint.h>

enum cardbench_proto { BENCH_RESP, BENCH_HTTP };

#define CARDBENCH_DEFAULT_DURATION	10.0
#define CARDBENCH_CAP_DURATION		600.0	/* -n without -d */
#define CARDBENCH_GRACE			10.0	/* hard deadline slack */

struct cardbench_conf {
	enum cardbench_proto	 proto;
	const char		*target;	/* HOST:PORT as given */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	int			 conns;
	int			 threads;
	int			 depth;
	double			 duration;	/* measured seconds */
	int			 duration_set;
	uint64_t		 requests;	/* 0: bounded by time only */
	double			 warmup;
	double			 rate;		/* 0: closed loop */
	uint64_t		 cards;
	double			 zipf;		/* 0: uniform */
	const char		*codes;		/* FILE: ask by card code */
	int			 code_repeat;	/* asks of a code in a row */
	const char		*token;		/* bearer token, or NULL */
	double			 coverage;	/* percent of coverage checks */
	const char		*scheme;
	int			 nonce;
	uint64_t		 verify_every;	/* 0: off */
	double			 verify_cpu;	/* % of a core for verifying */
	const char		*jwks;		/* FILE or "auto" */
	const char		*json;
	double			 max_errors;	/* percent; < 0: report only */
	const char		*cmd_template;
	uint64_t		 seed;
	double			 timeout;
	int			 selftest;
};

extern struct cardbench_conf cardbench_conf;

int	cardbench_conf_parse(int argc, char **argv);

#endif
