/* SPDX-License-Identifier: MIT */
/* Unit tests for protocol/http1.c: request and response heads, queries. */
#include <string.h>

#include "http1.h"
#include "testhelp.h"

static struct http1_request req;
static const char *err;

static ssize_t	parse_len(const char *s, size_t len);
static ssize_t	parse(const char *s);
static int	hdr_is(size_t i, const char *name, const char *value);

/* Parse a request head from len guarded bytes. */
static ssize_t
parse_len(const char *s, size_t len)
{
	err = NULL;
	memset(&req, 0, sizeof(req));
	return http1_parse_request(codec_guarded(s, len), len, &req, &err);
}

/* Parse a request head from a guarded C string. */
static ssize_t
parse(const char *s)
{
	return parse_len(s, strlen(s));
}

/* True when header i of the last request is name: value. */
static int
hdr_is(size_t i, const char *name, const char *value)
{
	const struct http1_header *h = &req.headers[i];

	return i < req.num_headers && h->name_len == strlen(name) &&
	    memcmp(h->name, name, h->name_len) == 0 &&
	    h->value_len == strlen(value) &&
	    memcmp(h->value, value, h->value_len) == 0;
}

/* Method, target, version and headers, with OWS around values trimmed. */
static void
test_request(void)
{
	static const char in[] = "GET /v1/validity?card=ABC123&at=2026-01-01 "
	    "HTTP/1.1\r\nHost: localhost:8080\r\nX-Pad:  \t spaced  value \t "
	    "\r\nEmpty:\r\nX-Tab:\tx\r\n\r\n";

	CHECK_EQ_INT(parse(in), strlen(in));
	CHECK_EQ_STR(req.method, req.method_len, "GET");
	CHECK_EQ_STR(req.target, req.target_len,
	    "/v1/validity?card=ABC123&at=2026-01-01");
	CHECK_EQ_INT(req.minor, 1);
	CHECK_EQ_INT(req.num_headers, 4);
	CHECK(hdr_is(0, "Host", "localhost:8080"));
	CHECK(hdr_is(1, "X-Pad", "spaced  value"));
	CHECK(hdr_is(2, "Empty", ""));
	CHECK(hdr_is(3, "X-Tab", "x"));
	CHECK_EQ_INT(parse("POST /v1/check HTTP/1.0\r\n\r\n"), 27);
	CHECK_EQ_STR(req.method, req.method_len, "POST");
	CHECK_EQ_INT(req.minor, 0);
	CHECK_EQ_INT(req.num_headers, 0);
	/* Bytes after the head (a body, the next request) are not consumed. */
	CHECK_EQ_INT(parse("GET / HTTP/1.1\r\n\r\nBODY"), 18);
}

/* Two requests back to back are parsed one after the other. */
static void
test_pipelined(void)
{
	static const char in[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /b HTTP/1.1\r\nHost: y\r\n\r\n";
	const char *g = codec_guarded(in, strlen(in));
	ssize_t n = http1_parse_request(g, strlen(in), &req, &err);

	CHECK_EQ_INT(n, 28);
	CHECK_EQ_STR(req.target, req.target_len, "/a");
	if (n <= 0)
		return;
	CHECK_EQ_INT(http1_parse_request(g + n, strlen(in) - (size_t)n, &req,
	    &err), 28);
	CHECK_EQ_STR(req.target, req.target_len, "/b");
	CHECK(hdr_is(0, "Host", "y"));
}

/* Every strict prefix of a valid head is PARTIAL, with no over-read. */
static void
test_every_prefix(void)
{
	static const char *const heads[] = {
		"GET /v1/validity?card=ABC123 HTTP/1.1\r\nHost: x\r\n"
		    "Connection: keep-alive\r\n\r\n",
		"GET / HTTP/1.1\n\n",
		"\r\nGET / HTTP/1.0\r\nA: b\r\n\r\n",
		"POST /v1/check HTTP/1.1\r\nContent-Length: 10\r\n\r\n",
	};
	long bad = 0;

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		size_t len = strlen(heads[i]);

		for (size_t k = 0; k < len; k++)
			bad += parse_len(heads[i], k) != HTTP1_PARTIAL;
		CHECK_EQ_INT(parse_len(heads[i], len), len);
	}
	CHECK_EQ_INT(bad, 0);
}

