/* SPDX-License-Identifier: MIT */
/* cardbench latency histogram: HDR-style log-linear buckets in µs. */
#ifndef CARDBENCH_HIST_H
#define CARDBENCH_HIST_H

#include <stddef.h>
#include <stdint.h>

/*
 * Values below CARDBENCH_HIST_EXACT µs get a bucket each (1 µs
 * resolution below ~1 ms); each power of two above it is split into
 * CARDBENCH_HIST_EXACT / 2 buckets (relative width 1/512, 0.2%), up to
 * 2^(10 + CARDBENCH_HIST_RANGES) µs, about 67 s. Longer values land in
 * the last bucket and are counted as overflow; max stays exact.
 */
#define CARDBENCH_HIST_EXACT	1024
#define CARDBENCH_HIST_RANGES	16
#define CARDBENCH_HIST_BUCKETS	(CARDBENCH_HIST_EXACT + \
	CARDBENCH_HIST_RANGES * (CARDBENCH_HIST_EXACT / 2))

struct cardbench_hist {
	uint64_t	count[CARDBENCH_HIST_BUCKETS];
	uint64_t	total;
	uint64_t	overflow;	/* values past the last bucket */
	uint64_t	min_ns;
	uint64_t	max_ns;
	double		sum_ns;
	double		sumsq_us;	/* for the standard deviation */
};

void		cardbench_hist_init(struct cardbench_hist *);
void		cardbench_hist_record(struct cardbench_hist *, uint64_t ns);
void		cardbench_hist_merge(struct cardbench_hist *,
		    const struct cardbench_hist *);
size_t		cardbench_hist_index(uint64_t us);
uint64_t	cardbench_hist_upper_us(size_t index);
double		cardbench_hist_percentile_us(const struct cardbench_hist *,
		    double pct);
double		cardbench_hist_mean_us(const struct cardbench_hist *);
double		cardbench_hist_stdev_us(const struct cardbench_hist *);

#endif
