/* SPDX-License-Identifier: MIT */
/* Unit tests for protocol/resp.c: commands in (multibulk, inline), replies. */
#include <string.h>

#include "resp.h"
#include "testhelp.h"

#define MAX_ARGS	8
#define MAX_ARG_LEN	16
#define MAX_INLINE	64

static const struct resp_limits lim = { MAX_ARGS, MAX_ARG_LEN, MAX_INLINE };
static struct resp_arg argv[MAX_ARGS];
static size_t argc;
static char scratch[MAX_INLINE];
static const char *err;

static ssize_t	cmd_len(const char *s, size_t len);
static ssize_t	cmd(const char *s);
static int	arg_eq(size_t i, const char *want);

/* Parse one command from len guarded bytes. */
static ssize_t
cmd_len(const char *s, size_t len)
{
	err = NULL;
	return resp_parse_command(codec_guarded(s, len), len, &lim, argv,
	    &argc, scratch, &err);
}

/* Parse one command from a guarded C string. */
static ssize_t
cmd(const char *s)
{
	return cmd_len(s, strlen(s));
}

/* True when argument i is exactly want. */
static int
arg_eq(size_t i, const char *want)
{
	return i < argc && argv[i].len == strlen(want) &&
	    memcmp(argv[i].p, want, argv[i].len) == 0;
}

/* A multibulk command and inline commands with CRLF and bare LF. */
static void
test_basic(void)
{
	static const char mb[] = "*3\r\n$8\r\nVALIDITY\r\n$6\r\nABC123\r\n"
	    "$0\r\n\r\n";
	static const char spaced[] = "  validity \t abc123   at 2026-01-01 \r\n";

	CHECK_EQ_INT(cmd(mb), strlen(mb));
	CHECK_EQ_INT(argc, 3);
	CHECK(arg_eq(0, "VALIDITY") && arg_eq(1, "ABC123") && arg_eq(2, ""));
	CHECK_EQ_INT(cmd("PING\r\n"), 6);
	CHECK(argc == 1 && arg_eq(0, "PING"));
	CHECK_EQ_INT(cmd("PING\n"), 5);
	CHECK(argc == 1 && arg_eq(0, "PING"));
	CHECK_EQ_INT(cmd(spaced), strlen(spaced));
	CHECK(argc == 4 && arg_eq(0, "validity") && arg_eq(1, "abc123") &&
	    arg_eq(2, "at") && arg_eq(3, "2026-01-01"));
	/* Binary bytes in a bulk, CRLF included, come through as they are. */
	CHECK_EQ_INT(cmd_len("*1\r\n$4\r\na\r\nb\r\n", 14), 14);
	CHECK(argc == 1 && argv[0].len == 4 && memcmp(argv[0].p, "a\r\nb", 4)
	    == 0);
	CHECK_EQ_INT(cmd("*1\r\n$16\r\n0123456789abcdef\r\n"), 27);
	CHECK(arg_eq(0, "0123456789abcdef"));
	CHECK_EQ_INT(cmd("*8\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
	    "$1\r\ne\r\n$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n"), 60);
	CHECK(argc == 8 && arg_eq(7, "h"));
}

/* Several commands back to back are consumed one by one. */
static void
test_pipeline(void)
{
	static const char in[] = "*1\r\n$4\r\nPING\r\nINFO\r\n"
	    "*2\r\n$4\r\nAUTH\r\n$3\r\ntok\r\nQUIT\n";
	const char *p = in;
	size_t left = strlen(in);
	static const char *const first[] = { "PING", "INFO", "AUTH", "QUIT" };
	static const size_t lens[] = { 14, 6, 23, 5 };

	for (size_t i = 0; i < 4; i++) {
		ssize_t n = resp_parse_command(p, left, &lim, argv, &argc,
		    scratch, &err);

		CHECK_EQ_INT(n, lens[i]);
		CHECK(arg_eq(0, first[i]));
		if (n <= 0)
			return;
		p += n;
		left -= (size_t)n;
	}
	CHECK_EQ_INT(left, 0);
	CHECK_EQ_INT(resp_parse_command(p, left, &lim, argv, &argc, scratch,
	    &err), RESP_PARTIAL);
}

