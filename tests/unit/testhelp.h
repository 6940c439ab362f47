/* SPDX-License-Identifier: MIT */
/*
 * A tiny unit-test harness, in the spirit of redis's testhelp.h: each
 * test_*.c is its own program; CHECK() counts and reports every failure
 * with its line, and TEST_REPORT() makes the exit status say whether all
 * held. codec_guarded() copies input to the end of a page that is
 * followed by a PROT_NONE page (as picohttpparser's test.c does), so a
 * parser that reads one byte too far crashes instead of passing.
 */
#ifndef CARDD_TESTHELP_H
#define CARDD_TESTHELP_H

#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int test_failed, test_checks;

#define CHECK(cond) do {						\
	test_checks++;							\
	if (!(cond)) {							\
		test_failed++;						\
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__,	\
		    __LINE__, #cond);					\
	}								\
} while (0)

#define CHECK_EQ_INT(a, b) do {						\
	long long test_a = (long long)(a), test_b = (long long)(b);	\
	test_checks++;							\
	if (test_a != test_b) {						\
		test_failed++;						\
		fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n",\
		    __FILE__, __LINE__, #a, test_a, #b, test_b);	\
	}								\
} while (0)

#define CHECK_EQ_STR(a, alen, b) do {					\
	size_t test_la = (alen), test_lb = strlen(b);			\
	test_checks++;							\
	if (test_la != test_lb || memcmp((a), (b), test_la) != 0) {	\
		test_failed++;						\
		fprintf(stderr, "%s:%d: got \"%.*s\", expected \"%s\"\n",\
		    __FILE__, __LINE__, (int)test_la, (const char *)(a), (b));\
	}								\
} while (0)

#define TEST_REPORT(name) do {						\
	printf("%s: %d checks, %d failed\n", (name), test_checks,	\
	    test_failed);						\
	return test_failed == 0 ? 0 : 1;				\
} while (0)

/* Copy len bytes so that they end exactly where unreadable memory starts. */
static inline const char *
codec_guarded(const void *data, size_t len)
{
	static char *region;
	static size_t region_len;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (len + page - 1) / page + 1;

	if (region != NULL)
		munmap(region, region_len);
	region_len = (pages + 1) * page;
	region = mmap(NULL, region_len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		abort();
	mprotect(region + pages * page, page, PROT_NONE);
	memcpy(region + pages * page - len, data, len);
	return region + pages * page - len;
}

#endif
