/* SPDX-License-Identifier: MIT */
/*
 * cardctl gen: N synthetic cards from a seed, as CSV (PROTOCOL.md §7). Card
 * numbers are %012d from 0, so `redis-benchmark -r N` and cardbench hit
 * real cards. The mix is meant to look like a real register: most cards
 * active and covered, some suspended, lost or revoked, permits expired
 * or not yet valid, coverage lapsed or not started, extra regions as
 * lists or "*". Dates are relative to --today (default: today in
 * Asia/Shanghai). The first three cards are fixed examples for demos
 * and docs: 0 is valid and covered, 1 has an expired permit, 2 has a
 * lapsed medical coverage.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cardctl.h"
#include "date.h"

static const char *const gen_regions[] = {
	"110000", "120000", "310000", "500000", "440100", "440300", "320100",
	"330100", "510100", "420100", "610100", "370200", "210200", "350200",
	"320500", "440600", "441900", "430100", "410100", "530100", "460100",
	"450100", "340100", "360100", "130100", "140100", "150100", "220100",
	"230100", "520100"
};
#define GEN_NREGIONS (sizeof(gen_regions) / sizeof(gen_regions[0]))

/* Enrolment odds per scheme (medical, pension, unemployment, injury,
 * maternity), in percent. */
static const int gen_enrol[5] = { 95, 85, 70, 80, 40 };

struct gen {
	uint64_t	 state;
	int32_t		 today;
	FILE		*out;
};

/* gen's options as given. */
struct gen_args {
	const char	*seed;
	const char	*today;
	const char	*out;
};

static uint64_t	gen_next(struct gen *);
static int	gen_pct(struct gen *, int);
static int32_t	gen_between(struct gen *, int32_t, int32_t);
static void	gen_date(FILE *, int32_t);
static void	gen_range(FILE *, int32_t, int32_t);
static void	gen_card(struct gen *, uint64_t);
static void	gen_example(struct gen *, uint64_t);
static int	gen_today(int32_t *);
static int	gen_check_today(const char *);
static int	gen_check_n(const char *);
static int	gen_args(int, char **, struct gen *, uint64_t *, const char **);

