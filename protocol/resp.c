/* SPDX-License-Identifier: MIT */
/*
 * RESP, the Redis protocol. Commands arrive as multibulk arrays
 * (*N CRLF, then N times $LEN CRLF bytes CRLF) or as inline lines split
 * the way redis-cli and telnet users expect (quotes, \xHH escapes). The
 * parsers follow picohttpparser's contract: they return the bytes of one
 * complete command, RESP_PARTIAL when more input is needed, RESP_ERROR
 * with a message for input that can never become valid. Nothing here
 * allocates; arguments point into the input or into the caller's scratch.
 */
#include <ctype.h>
#include <string.h>

#include "resp.h"

static ssize_t	resp_number(const char *buf, size_t len, long long *out);
static ssize_t	resp_multibulk(const char *buf, size_t len,
		    const struct resp_limits *, struct resp_arg *, size_t *,
		    const char **);
static ssize_t	resp_inline(const char *buf, size_t len,
		    const struct resp_limits *, struct resp_arg *, size_t *,
		    char *, const char **);
static int	resp_split(const char *line, size_t len,
		    const struct resp_limits *, struct resp_arg *, size_t *,
		    char *, const char **);
static const char *resp_quoted(const char *p, const char *end, char quote,
		    char **out);
static int	resp_hex(char c);
static size_t	resp_put_prefixed(char *out, char kind, size_t n);

/*
 * Read a decimal line "123\r\n" (the type byte already skipped). Returns
 * the bytes consumed including CRLF, RESP_PARTIAL, or RESP_ERROR.
 */
static ssize_t
resp_number(const char *buf, size_t len, long long *out)
{
	size_t i = 0;
	int neg = 0;
	long long v = 0;

	if (i < len && buf[i] == '-') {
		neg = 1;
		i++;
	}
	for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		if (i >= 18)
			return RESP_ERROR;
		v = v * 10 + (buf[i] - '0');
	}
	if (i < len && buf[i] != '\r')
		return RESP_ERROR;
	if (i + 2 > len)
		return RESP_PARTIAL;
	if (i == (size_t)neg || buf[i + 1] != '\n')
		return RESP_ERROR;
	*out = neg ? -v : v;
	return (ssize_t)(i + 2);
}

/* Parse one command: multibulk when it starts with '*', inline otherwise. */
ssize_t
resp_parse_command(const char *buf, size_t len, const struct resp_limits *lim,
    struct resp_arg *argv, size_t *argc, char *scratch, const char **err)
{
	*argc = 0;
	if (len == 0)
		return RESP_PARTIAL;
	if (buf[0] == '*')
		return resp_multibulk(buf, len, lim, argv, argc, err);
	return resp_inline(buf, len, lim, argv, argc, scratch, err);
}

/* Parse a multibulk command; arguments point into buf. */
static ssize_t
resp_multibulk(const char *buf, size_t len, const struct resp_limits *lim,
    struct resp_arg *argv, size_t *argc, const char **err)
{
	long long n, blen;
	ssize_t r;
	size_t at = 1;

	if ((r = resp_number(buf + at, len - at, &n)) < 0) {
		*err = "Protocol error: invalid multibulk length";
		return r;
	}
	at += (size_t)r;
	if (n > (long long)lim->max_args) {
		*err = "Protocol error: too many arguments";
		return RESP_ERROR;
	}
	for (long long i = 0; i < n; i++) {
		if (at == len)
			return RESP_PARTIAL;
		if (buf[at] != '$') {
			*err = "Protocol error: expected '$'";
			return RESP_ERROR;
		}
		at++;
		if ((r = resp_number(buf + at, len - at, &blen)) < 0 ||
		    blen < 0 || blen > (long long)lim->max_arg_len) {
			*err = "Protocol error: invalid bulk length";
			return r == RESP_PARTIAL ? r : RESP_ERROR;
		}
		at += (size_t)r;
		if (len - at < (size_t)blen + 2)
			return RESP_PARTIAL;
		if (buf[at + (size_t)blen] != '\r' ||
		    buf[at + (size_t)blen + 1] != '\n') {
			*err = "Protocol error: bulk string not ended by CRLF";
			return RESP_ERROR;
		}
		argv[*argc].p = buf + at;
		argv[(*argc)++].len = (size_t)blen;
		at += (size_t)blen + 2;
	}
	return (ssize_t)at;
}