/* Every strict prefix of a command is PARTIAL, and reads nothing beyond. */
static void
test_every_prefix(void)
{
	static const char *const cmds[] = {
		"*3\r\n$8\r\nVALIDITY\r\n$6\r\nABC123\r\n$0\r\n\r\n",
		"*1\r\n$16\r\n0123456789abcdef\r\n",
		"*0\r\n",
		"PING\r\n",
		"COVERAGE abc123 medical REGION 110000\r\n",
		"SET \"a b\" 'c d' \"\\x41\"\r\n",
		"\r\n",
		"\n",
	};
	long bad = 0;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		size_t len = strlen(cmds[i]);

		for (size_t k = 0; k < len; k++)
			bad += cmd_len(cmds[i], k) != RESP_PARTIAL;
		CHECK_EQ_INT(cmd_len(cmds[i], len), len);
	}
	CHECK_EQ_INT(bad, 0);
}

/* Multibulk input that can never become valid is an error with a message. */
static void
test_multibulk_errors(void)
{
	static const char *const bad[] = {
		"*x\r\n",			/* bad count */
		"*\r\n",			/* empty count */
		"*1x\r\n",
		"*1\rx",
		"*12345678901234567890\r\n",	/* count too long */
		"*9\r\n",			/* more than max_args */
		"*2\r\n+foo\r\n",		/* '$' missing */
		"*1\r\n:1\r\n",
		"*1\r\nfoo\r\n",
		"*1\r\n$17\r\n0123456789abcdefg\r\n",	/* > max_arg_len */
		"*1\r\n$99999999\r\n",
		"*1\r\n$-1\r\n",		/* negative lengths */
		"*1\r\n$-3\r\nabc\r\n",
		"*1\r\n$\r\n",
		"*1\r\n$3\r\nfooXY",		/* no CRLF after the bulk */
		"*1\r\n$3\r\nfoo\rX",
		"*1\r\n$3\r\nfoo\n\r",
		"*2\r\n$3\r\nfoo\r\n$x\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(cmd(bad[i]), RESP_ERROR);
		CHECK(err != NULL);
	}
}

/* Inline lines are split like redis-cli: quotes and escapes. */
static void
test_inline_quoting(void)
{
	CHECK_EQ_INT(cmd("SET \"a b\" 'c d' \"\\x41\\x7a\" plain\r\n"), 34);
	CHECK_EQ_INT(argc, 5);
	CHECK(arg_eq(0, "SET") && arg_eq(1, "a b") && arg_eq(2, "c d") &&
	    arg_eq(3, "Az") && arg_eq(4, "plain"));
	CHECK(cmd("X \"tab\\there\\n\" 'it\\'s' \"q\\\"q\"\n") > 0);
	CHECK(argc == 4 && arg_eq(1, "tab\there\n") && arg_eq(2, "it's") &&
	    arg_eq(3, "q\"q"));
	CHECK(cmd("X \"\" ''\n") > 0);
	CHECK(argc == 3 && arg_eq(1, "") && arg_eq(2, ""));
	/* Single quotes keep backslashes other than \'. */
	CHECK(cmd("X 'a\\x41'\n") > 0);
	CHECK(argc == 2 && arg_eq(1, "a\\x41"));
	/* A quote at the end of the line before CRLF still closes. */
	CHECK_EQ_INT(cmd("X \"a\"\r\n"), 7);
	CHECK(argc == 2 && arg_eq(1, "a"));
}

/* Broken quoting is an error, like redis-cli's "unbalanced quotes". */
static void
test_inline_quote_errors(void)
{
	static const char *const bad[] = {
		"SET \"abc\r\n",
		"SET 'abc\r\n",
		"SET \"a\"b\r\n",		/* closing quote then a letter */
		"SET 'a'b\r\n",
		"SET \"a\"\"b\"\r\n",
		"SET \"abc\\\"\r\n",		/* escaped closing quote */
		"SET \"abc\\\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(cmd(bad[i]), RESP_ERROR);
		CHECK(err != NULL);
	}
}

