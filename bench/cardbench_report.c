/* SPDX-License-Identifier: MIT */
/*
 * Reporting. The summary reads like wrk's: what ran, throughput,
 * latency percentiles, errors, verification, traffic. The JSON document
 * (--json) has the same figures with every latency in µs and the whole
 * histogram as [upper_us, count] pairs (empty buckets left out; a
 * bucket counts the answers faster than upper_us and not faster than
 * the previous pair's upper_us), for plotting.
 *
 * Signed answers are also counted by reason; with --codes, a reason of
 * the code itself (code_invalid, code_expired, code_replayed) gets a
 * line of its own that says what it means for the run, since such an
 * answer is fast and signed and would otherwise pass for a good one.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cardbench_codes.h"
#include "cardbench_conf.h"
#include "cardbench_report.h"

static const double report_pcts[] = { 50, 75, 90, 99, 99.9, 99.99, 99.999 };
#define REPORT_NPCTS	(sizeof(report_pcts) / sizeof(report_pcts[0]))

static const char *cardbench_report_time(double, char *, size_t);
static const char *cardbench_report_bytes(double, char *, size_t);
static void	cardbench_report_header(FILE *,
		    const struct cardbench_result *);
static void	cardbench_report_latency(FILE *, const char *,
		    const struct cardbench_hist *);
static void	cardbench_report_lag(FILE *, const struct cardbench_hist *);
static void	cardbench_report_errors(FILE *,
		    const struct cardbench_result *);
static void	cardbench_report_reasons(FILE *,
		    const struct cardbench_counts *);
static void	cardbench_report_codes(FILE *,
		    const struct cardbench_result *);
static const char *cardbench_report_reason_name(int);
static void	cardbench_report_verify(FILE *,
		    const struct cardbench_verify_result *);
static json_t	*cardbench_report_json_config(int);
static json_t	*cardbench_report_json_latency(const struct cardbench_hist *);
static json_t	*cardbench_report_json_hist(const struct cardbench_hist *);
static json_t	*cardbench_report_json_errors(const struct cardbench_result *);
static json_t	*cardbench_report_json_verify(const struct cardbench_result *);
static json_t	*cardbench_report_json_reasons(const struct cardbench_counts *);
static json_t	*cardbench_report_json_codes(const struct cardbench_result *);

/* Failed requests (refused or lost) per request asked, in percent. */
double
cardbench_report_err_pct(const struct cardbench_stats *st)
{
	uint64_t failed = st->c.refused + st->c.lost;
	uint64_t asked = st->c.answers + st->c.lost;

	return asked ? 100.0 * (double)failed / (double)asked : 0;
}

/* A duration given in µs, in a readable unit. */
static const char *
cardbench_report_time(double us, char *buf, size_t len)
{
	if (us < 1000)
		snprintf(buf, len, "%.1fus", us);
	else if (us < 1e6)
		snprintf(buf, len, "%.2fms", us / 1e3);
	else
		snprintf(buf, len, "%.2fs", us / 1e6);
	return buf;
}

/* A byte count in a readable unit. */
static const char *
cardbench_report_bytes(double b, char *buf, size_t len)
{
	if (b < 1e6)
		snprintf(buf, len, "%.1f kB", b / 1e3);
	else if (b < 1e9)
		snprintf(buf, len, "%.1f MB", b / 1e6);
	else
		snprintf(buf, len, "%.2f GB", b / 1e9);
	return buf;
}

