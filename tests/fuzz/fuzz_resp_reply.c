/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: resp_parse_reply over a pipeline of replies. A reply
 * is at least one byte and no longer than the input; its text and array
 * elements lie inside it; and growing a reply byte by byte keeps it
 * RESP_PARTIAL until the prefix that ends it, which parses the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "fuzz.h"

static ssize_t	parse_checked(const char *, size_t, struct resp_reply *);
static int	same_reply(const char *, const struct resp_reply *,
		    const char *, const struct resp_reply *);
static void	check_prefixes(const char *, size_t, ssize_t,
		    const struct resp_reply *);

/* True when [p, p + len) lies in [lo, hi). */
#define INSIDE(p, len, lo, hi) \
	((p) >= (lo) && (p) <= (hi) && (len) <= (size_t)((hi) - (p)))

/* Parse one reply and check what must hold of any result. */
static ssize_t
parse_checked(const char *buf, size_t len, struct resp_reply *rep)
{
	ssize_t r = resp_parse_reply(buf, len, rep);
	const char *end;

	FUZZ_ASSERT(r == RESP_PARTIAL || r == RESP_ERROR ||
	    (r >= 1 && (size_t)r <= len));
	if (r < 0)
		return r;
	end = buf + r;
	switch (rep->type) {
	case RESP_STATUS:
	case RESP_ERRMSG:
		FUZZ_ASSERT(rep->p == buf + 1 && INSIDE(rep->p, rep->len,
		    buf, end));
		FUZZ_ASSERT(memchr(rep->p, '\n', rep->len) == NULL);
		FUZZ_ASSERT(rep->p + rep->len + 2 == end);
		break;
	case RESP_BULK:
		FUZZ_ASSERT(INSIDE(rep->p, rep->len + 2, buf, end));
		FUZZ_ASSERT(rep->p + rep->len + 2 == end);
		break;
	case RESP_ARRAY:
		FUZZ_ASSERT(rep->integer >= 0);
		FUZZ_ASSERT(rep->nelem <= RESP_REPLY_MAX_ELEM &&
		    rep->nelem <= (size_t)rep->integer);
		for (size_t i = 0; i < rep->nelem; i++)
			FUZZ_ASSERT(rep->elem[i].p == NULL ?
			    rep->elem[i].len == 0 :
			    INSIDE(rep->elem[i].p, rep->elem[i].len, buf, end));
		break;
	case RESP_INTEGER:
	case RESP_NULL:
		break;
	default:
		FUZZ_ASSERT(!"unknown reply type");
	}
	return r;
}

/* True when two replies (of bufs a and b) say the same. */
static int
same_reply(const char *a, const struct resp_reply *ra, const char *b,
    const struct resp_reply *rb)
{
	if (ra->type != rb->type || ra->integer != rb->integer ||
	    ra->len != rb->len || ra->nelem != rb->nelem ||
	    (ra->p == NULL) != (rb->p == NULL) ||
	    (ra->p != NULL && ra->p - a != rb->p - b))
		return 0;
	for (size_t i = 0; i < ra->nelem; i++)
		if (ra->elem[i].len != rb->elem[i].len ||
		    (ra->elem[i].p == NULL) != (rb->elem[i].p == NULL) ||
		    (ra->elem[i].p != NULL &&
		    ra->elem[i].p - a != rb->elem[i].p - b))
			return 0;
	return 1;
}

/*
 * Parse prefixes of buf in growing order: they must stay RESP_PARTIAL
 * until one gives the final answer that all of buf has, and keep it.
 */
static void
check_prefixes(const char *buf, size_t len, ssize_t r,
    const struct resp_reply *full)
{
	size_t limit = r >= 0 ? (size_t)r : len;
	size_t step = fuzz_prefix_step(limit);
	ssize_t state = RESP_PARTIAL, rk;
	struct resp_reply rep;

	for (size_t k = 0; k <= limit; k = fuzz_next_prefix(k, limit, step)) {
		char *copy = fuzz_copy(buf, k);

		rk = parse_checked(copy, k, &rep);
		if (r >= 0 && k < limit)
			FUZZ_ASSERT(rk == RESP_PARTIAL);
		if (r >= 0 && k == limit)
			FUZZ_ASSERT(rk == r && same_reply(buf, full, copy,
			    &rep));
		if (r == RESP_PARTIAL)
			FUZZ_ASSERT(rk == RESP_PARTIAL);
		if (state != RESP_PARTIAL)
			FUZZ_ASSERT(rk == state);
		state = rk;
		free(copy);
	}
}

/* Parse a pipeline of replies, checking each. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct resp_reply rep;
	size_t at = 0;
	ssize_t r;

	do {
		r = parse_checked(buf + at, size - at, &rep);
		check_prefixes(buf + at, size - at, r, &rep);
		if (r < 0)
			break;
		at += (size_t)r;
	} while (at < size);
	return 0;
}