/* splitmix64: small, fast, and the same stream on every machine. */
static uint64_t
gen_next(struct gen *g)
{
	uint64_t z = (g->state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* True with probability pct percent. */
static int
gen_pct(struct gen *g, int pct)
{
	return (int)(gen_next(g) % 100) < pct;
}

/* A day in [lo, hi]. */
static int32_t
gen_between(struct gen *g, int32_t lo, int32_t hi)
{
	return lo + (int32_t)(gen_next(g) % (uint64_t)(hi - lo + 1));
}

/* Print a date. */
static void
gen_date(FILE *fp, int32_t d)
{
	char s[DATE_LEN];

	date_format(d, s);
	fwrite(s, 1, DATE_LEN, fp);
}

/* Print a coverage range FROM..UNTIL. */
static void
gen_range(FILE *fp, int32_t from, int32_t until)
{
	gen_date(fp, from);
	fputs("..", fp);
	gen_date(fp, until);
}

/* One random card. */
static void
gen_card(struct gen *g, uint64_t i)
{
	static const char *const statuses[] =
	    { "active", "suspended", "lost", "revoked" };
	int32_t t = g->today, from, until, cfrom, cuntil;
	int s = gen_pct(g, 90) ? 0 : 1 + (int)(gen_next(g) % 3), x;
	uint64_t r = gen_next(g) % 100;
	const char *cls = r < 20 ? "A" : r < 70 ? "B" : "C";

	r = gen_next(g) % 100;
	if (r < 8) {			/* expired */
		until = gen_between(g, t - 700, t - 1);
		from = until - gen_between(g, 365, 5 * 365);
	} else if (r < 11) {		/* not yet valid */
		from = gen_between(g, t + 1, t + 90);
		until = from + gen_between(g, 365, 5 * 365);
	} else {			/* valid today */
		from = gen_between(g, t - 5 * 365, t);
		until = gen_between(g, t, t + 3 * 365);
	}
	fprintf(g->out, "%012" PRIu64 ",%s,WP%010" PRIu64 ",%s,", i,
	    statuses[s], (uint64_t)(i * 7919 % 10000000000ull), cls);
	gen_date(g->out, from);
	fputc(',', g->out);
	gen_date(g->out, until);
	fputc(',', g->out);
	gen_date(g->out, gen_between(g, -3653, 13148));	/* 1960..2005 */
	fprintf(g->out, ",%s,", gen_regions[gen_next(g) % GEN_NREGIONS]);
	r = gen_next(g) % 100;
	if (r >= 90)
		fputc('*', g->out);
	else if (r >= 70) {
		x = 1 + (int)(gen_next(g) % 3);
		fputc('"', g->out);
		for (int k = 0; k < x; k++)
			fprintf(g->out, "%s%s", k ? "," : "",
			    gen_regions[gen_next(g) % GEN_NREGIONS]);
		fputc('"', g->out);
	}
	for (int k = 0; k < 5; k++) {
		fputc(',', g->out);
		if (!gen_pct(g, gen_enrol[k]))
			continue;
		cfrom = from + gen_between(g, 0, 60);
		cuntil = t + gen_between(g, 0, 180);
		if (gen_pct(g, 7))
			cuntil = gen_between(g, t - 400, t - 1);  /* lapsed */
		if (gen_pct(g, 2))
			cfrom = gen_between(g, t + 1, t + 60);	   /* later */
		if (cuntil < cfrom)
			cuntil = cfrom + gen_between(g, 28, 365);
		gen_range(g->out, cfrom, cuntil);
	}
	fprintf(g->out, ",%" PRIu64 "\n", 1 + gen_next(g) % 20);
}

/* The fixed examples 0, 1 and 2. */
static void
gen_example(struct gen *g, uint64_t i)
{
	int32_t t = g->today, until = i == 1 ? t - 30 : t + 2 * 365;

	fprintf(g->out, "%012" PRIu64 ",active,WP%010" PRIu64 ",B,", i,
	    (uint64_t)(i * 7919 % 10000000000ull));
	gen_date(g->out, t - 365);
	fputc(',', g->out);
	gen_date(g->out, until);
	fputs(",1990-02-28,310000,\"110000,440300\",", g->out);
	gen_range(g->out, t - 365, i == 2 ? t - 60 : t + 90);
	fputc(',', g->out);
	gen_range(g->out, t - 365, t + 90);
	fputs(",,", g->out);
	gen_range(g->out, t - 365, t + 90);
	fputs(",,1\n", g->out);
}

/* Today in Asia/Shanghai, the default zone of cardd. */
static int
gen_today(int32_t *today)
{
	time_t now = time(NULL);
	struct tm tm;

	if (setenv("TZ", "Asia/Shanghai", 1) != 0)
		return -1;
	tzset();
	localtime_r(&now, &tm);
	*today = date_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
	    (unsigned)tm.tm_mday);
	return 0;
}

/* --today: a real date, or say so. */
static int
gen_check_today(const char *v)
{
	int32_t d;

	if (date_parse(v, strlen(v), &d) == 0)
		return 0;
	fprintf(stderr, "cardctl gen: --today wants YYYY-MM-DD\n");
	return CARDCTL_USAGE;
}

/* N: decimal, at most 10^12. */
static int
gen_check_n(const char *v)
{
	char *end;

	if (v[0] < '0' || v[0] > '9' || strtoull(v, &end, 10) >
	    1000000000000ull || *end != '\0')
		return CARDCTL_BADARGS;
	return 0;
}

/* Parse gen's arguments into g and n. */
static int
gen_args(int argc, char **argv, struct gen *g, uint64_t *n,
    const char **path)
{
	static const struct cardctl_opt opts[] = {
		{ "--seed", 1, offsetof(struct gen_args, seed), NULL },
		{ "--today", 1, offsetof(struct gen_args, today),
		    gen_check_today },
		{ "-o", 1, offsetof(struct gen_args, out), NULL },
		{ NULL, 1, 0, gen_check_n },
	};
	struct gen_args a = { 0 };
	const char *pos[1];
	int npos, rc;

	if ((rc = cardctl_parse(argc, argv, opts, CARDCTL_NOPTS(opts), &a,
	    pos, 1, &npos)) != 0)
		return rc;
	if (npos != 1)
		return CARDCTL_BADARGS;
	if (a.seed != NULL)
		g->state = strtoull(a.seed, NULL, 10);
	if (a.today != NULL)
		date_parse(a.today, strlen(a.today), &g->today);
	*n = strtoull(pos[0], NULL, 10);
	*path = a.out;
	return 0;
}

/* cardctl gen N [--seed S] [--today D] [-o FILE] */
int
gen_main(int argc, char **argv)
{
	struct gen g = { .state = 1, .out = stdout };
	const char *path = NULL;
	uint64_t n = 0;
	int rc;

	if (gen_today(&g.today) != 0)
		return CARDCTL_USAGE;
	if ((rc = gen_args(argc, argv, &g, &n, &path)) != 0)
		return rc;
	if (path != NULL && (g.out = fopen(path, "w")) == NULL) {
		perror(path);
		return CARDCTL_USAGE;
	}
	fputs("card,status,permit,class,permit_from,permit_until,birth,region,"
	    "xregion,medical,pension,unemployment,injury,maternity,rev\n",
	    g.out);
	for (uint64_t i = 0; i < n; i++)
		if (i < 3)
			gen_example(&g, i);
		else
			gen_card(&g, i);
	if (fclose(g.out) != 0) {
		perror(path ? path : "stdout");
		return CARDCTL_USAGE;
	}
	return CARDCTL_OK;
}
