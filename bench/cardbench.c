/* SPDX-License-Identifier: MIT */
/*
 * cardbench: drive cardd (or Redis, with --cmd-template) over RESP or
 * HTTP with many connections, threads and pipelined requests, in closed
 * loop or open loop at a fixed rate, and report throughput, errors,
 * latency percentiles and verified signatures (see --help, and the
 * comments at the top of cardbench_load.c and cardbench_verify.c).
 *
 * Exit status: 0 when the run went through; 1 when a verification
 * failed, the failed requests exceeded --max-errors, or nothing was
 * answered; 2 for bad options or a failed start; 3 when the hard
 * deadline (warmup + duration + timeout + 10 s) struck a stuck run.
 * Errors alone do not change the status unless --max-errors is given.
 * Out of memory at startup exits; later, a connection that cannot grow
 * its buffers is closed and counted.
 */
#include <sys/resource.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cardbench.h"
#include "cardbench_codes.h"
#include "cardbench_conf.h"
#include "cardbench_fetch.h"
#include "cardbench_load.h"
#include "cardbench_report.h"
#include "cardbench_req.h"
#include "cardbench_verify.h"

static void	cardbench_on_stop(int);
static void	cardbench_on_deadline(int);
static void	cardbench_signals(void);
static int	cardbench_keys(void);
static void	cardbench_fds(void);
static int	cardbench_setup(void);
static int	cardbench_finish(void);
static int	cardbench_status(const struct cardbench_result *);

/* SIGINT, SIGTERM: stop and report (a second one kills). */
static void
cardbench_on_stop(int sig)
{
	(void)sig;
	cardbench_load_stop();
}

/* SIGALRM: the hard deadline; the threads are stuck, give up. */
static void
cardbench_on_deadline(int sig)
{
	static const char msg[] = "cardbench: hard deadline passed, "
	    "giving up\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing better to do: exit anyway */
	}
	_exit(CARDBENCH_EXIT_DEADLINE);
}

/* Install the handlers. */
static void
cardbench_signals(void)
{
	struct sigaction sa = { .sa_handler = cardbench_on_stop,
	    .sa_flags = SA_RESETHAND };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = cardbench_on_deadline;
	sa.sa_flags = 0;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Raise the open files limit to what the connections need, if allowed. */
static void
cardbench_fds(void)
{
	rlim_t want = (rlim_t)cardbench_conf.conns + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
		fprintf(stderr, "cardbench: only %llu open files allowed\n",
		    (unsigned long long)rl.rlim_cur);
}

/* Load the keys to verify with and start the verifier. */
static int
cardbench_keys(void)
{
	const struct cardbench_conf *c = &cardbench_conf;
	size_t len = 0;
	char *jwks = strcmp(c->jwks, "auto") == 0 ?
	    cardbench_fetch_jwks(&len) : cardbench_fetch_file(c->jwks, &len);
	int n;

	if (jwks == NULL)
		return -1;
	n = cardbench_verify_keys(jwks, len, c->scheme);
	free(jwks);
	if (n < 0) {
		fprintf(stderr, "cardbench: no Ed25519 key in the JWKS\n");
		return -1;
	}
	return cardbench_verify_start(c->verify_cpu);
}

/* The exit status of a finished run. */
static int
cardbench_status(const struct cardbench_result *r)
{
	const struct cardbench_conf *c = &cardbench_conf;
	int rc = CARDBENCH_EXIT_OK;

	if (r->st->c.answers == 0) {
		fprintf(stderr, "cardbench: no answers\n");
		rc = CARDBENCH_EXIT_FAIL;
	}
	if (r->vr.failed) {
		fprintf(stderr, "cardbench: %llu signatures failed "
		    "verification\n", (unsigned long long)r->vr.failed);
		rc = CARDBENCH_EXIT_FAIL;
	}
	if (c->max_errors >= 0 && r->err_pct > c->max_errors) {
		fprintf(stderr, "cardbench: %.3f%% of requests failed, above "
		    "--max-errors %g\n", r->err_pct, c->max_errors);
		rc = CARDBENCH_EXIT_FAIL;
	}
	return rc;
}

/* Everything the run needs before the threads start. */
static int
cardbench_setup(void)
{
	const struct cardbench_conf *c = &cardbench_conf;
	char err[512];

	cardbench_signals();
	cardbench_fds();
	if (c->codes != NULL && cardbench_codes_load(c->codes, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "cardbench: --codes %s\n", err);
		return -1;
	}
	if (cardbench_req_init(c->proto, c->target, c->scheme,
	    c->cmd_template, c->token) != 0) {
		fprintf(stderr, "cardbench: --cmd-template: empty or long\n");
		return -1;
	}
	if (c->verify_every && cardbench_keys() != 0)
		return -1;
	return 0;
}

/* Sum the threads and the verifier, print, write the JSON. */
static int
cardbench_finish(void)
{
	static struct cardbench_stats sum;
	const struct cardbench_conf *c = &cardbench_conf;
	struct cardbench_result r = { .st = &sum, .threads = c->threads };
	uint64_t measure_ns, stop_ns;

	cardbench_load_sum(&sum, &measure_ns, &stop_ns);
	r.codes_asked = cardbench_load_codes_asked();
	cardbench_verify_finish(&r.vr);
	r.seconds = (double)(stop_ns - measure_ns) / 1e9;
	r.err_pct = cardbench_report_err_pct(&sum);
	cardbench_report_print(stdout, &r);
	if (c->json != NULL && cardbench_report_json(c->json, &r) != 0)
		fprintf(stderr, "cardbench: cannot write %s\n", c->json);
	cardbench_load_free();
	cardbench_codes_free();		/* the verifier has finished with it */
	return cardbench_status(&r);
}

/* Parse, run, report. */
int
main(int argc, char **argv)
{
	const struct cardbench_conf *c = &cardbench_conf;
	int rc = cardbench_conf_parse(argc, argv);

	if (rc != 0)
		return rc > 0 ? CARDBENCH_EXIT_OK : CARDBENCH_EXIT_USAGE;
	if (c->selftest)
		return cardbench_selftest() == 0 ? CARDBENCH_EXIT_OK :
		    CARDBENCH_EXIT_FAIL;
	if (cardbench_setup() != 0)
		return CARDBENCH_EXIT_USAGE;
	alarm((unsigned)ceil(c->warmup + c->duration + c->timeout +
	    CARDBENCH_GRACE));
	if (cardbench_load_run(c->threads) != 0) {
		fprintf(stderr, "cardbench: cannot set up the load threads\n");
		return CARDBENCH_EXIT_USAGE;
	}
	alarm(0);
	return cardbench_finish();
}
