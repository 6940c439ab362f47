/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the Redis link's reply objects (daemon/sync_reply.c).
 * The first byte sets how many bytes are fed at a time, the rest is what
 * Redis sent. A reader with cardd's object functions must give exactly
 * what hiredis's own reader gives, reply for reply, error for error, as
 * its free lists are reused (under ASan what waits on them is poisoned).
 * hiredis's reader is held to the same limit on array length, since
 * without it it allocates whatever vector a header announces.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "fuzz.h"
#include "sync_reply.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
static int	same(const redisReply *, const redisReply *);
static int	step_both(redisReader *, redisReader *);
static void	*their_array(const redisReadTask *, int);

static redisReplyObjectFunctions theirs_fn;
static void *(*their_create_array)(const redisReadTask *, int);

/* hiredis's own array, within SYNC_REPLY_MAX_ELEMENTS. */
static void *
their_array(const redisReadTask *task, int n)
{
	return n > SYNC_REPLY_MAX_ELEMENTS ? NULL :
	    their_create_array(task, n);
}

/* Are two replies equal, all the way down? */
static int
same(const redisReply *a, const redisReply *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->type != b->type)
		return 0;
	if (a->type == REDIS_REPLY_INTEGER)
		return a->integer == b->integer;
	if (a->type == REDIS_REPLY_NIL)
		return 1;
	if (a->type != REDIS_REPLY_ARRAY)
		return a->len == b->len && memcmp(a->str, b->str, a->len) == 0 &&
		    a->str[a->len] == '\0';
	if (a->elements != b->elements)
		return 0;
	for (size_t i = 0; i < a->elements; i++)
		if (!same(a->element[i], b->element[i]))
			return 0;
	return 1;
}

/* Take every reply both readers have; -1 once they fail (alike). */
static int
step_both(redisReader *ours, redisReader *theirs)
{
	void *a, *b;

	for (;;) {
		int ra = redisReaderGetReply(ours, &a);
		int rb = redisReaderGetReply(theirs, &b);

		FUZZ_ASSERT(ra == rb);
		if (ra != REDIS_OK)
			return -1;
		FUZZ_ASSERT((a == NULL) == (b == NULL));
		if (a == NULL)
			return 0;
		FUZZ_ASSERT(same(a, b));
		freeReplyObject(b);
		sync_reply_functions()->freeObject(a);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	redisReader *ours, *theirs;
	size_t step;

	if (size < 1)
		return 0;
	step = (size_t)data[0] + 1;
	data++;
	size--;
	ours = redisReaderCreateWithFunctions(sync_reply_functions());
	theirs = redisReaderCreate();
	if (their_create_array == NULL) {
		theirs_fn = *theirs->fn;
		their_create_array = theirs_fn.createArray;
		theirs_fn.createArray = their_array;
	}
	theirs->fn = &theirs_fn;
	for (size_t at = 0; at < size; at += step) {
		size_t n = size - at < step ? size - at : step;

		FUZZ_ASSERT(redisReaderFeed(ours, (const char *)data + at, n) ==
		    REDIS_OK);
		FUZZ_ASSERT(redisReaderFeed(theirs, (const char *)data + at,
		    n) == REDIS_OK);
		if (step_both(ours, theirs) != 0)
			break;
	}
	redisReaderFree(ours);
	redisReaderFree(theirs);
	return 0;
}
