/* SPDX-License-Identifier: MIT */
/* Cards by HGETALL, in order, for the full sync and the follow alike. */
#ifndef CARDD_SYNC_FETCH_H
#define CARDD_SYNC_FETCH_H

#include <stddef.h>

struct card;

#define SYNC_INFLIGHT		16384	/* fetches outstanding in a full sync */

/* A card fetched (NULL: the key is gone) and the number it was asked as. */
typedef void (*sync_fetch_got)(const struct card *, const char *id,
    size_t len);

int	sync_fetch_init(void);
void	sync_fetch_free(void);
void	sync_fetch_abandon(void);
void	sync_fetch_card(const char *id, size_t len, sync_fetch_got);
void	sync_fetch_queue(const char *id, size_t len);
void	sync_fetch_send(sync_fetch_got);
size_t	sync_fetch_queued(void);
size_t	sync_fetch_inflight(void);

#endif
