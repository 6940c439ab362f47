/* SPDX-License-Identifier: MIT */
/* cardbench counters: one set per load thread, summed at the end. */
#ifndef CARDBENCH_STATS_H
#define CARDBENCH_STATS_H

#include <stdint.h>

#include "cardbench_hist.h"
#include "cardbench_reply.h"
#include "cardbench_req.h"
#include "stmt.h"

#define CARDBENCH_ERRKINDS	16

struct cardbench_errkind {
	char		kind[CARDBENCH_ERRKIND_MAX];
	uint64_t	n;
};

/*
 * Request counters count measured requests only (intended start after
 * the warmup); connection counters count the whole run.
 */
struct cardbench_counts {
	uint64_t	sent;		/* measured requests written */
	uint64_t	answers;	/* measured answers, ok or refused */
	uint64_t	ok;
	uint64_t	refused;	/* -ERR, HTTP != 200 */
	uint64_t	lost;		/* in flight when a connection broke */
	uint64_t	unfinished;	/* in flight or queued at the stop */
	uint64_t	by_check[BENCH_CHECK_COUNT];
	uint64_t	by_reason[REASON_COUNT + 1];	/* last: other */
	uint64_t	connects;
	uint64_t	connect_failed;
	uint64_t	timeouts;
	uint64_t	closed;		/* by the server */
	uint64_t	resets;		/* read or write errors */
	uint64_t	protocol;	/* unparseable streams */
	uint64_t	auth_refused;	/* RESP AUTH --token refused */
	uint64_t	bytes_in;
	uint64_t	bytes_out;
	uint64_t	verify_sampled;
	uint64_t	verify_dropped;	/* verifier queue full */
};

struct cardbench_stats {
	struct cardbench_counts	c;	/* only uint64_t: summed as an array */
	uint64_t	last_ns;	/* last measured answer */
	struct cardbench_errkind kinds[CARDBENCH_ERRKINDS];
	uint64_t	other_kinds;	/* refusals past the table */
	struct cardbench_hist latency;	/* from the intended start */
	struct cardbench_hist service;	/* from the actual write */
	struct cardbench_hist lag;	/* intended start to write */
};

void	cardbench_stats_init(struct cardbench_stats *);
void	cardbench_stats_refused(struct cardbench_stats *, const char *kind,
	    uint64_t n);
void	cardbench_stats_merge(struct cardbench_stats *,
	    const struct cardbench_stats *);

#endif
