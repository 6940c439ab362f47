/* SPDX-License-Identifier: MIT */
/* Following Redis: full sync, change stream, outages (README.md, Sources). */
#ifndef CARDD_SYNC_REDIS_H
#define CARDD_SYNC_REDIS_H

#include <stddef.h>

#include "stats.h"

struct snapshot_meta;

int	sync_redis_start(const char *url, const struct snapshot_meta *from,
	    char *err, size_t errlen);
void	sync_redis_stop(void);
void	sync_redis_gauges(struct stats_gauges *);

#endif
