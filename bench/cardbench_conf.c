/* SPDX-License-Identifier: MIT */
/*
 * The command line. One table names every option with its type, bounds
 * and the settings field it sets (as cardd's config table does); after
 * the table is applied, cardbench_conf_check() fills the defaults that
 * depend on each other and refuses combinations that make no sense.
 */
#include <sys/socket.h>

#include <netdb.h>

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cardbench_conf.h"
#include "stmt.h"

enum conf_type { OPT_INT, OPT_U64, OPT_REAL, OPT_SECS, OPT_STR, OPT_FLAG };

struct conf_opt {
	const char	*name;
	int		 key;		/* short option, or 0 */
	enum conf_type	 type;
	void		*field;
	double		 min, max;
	const char	*arg;		/* for usage */
	const char	*help;
};

struct cardbench_conf cardbench_conf = {
	.conns = 10, .threads = 2, .depth = 1, .cards = 100000,
	.scheme = "medical", .max_errors = -1, .seed = 1, .timeout = 5,
	.verify_cpu = 10, .code_repeat = 1,
};

#define C(f)	((void *)&cardbench_conf.f)

static const struct conf_opt conf_opts[] = {
	{ "resp", 0, OPT_STR, C(target), 0, 0, "HOST:PORT",
	    "drive cardd (or Redis) over RESP" },
	{ "http", 0, OPT_STR, C(target), 0, 0, "HOST:PORT",
	    "drive cardd over HTTP/1.1 (keep-alive)" },
	{ "connections", 'c', OPT_INT, C(conns), 1, 100000, "N",
	    "connections in all (default 10)" },
	{ "threads", 't', OPT_INT, C(threads), 1, 256, "N",
	    "threads, one event loop each (default 2)" },
	{ "pipeline", 'P', OPT_INT, C(depth), 1, 4096, "DEPTH",
	    "requests in flight per connection (default 1)" },
	{ "duration", 'd', OPT_SECS, C(duration), 0.001, 86400, "SECONDS",
	    "measured time (default 10; 600 with -n alone)" },
	{ "requests", 'n', OPT_U64, C(requests), 1, 1e15, "N",
	    "measured requests, then stop (k, M suffixes)" },
	{ "rate", 'R', OPT_REAL, C(rate), 0, 1e9, "PER_SEC",
	    "open loop at this total rate (default: closed)" },
	{ "warmup", 0, OPT_SECS, C(warmup), 0, 3600, "SECONDS",
	    "run this long before measuring (default 0)" },
	{ "cards", 0, OPT_U64, C(cards), 1, 1e12, "N",
	    "ask for cards %012d in [0, N) (default 100000)" },
	{ "zipf", 0, OPT_REAL, C(zipf), 0, 10, "S",
	    "Zipf card choice, exponent S (default: uniform)" },
	{ "codes", 0, OPT_STR, C(codes), 0, 0, "FILE",
	    "ask by the card codes in FILE, one a line (codes.sh)" },
	{ "code-repeat", 0, OPT_INT, C(code_repeat), 1, 1000000, "N",
	    "ask each code N times in a row (default 1)" },
	{ "coverage", 0, OPT_REAL, C(coverage), 0, 100, "PCT",
	    "percent coverage checks, rest validity (default 0)" },
	{ "scheme", 0, OPT_STR, C(scheme), 0, 0, "NAME",
	    "scheme of coverage checks (default medical)" },
	{ "nonce", 0, OPT_FLAG, C(nonce), 0, 0, NULL,
	    "send a unique nonce with every request" },
	{ "verify-every", 0, OPT_U64, C(verify_every), 0, 1e15, "K",
	    "verify every K-th answer's signature (default 0: off)" },
	{ "verify-cpu", 0, OPT_REAL, C(verify_cpu), 1, 100, "PCT",
	    "verifier's CPU budget, % of a core (default 10)" },
	{ "jwks", 0, OPT_STR, C(jwks), 0, 0, "FILE|auto",
	    "keys to verify with (default auto: from the server)" },
	{ "json", 0, OPT_STR, C(json), 0, 0, "FILE",
	    "also write every figure as JSON" },
	{ "max-errors", 0, OPT_REAL, C(max_errors), 0, 100, "PCT",
	    "exit 1 if over PCT% of requests fail (default: off)" },
	{ "token", 0, OPT_STR, C(token), 0, 0, "TOKEN",
	    "send a client's bearer token (RESP: AUTH)" },
	{ "cmd-template", 0, OPT_STR, C(cmd_template), 0, 0, "CMD",
	    "RESP: send CMD instead; {card}, {nonce} replaced" },
	{ "seed", 0, OPT_U64, C(seed), 0, 1.8e19, "N",
	    "seed of the card choice (default 1)" },
	{ "timeout", 0, OPT_SECS, C(timeout), 0.01, 3600, "SECONDS",
	    "connect and answer timeout (default 5)" },
	{ "selftest", 0, OPT_FLAG, C(selftest), 0, 0, NULL,
	    "check histogram, Zipf, codecs, verifier; exit" },
};

