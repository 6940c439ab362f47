/* SPDX-License-Identifier: MIT */
/*
 * Stream ids, XREAD replies and XINFO STREAM fields, for the full sync,
 * the follow and the cursor check after a move.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "sync_stream.h"

/* Parse "ms-seq". */
int
sync_stream_parse(const char *s, size_t len, struct sync_stream_id *id)
{
	char buf[48], *dash, *end;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if ((dash = strchr(buf, '-')) == NULL)
		return -1;
	*dash = '\0';
	id->ms = strtoull(buf, &end, 10);
	if (*end != '\0' || end == buf)
		return -1;
	id->seq = strtoull(dash + 1, &end, 10);
	return *end != '\0' || end == dash + 1 ? -1 : 0;
}

/* Order of two stream ids. */
int
sync_stream_cmp(const struct sync_stream_id *a, const struct sync_stream_id *b)
{
	if (a->ms != b->ms)
		return a->ms < b->ms ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return 0;
}

/* An id as "ms-seq", as commands take it. */
void
sync_stream_text(const struct sync_stream_id *id, char *buf, size_t len)
{
	snprintf(buf, len, "%llu-%llu", (unsigned long long)id->ms,
	    (unsigned long long)id->seq);
}

/*
 * The entries of an XREAD reply on one stream ([[stream, entries]]), or
 * NULL when it holds none (a nil reply: nothing after the id).
 */
const redisReply *
sync_stream_entries(const redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY ||
	    r->element[0]->elements != 2 ||
	    r->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
		return NULL;
	return r->element[0]->element[1];
}

/* Find a field of an XINFO STREAM reply (a flat list of pairs). */
const redisReply *
sync_stream_field(const redisReply *r, const char *key)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(r->element[i]->str, key) == 0)
			return r->element[i + 1];
	return NULL;
}
