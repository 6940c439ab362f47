/* SPDX-License-Identifier: MIT */
/* Unit tests for daemon/batch.c: POST /v1/check bodies (PROTOCOL.md §5.2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "testhelp.h"

#define MAX	100

static struct check_req *reqs;
static size_t n;
static int too_many;
static char detail[256];

static int	parse_max(const char *body, size_t max);
static int	parse(const char *body);
static char	*many(size_t count, const char *item);
static int	detail_starts(const char *prefix);

/* batch_parse with a given limit; frees the previous result. */
static int
parse_max(const char *body, size_t max)
{
	free(reqs);
	reqs = NULL;
	n = 12345;
	too_many = -1;
	memset(detail, 0, sizeof(detail));
	return batch_parse(body, strlen(body), max, &reqs, &n, &too_many,
	    detail, sizeof(detail));
}

/* batch_parse with the default limit of 100. */
static int
parse(const char *body)
{
	return parse_max(body, MAX);
}

/* {"checks":[item,item,...]} with count items (caller frees). */
static char *
many(size_t count, const char *item)
{
	size_t len = 16 + count * (strlen(item) + 1);
	char *s = malloc(len);
	size_t at;

	if (s == NULL)
		abort();
	at = (size_t)snprintf(s, len, "{\"checks\":[");
	for (size_t i = 0; i < count; i++)
		at += (size_t)snprintf(s + at, len - at, "%s%s", i ? "," : "",
		    item);
	snprintf(s + at, len - at, "]}");
	return s;
}

/* True when detail starts with prefix. */
static int
detail_starts(const char *prefix)
{
	int ok = strncmp(detail, prefix, strlen(prefix)) == 0;

	if (!ok)
		fprintf(stderr, "  detail was \"%s\", wanted \"%s...\"\n",
		    detail, prefix);
	return ok;
}

/* One check, and every parameter carried through. */
static void
test_one(void)
{
	CHECK_EQ_INT(parse("{\"checks\":[{\"check\":\"validity\","
	    "\"card\":\"abc123\"}]}"), 0);
	CHECK_EQ_INT(n, 1);
	CHECK(reqs != NULL);
	if (reqs == NULL)
		return;
	CHECK_EQ_INT(reqs[0].check, STMT_VALIDITY);
	CHECK_EQ_STR(reqs[0].id, reqs[0].id_len, "ABC123");
	CHECK(!reqs[0].by_permit);
	CHECK_EQ_INT(parse("{\"checks\":[{\"permit\":\"p1234567\","
	    "\"check\":\"coverage\",\"scheme\":\"injury\",\"region\":\"440300\","
	    "\"at\":\"2024-02-29\",\"birth\":\"1990-05-17\",\"nonce\":\"x-_\"}]}"),
	    0);
	CHECK(n == 1 && reqs != NULL);
	if (reqs == NULL)
		return;
	CHECK_EQ_INT(reqs[0].check, STMT_COVERAGE);
	CHECK(reqs[0].by_permit);
	CHECK_EQ_STR(reqs[0].id, reqs[0].id_len, "P1234567");
	CHECK_EQ_INT(reqs[0].scheme, SCHEME_INJURY);
	CHECK_EQ_INT(reqs[0].region, 440300);
	CHECK(reqs[0].has_at && reqs[0].has_birth && reqs[0].has_nonce);
	CHECK_EQ_STR(reqs[0].nonce, reqs[0].nonce_len, "x-_");
	/* Members in any order: "check" may come last. */
	CHECK_EQ_INT(parse("{\"checks\":[{\"scheme\":\"pension\","
	    "\"region\":\"110000\",\"card\":\"ABC123\","
	    "\"check\":\"coverage\"}]}"), 0);
	CHECK(reqs != NULL && reqs[0].check == STMT_COVERAGE &&
	    reqs[0].scheme == SCHEME_PENSION && reqs[0].region == 110000);
	/* Whitespace anywhere JSON allows it. */
	CHECK_EQ_INT(parse(" {\n \"checks\" : [ { \"check\" : \"validity\" ,"
	    " \"card\" : \"ABC123\" } ] }\n"), 0);
}

