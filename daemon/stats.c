/* SPDX-License-Identifier: MIT */
/*
 * Counters. Each worker owns a struct stats and bumps it without atomic
 * read-modify-write (STAT_ADD is a relaxed load and store); /metrics and
 * INFO sum them when asked, as memcached does with its per-thread stats.
 * The rendering is the Prometheus text format, version 0.0.4.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "stats.h"

static const unsigned stats_bounds_us[STATS_BUCKETS - 1] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 1000000
};

static const char *const stats_ifaces[IFACE_COUNT] = { "http", "resp" };

static const char *const stats_errs[ERR_COUNT] = {
	"bad_request", "not_found", "method_not_allowed", "too_large",
	"not_ready", "stale", "protocol", "unauthorized", "forbidden",
	"rate_limited", "internal", "busy"
};

static int	stats_printf(struct buf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	stats_render_hist(struct buf *, const char *, const char *,
		    const uint64_t *, uint64_t);
static int	stats_render_latency(struct buf *, const struct stats *);

/* The histogram bucket of a time in microseconds. */
int
stats_bucket(uint64_t us)
{
	int b = 0;

	while (b < STATS_BUCKETS - 1 && us > stats_bounds_us[b])
		b++;
	return b;
}

/* Count one answer's latency in its bucket. */
void
stats_latency(struct stats *s, enum stats_iface i, uint64_t us)
{
	STAT_ADD(s->latency[i][stats_bucket(us)], 1);
	STAT_ADD(s->latency_sum_us[i], us);
}

/* Add every counter of src into dst (dst is private to the caller). */
void
stats_sum(struct stats *dst, const struct stats *src)
{
	const _Atomic uint64_t *s = (const _Atomic uint64_t *)src;
	_Atomic uint64_t *d = (_Atomic uint64_t *)dst;

	for (size_t i = 0; i < sizeof(*src) / sizeof(*s); i++)
		STAT_ADD(d[i], atomic_load_explicit(&s[i],
		    memory_order_relaxed));
}

/* Name of an error kind. */
const char *
stats_err_name(enum stats_err e)
{
	return stats_errs[e];
}

