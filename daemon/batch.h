/* SPDX-License-Identifier: MIT */
/* The body of POST /v1/check: {"checks":[{...}, ...]} (PROTOCOL.md §5.2). */
#ifndef CARDD_BATCH_H
#define CARDD_BATCH_H

#include <stddef.h>

#include "check.h"

int	batch_parse(const char *body, size_t len, size_t max,
	    struct check_req **reqs, size_t *n, int *too_many, char *detail,
	    size_t detail_len);

#endif