/* Parse one inline line; arguments are unquoted into scratch. */
static ssize_t
resp_inline(const char *buf, size_t len, const struct resp_limits *lim,
    struct resp_arg *argv, size_t *argc, char *scratch, const char **err)
{
	/* Room for the line, its CR and the LF we look for. */
	size_t scan = len < lim->max_inline + 2 ? len : lim->max_inline + 2;
	const char *nl = memchr(buf, '\n', scan);
	size_t line;

	if (nl == NULL) {
		/* A full-length line may still have its CR in view, not its LF. */
		if (len > lim->max_inline + 1 || (len == lim->max_inline + 1 &&
		    buf[lim->max_inline] != '\r')) {
			*err = "Protocol error: too big inline request";
			return RESP_ERROR;
		}
		return RESP_PARTIAL;
	}
	line = (size_t)(nl - buf);
	if (line > 0 && buf[line - 1] == '\r')
		line--;
	if (line > lim->max_inline) {
		*err = "Protocol error: too big inline request";
		return RESP_ERROR;
	}
	if (resp_split(buf, line, lim, argv, argc, scratch, err) != 0)
		return RESP_ERROR;
	return nl - buf + 1;
}

/* Value of a hex digit, or -1. */
static int
resp_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Copy a quoted run that starts after its opening quote into *out. Returns
 * the position after the closing quote, or NULL when the quotes do not
 * balance. Double quotes know \xHH and C escapes; single quotes know \'.
 */
static const char *
resp_quoted(const char *p, const char *end, char quote, char **out)
{
	static const char from[] = "nrtab", to[] = "\n\r\t\a\b";

	for (; p < end; p++) {
		if (*p == quote)
			return p + 1 < end && !isspace((unsigned char)p[1]) ?
			    NULL : p + 1;
		if (*p != '\\' || p + 1 == end) {
			*(*out)++ = *p;
			continue;
		}
		if (quote == '\'') {
			*(*out)++ = p[1] == '\'' ? '\'' : '\\';
			p += p[1] == '\'';
		} else if (p[1] == 'x' && p + 3 < end && resp_hex(p[2]) >= 0 &&
		    resp_hex(p[3]) >= 0) {
			*(*out)++ = (char)(resp_hex(p[2]) * 16 + resp_hex(p[3]));
			p += 3;
		} else {
			const char *e = strchr(from, p[1]);

			*(*out)++ = e != NULL && p[1] != '\0' ? to[e - from] :
			    p[1];
			p++;
		}
	}
	return NULL;
}

/* Split an inline line into arguments, as redis-cli would. */
static int
resp_split(const char *line, size_t len, const struct resp_limits *lim,
    struct resp_arg *argv, size_t *argc, char *scratch, const char **err)
{
	const char *p = line, *end = line + len;
	char *out = scratch;

	for (;;) {
		char *start;

		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p == end)
			return 0;
		if (*argc == lim->max_args) {
			*err = "Protocol error: too many arguments";
			return -1;
		}
		start = out;
		while (p < end && !isspace((unsigned char)*p)) {
			if (*p == '"' || *p == '\'') {
				p = resp_quoted(p + 1, end, *p, &out);
				if (p == NULL) {
					*err = "Protocol error: unbalanced quotes";
					return -1;
				}
			} else
				*out++ = *p++;
		}
		argv[*argc].p = start;
		argv[(*argc)++].len = (size_t)(out - start);
	}
}

/*
 * Parse one reply, for clients (cardctl, cardbench, tests). Arrays may
 * hold bulk strings, statuses and nulls (a null element has p == NULL).
 */
