/* SPDX-License-Identifier: MIT */
/*
 * Fleet-wide binding of card codes (PROTOCOL.md §10). With a Redis
 * source, the first sight here of a code asks the master to bind it:
 * SET code:<hash> <client> NX GET EX <seconds left>, one round trip that
 * both binds and tells who holds it. The master is the one the source
 * names (redis://), or the one the Sentinels name (sync_sentinel.c tells
 * code_bind_target), so replicas of a fleet agree through it.
 *
 * Each worker has its own connection on its own loop, so no thread is
 * crossed. The connection that asked waits, like a client of a Redis
 * blocking command: it answers nothing more until the binding is known
 * (c->waiting; its later requests stay in its input, in order). After
 * code_bind_timeout, or at once while the master cannot be reached, the
 * answer is given with this daemon's own binding and says
 * "replay":"local". What the master says is written to code_store, so a
 * visit's further checks on this daemon need no round trip.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>

#include "auth.h"
#include "cardcode.h"
#include "check.h"
#include "clock.h"
#include "code_bind.h"
#include "code_store.h"
#include "config.h"
#include "log.h"
#include "net_tcp.h"
#include "redis_url.h"

#define CODE_BIND_RETRY_MS	1000	/* between dials after a failure */

/* Where bindings go; the sync thread sets it, the workers read it. */
static struct {
	pthread_mutex_t		 lock;
	struct redis_node	 node;
	int			 db;
	_Atomic uint64_t	 gen;		/* 0: no store */
} code_bind_store = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* A worker's link to the store. */
struct code_bind {
	struct event_base	*base;
	struct stats		*stats;
	redisAsyncContext	*ac;		/* NULL: not dialled */
	uint64_t		 gen;		/* the target ac was dialled to */
	uint64_t		 retry_us;	/* no dial before (monotonic) */
	int			 down;		/* its trouble has been logged */
	int			 freeing;	/* the worker stops */
	char			 node[REDIS_URL_HOST_MAX + 8];
};

/* One code's SET, whose reply comes back to its wait. */
struct code_bind_item {
	struct code_bind_wait	*wait;
	uint8_t			 digest[32];
};

struct code_bind_wait {
	struct code_bind	*cb;
	redisAsyncContext	*ac;		/* the link its SETs went on */
	struct event		*timer;
	code_bind_done		 done;		/* NULL: answered or cancelled */
	struct conn		*c;		/* that waits (c->waiting) */
	struct auth_who		 who;
	char			 name[AUTH_NAME_MAX + 1];
	struct check_req	*reqs;		/* a copy */
	size_t			 n;
	size_t			 out;		/* replies not back yet */
	size_t			 cap;		/* items */
	struct code_bind_item	 item[];
};

static int	code_bind_link(struct code_bind *);
static void	code_bind_drop(struct code_bind *, const char *, int);
static void	code_bind_trouble(struct code_bind *, const char *);
static void	code_bind_on_connect(const redisAsyncContext *, int);
static void	code_bind_on_disconnect(const redisAsyncContext *, int);
static void	code_bind_on_setup(redisAsyncContext *, void *, void *);
static void	code_bind_on_reply(redisAsyncContext *, void *, void *);
static void	code_bind_on_timeout(evutil_socket_t, short, void *);
static void	code_bind_finish(struct code_bind_wait *);
static void	code_bind_wait_free(struct code_bind_wait *);
static int	code_bind_send(struct code_bind_wait *, const struct check_req *,
		    int64_t);

/* Any thread: bindings go to this master now (host NULL: to none). */
void
code_bind_target(const char *host, int port, int db)
{
	pthread_mutex_lock(&code_bind_store.lock);
	if (host == NULL || strcmp(host, code_bind_store.node.host) != 0 ||
	    port != code_bind_store.node.port || db != code_bind_store.db ||
	    atomic_load(&code_bind_store.gen) == 0) {
		snprintf(code_bind_store.node.host,
		    sizeof(code_bind_store.node.host), "%s", host ? host : "");
		code_bind_store.node.port = port;
		code_bind_store.db = db;
		atomic_store(&code_bind_store.gen, host == NULL ? 0 :
		    atomic_load(&code_bind_store.gen) + 1);
	}
	pthread_mutex_unlock(&code_bind_store.lock);
}

