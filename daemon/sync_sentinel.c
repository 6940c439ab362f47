/* SPDX-License-Identifier: MIT */
/*
 * A sentinel:// source (protocol/PROTOCOL.md §7): before each dial the
 * link asks the Sentinels, in turn, which node to follow, and a second
 * connection to one Sentinel stays subscribed to its events so that a
 * failover is noticed at once rather than when the old node stops
 * answering.
 *
 * Asking: AUTH (sentinel_password), SENTINEL get-master-addr-by-name
 * and, for role=replica, SENTINEL replicas; a healthy replica is one
 * whose flags are only "slave", whose link with the master is ok and
 * whose master is the one just named. One is picked at random, so that a
 * fleet of cardd spreads over the replicas; when none is healthy, the
 * master. A Sentinel that answered goes first next time (as the Sentinel
 * client guidelines ask).
 *
 * A replica that let the link down (refused it, was out of step, or
 * dropped it) is passed over for SENTINEL_SHUN_MS even while the
 * Sentinels still call it healthy (they notice a dead node only after
 * down-after-milliseconds, and call a restarted one healthy before it has
 * loaded): the link goes to another replica or the master at once instead
 * of waiting out its backoff on it.
 *
 * Watching: +switch-master, the followed node's +sdown/+odown, and, while
 * the master is followed for want of a replica, a replica coming back.
 * An event prompts a fresh ask; the link moves only when the Sentinels
 * then name another node (or the followed node is down). Either way the
 * stream cursor carries over (sync_redis.c decides whether it can).
 * Events missed while the watch was down are caught by asking again when
 * it comes back; and every SENTINEL_RECHECK_MS while following the master
 * for want of a replica.
 */
#include <sys/random.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

#include "clock.h"
#include "code_bind.h"
#include "config.h"
#include "log.h"
#include "redis_url.h"
#include "sync_sentinel.h"
#include "sync_stream.h"

#define SENTINEL_ASK_MS		2000	/* for one Sentinel's answers */
#define SENTINEL_RECHECK_MS	10000	/* while following the master */
#define SENTINEL_WATCH_MIN_MS	250
#define SENTINEL_WATCH_MAX_MS	5000
#define SENTINEL_CANDIDATES	32
#define SENTINEL_SHUN_MS	5000	/* a replica that let us down */

enum sentinel_purpose { ASK_DIAL, ASK_CHECK };
enum sentinel_drop { DROP_NONE, DROP_DISCONNECT, DROP_FREE };

/* One round of asking the Sentinels in turn. */
struct sentinel_ask {
	redisAsyncContext	*ac;
	struct event		*timeout;
	struct event		*recheck;
	size_t			 at;		/* the Sentinel being asked */
	size_t			 first;		/* the one that answered last */
	size_t			 tried;
	int			 busy;
	int			 purpose;	/* enum sentinel_purpose */
	struct redis_node	 master;
	int			 have_master;
	char			 why[200];	/* the last Sentinel's fault */
};

/* The subscription to one Sentinel's events. */
struct sentinel_watch {
	redisAsyncContext	*ac;
	struct event		*retry;
	size_t			 at;
	int			 backoff_ms;
	int			 subscribed_once;
};

struct sync_sentinel {
	struct event_base	*base;
	const struct redis_url	*url;
	const struct sync_sentinel_hooks *hooks;
	struct redis_node	 node;		/* named last: being followed */
	int			 have_node;
	struct redis_node	 shunned;	/* passed over until shun_until */
	int64_t			 shun_until;	/* clock_now_ms() */
	int			 fallback;	/* the master, for want of a replica */
	int			 stopping;
	struct sentinel_ask	 ask;
	struct sentinel_watch	 watch;
};

static struct sync_sentinel ss;

static redisAsyncContext *sentinel_dial(const struct redis_node *,
		    redisConnectCallback *, redisDisconnectCallback *,
		    redisCallbackFn *);
