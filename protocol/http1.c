/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 message heads (RFC 9112 §2-5) and query strings. The parsers
 * follow picohttpparser's contract: they return the length of a complete
 * head, HTTP1_PARTIAL when more bytes are needed, HTTP1_ERROR for input
 * that can never become valid. Names and values point into the input.
 * They are strict where leniency has bitten servers before: no obsolete
 * line folding, no control bytes in values, tokens only in names.
 */
#include <string.h>
#include <strings.h>

#include "http1.h"

static int	http1_tchar(unsigned char c);
static ssize_t	http1_eol(const char *p, const char *end);
static ssize_t	http1_headers(const char *buf, const char *end,
		    struct http1_header *, size_t *, const char **);
static int	http1_hex(char c);

/* True for RFC 9110 token characters. */
static int
http1_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/*
 * Length of a line end at p: 2 for CRLF, 1 for a bare LF (tolerated, as
 * RFC 9112 §2.2 allows), 0 for none, HTTP1_PARTIAL at the end of input.
 */
static ssize_t
http1_eol(const char *p, const char *end)
{
	if (p == end)
		return HTTP1_PARTIAL;
	if (*p == '\n')
		return 1;
	if (*p != '\r')
		return 0;
	if (p + 1 == end)
		return HTTP1_PARTIAL;
	return p[1] == '\n' ? 2 : HTTP1_ERROR;
}

/* Parse header lines up to and including the empty line. */
static ssize_t
http1_headers(const char *buf, const char *end, struct http1_header *h,
    size_t *n, const char **err)
{
	const char *p = buf;
	ssize_t e;

	for (*n = 0;; (*n)++) {
		const char *name = p, *nend, *value, *vend;

		if ((e = http1_eol(p, end)) != 0)
			return e < 0 ? e : p + e - buf;
		if (*n == HTTP1_MAX_HEADERS) {
			*err = "too many header fields";
			return HTTP1_ERROR;
		}
		while (p < end && http1_tchar((unsigned char)*p))
			p++;
		if (p == end)
			return HTTP1_PARTIAL;
		if (p == name || *p != ':') {
			*err = "malformed header field";
			return HTTP1_ERROR;
		}
		nend = p;
		for (p++; p < end && (*p == ' ' || *p == '\t'); p++)
			;
		value = p;
		for (; p < end; p++) {
			unsigned char c = (unsigned char)*p;

			if (c < 0x20 && c != '\t')
				break;
			if (c == 0x7f)
				break;
		}
		if ((e = http1_eol(p, end)) <= 0) {
			*err = "control character in header field";
			return e == HTTP1_PARTIAL ? e : HTTP1_ERROR;
		}
		for (vend = p; vend > value && (vend[-1] == ' ' ||
		    vend[-1] == '\t'); vend--)
			;
		h[*n] = (struct http1_header){ name, (size_t)(nend - name),
		    value, (size_t)(vend - value) };
		p += e;
	}
}

