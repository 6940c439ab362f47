/* SPDX-License-Identifier: MIT */
/* Stream entry ids ("ms-seq") and the fields of an XINFO STREAM reply. */
#ifndef CARDD_SYNC_STREAM_H
#define CARDD_SYNC_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

struct sync_stream_id {
	uint64_t	ms;
	uint64_t	seq;
};

int	sync_stream_parse(const char *, size_t, struct sync_stream_id *);
int	sync_stream_cmp(const struct sync_stream_id *,
	    const struct sync_stream_id *);
void	sync_stream_text(const struct sync_stream_id *, char *, size_t);
const redisReply *sync_stream_entries(const redisReply *);
const redisReply *sync_stream_field(const redisReply *, const char *);

#endif