/* What ran. */
static void
cardbench_report_header(FILE *fp, const struct cardbench_result *r)
{
	const struct cardbench_conf *c = &cardbench_conf;

	fprintf(fp, "cardbench: %s %s, ", c->proto == BENCH_HTTP ? "HTTP" :
	    "RESP", c->target);
	if (c->rate > 0)
		fprintf(fp, "open loop at %.0f/s, ", c->rate);
	else
		fprintf(fp, "closed loop, ");
	fprintf(fp, "%d threads, %d connections, depth %d\n", r->threads,
	    c->conns, c->depth);
	if (c->cmd_template != NULL)
		fprintf(fp, "  workload    '%s'", c->cmd_template);
	else if (c->coverage > 0)
		fprintf(fp, "  workload    validity %.4g%% / coverage %.4g%% "
		    "(%s)", 100 - c->coverage, c->coverage, c->scheme);
	else
		fprintf(fp, "  workload    validity");
	if (c->nonce)
		fprintf(fp, ", nonces");
	if (c->codes != NULL && c->code_repeat > 1)
		fprintf(fp, ", by code, %llu in the pool, each asked %d times "
		    "in a row,", (unsigned long long)cardbench_codes_count(),
		    c->code_repeat);
	else if (c->codes != NULL)
		fprintf(fp, ", by code, %llu in the pool,",
		    (unsigned long long)cardbench_codes_count());
	else
		fprintf(fp, ", %llu cards", (unsigned long long)c->cards);
	if (c->zipf > 0)
		fprintf(fp, " zipf %.3g", c->zipf);
	else
		fprintf(fp, " uniform");
	fprintf(fp, ", seed %llu\n", (unsigned long long)c->seed);
	fprintf(fp, "  window      %.2f s measured", r->seconds);
	if (c->warmup > 0)
		fprintf(fp, " after %.2f s warmup", c->warmup);
	if (c->requests)
		fprintf(fp, ", -n %llu", (unsigned long long)c->requests);
	fprintf(fp, "\n\n");
}

/* Mean, spread and percentiles of one histogram. */
static void
cardbench_report_latency(FILE *fp, const char *what,
    const struct cardbench_hist *h)
{
	char a[32], b[32], m[32], x[32];

	if (h->total == 0) {
		fprintf(fp, "  %-11s no answers\n", what);
		return;
	}
	fprintf(fp, "  %-11s mean %s  stdev %s  min %s  max %s\n", what,
	    cardbench_report_time(cardbench_hist_mean_us(h), a, sizeof(a)),
	    cardbench_report_time(cardbench_hist_stdev_us(h), b, sizeof(b)),
	    cardbench_report_time((double)h->min_ns / 1e3, m, sizeof(m)),
	    cardbench_report_time((double)h->max_ns / 1e3, x, sizeof(x)));
	fprintf(fp, "             ");
	for (size_t i = 0; i < REPORT_NPCTS; i++)
		fprintf(fp, " p%g %s", report_pcts[i], cardbench_report_time(
		    cardbench_hist_percentile_us(h, report_pcts[i]), a,
		    sizeof(a)));
	fprintf(fp, "\n");
	if (h->overflow)
		fprintf(fp, "              (%llu answers over the histogram's "
		    "67 s range)\n", (unsigned long long)h->overflow);
}

/* Open loop: how late requests went out (a full pipeline, a busy
 * client); latency = lag + service for each answer. */
static void
cardbench_report_lag(FILE *fp, const struct cardbench_hist *h)
{
	char a[32], b[32], m[32], x[32];

	if (h->total == 0)
		return;
	fprintf(fp, "  send lag    mean %s  p50 %s  p99 %s  max %s\n",
	    cardbench_report_time(cardbench_hist_mean_us(h), a, sizeof(a)),
	    cardbench_report_time(cardbench_hist_percentile_us(h, 50), b,
	    sizeof(b)),
	    cardbench_report_time(cardbench_hist_percentile_us(h, 99), m,
	    sizeof(m)),
	    cardbench_report_time((double)h->max_ns / 1e3, x, sizeof(x)));
}

/* Failed requests by kind, and connection trouble. */
static void
cardbench_report_errors(FILE *fp, const struct cardbench_result *r)
{
	const struct cardbench_stats *st = r->st;
	const struct cardbench_counts *c = &st->c;

	if (c->refused + c->lost == 0)
		fprintf(fp, "  errors      none\n");
	else
		fprintf(fp, "  errors      %.3f%% of requests: %llu refused, "
		    "%llu lost with their connection\n", r->err_pct,
		    (unsigned long long)c->refused,
		    (unsigned long long)c->lost);
	for (int i = 0; i < CARDBENCH_ERRKINDS && st->kinds[i].n; i++)
		fprintf(fp, "              %10llu  %s\n",
		    (unsigned long long)st->kinds[i].n, st->kinds[i].kind);
	if (st->other_kinds)
		fprintf(fp, "              %10llu  (other kinds)\n",
		    (unsigned long long)st->other_kinds);
	fprintf(fp, "  connections %llu opened, %llu connect failures, %llu "
	    "timeouts, %llu closed by server, %llu resets, %llu protocol "
	    "errors\n", (unsigned long long)c->connects,
	    (unsigned long long)c->connect_failed,
	    (unsigned long long)c->timeouts, (unsigned long long)c->closed,
	    (unsigned long long)c->resets, (unsigned long long)c->protocol);
	if (c->auth_refused)
		fprintf(fp, "              %llu closed after AUTH --token was "
		    "refused\n", (unsigned long long)c->auth_refused);
}