static void	sentinel_drop(redisAsyncContext *, int);
static int	sentinel_following(const char *, int);
static int	sentinel_shunned(const struct redis_node *);
static void	ask_start(int);
static void	ask_next(void);
static void	ask_exhausted(void);
static void	ask_failed(const char *, int);
static void	ask_done(const struct redis_node *, int);
static void	ask_recheck_arm(void);
static const redisReply *ask_reply(redisAsyncContext *, void *);
static void	ask_on_connect(const redisAsyncContext *, int);
static void	ask_on_disconnect(const redisAsyncContext *, int);
static void	ask_on_timeout(evutil_socket_t, short, void *);
static void	ask_on_recheck(evutil_socket_t, short, void *);
static void	ask_on_auth(redisAsyncContext *, void *, void *);
static void	ask_on_master(redisAsyncContext *, void *, void *);
static void	ask_on_replicas(redisAsyncContext *, void *, void *);
static int	ask_pick(const redisReply *, struct redis_node *);
static int	ask_healthy(const redisReply *, struct redis_node *);
static void	watch_connect(evutil_socket_t, short, void *);
static void	watch_retry(void);
static void	watch_on_connect(const redisAsyncContext *, int);
static void	watch_on_disconnect(const redisAsyncContext *, int);
static void	watch_on_auth(redisAsyncContext *, void *, void *);
static void	watch_on_event(redisAsyncContext *, void *, void *);
static void	watch_event(const char *, const char *);
static int	watch_names_node(const char *);
static int	watch_names_master(const char *);

/* Ready the timers for url's Sentinels (nothing is dialled yet). */
void
sync_sentinel_init(struct event_base *base, const struct redis_url *url,
    const struct sync_sentinel_hooks *hooks)
{
	ss.base = base;
	ss.url = url;
	ss.hooks = hooks;
	ss.ask.timeout = evtimer_new(base, ask_on_timeout, NULL);
	ss.ask.recheck = evtimer_new(base, ask_on_recheck, NULL);
	ss.watch.retry = evtimer_new(base, watch_connect, NULL);
	ss.watch.backoff_ms = SENTINEL_WATCH_MIN_MS;
}

/* Start watching the Sentinels' events. */
void
sync_sentinel_open(void)
{
	watch_connect(-1, 0, NULL);
}

/* Ask which node to follow; the answer comes through hooks->found. */
void
sync_sentinel_resolve(void)
{
	ask_start(ASK_DIAL);
}

/*
 * The link to host:port failed or was lost. When that is the replica the
 * Sentinels named, pass over it for a while and return 1: the next ask
 * names another node, so the link need not back off.
 */
int
sync_sentinel_shun(const char *host, int port)
{
	if (!sentinel_following(host, port) || ss.fallback ||
	    ss.url->want_master || sentinel_shunned(&ss.node))
		return 0;
	ss.shunned = ss.node;
	ss.shun_until = clock_now_ms() + SENTINEL_SHUN_MS;
	log_warnx("msg=\"passing over a replica that let the link down\" "
	    "node=%s:%d seconds=%d", host, port, SENTINEL_SHUN_MS / 1000);
	return 1;
}

/* Close both connections for good (the loop has ended). */
void
sync_sentinel_close(void)
{
	redisAsyncContext *ask = ss.ask.ac, *watch = ss.watch.ac;

	ss.stopping = 1;
	ss.ask.ac = ss.watch.ac = NULL;	/* so their callbacks ignore them */
	sentinel_drop(ask, DROP_FREE);
	sentinel_drop(watch, DROP_FREE);
}

/* Free the timers (the thread has ended). */
void
sync_sentinel_free(void)
{
	event_free(ss.ask.timeout);
	event_free(ss.ask.recheck);
	event_free(ss.watch.retry);
}