/* Heads that can never become valid are errors. */
static void
test_errors(void)
{
	static const char *const bad[] = {
		"GET /a b HTTP/1.1\r\n\r\n",		/* space in target */
		"GET  / HTTP/1.1\r\n\r\n",		/* empty target */
		" GET / HTTP/1.1\r\n\r\n",		/* empty method */
		"G(T / HTTP/1.1\r\n\r\n",		/* not a token */
		"GET /\x01 HTTP/1.1\r\n\r\n",		/* control in target */
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.x\r\n\r\n",
		"GET / HTTP/1.10\r\n\r\n",
		"GET / HTTX/1.1\r\n\r\n",
		"GET / http/1.1\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",
		"GET / HTTP/1.1\rX\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n",	/* control chars */
		"GET / HTTP/1.1\r\nX: a\x7f" "b\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",	/* bare CR */
		"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",	/* obs-fold */
		"GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n",
		"GET / HTTP/1.1\r\n Host: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost x\r\n\r\n",	/* missing colon */
		"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
		"GET / HTTP/1.1\r\n: x\r\n\r\n",	/* empty name */
		"GET / HTTP/1.1\r\nHo\"st: x\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\r\n",
	};
	size_t lens[sizeof(bad) / sizeof(bad[0])];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		lens[i] = strlen(bad[i]);
	lens[14] = strlen("GET / HTTP/1.1\r\nX: a") + 1 + strlen("b\r\n\r\n");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(parse_len(bad[i], lens[i]), HTTP1_ERROR);
}

/* At most HTTP1_MAX_HEADERS (32) header fields. */
static void
test_header_limit(void)
{
	char buf[2048];
	size_t n = 0;

	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 32; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "H%d: v\r\n", i);
	memcpy(buf + n, "\r\n", 2);
	CHECK_EQ_INT(parse_len(buf, n + 2), n + 2);
	CHECK_EQ_INT(req.num_headers, 32);
	CHECK(hdr_is(31, "H31", "v"));
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "H32: v\r\n\r\n");
	CHECK_EQ_INT(parse_len(buf, n), HTTP1_ERROR);
}

/* Bare LF line ends and a few leading empty lines are tolerated. */
static void
test_lenient_line_ends(void)
{
	static const char lf[] = "GET /x HTTP/1.1\nHost: a\nB: c\r\n\n";
	static const char lead[] = "\r\n\r\nGET /y HTTP/1.1\r\n\r\n";
	static const char lead_lf[] = "\nGET /z HTTP/1.1\r\n\r\n";

	CHECK_EQ_INT(parse(lf), strlen(lf));
	CHECK(req.num_headers == 2 && hdr_is(0, "Host", "a") &&
	    hdr_is(1, "B", "c"));
	CHECK_EQ_INT(parse(lead), strlen(lead));
	CHECK_EQ_STR(req.target, req.target_len, "/y");
	CHECK_EQ_INT(parse(lead_lf), strlen(lead_lf));
	CHECK_EQ_STR(req.target, req.target_len, "/z");
}

