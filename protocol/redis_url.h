/* SPDX-License-Identifier: MIT */
/*
 * The Redis source URLs of protocol/PROTOCOL.md §7: redis://HOST:PORT[/DB]
 * names one node; sentinel://HOST:PORT[,HOST:PORT…]/MASTER[?role=…][&db=N]
 * names the Sentinels to ask which node to follow.
 */
#ifndef CARDD_REDIS_URL_H
#define CARDD_REDIS_URL_H

#include <stddef.h>

#define REDIS_URL_NODES		8	/* Sentinels in one URL */
#define REDIS_URL_HOST_MAX	256
#define REDIS_URL_NAME_MAX	64	/* a Sentinel master name */

struct redis_node {
	char	host[REDIS_URL_HOST_MAX];	/* without the [] of IPv6 */
	int	port;
};

struct redis_url {
	int			sentinel;	/* sentinel://, else redis:// */
	struct redis_node	nodes[REDIS_URL_NODES];
	size_t			nnodes;		/* 1 for redis:// */
	char			master[REDIS_URL_NAME_MAX + 1];
	int			want_master;	/* role=master */
	int			db;
};

int	redis_url_parse(const char *url, struct redis_url *u, char *err,
	    size_t errlen);
int	redis_node_parse(const char *s, size_t len, struct redis_node *n);

#endif