/* Connect to a Sentinel and queue AUTH when a password is set. */
static redisAsyncContext *
sentinel_dial(const struct redis_node *n, redisConnectCallback *on_connect,
    redisDisconnectCallback *on_disconnect, redisCallbackFn *on_auth)
{
	redisAsyncContext *ac = redisAsyncConnect(n->host, n->port);

	if (ac == NULL || ac->err) {
		if (ac != NULL)
			redisAsyncFree(ac);
		return NULL;
	}
	redisLibeventAttach(ac, ss.base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (settings.sentinel_password != NULL)
		redisAsyncCommand(ac, on_auth, NULL, "AUTH %s",
		    settings.sentinel_password);
	return ac;
}

/* Is host:port the node followed now? */
static int
sentinel_following(const char *host, int port)
{
	return ss.have_node && ss.node.port == port &&
	    strcmp(ss.node.host, host) == 0;
}

/* Is n the replica passed over now? */
static int
sentinel_shunned(const struct redis_node *n)
{
	return clock_now_ms() < ss.shun_until && n->port == ss.shunned.port &&
	    strcmp(n->host, ss.shunned.host) == 0;
}

/*
 * Let go of a connection: hiredis allows only a disconnect from inside
 * its callbacks, and frees by itself one whose connect failed.
 */
static void
sentinel_drop(redisAsyncContext *ac, int how)
{
	if (ac == NULL || how == DROP_NONE)
		return;
	if (how == DROP_DISCONNECT)
		redisAsyncDisconnect(ac);
	else
		redisAsyncFree(ac);
}

/* Begin a round of asking, unless one is under way (it then dials). */
static void
ask_start(int purpose)
{
	if (ss.stopping)
		return;
	if (ss.ask.busy) {
		if (purpose == ASK_DIAL)
			ss.ask.purpose = ASK_DIAL;
		return;
	}
	evtimer_del(ss.ask.recheck);
	ss.ask.busy = 1;
	ss.ask.purpose = purpose;
	ss.ask.tried = 0;
	ss.ask.at = ss.ask.first;
	snprintf(ss.ask.why, sizeof(ss.ask.why), "no Sentinel answered");
	ask_next();
}

/* Ask the next Sentinel, or give up when each has been asked. */
static void
ask_next(void)
{
	struct timeval tv = { SENTINEL_ASK_MS / 1000, 0 };
	const struct redis_node *n = &ss.url->nodes[ss.ask.at];

	if (ss.ask.tried++ == ss.url->nnodes) {
		ask_exhausted();
		return;
	}
	ss.ask.have_master = 0;
	ss.ask.ac = sentinel_dial(n, ask_on_connect, ask_on_disconnect,
	    ask_on_auth);
	if (ss.ask.ac == NULL) {
		ask_failed("cannot connect", DROP_NONE);
		return;
	}
	redisAsyncCommand(ss.ask.ac, ask_on_master, NULL,
	    "SENTINEL get-master-addr-by-name %s", ss.url->master);
	if (!ss.url->want_master)
		redisAsyncCommand(ss.ask.ac, ask_on_replicas, NULL,
		    "SENTINEL replicas %s", ss.url->master);
	evtimer_add(ss.ask.timeout, &tv);
}

/*
 * No Sentinel could name a node. A dial then tries the node they named
 * last, if any: with every Sentinel away, a link that dropped could
 * otherwise never come back even to a healthy node (what it finds there
 * is checked as after any move: its role, its link, the cursor entry).
 */
static void
ask_exhausted(void)
{
	ss.ask.busy = 0;
	log_error("msg=\"no Sentinel could name a node to follow\" master=%s "
	    "reason=\"%s\"%s", ss.url->master, ss.ask.why, ss.have_node &&
	    ss.ask.purpose == ASK_DIAL ? " next=\"the node they named last\"" :
	    "");
	if (ss.ask.purpose != ASK_DIAL)
		ask_recheck_arm();
	else if (ss.have_node)
		ss.hooks->found(ss.node.host, ss.node.port);
	else
		ss.hooks->found(NULL, 0);
}

/* This Sentinel could not answer: say why, and ask the next one. */
static void
ask_failed(const char *why, int how)
{
	const struct redis_node *n = &ss.url->nodes[ss.ask.at];
	redisAsyncContext *ac = ss.ask.ac;

	evtimer_del(ss.ask.timeout);
	ss.ask.ac = NULL;
	sentinel_drop(ac, how);
	snprintf(ss.ask.why, sizeof(ss.ask.why), "%s:%d: %s", n->host,
	    n->port, why);
	log_warnx("msg=\"sentinel could not name a node\" sentinel=%s:%d "
	    "reason=\"%s\"", n->host, n->port, why);
	ss.ask.at = (ss.ask.at + 1) % ss.url->nnodes;
	ask_next();
}

/*
 * The Sentinels named n (fallback: the master for want of a replica).
 * Dial it, or, when only checking, move only if it is not the node
 * followed now.
 */
static void
ask_done(const struct redis_node *n, int fallback)
{
	int same = sentinel_following(n->host, n->port);

	evtimer_del(ss.ask.timeout);
	sentinel_drop(ss.ask.ac, DROP_DISCONNECT);
	ss.ask.ac = NULL;
	ss.ask.busy = 0;
	ss.ask.first = ss.ask.at;
	ss.fallback = fallback;
	if (fallback)
		ask_recheck_arm();
	if (ss.ask.purpose == ASK_CHECK) {
		if (!same)
			ss.hooks->moved("the Sentinels now name another node");
		return;
	}
	log_info("msg=\"sentinel named the node to follow\" master=%s "
	    "node=%s:%d role=%s", ss.url->master, n->host, n->port,
	    ss.url->want_master ? "master" : fallback ?
	    "master (no healthy replica)" : "replica");
	ss.node = *n;
	ss.have_node = 1;
	ss.hooks->found(n->host, n->port);
}

/* Ask again in a while (the master is followed for want of a replica). */
static void
ask_recheck_arm(void)
{
	struct timeval tv = { SENTINEL_RECHECK_MS / 1000, 0 };

	if (ss.fallback && !ss.stopping)
		evtimer_add(ss.ask.recheck, &tv);
}

/* The reply if it answers the asking connection now, else NULL. */
static const redisReply *
ask_reply(redisAsyncContext *ac, void *reply)
{
	return ac == ss.ask.ac && reply != NULL ? reply : NULL;
}

/* Connecting to a Sentinel failed (hiredis frees the context). */
static void
ask_on_connect(const redisAsyncContext *ac, int status)
{
	if (ac != ss.ask.ac || status == REDIS_OK)
		return;
	ss.ask.ac = NULL;
	ask_failed(ac->errstr, DROP_NONE);
}

/* The Sentinel closed the connection before it answered. */
static void
ask_on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	if (ac != ss.ask.ac)
		return;
	ss.ask.ac = NULL;
	ask_failed(ac->errstr[0] ? ac->errstr : "connection closed",
	    DROP_NONE);
}

