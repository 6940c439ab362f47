/* SPDX-License-Identifier: MIT */
/*
 * cardctl's way to the master behind a sentinel:// URL (protocol/
 * PROTOCOL.md §7): ask each Sentinel in turn for the master's address,
 * then make sure the node there says it is a master, since a failover
 * may pass between the two. cardctl writes, so it always wants the
 * master, whatever role= the URL gives. The Sentinels' password comes
 * from $CARDCTL_SENTINEL_AUTH, never from the command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "cardctl.h"
#include "redis_url.h"

#define SENTINEL_TRIES	10	/* rounds, 500 ms apart, for a failover */

static int	sentinel_ask(const struct redis_node *, const char *,
		    struct redis_node *, char *, size_t);
static int	sentinel_is_master(redisContext *);

/*
 * Connect to the master the Sentinels of u name (already AUTHed and
 * SELECTed by setup); NULL when none could be reached, having said why.
 */
redisContext *
sentinel_connect(const struct redis_url *u,
    int (*setup)(redisContext *, const void *), const void *arg)
{
	struct timeval tv = { 2, 0 };
	struct redis_node m;
	char why[600] = "no Sentinel answered";
	redisContext *c;

	for (int round = 0; round < SENTINEL_TRIES; round++) {
		for (size_t i = 0; i < u->nnodes; i++) {
			if (sentinel_ask(&u->nodes[i], u->master, &m, why,
			    sizeof(why)) != 0)
				continue;
			c = redisConnectWithTimeout(m.host, m.port, tv);
			if (c == NULL || c->err) {
				snprintf(why, sizeof(why), "master %s:%d: %s",
				    m.host, m.port, c ? c->errstr : "no memory");
				redisFree(c);
				continue;
			}
			redisSetTimeout(c, tv);
			if (setup(c, arg) == 0 && sentinel_is_master(c))
				return c;
			snprintf(why, sizeof(why), "%s:%d is not (yet) a "
			    "master that lets us in", m.host, m.port);
			redisFree(c);
		}
		usleep(500 * 1000);
	}
	fprintf(stderr, "cardctl: no master for %s through the Sentinels: %s\n",
	    u->master, why);
	return NULL;
}

/* One Sentinel's answer to get-master-addr-by-name. */
static int
sentinel_ask(const struct redis_node *s, const char *name,
    struct redis_node *m, char *why, size_t whylen)
{
	struct timeval tv = { 2, 0 };
	const char *pass = getenv("CARDCTL_SENTINEL_AUTH");
	redisContext *c = redisConnectWithTimeout(s->host, s->port, tv);
	redisReply *r = NULL;
	int rc = -1;

	if (c == NULL || c->err) {
		snprintf(why, whylen, "sentinel %s:%d: %s", s->host, s->port,
		    c ? c->errstr : "no memory");
		goto out;
	}
	redisSetTimeout(c, tv);
	if (pass != NULL) {
		r = redisCommand(c, "AUTH %s", pass);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			snprintf(why, whylen, "sentinel %s:%d: AUTH: %s",
			    s->host, s->port, r ? r->str : c->errstr);
			goto out;
		}
		freeReplyObject(r);
	}
	r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", name);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->len >= sizeof(m->host)) {
		snprintf(why, whylen, "sentinel %s:%d: %s", s->host, s->port,
		    r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ?
		    r->str : "it does not know this master");
		goto out;
	}
	memcpy(m->host, r->element[0]->str, r->element[0]->len + 1);
	m->port = atoi(r->element[1]->str);
	rc = m->port > 0 && m->port < 65536 ? 0 : -1;
out:
	freeReplyObject(r);
	redisFree(c);
	return rc;
}

/* Does the node say role:master? */
static int
sentinel_is_master(redisContext *c)
{
	redisReply *r = redisCommand(c, "ROLE");
	int ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[0]->str, "master") == 0;

	freeReplyObject(r);
	return ok;
}
