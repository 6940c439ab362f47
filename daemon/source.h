/* SPDX-License-Identifier: MIT */
/* Where the index comes from, and how fresh it is. */
#ifndef CARDD_SOURCE_H
#define CARDD_SOURCE_H

#include <stdint.h>

#include <event2/event.h>

#include "stats.h"

int	source_start(struct event_base *, char *err, size_t errlen);
void	source_stop(void);
void	source_gauges(struct stats_gauges *);
const char *source_kind(void);

#endif