/* A Sentinel that does not answer in time is passed over. */
static void
ask_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ask_failed("no answer in time", DROP_FREE);
}

/* Time to see whether a replica is healthy again. */
static void
ask_on_recheck(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ask_start(ASK_CHECK);
}

/* AUTH must succeed. */
static void
ask_on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = ask_reply(ac, reply);

	(void)priv;
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		ask_failed(r->str, DROP_DISCONNECT);
}

/* SENTINEL get-master-addr-by-name: the master, or this one does not know. */
static void
ask_on_master(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = ask_reply(ac, reply);
	char *end;

	(void)priv;
	if (r == NULL)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		ask_failed(r->str, DROP_DISCONNECT);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len >= sizeof(ss.ask.master.host) ||
	    r->element[1]->type != REDIS_REPLY_STRING) {
		ask_failed("it does not know this master", DROP_DISCONNECT);
		return;
	}
	memcpy(ss.ask.master.host, r->element[0]->str, r->element[0]->len + 1);
	ss.ask.master.port = (int)strtol(r->element[1]->str, &end, 10);
	if (*end != '\0' || ss.ask.master.port < 1 ||
	    ss.ask.master.port > 65535) {
		ask_failed("it named a master with a bad port", DROP_DISCONNECT);
		return;
	}
	ss.ask.have_master = 1;
	code_bind_target(ss.ask.master.host, ss.ask.master.port, ss.url->db);
	if (ss.url->want_master)
		ask_done(&ss.ask.master, 0);
}

