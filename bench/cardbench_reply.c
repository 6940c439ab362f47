/* SPDX-License-Identifier: MIT */
/*
 * Reading answers with the shared codec (protocol/resp.c, http1.c): the
 * parsers return the bytes of one whole answer, -2 while it is partial
 * and -1 when the stream cannot be a valid one (the connection is then
 * closed). A refused check (RESP -ERR, HTTP status other than 200) is an
 * answer, not a stream error; its kind groups errors for the report:
 * the RESP message up to its first ':' or quote, or "http <status>
 * <error code>".
 *
 * A signed answer's reason is read from its statement by a plain search
 * for the member (cardd writes it unescaped, PROTOCOL.md §3) and counted,
 * so a run whose answers are not what it meant to measure shows it: a
 * stale code pool answers code_expired, fast.
 */
#include <stdio.h>
#include <string.h>

#include "cardbench_conf.h"
#include "cardbench_reply.h"
#include "http1.h"
#include "resp.h"
#include "stmt.h"

static ssize_t	cardbench_reply_resp(int, const char *, size_t,
		    struct cardbench_reply *);
static ssize_t	cardbench_reply_http(const char *, size_t,
		    struct cardbench_reply *);
static void	cardbench_reply_http_kind(int, const char *, size_t,
		    struct cardbench_reply *);
static int	cardbench_reply_is_close(const struct http1_response *);

/* A RESP answer: an array of statement and signature, or -ERR. */
static ssize_t
cardbench_reply_resp(int tmpl, const char *buf, size_t len,
    struct cardbench_reply *a)
{
	struct resp_reply r;
	ssize_t n = resp_parse_reply(buf, len, &r);
	size_t k = 0;

	if (n < 0)
		return n;
	if (r.type == RESP_ERRMSG) {
		while (k < r.len && k + 1 < sizeof(a->kind) && r.p[k] != ':' &&
		    r.p[k] != '\'' && r.p[k] != '"')
			k++;
		while (k > 0 && r.p[k - 1] == ' ')
			k--;
		memcpy(a->kind, r.p, k);
		a->kind[k] = '\0';
	} else if (tmpl)
		a->ok = 1;
	else if (r.type == RESP_ARRAY && r.integer == 2 && r.nelem == 2 &&
	    r.elem[0].p != NULL && r.elem[1].p != NULL) {
		a->ok = 1;
		a->stmt = r.elem[0].p;
		a->stmt_len = r.elem[0].len;
		a->sig = r.elem[1].p;
		a->sig_len = r.elem[1].len;
	} else
		snprintf(a->kind, sizeof(a->kind), "unexpected reply type");
	return n;
}

/* Does the response end the connection? */
static int
cardbench_reply_is_close(const struct http1_response *res)
{
	const struct http1_header *h = http1_find(res->headers,
	    res->num_headers, "connection");

	if (h != NULL)
		return http1_token_is(h->value, h->value_len, "close");
	return res->minor == 0;
}

/* "http <status> <error>" from an error answer's JSON body. */
static void
cardbench_reply_http_kind(int status, const char *body, size_t len,
    struct cardbench_reply *a)
{
	static const char key[] = "\"error\":\"";
	const char *p = memmem(body, len, key, sizeof(key) - 1), *q = NULL;

	if (p != NULL) {
		p += sizeof(key) - 1;
		q = memchr(p, '"', len - (size_t)(p - body));
	}
	if (q != NULL && q - p < 32)
		snprintf(a->kind, sizeof(a->kind), "http %d %.*s", status,
		    (int)(q - p), p);
	else
		snprintf(a->kind, sizeof(a->kind), "http %d", status);
}

/* An HTTP answer: head, Content-Length body, Card-Signature. */
static ssize_t
cardbench_reply_http(const char *buf, size_t len, struct cardbench_reply *a)
{
	struct http1_response res;
	const struct http1_header *h;
	ssize_t head = http1_parse_response(buf, len, &res);
	size_t body;

	if (head < 0)
		return head;
	h = http1_find(res.headers, res.num_headers, "content-length");
	if (h == NULL || http1_parse_length(h->value, h->value_len, &body))
		return CARDBENCH_REPLY_ERROR;
	if (len - (size_t)head < body)
		return CARDBENCH_REPLY_PARTIAL;
	a->close = cardbench_reply_is_close(&res);
	h = http1_find(res.headers, res.num_headers, "card-signature");
	if (res.status == 200 && h != NULL) {
		a->ok = 1;
		a->stmt = buf + head;
		a->stmt_len = body;
		a->sig = h->value;
		a->sig_len = h->value_len;
	} else if (res.status == 200)
		snprintf(a->kind, sizeof(a->kind), "no Card-Signature");
	else
		cardbench_reply_http_kind(res.status, buf + head, body, a);
	return head + (ssize_t)body;
}

/* The reason of a statement (enum stmt_reason; REASON_COUNT: none). */
int
cardbench_reply_reason(const char *stmt, size_t len)
{
	static const char key[] = "\"reason\":\"";
	const char *p = memmem(stmt, len, key, sizeof(key) - 1), *q = NULL;
	const char *name;

	if (p != NULL) {
		p += sizeof(key) - 1;
		q = memchr(p, '"', len - (size_t)(p - stmt));
	}
	for (int i = 0; q != NULL && i < REASON_COUNT; i++) {
		name = stmt_reason_name((enum stmt_reason)i);
		if ((size_t)(q - p) == strlen(name) &&
		    memcmp(p, name, (size_t)(q - p)) == 0)
			return i;
	}
	return REASON_COUNT;
}

/* Parse the first answer in buf (see the top of the file). */
ssize_t
cardbench_reply_parse(int proto, int tmpl, const char *buf, size_t len,
    struct cardbench_reply *a)
{
	ssize_t n;

	a->ok = 0;
	a->close = 0;
	a->kind[0] = '\0';
	a->reason = REASON_COUNT;
	if (proto == BENCH_HTTP)
		n = cardbench_reply_http(buf, len, a);
	else
		n = cardbench_reply_resp(tmpl, buf, len, a);
	if (n > 0 && a->ok && !tmpl)
		a->reason = cardbench_reply_reason(a->stmt, a->stmt_len);
	return n;
}
