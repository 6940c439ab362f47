/* SPDX-License-Identifier: MIT */
/*
 * Latency histogram with HdrHistogram's layout (Gil Tene): a linear run of
 * 1 µs buckets, then each doubling split into a fixed number of buckets,
 * so the relative error is bounded (0.2%) from 1 ms to a minute. Each
 * load thread owns one and records without locks; the main thread merges
 * them after the threads end. A percentile is reported as the upper edge
 * of the bucket holding its rank (clamped to the exact maximum): at least
 * that share of the answers took no longer than the figure given.
 */
#include <math.h>
#include <string.h>

#include "cardbench_hist.h"

#define HIST_SUB_BITS	10	/* log2(CARDBENCH_HIST_EXACT) */
#define HIST_HALF	(CARDBENCH_HIST_EXACT / 2)

/* Empty a histogram. */
void
cardbench_hist_init(struct cardbench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min_ns = UINT64_MAX;
}

/* The bucket of a value in whole µs. */
size_t
cardbench_hist_index(uint64_t us)
{
	unsigned msb, shift;
	size_t i;

	if (us < CARDBENCH_HIST_EXACT)
		return (size_t)us;
	msb = 63u - (unsigned)__builtin_clzll(us);
	shift = msb - (HIST_SUB_BITS - 1);
	i = CARDBENCH_HIST_EXACT + (size_t)(msb - HIST_SUB_BITS) * HIST_HALF +
	    (size_t)((us >> shift) - HIST_HALF);
	return i < CARDBENCH_HIST_BUCKETS ? i : CARDBENCH_HIST_BUCKETS - 1;
}

/* Exclusive upper edge of a bucket in µs: its values are below this. */
uint64_t
cardbench_hist_upper_us(size_t i)
{
	size_t range, sub;

	if (i < CARDBENCH_HIST_EXACT)
		return (uint64_t)i + 1;
	range = (i - CARDBENCH_HIST_EXACT) / HIST_HALF;
	sub = (i - CARDBENCH_HIST_EXACT) % HIST_HALF;
	return ((uint64_t)(HIST_HALF + sub + 1)) << (range + 1);
}

/* Count one latency, given in ns. */
void
cardbench_hist_record(struct cardbench_hist *h, uint64_t ns)
{
	uint64_t us = ns / 1000;
	size_t i = cardbench_hist_index(us);

	h->count[i]++;
	h->total++;
	if (i == CARDBENCH_HIST_BUCKETS - 1 && us >= cardbench_hist_upper_us(i))
		h->overflow++;
	if (ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	h->sum_ns += (double)ns;
	h->sumsq_us += ((double)ns / 1e3) * ((double)ns / 1e3);
}

/* Add src into dst. */
void
cardbench_hist_merge(struct cardbench_hist *dst,
    const struct cardbench_hist *src)
{
	for (size_t i = 0; i < CARDBENCH_HIST_BUCKETS; i++)
		dst->count[i] += src->count[i];
	dst->total += src->total;
	dst->overflow += src->overflow;
	if (src->min_ns < dst->min_ns)
		dst->min_ns = src->min_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
	dst->sum_ns += src->sum_ns;
	dst->sumsq_us += src->sumsq_us;
}

/*
 * The value at a percentile (0 < pct <= 100) in µs: the upper edge of
 * the bucket that holds the answer of rank ceil(pct% of total), never
 * above the exact maximum. 0 when the histogram is empty.
 */
double
cardbench_hist_percentile_us(const struct cardbench_hist *h, double pct)
{
	uint64_t rank, seen = 0;
	double max_us = (double)h->max_ns / 1e3, edge;

	if (h->total == 0)
		return 0;
	rank = (uint64_t)ceil(pct / 100.0 * (double)h->total);
	if (rank < 1)
		rank = 1;
	if (rank > h->total)
		rank = h->total;
	for (size_t i = 0; i < CARDBENCH_HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= rank) {
			if (i == CARDBENCH_HIST_BUCKETS - 1)
				return max_us;	/* may hold overflow */
			edge = (double)cardbench_hist_upper_us(i);
			return edge < max_us ? edge : max_us;
		}
	}
	return max_us;
}

/* Exact mean in µs. */
double
cardbench_hist_mean_us(const struct cardbench_hist *h)
{
	return h->total ? h->sum_ns / 1e3 / (double)h->total : 0;
}

/* Exact population standard deviation in µs. */
double
cardbench_hist_stdev_us(const struct cardbench_hist *h)
{
	double mean = cardbench_hist_mean_us(h), var;

	if (h->total == 0)
		return 0;
	var = h->sumsq_us / (double)h->total - mean * mean;
	return var > 0 ? sqrt(var) : 0;
}
