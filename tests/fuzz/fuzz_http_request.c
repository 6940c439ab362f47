/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: http1_parse_request over a pipeline of request heads.
 * A complete head is no longer than the input; the method and header
 * names are non-empty tokens, the target visible ASCII, header values
 * free of control bytes (so no CR or LF) and of surrounding blanks, all
 * inside the head; and growing a head byte by byte keeps it
 * HTTP1_PARTIAL until the prefix that ends it, which parses the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"
#include "fuzz.h"

/* True when [p, p + len) lies in [lo, hi). */
#define INSIDE(p, len, lo, hi) \
	((p) >= (lo) && (p) <= (hi) && (len) <= (size_t)((hi) - (p)))

static int	is_token(const char *, size_t);
static int	is_value(const char *, size_t);
static ssize_t	parse_checked(const char *, size_t, struct http1_request *);
static int	same_request(const char *, const struct http1_request *,
		    const char *, const struct http1_request *);
static void	check_prefixes(const char *, size_t, ssize_t,
		    const struct http1_request *);

/* A non-empty RFC 9110 token. */
static int
is_token(const char *s, size_t len)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c != 0 && strchr(extra, c))))
			return 0;
	}
	return 1;
}

/* A field value: no control bytes but HT, no blank at either end. */
static int
is_value(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return len == 0 || (s[0] != ' ' && s[0] != '\t' &&
	    s[len - 1] != ' ' && s[len - 1] != '\t');
}

/* Parse one head and check what must hold of any result. */
static ssize_t
parse_checked(const char *buf, size_t len, struct http1_request *rq)
{
	const char *err = NULL, *end;
	ssize_t r = http1_parse_request(buf, len, rq, &err);

	FUZZ_ASSERT(r == HTTP1_PARTIAL || r == HTTP1_ERROR ||
	    (r >= 1 && (size_t)r <= len));
	if (r == HTTP1_ERROR)
		FUZZ_ASSERT(err != NULL && err[0] != '\0');
	if (r < 0)
		return r;
	end = buf + r;
	FUZZ_ASSERT(INSIDE(rq->method, rq->method_len, buf, end));
	FUZZ_ASSERT(is_token(rq->method, rq->method_len));
	FUZZ_ASSERT(INSIDE(rq->target, rq->target_len, buf, end));
	FUZZ_ASSERT(rq->target_len > 0);
	for (size_t i = 0; i < rq->target_len; i++)
		FUZZ_ASSERT((unsigned char)rq->target[i] > 0x20 &&
		    (unsigned char)rq->target[i] < 0x7f);
	FUZZ_ASSERT(rq->minor >= 0 && rq->minor <= 9);
	FUZZ_ASSERT(rq->num_headers <= HTTP1_MAX_HEADERS);
	for (size_t i = 0; i < rq->num_headers; i++) {
		const struct http1_header *h = &rq->headers[i];

		FUZZ_ASSERT(INSIDE(h->name, h->name_len, buf, end));
		FUZZ_ASSERT(is_token(h->name, h->name_len));
		FUZZ_ASSERT(INSIDE(h->value, h->value_len, buf, end));
		FUZZ_ASSERT(is_value(h->value, h->value_len));
	}
	FUZZ_ASSERT(end[-1] == '\n');
	return r;
}

/* True when two heads (of bufs a and b) are the same. */
static int
same_request(const char *a, const struct http1_request *ra, const char *b,
    const struct http1_request *rb)
{
	if (ra->method - a != rb->method - b ||
	    ra->method_len != rb->method_len ||
	    ra->target - a != rb->target - b ||
	    ra->target_len != rb->target_len || ra->minor != rb->minor ||
	    ra->num_headers != rb->num_headers)
		return 0;
	for (size_t i = 0; i < ra->num_headers; i++) {
		const struct http1_header *x = &ra->headers[i];
		const struct http1_header *y = &rb->headers[i];

		if (x->name - a != y->name - b || x->name_len != y->name_len ||
		    x->value - a != y->value - b ||
		    x->value_len != y->value_len)
			return 0;
	}
	return 1;
}

/*
 * Parse prefixes of buf in growing order: they must stay HTTP1_PARTIAL
 * until one gives the final answer that all of buf has, and keep it.
 */
static void
check_prefixes(const char *buf, size_t len, ssize_t r,
    const struct http1_request *full)
{
	size_t limit = r >= 0 ? (size_t)r : len;
	size_t step = fuzz_prefix_step(limit);
	ssize_t state = HTTP1_PARTIAL, rk;
	struct http1_request *rq = malloc(sizeof(*rq));

	FUZZ_ASSERT(rq != NULL);
	for (size_t k = 0; k <= limit; k = fuzz_next_prefix(k, limit, step)) {
		char *copy = fuzz_copy(buf, k);

		rk = parse_checked(copy, k, rq);
		if (r >= 0 && k < limit)
			FUZZ_ASSERT(rk == HTTP1_PARTIAL);
		if (r >= 0 && k == limit)
			FUZZ_ASSERT(rk == r && same_request(buf, full, copy,
			    rq));
		if (r == HTTP1_PARTIAL)
			FUZZ_ASSERT(rk == HTTP1_PARTIAL);
		if (state != HTTP1_PARTIAL)
			FUZZ_ASSERT(rk == state);
		state = rk;
		free(copy);
	}
	free(rq);
}

/* Parse a pipeline of heads (as if none had a body), checking each. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct http1_request *rq = malloc(sizeof(*rq));
	size_t at = 0;
	ssize_t r;

	FUZZ_ASSERT(rq != NULL);
	do {
		r = parse_checked(buf + at, size - at, rq);
		check_prefixes(buf + at, size - at, r, rq);
		if (r < 0)
			break;
		at += (size_t)r;
	} while (at < size);
	free(rq);
	return 0;
}
