/* SPDX-License-Identifier: MIT */
/* Counters per worker thread, summed and rendered when read. */
#ifndef CARDD_STATS_H
#define CARDD_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "stmt.h"

struct buf;

enum stats_iface { IFACE_HTTP, IFACE_RESP, IFACE_COUNT };

enum stats_err {
	ERR_BAD_REQUEST, ERR_NOT_FOUND, ERR_METHOD, ERR_TOO_LARGE,
	ERR_NOT_READY, ERR_STALE, ERR_PROTOCOL, ERR_UNAUTHORIZED,
	ERR_FORBIDDEN, ERR_RATE_LIMITED, ERR_INTERNAL, ERR_BUSY, ERR_COUNT
};

#define STATS_BUCKETS	14

/* How a card code's first binding here went (code_bind.c). */
enum stats_bind { STATS_BIND_FLEET, STATS_BIND_LOCAL, STATS_BIND_COUNT };

/* Only the owning thread writes; readers may sum at any time. */
struct stats {
	_Atomic uint64_t answers[IFACE_COUNT][STMT_CHECK_COUNT][REASON_COUNT];
	_Atomic uint64_t errors[IFACE_COUNT][ERR_COUNT];
	_Atomic uint64_t latency[IFACE_COUNT][STATS_BUCKETS];
	_Atomic uint64_t latency_sum_us[IFACE_COUNT];
	_Atomic uint64_t conns_open;
	_Atomic uint64_t conns_accepted;
	_Atomic uint64_t conns_refused;
	_Atomic uint64_t signatures;
	_Atomic uint64_t code_binds[STATS_BIND_COUNT];
};

struct stats_gauges {
	uint64_t	cards;
	uint64_t	records_invalid;	/* cards answering record_invalid */
	uint64_t	records_rejected;	/* rejections seen, per revision */
	double		synced_age;	/* seconds, -1: never synced */
	int		ready;
	double		uptime;
	const char	*source_kind;
	const char	*timezone;	/* of today (config timezone) */
	const char	*sync_state;
	int		link_up;
	uint64_t	full_syncs;
	double		sync_lag;	/* seconds behind the stream's end */
	double		last_full_sync_age;	/* seconds, -1: never */
	uint64_t	change_delay[STATS_BUCKETS];	/* per bucket */
	uint64_t	change_delay_sum_us;
	char		source_node[272];	/* "host:port" followed, or "" */
	const char	*source_role;	/* "master", "replica" or "" */
	double		max_staleness;	/* seconds */
	double		snapshot_fork;	/* the last fork's pause, seconds */
};

/* Add n from the owning thread: a plain load and store, no lock prefix. */
#define STAT_ADD(field, n)						\
	atomic_store_explicit(&(field), atomic_load_explicit(&(field),	\
	    memory_order_relaxed) + (n), memory_order_relaxed)

int	stats_bucket(uint64_t us);
void	stats_latency(struct stats *, enum stats_iface, uint64_t us);
void	stats_sum(struct stats *dst, const struct stats *src);
int	stats_render(struct buf *, const struct stats *,
	    const struct stats_gauges *);
const char *stats_err_name(enum stats_err);

#endif