/* A worker's link, not dialled until a code needs it. */
struct code_bind *
code_bind_new(struct event_base *base, struct stats *stats)
{
	struct code_bind *cb = calloc(1, sizeof(*cb));

	if (cb != NULL) {
		cb->base = base;
		cb->stats = stats;
	}
	return cb;
}

/* The worker stops: what still waits is not answered (its conns are gone). */
void
code_bind_free(struct code_bind *cb)
{
	if (cb == NULL)
		return;
	cb->freeing = 1;
	if (cb->ac != NULL) {
		redisAsyncContext *ac = cb->ac;

		cb->ac = NULL;
		redisAsyncFree(ac);	/* replies come back NULL, waits freed */
	}
	free(cb);
}

/* Something went wrong with the store: say so once per outage. */
static void
code_bind_trouble(struct code_bind *cb, const char *why)
{
	cb->retry_us = clock_monotonic_usec() + CODE_BIND_RETRY_MS * 1000;
	if (cb->down)
		return;
	cb->down = 1;
	log_warnx("msg=\"code binding store unreachable: codes are bound by "
	    "this daemon alone\" node=%s reason=\"%s\"", cb->node, why);
}

/*
 * Let go of the link (now: free it, its replies come back NULL; else
 * after the replies it awaits, as hiredis allows inside a callback).
 */
static void
code_bind_drop(struct code_bind *cb, const char *why, int now)
{
	redisAsyncContext *ac = cb->ac;

	if (why != NULL)
		code_bind_trouble(cb, why);
	if (ac == NULL)
		return;
	cb->ac = NULL;
	if (now)
		redisAsyncFree(ac);
	else
		redisAsyncDisconnect(ac);
}

/*
 * A link to the store's current target, dialled if need be: 1, or 0 when
 * the store cannot be reached now, -1 when there is no store.
 */
static int
code_bind_link(struct code_bind *cb)
{
	uint64_t gen = atomic_load(&code_bind_store.gen);
	struct redis_node n;
	int db;

	if (gen == 0)
		return -1;
	if (cb->ac != NULL && cb->gen == gen)
		return 1;
	code_bind_drop(cb, NULL, 1);
	if (clock_monotonic_usec() < cb->retry_us)
		return 0;
	pthread_mutex_lock(&code_bind_store.lock);
	n = code_bind_store.node;
	db = code_bind_store.db;
	gen = atomic_load(&code_bind_store.gen);
	pthread_mutex_unlock(&code_bind_store.lock);
	snprintf(cb->node, sizeof(cb->node), "%s:%d", n.host, n.port);
	cb->gen = gen;
	cb->ac = redisAsyncConnect(n.host, n.port);
	if (cb->ac == NULL || cb->ac->err != 0) {
		if (cb->ac != NULL)
			redisAsyncFree(cb->ac);
		cb->ac = NULL;
		code_bind_trouble(cb, "cannot dial");
		return 0;
	}
	cb->ac->data = cb;
	redisLibeventAttach(cb->ac, cb->base);
	redisAsyncSetConnectCallback(cb->ac, code_bind_on_connect);
	redisAsyncSetDisconnectCallback(cb->ac, code_bind_on_disconnect);
	if (settings.redis_password != NULL && settings.redis_user != NULL)
		redisAsyncCommand(cb->ac, code_bind_on_setup, NULL,
		    "AUTH %s %s", settings.redis_user, settings.redis_password);
	else if (settings.redis_password != NULL)
		redisAsyncCommand(cb->ac, code_bind_on_setup, NULL, "AUTH %s",
		    settings.redis_password);
	if (db != 0)
		redisAsyncCommand(cb->ac, code_bind_on_setup, NULL,
		    "SELECT %d", db);
	return 1;
}