/* A reason's name; REASON_COUNT is a reason this build does not know. */
static const char *
cardbench_report_reason_name(int i)
{
	return i < REASON_COUNT ? stmt_reason_name((enum stmt_reason)i) :
	    "(other)";
}

/* Signed answers by reason, in precedence order. */
static void
cardbench_report_reasons(FILE *fp, const struct cardbench_counts *c)
{
	int n = 0;

	for (int i = 0; i <= REASON_COUNT; i++) {
		if (c->by_reason[i] == 0)
			continue;
		fprintf(fp, "%s %s %llu", n % 3 ? "," : n ? "\n             " :
		    "  reasons    ", cardbench_report_reason_name(i),
		    (unsigned long long)c->by_reason[i]);
		n++;
	}
	if (n)
		fprintf(fp, "\n");
}

/* --codes: the pool's use, and answers that say the pool is no good. */
static void
cardbench_report_codes(FILE *fp, const struct cardbench_result *r)
{
	static const struct { int reason; const char *means; } bad[] = {
		{ REASON_CODE_INVALID, "not accepted: issuer, key, typ or "
		    "lifetime (cardd's debug log says which)" },
		{ REASON_CODE_EXPIRED, "the pool is stale: mint a new one "
		    "(bench/codes.sh)" },
		{ REASON_CODE_REPLAYED, "bound to another client: another "
		    "--token asked them first" },
	};
	const uint64_t *by = r->st->c.by_reason;

	fprintf(fp, "  codes       %llu distinct asked of %llu in the pool "
	    "(warmup included)\n", (unsigned long long)r->codes_asked,
	    (unsigned long long)cardbench_codes_count());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (by[bad[i].reason])
			fprintf(fp, "              %10llu  %s: %s\n",
			    (unsigned long long)by[bad[i].reason],
			    stmt_reason_name((enum stmt_reason)bad[i].reason),
			    bad[i].means);
}

/* Verification counts and the first failure. */
static void
cardbench_report_verify(FILE *fp, const struct cardbench_verify_result *v)
{
	fprintf(fp, "  verified    %llu ok, %llu failed (%llu detached JWS, "
	    "%llu batch proofs)\n", (unsigned long long)v->ok,
	    (unsigned long long)v->failed, (unsigned long long)v->detached,
	    (unsigned long long)v->batch);
	for (int i = 1; i < VFAIL_COUNT; i++)
		if (v->fail[i])
			fprintf(fp, "              %10llu  %s\n",
			    (unsigned long long)v->fail[i],
			    cardbench_verify_fail_name(i));
	if (v->failed)
		fprintf(fp, "              first: %s\n", v->first);
}

/* The human summary. */
void
cardbench_report_print(FILE *fp, const struct cardbench_result *r)
{
	const struct cardbench_conf *cf = &cardbench_conf;
	const struct cardbench_counts *c = &r->st->c;
	double s = r->seconds > 0 ? r->seconds : 1e-9;
	char a[32], b[32], d[32];

	cardbench_report_header(fp, r);
	fprintf(fp, "  answers     %llu in %.2f s = %.1f/s  (ok %llu = %.1f/s)"
	    "\n", (unsigned long long)c->answers, r->seconds,
	    (double)c->answers / s, (unsigned long long)c->ok,
	    (double)c->ok / s);
	if (cf->cmd_template == NULL)
		fprintf(fp, "              validity %llu, coverage %llu\n",
		    (unsigned long long)c->by_check[BENCH_VALIDITY],
		    (unsigned long long)c->by_check[BENCH_COVERAGE]);
	cardbench_report_reasons(fp, c);
	if (cf->codes != NULL)
		cardbench_report_codes(fp, r);
	cardbench_report_latency(fp, "latency", &r->st->latency);
	if (cf->rate > 0) {
		cardbench_report_latency(fp, "service", &r->st->service);
		cardbench_report_lag(fp, &r->st->lag);
	}
	if (c->unfinished)
		fprintf(fp,
		    "  unfinished  %llu requests in flight or queued at "
		    "the stop\n", (unsigned long long)c->unfinished);
	cardbench_report_errors(fp, r);
	if (cf->verify_every) {
		cardbench_report_verify(fp, &r->vr);
		if (c->verify_dropped)
			fprintf(fp, "              %llu of %llu samples "
			    "dropped (verifier over its %g%% CPU budget)\n",
			    (unsigned long long)c->verify_dropped,
			    (unsigned long long)c->verify_sampled,
			    cf->verify_cpu);
	}
	fprintf(fp, "  traffic     in %s (%s/s), out %s\n",
	    cardbench_report_bytes((double)c->bytes_in, a, sizeof(a)),
	    cardbench_report_bytes((double)c->bytes_in / s, b, sizeof(b)),
	    cardbench_report_bytes((double)c->bytes_out, d, sizeof(d)));
}