/* 100 checks are fine; 0 is malformed; 101 is too many (413). */
static void
test_sizes(void)
{
	static const char item[] = "{\"check\":\"coverage\",\"card\":\"ABC123\","
	    "\"scheme\":\"medical\"}";
	char *b100 = many(100, item), *b101 = many(101, item);

	CHECK_EQ_INT(parse(b100), 0);
	CHECK_EQ_INT(n, 100);
	CHECK(reqs != NULL && reqs[99].check == STMT_COVERAGE &&
	    reqs[99].scheme == SCHEME_MEDICAL);
	CHECK_EQ_INT(parse(b101), -1);
	CHECK_EQ_INT(too_many, 1);
	CHECK(reqs == NULL);
	CHECK(detail[0] != '\0');
	CHECK_EQ_INT(parse("{\"checks\":[]}"), -1);
	CHECK_EQ_INT(too_many, 0);
	CHECK(detail[0] != '\0');
	/* The limit is the caller's. */
	CHECK_EQ_INT(parse_max(b100, 99), -1);
	CHECK_EQ_INT(too_many, 1);
	free(b100);
	free(b101);
	b100 = many(6, item);
	CHECK_EQ_INT(parse_max(b100, 5), -1);
	CHECK_EQ_INT(too_many, 1);
	CHECK_EQ_INT(parse_max(b100, 6), 0);
	free(b100);
}

/* The body must be {"checks":[...]} and nothing else. */
static void
test_shape(void)
{
	static const char *const bad[] = {
		"", "null", "[]", "\"checks\"", "42",
		"{}",
		"{\"checks\":{}}",
		"{\"checks\":\"validity\"}",
		"{\"checks\":null}",
		"{\"Checks\":[{\"check\":\"validity\",\"card\":\"ABC123\"}]}",
		"{\"checks\":[{\"check\":\"validity\",\"card\":\"ABC123\"}],"
		    "\"x\":1}",
		"{\"checks\":[{\"check\":\"validity\",\"card\":\"ABC123\"}],"
		    "\"checks\":[{\"check\":\"validity\",\"card\":\"ABC123\"}]}",
		"{\"checks\":[{\"check\":\"validity\",\"card\":\"ABC123\"}]",
		"{\"checks\":[{\"check\":\"validity\",\"card\":\"ABC123\"},]}",
		"{\"checks\":[{\"check\":\"validity\",\"card\":\"ABC123\"}]} x",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(parse(bad[i]), -1);
		CHECK_EQ_INT(too_many, 0);
		CHECK(reqs == NULL);
		CHECK(detail[0] != '\0');
	}
}

/* A bad check refuses the batch, naming its index. */
static void
test_bad_checks(void)
{
	static const struct { const char *item, *why; } bad[] = {
		{ "1", "object" },
		{ "\"validity\"", "object" },
		{ "[]", "object" },
		{ "{\"check\":\"validity\",\"card\":123456}", "string" },
		{ "{\"check\":\"validity\",\"card\":null}", "string" },
		{ "{\"check\":\"validity\",\"card\":[\"ABC123\"]}", "string" },
		{ "{\"check\":true,\"card\":\"ABC123\"}", "string" },
		{ "{\"check\":\"validity\",\"card\":\"ABC123\",\"foo\":\"x\"}",
		    "unknown" },
		{ "{\"card\":\"ABC123\"}", "check" },
		{ "{\"check\":\"validity\"}", "card" },
		{ "{\"check\":\"validity\",\"card\":\"ABC123\","
		    "\"card\":\"ABC124\"}", NULL },	/* duplicate member */
		{ "{\"check\":\"validity\",\"card\":\"ABC123\","
		    "\"scheme\":\"medical\"}", "scheme" },
		{ "{\"check\":\"coverage\",\"card\":\"ABC123\"}", "scheme" },
		{ "{\"check\":\"validity\",\"card\":\"ABC-123\"}", "card" },
		{ "{\"check\":\"validity\",\"card\":\"ABC123\","
		    "\"at\":\"2026-02-30\"}", "at" },
		{ "{\"check\":\"validity\",\"card\":\"ABC123\","
		    "\"permit\":\"P1234567\"}", "card" },
		{ "{\"check\":\"renewal\",\"card\":\"ABC123\"}", "check" },
	};
	static const char good[] = "{\"check\":\"validity\",\"card\":\"ABC123\"}";
	char body[1024];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{\"checks\":[%s,%s,%s,%s,%s]}",
		    good, good, good, bad[i].item, good);
		CHECK_EQ_INT(parse(body), -1);
		CHECK(reqs == NULL);
		CHECK_EQ_INT(too_many, 0);
		if (bad[i].why == NULL)
			continue;	/* jansson refuses the whole body */
		CHECK(detail_starts("checks[3]: "));
		CHECK(strstr(detail, bad[i].why) != NULL);
	}
	/* The first bad check is the one named. */
	snprintf(body, sizeof(body), "{\"checks\":[%s,%s,1,%s]}", good,
	    bad[8].item, good);
	CHECK_EQ_INT(parse(body), -1);
	CHECK(detail_starts("checks[1]: "));
}

int
main(void)
{
	test_one();
	test_sizes();
	test_shape();
	test_bad_checks();
	free(reqs);
	TEST_REPORT("batch");
}