/* The dial is over; a failure frees the context after this returns. */
static void
code_bind_on_connect(const redisAsyncContext *ac, int status)
{
	struct code_bind *cb = ac->data;

	if (status == REDIS_OK || cb == NULL)
		return;
	if (cb->ac == ac)
		cb->ac = NULL;
	code_bind_trouble(cb, ac->errstr);
}

/* The link closed (or was let go of). */
static void
code_bind_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct code_bind *cb = ac->data;

	if (cb == NULL || cb->ac != ac)
		return;
	cb->ac = NULL;
	if (status != REDIS_OK)
		code_bind_trouble(cb, ac->errstr);
}

/* AUTH and SELECT: an error means the link cannot bind. */
static void
code_bind_on_setup(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply *r = reply;
	struct code_bind *cb = ac->data;

	(void)priv;
	if (r != NULL && r->type == REDIS_REPLY_ERROR && cb != NULL &&
	    cb->ac == ac)
		code_bind_drop(cb, r->str, 0);
}

/*
 * Start binding, in the store, the codes of reqs that need it for who,
 * asked on c. NULL when the answer need not wait (no store, no such
 * code, the store unreachable: code_store binds locally); else c waits
 * (answers nothing more) until done(c, …) is called, once every reply is
 * back or code_bind_timeout has passed, unless the wait is cancelled.
 */
struct code_bind_wait *
code_bind_start(struct code_bind *cb, struct conn *c,
    const struct check_req *reqs, size_t n, const struct auth_who *who,
    code_bind_done done)
{
	struct code_bind_wait *w;
	struct timeval tv = { settings.code_bind_timeout / 1000,
	    (settings.code_bind_timeout % 1000) * 1000 };
	int64_t now, ttl;
	size_t need = 0, i;
	int link;

	for (i = 0; i < n; i++)
		if (reqs[i].by_code && reqs[i].code_reason == REASON_OK)
			break;
	if (i == n)
		return NULL;	/* the common case: no code to bind */
	now = clock_now_ms() / 1000;
	for (i = 0; i < n; i++)
		need += reqs[i].by_code && reqs[i].code_reason == REASON_OK &&
		    code_store_fleet_needed(&reqs[i], who->name, now, &ttl);
	if (need == 0 || (link = code_bind_link(cb)) < 0)
		return NULL;
	if (link == 0 || (w = calloc(1, sizeof(*w) + need *
	    sizeof(w->item[0]))) == NULL) {
		STAT_ADD(cb->stats->code_binds[STATS_BIND_LOCAL], need);
		return NULL;
	}
	*w = (struct code_bind_wait){ .cb = cb, .ac = cb->ac, .done = done,
	    .c = c, .who = *who, .n = n, .cap = need };
	if (who->name != NULL) {
		snprintf(w->name, sizeof(w->name), "%s", who->name);
		w->who.name = w->name;
	}
	if ((w->reqs = malloc(n * sizeof(*reqs))) == NULL ||
	    (w->timer = evtimer_new(cb->base, code_bind_on_timeout, w)) ==
	    NULL) {
		code_bind_wait_free(w);
		return NULL;
	}
	memcpy(w->reqs, reqs, n * sizeof(*reqs));
	for (i = 0; i < n; i++)
		if (code_bind_send(w, &reqs[i], now) != 0)
			break;
	if (w->out == 0) {	/* the link refused every SET */
		code_bind_wait_free(w);
		STAT_ADD(cb->stats->code_binds[STATS_BIND_LOCAL], need);
		return NULL;
	}
	evtimer_add(w->timer, &tv);
	c->waiting = 1;
	return w;
}

