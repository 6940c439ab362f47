/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for daemon/sync_reply.c: a reader with cardd's reply object
 * functions must give the same replies as hiredis's own reader, for every
 * kind of reply, whole or fed a byte at a time, and again and again as
 * the free lists are reused; a reply cut short or malformed is freed.
 */
#include <string.h>

#include <hiredis/hiredis.h>

#include "sync_reply.h"
#include "testhelp.h"

static int	same(const redisReply *, const redisReply *);
static void	both(const char *, size_t, size_t);

/* Are two replies equal, all the way down? */
static int
same(const redisReply *a, const redisReply *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case REDIS_REPLY_INTEGER:
		return a->integer == b->integer;
	case REDIS_REPLY_NIL:
		return 1;
	case REDIS_REPLY_ARRAY:
		if (a->elements != b->elements)
			return 0;
		for (size_t i = 0; i < a->elements; i++)
			if (!same(a->element[i], b->element[i]))
				return 0;
		return 1;
	default:
		return a->len == b->len && memcmp(a->str, b->str, a->len) == 0 &&
		    a->str[a->len] == '\0';
	}
}

/* Feed wire to both readers, step bytes at a time; compare each reply. */
static void
both(const char *wire, size_t len, size_t step)
{
	redisReader *ours = redisReaderCreateWithFunctions(
	    sync_reply_functions());
	redisReader *theirs = redisReaderCreate();
	void *a, *b;
	int replies = 0;

	for (size_t at = 0; at < len; at += step) {
		size_t n = len - at < step ? len - at : step;

		CHECK_EQ_INT(redisReaderFeed(ours, wire + at, n), REDIS_OK);
		CHECK_EQ_INT(redisReaderFeed(theirs, wire + at, n), REDIS_OK);
		for (;;) {
			int ra = redisReaderGetReply(ours, &a);
			int rb = redisReaderGetReply(theirs, &b);

			CHECK_EQ_INT(ra, rb);
			if (ra != REDIS_OK || a == NULL || b == NULL) {
				CHECK(a == NULL && b == NULL);
				break;
			}
			CHECK(same(a, b));
			replies++;
			freeReplyObject(b);
			sync_reply_functions()->freeObject(a);
		}
	}
	CHECK(replies > 0);
	redisReaderFree(ours);
	redisReaderFree(theirs);
}

/* Every kind of reply, short and long strings, nested and empty arrays. */
static void
test_same_as_hiredis(void)
{
	static char wire[8192];
	char big[200];
	size_t n;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = (size_t)snprintf(wire, sizeof(wire),
	    "+OK\r\n-ERR no such key\r\n:42\r\n:-7\r\n$-1\r\n*-1\r\n$0\r\n\r\n"
	    "$5\r\nhello\r\n$48\r\n%048d\r\n$49\r\n%049d\r\n$199\r\n%s\r\n"
	    "*0\r\n*4\r\n$6\r\nstatus\r\n$6\r\nactive\r\n$3\r\nrev\r\n$1\r\n7\r\n"
	    "*2\r\n$1\r\n0\r\n*3\r\n$12\r\ncard:0000001\r\n:1\r\n*1\r\n$-1\r\n",
	    0, 0, big);
	for (size_t step = 1; step <= n; step = step * 3 + 1)
		both(wire, n, step);
	both(wire, n, n);
}

/* An array of more elements than a pooled vector holds, many times. */
static void
test_long_arrays(void)
{
	static char wire[200000];
	size_t n = (size_t)snprintf(wire, sizeof(wire), "*1000\r\n");

	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(wire + n, sizeof(wire) - n,
		    "$12\r\ncard:%07d\r\n", i);
	for (int round = 0; round < 5; round++)
		both(wire, n, 4096);
	n = (size_t)snprintf(wire, sizeof(wire), "*64\r\n");
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(wire + n, sizeof(wire) - n, ":%d\r\n", i);
	both(wire, n, n);
}

#define CUT	"*3\r\n$1\r\na\r\n*2\r\n:1\r\n"
#define BAD	"*2\r\n$1\r\na\r\n?bad\r\n"
#define HUGE	"*1300000000\r\n"

/* A reply cut off, a protocol error mid-array, or an array too long. */
static void
test_cut_short(void)
{
	redisReader *r = redisReaderCreateWithFunctions(
	    sync_reply_functions());
	void *reply = NULL;

	CHECK_EQ_INT(redisReaderFeed(r, CUT, sizeof(CUT) - 1), REDIS_OK);
	CHECK_EQ_INT(redisReaderGetReply(r, &reply), REDIS_OK);
	CHECK(reply == NULL);
	redisReaderFree(r);		/* frees the half-built reply */
	r = redisReaderCreateWithFunctions(sync_reply_functions());
	CHECK_EQ_INT(redisReaderFeed(r, BAD, sizeof(BAD) - 1), REDIS_OK);
	CHECK_EQ_INT(redisReaderGetReply(r, &reply), REDIS_ERR);
	redisReaderFree(r);
	/* An array longer than any the link asks for: refused, not made. */
	r = redisReaderCreateWithFunctions(sync_reply_functions());
	CHECK_EQ_INT(redisReaderFeed(r, HUGE, sizeof(HUGE) - 1), REDIS_OK);
	CHECK_EQ_INT(redisReaderGetReply(r, &reply), REDIS_ERR);
	CHECK_EQ_INT(r->err, REDIS_ERR_OOM);
	redisReaderFree(r);
	sync_reply_drain();
}

int
main(void)
{
	test_same_as_hiredis();
	test_long_arrays();
	test_cut_short();
	sync_reply_drain();
	TEST_REPORT("sync_reply");
}
