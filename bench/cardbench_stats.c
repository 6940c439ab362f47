/* SPDX-License-Identifier: MIT */
/*
 * Counters. A load thread owns its struct and bumps it without atomics;
 * the main thread sums them after joining the threads, as memcached sums
 * per-thread stats. Refusals are grouped by kind in a small table.
 */
#include <string.h>

#include "cardbench_stats.h"

/* Zero a thread's counters. */
void
cardbench_stats_init(struct cardbench_stats *s)
{
	memset(s, 0, sizeof(*s));
	cardbench_hist_init(&s->latency);
	cardbench_hist_init(&s->service);
	cardbench_hist_init(&s->lag);
}

/* Count n refusals of a kind. */
void
cardbench_stats_refused(struct cardbench_stats *s, const char *kind,
    uint64_t n)
{
	for (int i = 0; i < CARDBENCH_ERRKINDS; i++) {
		struct cardbench_errkind *k = &s->kinds[i];

		if (k->n != 0 && strcmp(k->kind, kind) != 0)
			continue;
		if (k->n == 0)
			strncpy(k->kind, kind, sizeof(k->kind) - 1);
		k->n += n;
		return;
	}
	s->other_kinds += n;
}

/* Add src into dst. */
void
cardbench_stats_merge(struct cardbench_stats *d,
    const struct cardbench_stats *s)
{
	const uint64_t *from = (const uint64_t *)&s->c;
	uint64_t *to = (uint64_t *)&d->c;

	for (size_t i = 0; i < sizeof(s->c) / sizeof(*from); i++)
		to[i] += from[i];
	if (s->last_ns > d->last_ns)
		d->last_ns = s->last_ns;
	for (int i = 0; i < CARDBENCH_ERRKINDS && s->kinds[i].n; i++)
		cardbench_stats_refused(d, s->kinds[i].kind, s->kinds[i].n);
	d->other_kinds += s->other_kinds;
	cardbench_hist_merge(&d->latency, &s->latency);
	cardbench_hist_merge(&d->service, &s->service);
	cardbench_hist_merge(&d->lag, &s->lag);
}
