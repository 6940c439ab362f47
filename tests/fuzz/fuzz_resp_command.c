/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: resp_parse_command over a pipeline of commands.
 *
 * Besides memory safety (ASan, UBSan) it checks the codec's contract: a
 * complete command is at least one byte and no longer than the input, its
 * arguments lie inside the input (multibulk) or the scratch buffer
 * (inline) within the limits, and the result only ever moves from
 * RESP_PARTIAL to a final answer as bytes are appended: every prefix of a
 * complete command is partial, and the prefix that ends it parses to the
 * same command. Prefixes are parsed from exact-size copies so that a read
 * past their end is caught too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "fuzz.h"

#define MAX_ARGS	16
#define MAX_ARG_LEN	64
#define MAX_INLINE	256
struct parsed {
	ssize_t		 r;
	size_t		 argc;
	struct resp_arg	*argv;		/* MAX_ARGS, heap: overruns trap */
	char		*scratch;	/* MAX_INLINE, heap */
	const char	*err;
};

static const struct resp_limits fuzz_lim = { MAX_ARGS, MAX_ARG_LEN,
    MAX_INLINE };

static void	parsed_init(struct parsed *);
static void	parsed_free(struct parsed *);
static void	parse_checked(const char *, size_t, struct parsed *);
static int	same_command(const struct parsed *, const struct parsed *);
static void	check_prefixes(const char *, size_t, const struct parsed *);

/* Allocate the argument vector and scratch at their exact sizes. */
static void
parsed_init(struct parsed *p)
{
	p->argv = malloc(MAX_ARGS * sizeof(*p->argv));
	p->scratch = malloc(MAX_INLINE);
	FUZZ_ASSERT(p->argv != NULL && p->scratch != NULL);
}

/* Free what parsed_init() allocated. */
static void
parsed_free(struct parsed *p)
{
	free(p->argv);
	free(p->scratch);
}

/* Parse one command and check what must hold of any result. */
static void
parse_checked(const char *buf, size_t len, struct parsed *p)
{
	const char *lo, *hi;

	p->err = NULL;
	p->r = resp_parse_command(buf, len, &fuzz_lim, p->argv, &p->argc,
	    p->scratch, &p->err);
	FUZZ_ASSERT(p->r == RESP_PARTIAL || p->r == RESP_ERROR ||
	    (p->r >= 1 && (size_t)p->r <= len));
	if (p->r == RESP_ERROR)
		FUZZ_ASSERT(p->err != NULL && p->err[0] != '\0');
	if (p->r < 0)
		return;
	FUZZ_ASSERT(p->argc <= MAX_ARGS);
	if (buf[0] == '*') {
		lo = buf;
		hi = buf + p->r;
	} else {
		/* The line, then its CR and LF. */
		FUZZ_ASSERT((size_t)p->r <= MAX_INLINE + 2);
		lo = p->scratch;
		hi = p->scratch + MAX_INLINE;
	}
	for (size_t i = 0; i < p->argc; i++) {
		const struct resp_arg *a = &p->argv[i];

		FUZZ_ASSERT(a->p >= lo && a->p <= hi);
		FUZZ_ASSERT(a->len <= (size_t)(hi - a->p));
		if (buf[0] == '*') {
			FUZZ_ASSERT(a->len <= MAX_ARG_LEN);
			FUZZ_ASSERT(a->p[a->len] == '\r' &&
			    a->p[a->len + 1] == '\n');
		}
	}
}

/* True when two results are the same command. */
static int
same_command(const struct parsed *a, const struct parsed *b)
{
	if (a->r != b->r || a->argc != b->argc)
		return 0;
	for (size_t i = 0; i < a->argc; i++)
		if (a->argv[i].len != b->argv[i].len ||
		    memcmp(a->argv[i].p, b->argv[i].p, a->argv[i].len) != 0)
			return 0;
	return 1;
}

/*
 * Parse prefixes of buf in growing order: they must stay RESP_PARTIAL
 * until one gives the final answer full has for all of buf, and keep it.
 */
static void
check_prefixes(const char *buf, size_t len, const struct parsed *full)
{
	size_t limit = full->r >= 0 ? (size_t)full->r : len;
	size_t step = fuzz_prefix_step(limit);
	ssize_t state = RESP_PARTIAL;
	struct parsed p;

	parsed_init(&p);
	for (size_t k = 0; k <= limit; k = fuzz_next_prefix(k, limit, step)) {
		char *copy = fuzz_copy(buf, k);

		parse_checked(copy, k, &p);
		if (full->r >= 0 && k < limit)
			FUZZ_ASSERT(p.r == RESP_PARTIAL);
		if (full->r >= 0 && k == limit)
			FUZZ_ASSERT(same_command(&p, full));
		if (full->r == RESP_PARTIAL)
			FUZZ_ASSERT(p.r == RESP_PARTIAL);
		if (state != RESP_PARTIAL)
			FUZZ_ASSERT(p.r == state);
		state = p.r;
		free(copy);
	}
	parsed_free(&p);
}

/* Parse a pipeline of commands, checking each. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct parsed full;
	size_t at = 0;

	parsed_init(&full);
	do {
		parse_checked(buf + at, size - at, &full);
		check_prefixes(buf + at, size - at, &full);
		if (full.r < 0)
			break;
		at += (size_t)full.r;
	} while (at < size);
	parsed_free(&full);
	return 0;
}
