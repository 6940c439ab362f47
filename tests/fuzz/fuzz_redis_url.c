/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a source URL as cardd -t, the daemon's link and
 * cardctl read it (protocol/redis_url.c). The input is copied into a heap
 * block of exactly its size plus the NUL, so a read past the end traps.
 * A URL that parses must keep every promise the link relies on; one that
 * does not must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "redis_url.h"

static void	url_accepted(const struct redis_url *);

/* What a parsed URL promises the link. */
static void
url_accepted(const struct redis_url *u)
{
	FUZZ_ASSERT(u->nnodes >= 1 && u->nnodes <= REDIS_URL_NODES);
	FUZZ_ASSERT(u->sentinel || u->nnodes == 1);
	FUZZ_ASSERT(u->db >= 0 && u->db <= 9999);
	for (size_t i = 0; i < u->nnodes; i++) {
		FUZZ_ASSERT(u->nodes[i].port >= 1 && u->nodes[i].port <= 65535);
		FUZZ_ASSERT(u->nodes[i].host[0] != '\0');
		FUZZ_ASSERT(memchr(u->nodes[i].host, '\0',
		    sizeof(u->nodes[i].host)) != NULL);
	}
	if (!u->sentinel) {
		FUZZ_ASSERT(!u->want_master && u->master[0] == '\0');
		return;
	}
	FUZZ_ASSERT(u->master[0] != '\0');
	for (const char *p = u->master; *p != '\0'; p++)
		FUZZ_ASSERT(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		    "qrstuvwxyz0123456789._-", *p) != NULL);
}

/* The input is the URL. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = malloc(size + 1), err[256];
	struct redis_url u;

	FUZZ_ASSERT(url != NULL);
	memcpy(url, data, size);
	url[size] = '\0';
	err[0] = '\0';
	if (redis_url_parse(url, &u, err, sizeof(err)) == 0)
		url_accepted(&u);
	else
		FUZZ_ASSERT(err[0] != '\0');
	free(url);
	return 0;
}
