/* SPDX-License-Identifier: MIT */
/* Card codes seen: verified once, bound to the first client that asks. */
#ifndef CARDD_CODE_STORE_H
#define CARDD_CODE_STORE_H

#include <stdint.h>

#include "stmt.h"

struct check_req;

enum code_store_result { CODE_STORE_OK, CODE_STORE_BAD, CODE_STORE_FULL };

int	code_store_init(void);
void	code_store_free(void);
enum code_store_result code_store_resolve(struct check_req *, int64_t now_ms,
	    const char **err);
enum stmt_reason code_store_bind(const struct check_req *,
	    const char *client, int *fleet);
int	code_store_fleet_needed(const struct check_req *, const char *client,
	    int64_t now_s, int64_t *ttl);
void	code_store_fleet_set(const uint8_t *digest, const char *owner,
	    size_t len);

#endif