#define CONF_NOPTS	(sizeof(conf_opts) / sizeof(conf_opts[0]))

static void	cardbench_conf_usage(FILE *);
static int	cardbench_conf_number(const struct conf_opt *, const char *,
		    double *);
static int	cardbench_conf_apply(const struct conf_opt *, const char *);
static int	cardbench_conf_resolve(void);
static int	cardbench_conf_token_ok(const char *);
static int	cardbench_conf_check(void);
static void	cardbench_conf_tables(struct option *, char *);
static const struct conf_opt *cardbench_conf_find(int, int);

/* Print the usage, generated from the table. */
static void
cardbench_conf_usage(FILE *fp)
{
	char lhs[64];

	fprintf(fp, "usage: cardbench --resp HOST:PORT | --http HOST:PORT "
	    "[-c N] [-t N] [-P DEPTH]\n                 [-d SECONDS] "
	    "[-n N] [--rate R] [options]\n");
	for (size_t i = 0; i < CONF_NOPTS; i++) {
		const struct conf_opt *o = &conf_opts[i];

		if (o->key)
			snprintf(lhs, sizeof(lhs), "-%c, --%s%s%s", o->key,
			    o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(lhs, sizeof(lhs), "    --%s%s%s", o->name,
			    o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(fp, "  %-26s %s\n", lhs, o->help);
	}
	fprintf(fp, "Latency counts from the intended send time (open loop: "
	    "the schedule), so\nqueueing shows; to send on time, an open-loop "
	    "thread polls and keeps its core\nbusy. Exit status: 0 done; 1 a "
	    "signature failed, failures over\n--max-errors, or no answers; "
	    "2 usage or start failed; 3 hard deadline\n(warmup + duration + "
	    "timeout + 10 s) struck.\n");
	fprintf(fp, "With --codes FILE, checks ask by card code (HTTP code=, "
	    "RESP BYCODE) instead\nof number: codes are picked from the "
	    "pool as cards are (--zipf; the pool's\nsize stands for "
	    "--cards), and a connection asks each --code-repeat times in\n"
	    "a row (cardd verifies a code's signature at its first ask). "
	    "A code binds to\nthe client that first asks; every connection "
	    "sends the same --token (or none,\nunder auth none), so any "
	    "may ask any code. The report counts answers by\nreason: "
	    "code_expired there means the pool is stale (bench/codes.sh "
	    "mints one).\n");
}

/* Read a number: k and M multiply counts, s and ms mark seconds. */
static int
cardbench_conf_number(const struct conf_opt *o, const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || !isfinite(v))
		return -1;
	if (o->type == OPT_SECS && strcmp(end, "ms") == 0)
		v /= 1000, end += 2;
	else if (o->type == OPT_SECS && strcmp(end, "s") == 0)
		end++;
	else if (o->type != OPT_SECS && (*end == 'k' || *end == 'K'))
		v *= 1e3, end++;
	else if (o->type != OPT_SECS && (*end == 'M' || *end == 'm'))
		v *= 1e6, end++;
	if (*end != '\0' || v < o->min || v > o->max)
		return -1;
	if ((o->type == OPT_INT || o->type == OPT_U64) && v != floor(v))
		return -1;
	*out = v;
	return 0;
}

/* Apply one option's argument to its field. */
static int
cardbench_conf_apply(const struct conf_opt *o, const char *arg)
{
	double v = 0;

	if (o->type == OPT_STR) {
		if (o->field == C(target) && cardbench_conf.target != NULL) {
			fprintf(stderr, "cardbench: one --resp or --http\n");
			return -1;
		}
		if (o->field == C(target))
			cardbench_conf.proto = strcmp(o->name, "http") == 0 ?
			    BENCH_HTTP : BENCH_RESP;
		*(const char **)o->field = arg;
		return 0;
	}
	if (o->type == OPT_FLAG) {
		*(int *)o->field = 1;
		return 0;
	}
	if (cardbench_conf_number(o, arg, &v) != 0) {
		fprintf(stderr, "cardbench: --%s: bad value '%s'\n", o->name,
		    arg);
		return -1;
	}
	if (o->field == C(duration))
		cardbench_conf.duration_set = 1;
	if (o->type == OPT_INT)
		*(int *)o->field = (int)v;
	else if (o->type == OPT_U64)
		*(uint64_t *)o->field = (uint64_t)v;
	else
		*(double *)o->field = v;
	return 0;
}

/* Resolve HOST:PORT (or [V6]:PORT) once, before any thread starts. */
static int
cardbench_conf_resolve(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char host[256], *colon;
	int rc;

	snprintf(host, sizeof(host), "%s", cardbench_conf.target +
	    (cardbench_conf.target[0] == '['));
	if ((colon = strrchr(host, ':')) == NULL || colon[1] == '\0')
		return -1;
	*colon = '\0';
	if (colon > host && colon[-1] == ']')
		colon[-1] = '\0';
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		fprintf(stderr, "cardbench: %s: %s\n", cardbench_conf.target,
		    gai_strerror(rc));
		return -1;
	}
	memcpy(&cardbench_conf.addr, res->ai_addr, res->ai_addrlen);
	cardbench_conf.addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* A token that fits a header and one RESP argument unquoted. */
static int
cardbench_conf_token_ok(const char *t)
{
	size_t n = strlen(t);

	for (size_t i = 0; i < n; i++)
		if (t[i] <= ' ' || t[i] > '~')
			return 0;
	return n > 0 && n <= 512;
}

/* Defaults that depend on other options, and refused combinations. */
static int
cardbench_conf_check(void)
{
	struct cardbench_conf *c = &cardbench_conf;
	const char *why = NULL;

	if (c->target == NULL)
		why = "give --resp HOST:PORT or --http HOST:PORT";
	else if (c->cmd_template && c->proto != BENCH_RESP)
		why = "--cmd-template needs --resp";
	else if (c->cmd_template && c->verify_every)
		why = "--cmd-template answers are unsigned: no --verify-every";
	else if (c->cmd_template && c->codes)
		why = "--codes and --cmd-template do not mix";
	else if (c->code_repeat > 1 && c->codes == NULL)
		why = "--code-repeat needs --codes";
	else if (c->token && !cardbench_conf_token_ok(c->token))
		why = "--token: 1 to 512 printable characters, no spaces";
	else if (stmt_scheme_lookup(c->scheme, strlen(c->scheme)) < 0)
		why = "--scheme: not a scheme";
	else if (c->rate > 0 && c->rate < 0.001 * c->threads)
		why = "--rate: too low for the threads";
	if (why != NULL) {
		fprintf(stderr, "cardbench: %s\n", why);
		return -1;
	}
	if (c->threads > c->conns)
		c->threads = c->conns;
	if (!c->duration_set)
		c->duration = c->requests ? CARDBENCH_CAP_DURATION :
		    CARDBENCH_DEFAULT_DURATION;
	if (c->verify_every && c->jwks == NULL)
		c->jwks = "auto";
	return cardbench_conf_resolve();
}

/* getopt_long's tables, from ours. */
static void
cardbench_conf_tables(struct option *lopts, char *sopts)
{
	for (size_t i = 0; i < CONF_NOPTS; i++) {
		const struct conf_opt *o = &conf_opts[i];

		lopts[i] = (struct option){ o->name, o->type == OPT_FLAG ?
		    no_argument : required_argument, NULL, 0 };
		if (o->key) {
			*sopts++ = (char)o->key;
			*sopts++ = ':';
		}
	}
	lopts[CONF_NOPTS] = (struct option){ "help", no_argument, NULL, 'h' };
	lopts[CONF_NOPTS + 1] = (struct option){ NULL, 0, NULL, 0 };
	strcpy(sopts, "h");
}

/* The table entry of what getopt_long returned. */
static const struct conf_opt *
cardbench_conf_find(int ch, int idx)
{
	for (size_t i = 0; i < CONF_NOPTS; i++)
		if (ch == 0 ? (size_t)idx == i : ch == conf_opts[i].key)
			return &conf_opts[i];
	return NULL;
}

/* Parse argv into cardbench_conf. 0: run; 1: done (help); -1: usage. */
int
cardbench_conf_parse(int argc, char **argv)
{
	struct option lopts[CONF_NOPTS + 2];
	char sopts[2 * CONF_NOPTS + 2];
	const struct conf_opt *o;
	int ch, idx = 0;

	cardbench_conf_tables(lopts, sopts);
	while ((ch = getopt_long(argc, argv, sopts, lopts, &idx)) != -1) {
		if (ch == 'h') {
			cardbench_conf_usage(stdout);
			return 1;
		}
		if ((o = cardbench_conf_find(ch, idx)) == NULL ||
		    cardbench_conf_apply(o, optarg) != 0) {
			fprintf(stderr, "cardbench: see cardbench --help\n");
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "cardbench: unexpected '%s'; see cardbench "
		    "--help\n", argv[optind]);
		return -1;
	}
	return cardbench_conf.selftest ? 0 : cardbench_conf_check();
}
