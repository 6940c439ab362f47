/* SPDX-License-Identifier: MIT */
/* Reply objects for the Redis link, reused instead of malloc'd each. */
#ifndef CARDD_SYNC_REPLY_H
#define CARDD_SYNC_REPLY_H

#include <hiredis/read.h>

#define SYNC_REPLY_MAX_ELEMENTS	(1 << 24)	/* in one array, or an error */

redisReplyObjectFunctions *sync_reply_functions(void);
void	sync_reply_drain(void);

#endif