/* Append formatted text, growing the buffer as needed. */
static int
stats_printf(struct buf *b, const char *fmt, ...)
{
	size_t room = 512;
	va_list ap;
	int n;

	for (;;) {
		if (buf_reserve(b, room) != 0)
			return -1;
		va_start(ap, fmt);
		n = vsnprintf(buf_tail(b), room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if ((size_t)n < room)
			break;
		room = (size_t)n + 1;
	}
	b->len += (size_t)n;
	return 0;
}

/*
 * One histogram series, cumulative as Prometheus wants it; labels is
 * "" or `name="value",` (with its comma).
 */
static int
stats_render_hist(struct buf *b, const char *name, const char *labels,
    const uint64_t *counts, uint64_t sum_us)
{
	uint64_t cum = 0;
	int rc = 0;

	for (int k = 0; k < STATS_BUCKETS; k++) {
		cum += counts[k];
		if (k < STATS_BUCKETS - 1)
			rc |= stats_printf(b, "%s_bucket{%sle=\"%g\"} %llu\n",
			    name, labels, stats_bounds_us[k] / 1e6,
			    (unsigned long long)cum);
		else
			rc |= stats_printf(b, "%s_bucket{%sle=\"+Inf\"} %llu\n",
			    name, labels, (unsigned long long)cum);
	}
	return rc | stats_printf(b, "%s_sum{%.*s} %.6f\n%s_count{%.*s} %llu\n",
	    name, (int)(strlen(labels) ? strlen(labels) - 1 : 0), labels,
	    sum_us / 1e6, name, (int)(strlen(labels) ? strlen(labels) - 1 :
	    0), labels, (unsigned long long)cum);
}

/* The answer latency histograms, one per interface. */
static int
stats_render_latency(struct buf *b, const struct stats *s)
{
	int rc = stats_printf(b, "# HELP cardd_answer_seconds Time from a "
	    "parsed request to its answer.\n# TYPE cardd_answer_seconds "
	    "histogram\n");

	for (int i = 0; i < IFACE_COUNT; i++) {
		char labels[32];
		uint64_t counts[STATS_BUCKETS];

		snprintf(labels, sizeof(labels), "interface=\"%s\",",
		    stats_ifaces[i]);
		for (int k = 0; k < STATS_BUCKETS; k++)
			counts[k] = s->latency[i][k];
		rc |= stats_render_hist(b, "cardd_answer_seconds", labels,
		    counts, s->latency_sum_us[i]);
	}
	return rc;
}

/* Render summed counters and gauges as Prometheus text. */
int
stats_render(struct buf *b, const struct stats *s, const struct stats_gauges *g)
{
	int rc = stats_printf(b, "# HELP cardd_answers_total Signed answers "
	    "by interface, check, result and reason.\n# TYPE "
	    "cardd_answers_total counter\n");

	for (int i = 0; i < IFACE_COUNT; i++)
		for (int c = 0; c < STMT_CHECK_COUNT; c++)
			for (int r = 0; r < (c == STMT_VALIDITY ?
			    REASON_NOT_ENROLLED : REASON_COUNT); r++)
				rc |= stats_printf(b, "cardd_answers_total{"
				    "interface=\"%s\",check=\"%s\",result=\"%s"
				    "\",reason=\"%s\"} %llu\n", stats_ifaces[i],
				    stmt_check_name(c), stmt_result_name(c, r),
				    stmt_reason_name(r), (unsigned long long)
				    s->answers[i][c][r]);
	rc |= stats_printf(b, "# HELP cardd_errors_total Requests refused, "
	    "by interface and kind.\n# TYPE cardd_errors_total counter\n");
	for (int i = 0; i < IFACE_COUNT; i++)
		for (int e = 0; e < ERR_COUNT; e++)
			rc |= stats_printf(b, "cardd_errors_total{interface="
			    "\"%s\",kind=\"%s\"} %llu\n", stats_ifaces[i],
			    stats_errs[e], (unsigned long long)s->errors[i][e]);
	rc |= stats_render_latency(b, s);
	rc |= stats_printf(b, "# TYPE cardd_connections gauge\n"
	    "cardd_connections %llu\n# TYPE cardd_connections_accepted_total "
	    "counter\ncardd_connections_accepted_total %llu\n# TYPE "
	    "cardd_connections_refused_total counter\n"
	    "cardd_connections_refused_total %llu\n# TYPE "
	    "cardd_signatures_total counter\ncardd_signatures_total %llu\n",
	    (unsigned long long)s->conns_open,
	    (unsigned long long)s->conns_accepted,
	    (unsigned long long)s->conns_refused,
	    (unsigned long long)s->signatures);
	rc |= stats_printf(b, "# HELP cardd_code_binds_total Card codes bound "
	    "in the fleet's store (store=\"fleet\") or, that store away, by "
	    "this daemon alone (store=\"local\").\n# TYPE "
	    "cardd_code_binds_total counter\ncardd_code_binds_total{store="
	    "\"fleet\"} %llu\ncardd_code_binds_total{store=\"local\"} %llu\n",
	    (unsigned long long)s->code_binds[STATS_BIND_FLEET],
	    (unsigned long long)s->code_binds[STATS_BIND_LOCAL]);
	rc |= stats_printf(b, "# TYPE cardd_index_cards gauge\n"
	    "cardd_index_cards %llu\n# TYPE cardd_records_invalid gauge\n"
	    "cardd_records_invalid %llu\n# HELP cardd_sync_age_seconds "
	    "Seconds since the index was last confirmed in step with its "
	    "source (-1: never).\n# TYPE cardd_sync_age_seconds gauge\n"
	    "cardd_sync_age_seconds %.3f\n# TYPE cardd_ready gauge\n"
	    "cardd_ready %d\n# TYPE cardd_uptime_seconds gauge\n"
	    "cardd_uptime_seconds %.0f\n# TYPE cardd_source_info gauge\n"
	    "cardd_source_info{kind=\"%s\"} 1\n# HELP cardd_timezone_info The "
	    "zone whose civil date is today for a check without at.\n"
	    "# TYPE cardd_timezone_info gauge\ncardd_timezone_info{zone=\"%s\"} "
	    "1\n",
	    (unsigned long long)g->cards,
	    (unsigned long long)g->records_invalid, g->synced_age, g->ready,
	    g->uptime, g->source_kind, g->timezone);
	rc |= stats_printf(b, "# HELP cardd_sync_state The source follower's "
	    "state.\n# TYPE cardd_sync_state gauge\ncardd_sync_state{state="
	    "\"%s\"} 1\n# TYPE cardd_source_up gauge\ncardd_source_up %d\n"
	    "# TYPE cardd_full_syncs_total counter\ncardd_full_syncs_total "
	    "%llu\n# TYPE cardd_records_rejected_total counter\n"
	    "cardd_records_rejected_total %llu\n# HELP cardd_sync_lag_seconds "
	    "How far the applied changes trail the stream's last entry.\n"
	    "# TYPE cardd_sync_lag_seconds gauge\ncardd_sync_lag_seconds %.3f\n"
	    "# TYPE cardd_last_full_sync_age_seconds gauge\n"
	    "cardd_last_full_sync_age_seconds %.3f\n", g->sync_state,
	    g->link_up, (unsigned long long)g->full_syncs,
	    (unsigned long long)g->records_rejected, g->sync_lag,
	    g->last_full_sync_age);
	rc |= stats_printf(b, "# HELP cardd_change_delay_seconds Time from a "
	    "change's stream entry (its id: the master's clock, in ms) to its "
	    "being applied to the index (not the backlog read after a "
	    "(re)connect).\n# TYPE cardd_change_delay_seconds "
	    "histogram\n");
	rc |= stats_render_hist(b, "cardd_change_delay_seconds", "",
	    g->change_delay, g->change_delay_sum_us);
	return rc | stats_printf(b, "# HELP cardd_source_node_info The Redis "
	    "node followed now and its role (empty while none).\n# TYPE "
	    "cardd_source_node_info gauge\ncardd_source_node_info{address="
	    "\"%s\",role=\"%s\"} 1\n# HELP cardd_max_staleness_seconds The "
	    "configured max_staleness.\n# TYPE cardd_max_staleness_seconds "
	    "gauge\ncardd_max_staleness_seconds %g\n# HELP "
	    "cardd_snapshot_fork_seconds How long the last fork to save the "
	    "snapshot held the follow (0: none yet).\n# TYPE "
	    "cardd_snapshot_fork_seconds gauge\ncardd_snapshot_fork_seconds "
	    "%.6f\n", g->source_node, g->source_role != NULL ?
	    g->source_role : "", g->max_staleness, g->snapshot_fork);
}