/* An empty or blank line is consumed with no arguments. */
static void
test_inline_empty(void)
{
	CHECK_EQ_INT(cmd("\r\n"), 2);
	CHECK_EQ_INT(argc, 0);
	CHECK_EQ_INT(cmd("\n"), 1);
	CHECK_EQ_INT(argc, 0);
	CHECK_EQ_INT(cmd(" \t \r\n"), 5);
	CHECK_EQ_INT(argc, 0);
}

/* Inline limits: too many arguments, and a line longer than max_inline. */
static void
test_inline_limits(void)
{
	char line[256];
	ssize_t r;

	CHECK_EQ_INT(cmd("a b c d e f g h\r\n"), 17);
	CHECK_EQ_INT(argc, 8);
	CHECK_EQ_INT(cmd("a b c d e f g h i\r\n"), RESP_ERROR);
	/* max_inline bytes without a line end may still end: partial. */
	memset(line, 'a', sizeof(line));
	CHECK_EQ_INT(cmd_len(line, MAX_INLINE), RESP_PARTIAL);
	CHECK_EQ_INT(cmd_len(line, MAX_INLINE + 1), RESP_ERROR);
	CHECK_EQ_INT(cmd_len(line, sizeof(line)), RESP_ERROR);
	/* A line of exactly max_inline bytes is fine, whatever its line end. */
	line[MAX_INLINE] = '\n';
	CHECK_EQ_INT(cmd_len(line, MAX_INLINE + 1), MAX_INLINE + 1);
	CHECK(argc == 1 && argv[0].len == MAX_INLINE);
	line[MAX_INLINE] = '\r';
	line[MAX_INLINE + 1] = '\n';
	r = cmd_len(line, MAX_INLINE + 2);
	CHECK_EQ_INT(r, MAX_INLINE + 2);
	if (r > 0)
		CHECK(argc == 1 && argv[0].len == MAX_INLINE);
	/* One byte longer is an error even with its line end in view. */
	line[MAX_INLINE] = 'a';
	line[MAX_INLINE + 1] = '\n';
	CHECK_EQ_INT(cmd_len(line, MAX_INLINE + 2), RESP_ERROR);
}

/* Replies: status, error, integer, bulk, null, arrays. */
static void
test_replies(void)
{
	static const char arr[] = "*2\r\n$3\r\nfoo\r\n$5\r\nbarba\r\n";
	struct resp_reply r;

	CHECK_EQ_INT(resp_parse_reply("+OK\r\n", 5, &r), 5);
	CHECK(r.type == RESP_STATUS);
	CHECK_EQ_STR(r.p, r.len, "OK");
	CHECK_EQ_INT(resp_parse_reply("-ERR stale\r\n", 12, &r), 12);
	CHECK(r.type == RESP_ERRMSG);
	CHECK_EQ_STR(r.p, r.len, "ERR stale");
	CHECK_EQ_INT(resp_parse_reply(":42\r\n", 5, &r), 5);
	CHECK(r.type == RESP_INTEGER && r.integer == 42);
	CHECK_EQ_INT(resp_parse_reply(":-7\r\n", 5, &r), 5);
	CHECK(r.type == RESP_INTEGER && r.integer == -7);
	CHECK_EQ_INT(resp_parse_reply("$3\r\nfoo\r\n", 9, &r), 9);
	CHECK(r.type == RESP_BULK);
	CHECK_EQ_STR(r.p, r.len, "foo");
	CHECK_EQ_INT(resp_parse_reply("$0\r\n\r\n", 6, &r), 6);
	CHECK(r.type == RESP_BULK && r.len == 0);
	CHECK_EQ_INT(resp_parse_reply("$-1\r\n", 5, &r), 5);
	CHECK(r.type == RESP_NULL);
	CHECK_EQ_INT(resp_parse_reply(arr, strlen(arr), &r), strlen(arr));
	CHECK(r.type == RESP_ARRAY && r.integer == 2 && r.nelem == 2);
	CHECK_EQ_STR(r.elem[0].p, r.elem[0].len, "foo");
	CHECK_EQ_STR(r.elem[1].p, r.elem[1].len, "barba");
	CHECK_EQ_INT(resp_parse_reply("*2\r\n$1\r\na\r\n$-1\r\n", 16, &r), 16);
	CHECK(r.type == RESP_ARRAY && r.nelem == 2 && r.elem[1].p == NULL);
	CHECK_EQ_INT(resp_parse_reply("*0\r\n", 4, &r), 4);
	CHECK(r.type == RESP_ARRAY && r.nelem == 0);
	/* Two replies back to back: only the first is consumed. */
	CHECK_EQ_INT(resp_parse_reply("+A\r\n+B\r\n", 8, &r), 4);
}