/* SENTINEL replicas: follow a healthy one, else the master. */
static void
ask_on_replicas(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = ask_reply(ac, reply);
	struct redis_node n;

	(void)priv;
	if (r == NULL || !ss.ask.have_master)
		return;
	if (r->type != REDIS_REPLY_ARRAY) {
		ask_failed(r->type == REDIS_REPLY_ERROR ? r->str :
		    "unexpected reply to SENTINEL replicas", DROP_DISCONNECT);
		return;
	}
	if (ask_pick(r, &n) == 0)
		ask_done(&n, 0);
	else
		ask_done(&ss.ask.master, 1);
}

/*
 * Pick a healthy replica, not the one passed over: the one followed now
 * when it still is (a check should not move cardd for nothing), else one
 * at random.
 */
static int
ask_pick(const redisReply *r, struct redis_node *out)
{
	static struct redis_node cand[SENTINEL_CANDIDATES];
	uint32_t rnd = 0;
	size_t n = 0;

	for (size_t i = 0; i < r->elements && n < SENTINEL_CANDIDATES; i++) {
		if (ask_healthy(r->element[i], &cand[n]) != 0 ||
		    sentinel_shunned(&cand[n]))
			continue;
		if (ss.ask.purpose == ASK_CHECK &&
		    sentinel_following(cand[n].host, cand[n].port)) {
			*out = cand[n];
			return 0;
		}
		n++;
	}
	if (n == 0)
		return -1;
	(void)!getrandom(&rnd, sizeof(rnd), 0);
	*out = cand[rnd % n];
	return 0;
}

/* A replica Sentinel thinks up, in step, and replicating this master. */
static int
ask_healthy(const redisReply *e, struct redis_node *n)
{
	const redisReply *ip = sync_stream_field(e, "ip"),
	    *port = sync_stream_field(e, "port"),
	    *flags = sync_stream_field(e, "flags"),
	    *link = sync_stream_field(e, "master-link-status"),
	    *mhost = sync_stream_field(e, "master-host"),
	    *mport = sync_stream_field(e, "master-port");

	if (ip == NULL || port == NULL || flags == NULL || link == NULL ||
	    mhost == NULL || mport == NULL || ip->type != REDIS_REPLY_STRING ||
	    ip->len >= sizeof(n->host) || port->type != REDIS_REPLY_STRING ||
	    flags->type != REDIS_REPLY_STRING ||
	    strcmp(flags->str, "slave") != 0 ||
	    link->type != REDIS_REPLY_STRING || strcmp(link->str, "ok") != 0 ||
	    mhost->type != REDIS_REPLY_STRING ||
	    strcmp(mhost->str, ss.ask.master.host) != 0 ||
	    mport->type != REDIS_REPLY_STRING ||
	    atoi(mport->str) != ss.ask.master.port)
		return -1;
	memcpy(n->host, ip->str, ip->len + 1);
	n->port = atoi(port->str);
	return n->port > 0 && n->port < 65536 ? 0 : -1;
}

/* Subscribe to one Sentinel's events. */
static void
watch_connect(evutil_socket_t fd, short what, void *arg)
{
	const struct redis_node *n = &ss.url->nodes[ss.watch.at];

	(void)fd;
	(void)what;
	(void)arg;
	if (ss.stopping)
		return;
	ss.watch.ac = sentinel_dial(n, watch_on_connect, watch_on_disconnect,
	    watch_on_auth);
	if (ss.watch.ac == NULL) {
		watch_retry();
		return;
	}
	redisAsyncCommand(ss.watch.ac, watch_on_event, NULL, "SUBSCRIBE "
	    "+switch-master +sdown +odown -sdown +slave +slave-reconf-done");
}