/* The run's settings. */
static json_t *
cardbench_report_json_config(int threads)
{
	const struct cardbench_conf *c = &cardbench_conf;

	return json_pack("{s:s, s:s, s:s, s:f, s:i, s:i, s:i, s:f, s:I, s:f, "
	    "s:I, s:s, s:f, s:f, s:s, s:b, s:I, s:f, s:s?, s:I, s:f, s:s?, "
	    "s:i, s:b}",
	    "protocol", c->proto == BENCH_HTTP ? "http" : "resp",
	    "target", c->target, "mode", c->rate > 0 ? "open" : "closed",
	    "rate", c->rate, "threads", threads, "connections", c->conns,
	    "depth", c->depth, "duration_s", c->duration,
	    "requests", (json_int_t)c->requests, "warmup_s", c->warmup,
	    "cards", (json_int_t)c->cards,
	    "distribution", c->zipf > 0 ? "zipf" : "uniform",
	    "zipf_s", c->zipf, "coverage_pct", c->coverage,
	    "scheme", c->scheme, "nonce", c->nonce,
	    "verify_every", (json_int_t)c->verify_every,
	    "verify_cpu_pct", c->verify_cpu,
	    "cmd_template", c->cmd_template, "seed", (json_int_t)c->seed,
	    "timeout_s", c->timeout, "codes", c->codes,
	    "code_repeat", c->code_repeat, "token", c->token != NULL);
}

/* Summary figures of a histogram, in µs. */
static json_t *
cardbench_report_json_latency(const struct cardbench_hist *h)
{
	json_t *o = json_pack("{s:I, s:f, s:f, s:f, s:f}",
	    "count", (json_int_t)h->total,
	    "min", h->total ? (double)h->min_ns / 1e3 : 0.0,
	    "mean", cardbench_hist_mean_us(h),
	    "stdev", cardbench_hist_stdev_us(h),
	    "max", (double)h->max_ns / 1e3);
	char name[16];

	for (size_t i = 0; o != NULL && i < REPORT_NPCTS; i++) {
		snprintf(name, sizeof(name), "p%g", report_pcts[i]);
		json_object_set_new(o, name, json_real(
		    cardbench_hist_percentile_us(h, report_pcts[i])));
	}
	return o;
}

/* The non-empty buckets as [upper_us, count] pairs. */
static json_t *
cardbench_report_json_hist(const struct cardbench_hist *h)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < CARDBENCH_HIST_BUCKETS; i++)
		if (h->count[i])
			json_array_append_new(a, json_pack("[I, I]",
			    (json_int_t)cardbench_hist_upper_us(i),
			    (json_int_t)h->count[i]));
	return a;
}

/* Errors by kind. */
static json_t *
cardbench_report_json_errors(const struct cardbench_result *r)
{
	const struct cardbench_stats *st = r->st;
	json_t *kinds = json_object();

	for (int i = 0; i < CARDBENCH_ERRKINDS && st->kinds[i].n; i++)
		json_object_set_new(kinds, st->kinds[i].kind,
		    json_integer((json_int_t)st->kinds[i].n));
	if (st->other_kinds)
		json_object_set_new(kinds, "other",
		    json_integer((json_int_t)st->other_kinds));
	return json_pack("{s:I, s:f, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I}",
	    "failed", (json_int_t)(st->c.refused + st->c.lost),
	    "rate_pct", r->err_pct, "refused", (json_int_t)st->c.refused,
	    "refused_by_kind", kinds, "lost", (json_int_t)st->c.lost,
	    "connect_failures", (json_int_t)st->c.connect_failed,
	    "timeouts", (json_int_t)st->c.timeouts,
	    "closed_by_server", (json_int_t)st->c.closed,
	    "resets", (json_int_t)st->c.resets,
	    "protocol_errors", (json_int_t)st->c.protocol,
	    "auth_refused", (json_int_t)st->c.auth_refused);
}