ssize_t
resp_parse_reply(const char *buf, size_t len, struct resp_reply *r)
{
	const char *nl;
	long long n;
	ssize_t k;
	size_t at;

	if (len < 3)
		return RESP_PARTIAL;
	memset(r, 0, sizeof(*r));
	switch (buf[0]) {
	case '+':
	case '-':
		if ((nl = memchr(buf, '\n', len)) == NULL)
			return RESP_PARTIAL;
		if (nl[-1] != '\r')
			return RESP_ERROR;
		r->type = buf[0] == '+' ? RESP_STATUS : RESP_ERRMSG;
		r->p = buf + 1;
		r->len = (size_t)(nl - buf - 2);
		return nl - buf + 1;
	case ':':
		if ((k = resp_number(buf + 1, len - 1, &r->integer)) < 0)
			return k;
		r->type = RESP_INTEGER;
		return k + 1;
	case '$':
		if ((k = resp_number(buf + 1, len - 1, &n)) < 0)
			return k;
		at = (size_t)k + 1;
		if (n < 0) {
			r->type = RESP_NULL;
			return (ssize_t)at;
		}
		if (len - at < (size_t)n + 2)
			return RESP_PARTIAL;
		if (buf[at + (size_t)n] != '\r' || buf[at + (size_t)n + 1] != '\n')
			return RESP_ERROR;
		r->type = RESP_BULK;
		r->p = buf + at;
		r->len = (size_t)n;
		return (ssize_t)(at + (size_t)n + 2);
	case '*':
		if ((k = resp_number(buf + 1, len - 1, &n)) < 0)
			return k;
		at = (size_t)k + 1;
		r->type = n < 0 ? RESP_NULL : RESP_ARRAY;
		r->integer = n;
		for (long long i = 0; i < n; i++) {
			struct resp_reply e;

			if (at == len)
				return RESP_PARTIAL;
			if (buf[at] == '*' || buf[at] == '-' || buf[at] == ':')
				return RESP_ERROR;
			if ((k = resp_parse_reply(buf + at, len - at, &e)) < 0)
				return k;
			if (r->nelem < RESP_REPLY_MAX_ELEM) {
				r->elem[r->nelem].p = e.p;
				r->elem[r->nelem++].len = e.len;
			}
			at += (size_t)k;
		}
		return (ssize_t)at;
	default:
		return RESP_ERROR;
	}
}

/* Write "<kind><n>\r\n". */
static size_t
resp_put_prefixed(char *out, char kind, size_t n)
{
	char digits[20];
	size_t i = sizeof(digits), k = 0;

	do {
		digits[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n != 0);
	out[k++] = kind;
	memcpy(out + k, digits + i, sizeof(digits) - i);
	k += sizeof(digits) - i;
	out[k++] = '\r';
	out[k++] = '\n';
	return k;
}

/* Write a bulk string; out needs len + RESP_BULK_OVERHEAD bytes. */
size_t
resp_put_bulk(char *out, const void *p, size_t len)
{
	size_t k = resp_put_prefixed(out, '$', len);

	memcpy(out + k, p, len);
	out[k + len] = '\r';
	out[k + len + 1] = '\n';
	return k + len + 2;
}

/* Write an array header; out needs RESP_BULK_OVERHEAD bytes. */
size_t
resp_put_array(char *out, size_t n)
{
	return resp_put_prefixed(out, '*', n);
}

/* Encode a command as multibulk. Returns its length, or 0 if cap is short. */
size_t
resp_command(char *out, size_t cap, size_t argc, const struct resp_arg *argv)
{
	size_t need = RESP_BULK_OVERHEAD, n;

	for (size_t i = 0; i < argc; i++)
		need += argv[i].len + RESP_BULK_OVERHEAD;
	if (need > cap)
		return 0;
	n = resp_put_array(out, argc);
	for (size_t i = 0; i < argc; i++)
		n += resp_put_bulk(out + n, argv[i].p, argv[i].len);
	return n;
}

/* Case-insensitive match of an argument against a keyword. */
int
resp_arg_is(const struct resp_arg *a, const char *word)
{
	return strlen(word) == a->len && strncasecmp(a->p, word, a->len) == 0;
}