/* Every strict prefix of a reply is PARTIAL (guarded). */
static void
test_reply_prefixes(void)
{
	static const char *const replies[] = {
		"+OK\r\n", "-ERR x\r\n", ":12345\r\n", "$3\r\nfoo\r\n",
		"$-1\r\n", "*2\r\n$3\r\nfoo\r\n$5\r\nbarba\r\n",
		"*2\r\n+a\r\n$-1\r\n",
	};
	struct resp_reply r;
	long bad = 0;

	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		size_t len = strlen(replies[i]);

		for (size_t k = 0; k < len; k++)
			bad += resp_parse_reply(codec_guarded(replies[i], k), k,
			    &r) != RESP_PARTIAL;
		CHECK_EQ_INT(resp_parse_reply(codec_guarded(replies[i], len),
		    len, &r), len);
	}
	CHECK_EQ_INT(bad, 0);
}

/* Malformed replies are errors, not guesses. */
static void
test_reply_errors(void)
{
	static const char *const bad[] = {
		"?x\r\n", "+OK\n", ":abc\r\n", ":\r\n", "$x\r\n",
		"$3\r\nfooXY",		/* the bulk is not ended by CRLF */
		"$3\r\nfoo\n\n",
		"*1\r\n*1\r\n+a\r\n",	/* nested arrays are not ours */
	};
	struct resp_reply r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(resp_parse_reply(codec_guarded(bad[i],
		    strlen(bad[i])), strlen(bad[i]), &r), RESP_ERROR);
}

/* resp_command / resp_put_bulk produce what resp_parse_command reads. */
static void
test_encode_round_trip(void)
{
	const struct resp_arg in[] = {
		{ "COVERAGE", 8 }, { "abc123", 6 }, { "", 0 },
		{ "a b\r\n\"'", 7 }, { "0123456789abcdef", 16 },
	};
	char out[512], bulk[64];
	size_t n;

	n = resp_command(out, sizeof(out), 5, in);
	CHECK(n > 0);
	CHECK_EQ_INT(cmd_len(out, n), n);
	CHECK_EQ_INT(argc, 5);
	for (size_t i = 0; i < 5; i++)
		CHECK(argv[i].len == in[i].len &&
		    memcmp(argv[i].p, in[i].p, in[i].len) == 0);
	n = resp_command(out, sizeof(out), 1, in);
	CHECK_EQ_STR(out, n, "*1\r\n$8\r\nCOVERAGE\r\n");
	CHECK_EQ_INT(resp_command(out, 10, 1, in), 0);
	CHECK_EQ_INT(resp_command(out, 0, 0, in), 0);
	n = resp_put_bulk(bulk, "foo", 3);
	CHECK_EQ_STR(bulk, n, "$3\r\nfoo\r\n");
	n = resp_put_bulk(bulk, "", 0);
	CHECK_EQ_STR(bulk, n, "$0\r\n\r\n");
	n = resp_put_array(bulk, 12);
	CHECK_EQ_STR(bulk, n, "*12\r\n");
}

/* Keywords match case-insensitively and exactly. */
static void
test_arg_is(void)
{
	struct resp_arg a = { "bYpErMiT", 8 }, b = { "AT", 2 };

	CHECK(resp_arg_is(&a, "BYPERMIT"));
	CHECK(resp_arg_is(&b, "at"));
	CHECK(!resp_arg_is(&b, "ATX"));
	CHECK(!resp_arg_is(&a, "BYPERMI"));
}

int
main(void)
{
	test_basic();
	test_pipeline();
	test_every_prefix();
	test_multibulk_errors();
	test_inline_quoting();
	test_inline_quote_errors();
	test_inline_empty();
	test_inline_limits();
	test_replies();
	test_reply_prefixes();
	test_reply_errors();
	test_encode_round_trip();
	test_arg_is();
	TEST_REPORT("resp");
}