/* Verification counts. */
static json_t *
cardbench_report_json_verify(const struct cardbench_result *r)
{
	const struct cardbench_verify_result *v = &r->vr;
	json_t *kinds = json_object();

	for (int i = 1; i < VFAIL_COUNT; i++)
		if (v->fail[i])
			json_object_set_new(kinds,
			    cardbench_verify_fail_name(i),
			    json_integer((json_int_t)v->fail[i]));
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:s?}",
	    "sampled", (json_int_t)r->st->c.verify_sampled,
	    "ok", (json_int_t)v->ok, "failed", (json_int_t)v->failed,
	    "dropped", (json_int_t)r->st->c.verify_dropped,
	    "detached", (json_int_t)v->detached, "batch", (json_int_t)v->batch,
	    "failures", kinds, "first_failure", v->failed ? v->first : NULL);
}

/* Signed answers by reason. */
static json_t *
cardbench_report_json_reasons(const struct cardbench_counts *c)
{
	json_t *o = json_object();

	for (int i = 0; o != NULL && i <= REASON_COUNT; i++)
		if (c->by_reason[i])
			json_object_set_new(o, i < REASON_COUNT ?
			    cardbench_report_reason_name(i) : "other",
			    json_integer((json_int_t)c->by_reason[i]));
	return o;
}

/* --codes: the pool and its use (null without). */
static json_t *
cardbench_report_json_codes(const struct cardbench_result *r)
{
	const struct cardbench_conf *c = &cardbench_conf;

	if (c->codes == NULL)
		return json_null();
	return json_pack("{s:s, s:I, s:i, s:I}", "file", c->codes,
	    "pool", (json_int_t)cardbench_codes_count(),
	    "repeat", c->code_repeat,
	    "distinct_asked", (json_int_t)r->codes_asked);
}

/* Write every figure to path as one JSON object. */
int
cardbench_report_json(const char *path, const struct cardbench_result *r)
{
	const struct cardbench_counts *c = &r->st->c;
	double s = r->seconds > 0 ? r->seconds : 1e-9;
	json_t *o;
	int rc;

	o = json_pack("{s:s, s:s, s:o, s:f, s:I, s:I, s:I, s:f, s:f, s:I, "
	    "s:I, s:{s:I, s:I}, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
	    "s:o, s:{s:I, s:I}}",
	    "tool", "cardbench", "version", CARDD_VERSION,
	    "config", cardbench_report_json_config(r->threads),
	    "measured_s", r->seconds,
	    "sent", (json_int_t)c->sent, "answers", (json_int_t)c->answers,
	    "ok", (json_int_t)c->ok, "throughput", (double)c->answers / s,
	    "ok_throughput", (double)c->ok / s,
	    "unfinished", (json_int_t)c->unfinished,
	    "connects", (json_int_t)c->connects,
	    "by_check", "validity", (json_int_t)c->by_check[BENCH_VALIDITY],
	    "coverage", (json_int_t)c->by_check[BENCH_COVERAGE],
	    "by_reason", cardbench_report_json_reasons(c),
	    "codes", cardbench_report_json_codes(r),
	    "latency_us", cardbench_report_json_latency(&r->st->latency),
	    "histogram", cardbench_report_json_hist(&r->st->latency),
	    "service_us", cardbench_report_json_latency(&r->st->service),
	    "service_histogram", cardbench_report_json_hist(&r->st->service),
	    "send_lag_us", cardbench_report_json_latency(&r->st->lag),
	    "errors", cardbench_report_json_errors(r),
	    "verify", cardbench_report_json_verify(r),
	    "bytes", "in", (json_int_t)c->bytes_in,
	    "out", (json_int_t)c->bytes_out);
	if (o == NULL)
		return -1;
	rc = json_dump_file(o, path, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
	json_decref(o);
	return rc;
}