/* Try the next Sentinel later, waiting longer each time. */
static void
watch_retry(void)
{
	struct timeval tv;

	if (ss.stopping)
		return;
	ss.watch.at = (ss.watch.at + 1) % ss.url->nnodes;
	tv.tv_sec = ss.watch.backoff_ms / 1000;
	tv.tv_usec = ss.watch.backoff_ms % 1000 * 1000;
	evtimer_add(ss.watch.retry, &tv);
	if (ss.watch.backoff_ms < SENTINEL_WATCH_MAX_MS)
		ss.watch.backoff_ms *= 2;
}

/* The watch could not connect (hiredis frees the context). */
static void
watch_on_connect(const redisAsyncContext *ac, int status)
{
	if (ac != ss.watch.ac || status == REDIS_OK)
		return;
	ss.watch.ac = NULL;
	watch_retry();
}

/* The watched Sentinel went away: watch another. */
static void
watch_on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	if (ac != ss.watch.ac)
		return;
	ss.watch.ac = NULL;
	log_warnx("msg=\"sentinel watch lost\" error=\"%s\"",
	    ac->errstr[0] ? ac->errstr : "closed");
	watch_retry();
}

/* A refused AUTH ends the watch on this Sentinel. */
static void
watch_on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;

	(void)priv;
	if (ac != ss.watch.ac || r == NULL || r->type != REDIS_REPLY_ERROR)
		return;
	log_error("msg=\"sentinel refused the watch\" error=\"%s\"", r->str);
	redisAsyncDisconnect(ac);
}

/* A subscription confirmed, or an event. */
static void
watch_on_event(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	const struct redis_node *n = &ss.url->nodes[ss.watch.at];

	(void)priv;
	if (ac != ss.watch.ac || r == NULL || r->type != REDIS_REPLY_ARRAY ||
	    r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(r->element[0]->str, "subscribe") == 0 &&
	    strcmp(r->element[1]->str, "+switch-master") == 0) {
		log_info("msg=\"watching sentinel\" sentinel=%s:%d", n->host,
		    n->port);
		ss.watch.backoff_ms = SENTINEL_WATCH_MIN_MS;
		if (ss.watch.subscribed_once++)
			ask_start(ASK_CHECK);	/* events may have been missed */
	} else if (strcmp(r->element[0]->str, "message") == 0 &&
	    r->element[2]->type == REDIS_REPLY_STRING)
		watch_event(r->element[1]->str, r->element[2]->str);
}

/*
 * One event. Payloads: "+switch-master NAME OLDIP OLDPORT NEWIP NEWPORT";
 * "+sdown TYPE NAME IP PORT [@ MASTER MIP MPORT]" and the like.
 */
static void
watch_event(const char *chan, const char *payload)
{
	if (strcmp(chan, "+switch-master") == 0) {
		if (watch_names_master(payload)) {
			log_info("msg=\"sentinel: failover\" event=\"%s\"",
			    payload);
			ask_start(ASK_CHECK);
		}
	} else if (strcmp(chan, "+sdown") == 0 || strcmp(chan, "+odown") == 0) {
		if (watch_names_node(payload)) {
			log_warnx("msg=\"sentinel: the followed node is down\" "
			    "event=\"%s\"", payload);
			ss.hooks->moved("the followed node is down");
		}
	} else if (ss.fallback && watch_names_master(payload))
		ask_start(ASK_CHECK);	/* a replica may be back */
}

/* Does "TYPE NAME IP PORT …" name the node followed now? */
static int
watch_names_node(const char *payload)
{
	char ip[REDIS_URL_HOST_MAX];
	int port;

	return sscanf(payload, "%*s %*s %255s %d", ip, &port) == 2 &&
	    sentinel_following(ip, port);
}

/* Is the event about our master (its first word, or the word after "@")? */
static int
watch_names_master(const char *payload)
{
	const char *at = strstr(payload, " @ ");
	const char *name = at != NULL ? at + 3 : payload;
	size_t len = strlen(ss.url->master);

	return strncmp(name, ss.url->master, len) == 0 &&
	    (name[len] == ' ' || name[len] == '\0');
}
