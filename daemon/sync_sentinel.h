/* SPDX-License-Identifier: MIT */
/* Asking Redis Sentinel which node to follow, and watching for failover. */
#ifndef CARDD_SYNC_SENTINEL_H
#define CARDD_SYNC_SENTINEL_H

struct event_base;
struct redis_url;

/* What the Sentinels tell the link; they call nothing else by name. */
struct sync_sentinel_hooks {
	/* the node to dial (host NULL: no Sentinel could name one) */
	void	(*found)(const char *host, int port);
	/* the followed node is no longer the one to follow */
	void	(*moved)(const char *why);
};

void	sync_sentinel_init(struct event_base *, const struct redis_url *,
	    const struct sync_sentinel_hooks *);
void	sync_sentinel_open(void);
void	sync_sentinel_resolve(void);
int	sync_sentinel_shun(const char *, int);
void	sync_sentinel_close(void);
void	sync_sentinel_free(void);

#endif