/* Ask the store to bind one code, if it needs it; -1: the link failed. */
static int
code_bind_send(struct code_bind_wait *w, const struct check_req *r,
    int64_t now)
{
	struct code_bind_item *it = &w->item[w->out];
	const char *name = w->who.name != NULL ? w->who.name : "";
	int64_t ttl;

	/* Another worker may have kept the code since it was counted. */
	if (!r->by_code || r->code_reason != REASON_OK || w->out == w->cap ||
	    !code_store_fleet_needed(r, w->who.name, now, &ttl))
		return 0;
	if (w->cb->ac == NULL)
		return -1;
	it->wait = w;
	memcpy(it->digest, r->code_digest, 32);
	if (redisAsyncCommand(w->cb->ac, code_bind_on_reply, it,
	    "SET " CARDCODE_BIND_PREFIX "%b %s NX GET EX %lld", r->code_hash,
	    (size_t)STMT_CODE_LEN, name, (long long)ttl) != REDIS_OK)
		return -1;
	w->out++;
	return 0;
}

/*
 * The store's word on one code: nil, bound now to us; a string, bound
 * already to that client; an error (a replica, no permission, a Redis
 * before 7.0), or no reply (the link is gone), leaves the local binding.
 */
static void
code_bind_on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct code_bind_item *it = priv;
	struct code_bind_wait *w = it->wait;
	struct code_bind *cb = w->cb;
	redisReply *r = reply;

	if (r != NULL && (r->type == REDIS_REPLY_NIL ||
	    r->type == REDIS_REPLY_STRING)) {
		if (r->type == REDIS_REPLY_NIL)
			code_store_fleet_set(it->digest, w->who.name, w->who.name ?
			    strlen(w->who.name) : 0);
		else
			code_store_fleet_set(it->digest, r->str, r->len);
		if (cb->down && !cb->freeing)
			log_info("msg=\"code binding store reachable again\" "
			    "node=%s", cb->node);
		cb->down = 0;
		STAT_ADD(cb->stats->code_binds[STATS_BIND_FLEET], 1);
	} else {
		STAT_ADD(cb->stats->code_binds[STATS_BIND_LOCAL], 1);
		if (r != NULL && !cb->freeing && cb->ac == ac)
			code_bind_drop(cb, r->type == REDIS_REPLY_ERROR ?
			    r->str : "unexpected reply to SET", 0);
	}
	if (--w->out > 0)
		return;
	if (w->done != NULL && !cb->freeing)
		code_bind_finish(w);
	code_bind_wait_free(w);
}

/*
 * The store is too slow: answer with the local binding now, and let go
 * of the link (its late replies would only be NULL now).
 */
static void
code_bind_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct code_bind_wait *w = arg;
	struct code_bind *cb = w->cb;
	redisAsyncContext *ac = w->ac;

	(void)fd;
	(void)what;
	if (w->done != NULL)
		code_bind_finish(w);
	if (cb->ac == ac)
		cb->ac = NULL;
	code_bind_trouble(cb, "no reply within code_bind_timeout");
	redisAsyncFree(ac);	/* frees w with its last reply */
}

/*
 * Answer what waited (once), in the live state; then c writes it and
 * goes on with the requests after it.
 */
static void
code_bind_finish(struct code_bind_wait *w)
{
	code_bind_done done = w->done;
	struct conn *c = w->c;

	w->done = NULL;
	c->waiting = 0;
	net_tcp_live_enter(c->loop);
	done(c, w->reqs, w->n, &w->who);
	net_tcp_conn_defer(c);
}

/* The connection that waited is gone: its answer is never given. */
void
code_bind_cancel(struct code_bind_wait *w)
{
	if (w != NULL)
		w->done = NULL;
}

/* Free a wait whose replies are all back. */
static void
code_bind_wait_free(struct code_bind_wait *w)
{
	if (w->timer != NULL)
		event_free(w->timer);
	free(w->reqs);
	free(w);
}
