/* SPDX-License-Identifier: MIT */
/* Rejected records and keys from Redis: logged and counted. */
#ifndef CARDD_SYNC_REJECT_H
#define CARDD_SYNC_REJECT_H

#include <stddef.h>

struct card;

int	sync_reject_init(void);
void	sync_reject_free(void);
void	sync_reject_key(const char *id, size_t len);
void	sync_reject_record(const struct card *);

#endif