/* Response heads for clients: status, version, headers, prefixes. */
static void
test_response(void)
{
	static const char in[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Card-Signature: a..b\r\n\r\nhello";
	static const char nf[] = "HTTP/1.0 404 Not Found\r\n\r\n";
	struct http1_response r;
	size_t head = strlen(in) - 5;
	long bad = 0;

	CHECK_EQ_INT(http1_parse_response(codec_guarded(in, strlen(in)),
	    strlen(in), &r), head);
	CHECK(r.status == 200 && r.minor == 1 && r.num_headers == 2);
	CHECK_EQ_STR(r.headers[1].value, r.headers[1].value_len, "a..b");
	CHECK(http1_find(r.headers, r.num_headers, "content-length") ==
	    &r.headers[0]);
	CHECK(http1_find(r.headers, r.num_headers, "content-type") == NULL);
	CHECK_EQ_INT(http1_parse_response(codec_guarded(nf, strlen(nf)),
	    strlen(nf), &r), strlen(nf));
	CHECK(r.status == 404 && r.minor == 0 && r.num_headers == 0);
	for (size_t k = 0; k < head; k++)
		bad += http1_parse_response(codec_guarded(in, k), k, &r) !=
		    HTTP1_PARTIAL;
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(http1_parse_response("HTTP/2 200 OK\r\n\r\n", 17, &r),
	    HTTP1_ERROR);
	CHECK_EQ_INT(http1_parse_response("HTTP/1.1 2x0 OK\r\n\r\n", 19, &r),
	    HTTP1_ERROR);
	CHECK_EQ_INT(http1_parse_response("HTTP/1.1 200 OK\r\nX\r\n\r\n", 22,
	    &r), HTTP1_ERROR);
}

/* RFC 9112 §4 status line: "HTTP/" DIGIT "." DIGIT SP 3DIGIT SP reason. */
static void
test_response_status_line(void)
{
	static const char *const bad[] = {
		"HTTP/1.x 200 OK\r\n\r\n",		/* minor not a digit */
		"HTTP/1.1 2000 OK\r\n\r\n",		/* four-digit status */
		"HTTP/1.1 200OK\r\n\r\n",		/* no SP after status */
	};
	struct http1_response r;

	CHECK_EQ_INT(http1_parse_response("HTTP/1.1 204 \r\n\r\n", 17, &r),
	    17);
	CHECK_EQ_INT(r.status, 204);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(http1_parse_response(codec_guarded(bad[i],
		    strlen(bad[i])), strlen(bad[i]), &r), HTTP1_ERROR);
}

/* Tokens compare case-insensitively against a lowercase word. */
static void
test_token_is(void)
{
	CHECK(http1_token_is("Keep-Alive", 10, "keep-alive"));
	CHECK(!http1_token_is("Keep-Alive", 9, "keep-alive"));
	CHECK(!http1_token_is("close", 5, "keep-alive"));
}

/* Query pairs: empty pairs skipped, a name without '=', a trailing '&'. */
static void
test_query(void)
{
	static const char q[] = "card=ABC123&&at=2026-01-01&flag&=v&a=b=c&";
	const char *cur = q, *end = q + strlen(q);
	struct http1_param p;

	CHECK_EQ_INT(http1_query_next(&cur, end, &p), 1);
	CHECK_EQ_STR(p.name, p.name_len, "card");
	CHECK_EQ_STR(p.value, p.value_len, "ABC123");
	CHECK_EQ_INT(http1_query_next(&cur, end, &p), 1);
	CHECK_EQ_STR(p.name, p.name_len, "at");
	CHECK_EQ_STR(p.value, p.value_len, "2026-01-01");
	CHECK_EQ_INT(http1_query_next(&cur, end, &p), 1);
	CHECK_EQ_STR(p.name, p.name_len, "flag");
	CHECK_EQ_INT(p.value_len, 0);
	CHECK_EQ_INT(http1_query_next(&cur, end, &p), 1);
	CHECK_EQ_INT(p.name_len, 0);
	CHECK_EQ_STR(p.value, p.value_len, "v");
	CHECK_EQ_INT(http1_query_next(&cur, end, &p), 1);
	CHECK_EQ_STR(p.name, p.name_len, "a");
	CHECK_EQ_STR(p.value, p.value_len, "b=c");
	CHECK_EQ_INT(http1_query_next(&cur, end, &p), 0);
	CHECK_EQ_INT(http1_query_next(&cur, end, &p), 0);
	cur = "&&&";
	CHECK_EQ_INT(http1_query_next(&cur, cur + 3, &p), 0);
	cur = "";
	CHECK_EQ_INT(http1_query_next(&cur, cur, &p), 0);
}

/* Percent-decoding: %XX either case, '+' as space, broken escapes. */
static void
test_pct_decode(void)
{
	static const char *const bad[] = {
		"%4", "%G1", "%1G", "%", "abc%", "abc%4", "%%41", "% 41",
		"%-1",
	};
	char out[64];
	ssize_t n;

	n = http1_pct_decode("%41", 3, out);
	CHECK_EQ_STR(out, n, "A");
	n = http1_pct_decode("a+b%20c%2B%2b", 13, out);
	CHECK_EQ_STR(out, n, "a b c++");
	n = http1_pct_decode("%e4%B8%AD", 9, out);
	CHECK_EQ_STR(out, n, "\xe4\xb8\xad");
	n = http1_pct_decode("", 0, out);
	CHECK_EQ_INT(n, 0);
	n = http1_pct_decode("%00", 3, out);
	CHECK(n == 1 && out[0] == '\0');
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(http1_pct_decode(codec_guarded(bad[i],
		    strlen(bad[i])), strlen(bad[i]), out), -1);
}

/* Content-Length: digits only, bounded so it cannot overflow. */
static void
test_length(void)
{
	static const char *const bad[] = {
		"", "+1", "-1", " 1", "1 ", "0x10", "1e3", "12a",
		"1000000000000000", "99999999999999999999999",
	};
	size_t v = 99;

	CHECK(http1_parse_length("0", 1, &v) == 0 && v == 0);
	CHECK(http1_parse_length("65536", 5, &v) == 0 && v == 65536);
	CHECK(http1_parse_length("007", 3, &v) == 0 && v == 7);
	CHECK(http1_parse_length("999999999999999", 15, &v) == 0 &&
	    v == 999999999999999ull);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 99;
		CHECK_EQ_INT(http1_parse_length(bad[i], strlen(bad[i]), &v),
		    -1);
		CHECK_EQ_INT(v, 99);
	}
}

int
main(void)
{
	test_request();
	test_pipelined();
	test_every_prefix();
	test_errors();
	test_header_limit();
	test_lenient_line_ends();
	test_response();
	test_response_status_line();
	test_token_is();
	test_query();
	test_pct_decode();
	test_length();
	TEST_REPORT("http1");
}