/* Parse a request head. */
ssize_t
http1_parse_request(const char *buf, size_t len, struct http1_request *r,
    const char **err)
{
	const char *p = buf, *end = buf + len;
	ssize_t e, h;

	*err = "malformed request line";
	/* RFC 9112 §2.2: ignore empty lines before the request line. */
	while (p < end && (*p == '\r' || *p == '\n') && p - buf < 4)
		p++;
	r->method = p;
	while (p < end && http1_tchar((unsigned char)*p))
		p++;
	r->method_len = (size_t)(p - r->method);
	if (p == end)
		return HTTP1_PARTIAL;
	if (r->method_len == 0 || *p++ != ' ')
		return HTTP1_ERROR;
	r->target = p;
	while (p < end && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
		p++;
	r->target_len = (size_t)(p - r->target);
	if (p == end)
		return HTTP1_PARTIAL;
	if (r->target_len == 0 || *p++ != ' ')
		return HTTP1_ERROR;
	if ((size_t)(end - p) < 8)
		return memcmp(p, "HTTP/1.", (size_t)(end - p) < 7 ?
		    (size_t)(end - p) : 7) == 0 ? HTTP1_PARTIAL : HTTP1_ERROR;
	if (memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9')
		return HTTP1_ERROR;
	r->minor = p[7] - '0';
	p += 8;
	if ((e = http1_eol(p, end)) <= 0)
		return e == HTTP1_PARTIAL ? e : HTTP1_ERROR;
	p += e;
	if ((h = http1_headers(p, end, r->headers, &r->num_headers, err)) < 0)
		return h;
	return p + h - buf;
}

/* Parse a response head (for clients: cardctl, cardbench). */
ssize_t
http1_parse_response(const char *buf, size_t len, struct http1_response *r)
{
	const char *p = buf, *end = buf + len, *err;
	ssize_t h;

	if (len < 13)
		return HTTP1_PARTIAL;
	if (memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' ||
	    p[8] != ' ')
		return HTTP1_ERROR;
	r->minor = p[7] - '0';
	r->status = 0;
	for (p += 9; p < buf + 12; p++) {
		if (*p < '0' || *p > '9')
			return HTTP1_ERROR;
		r->status = r->status * 10 + (*p - '0');
	}
	/* RFC 9112 §4: three digits, then SP (and a reason) or the line end. */
	if (*p != ' ' && *p != '\r' && *p != '\n')
		return HTTP1_ERROR;
	while (p < end && *p != '\n')
		p++;
	if (p == end)
		return HTTP1_PARTIAL;
	p++;
	if ((h = http1_headers(p, end, r->headers, &r->num_headers, &err)) < 0)
		return h;
	return p + h - buf;
}

/* Case-insensitive comparison of a token with a lowercase word. */
int
http1_token_is(const char *s, size_t len, const char *lower)
{
	return strlen(lower) == len && strncasecmp(s, lower, len) == 0;
}

/* The first header with this (lowercase) name, or NULL. */
const struct http1_header *
http1_find(const struct http1_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (http1_token_is(h[i].name, h[i].name_len, name))
			return &h[i];
	return NULL;
}

/* Parse a Content-Length value: digits only, no overflow. */
int
http1_parse_length(const char *s, size_t len, size_t *out)
{
	size_t v = 0;

	if (len == 0 || len > 15)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * Next name=value pair of a query string; *cur advances past it. Returns 1
 * for a pair, 0 at the end. Empty pairs ("a=1&&b=2") are skipped.
 */
int
http1_query_next(const char **cur, const char *end, struct http1_param *p)
{
	const char *s = *cur, *amp, *eq;

	while (s < end && *s == '&')
		s++;
	if (s >= end)
		return 0;
	amp = memchr(s, '&', (size_t)(end - s));
	if (amp == NULL)
		amp = end;
	eq = memchr(s, '=', (size_t)(amp - s));
	p->name = s;
	p->name_len = (size_t)((eq != NULL ? eq : amp) - s);
	p->value = eq != NULL ? eq + 1 : amp;
	p->value_len = (size_t)(amp - p->value);
	*cur = amp;
	return 1;
}

/* Value of a hex digit, or -1. */
static int
http1_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode (and '+' as space, as HTML forms send it). out needs len
 * bytes. Returns the decoded length, or -1 for a broken escape.
 */
ssize_t
http1_pct_decode(const char *in, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] == '+') {
			out[n++] = ' ';
		} else if (in[i] != '%') {
			out[n++] = in[i];
		} else {
			if (i + 2 >= len || http1_hex(in[i + 1]) < 0 ||
			    http1_hex(in[i + 2]) < 0)
				return -1;
			out[n++] = (char)(http1_hex(in[i + 1]) * 16 +
			    http1_hex(in[i + 2]));
			i += 2;
		}
	}
	return (ssize_t)n;
}
