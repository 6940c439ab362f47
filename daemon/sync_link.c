/* SPDX-License-Identifier: MIT */
/*
 * The link with Redis: which node to dial, connecting (with a time
 * limit), AUTH, SELECT and INFO server, a deadline on every reply, and
 * exponential backoff between attempts. It does not know what the
 * commands it carries are for: once INFO has named the Redis (run_id)
 * it calls hooks->ready, and whenever a link goes, hooks->lost before
 * the next attempt; the owner (sync_redis.c) decides what comes next.
 *
 * The node to dial is decided here and only here (ln.host, ln.port):
 * from the URL for redis://, from the Sentinels (sync_sentinel.c) before
 * each dial for sentinel://, which also drop the link when a failover
 * names another node. The stream cursor is not the link's, so it carries
 * over to whichever node comes next.
 */
#include <sys/random.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

#include "code_bind.h"
#include "config.h"
#include "live.h"
#include "log.h"
#include "redis_url.h"
#include "sync_link.h"
#include "sync_priv.h"
#include "sync_reply.h"
#include "sync_sentinel.h"

#define SYNC_REPLY_MS		3000	/* beyond the block time */
#define SYNC_BACKOFF_MIN_MS	100
#define SYNC_BACKOFF_MAX_MS	5000
#define SYNC_CONNECT_MS		3000

struct sync_link {
	struct event_base	*base;
	const struct sync_link_hooks *hooks;
	redisAsyncContext	*ac;
	struct event		*retry;
	struct event		*connect_timeout;
	struct event		*deadline;	/* no reply for too long */
	int			 backoff_ms;
	int			 stopping;
	int			 moving;	/* dropped on the Sentinels' word */
	struct redis_url	 url;
	char			 host[REDIS_URL_HOST_MAX];	/* to dial */
	int			 port;
	char			 run_id[41];	/* of the node set up */
};

/* The node the link is set up with, for /metrics (read by the workers). */
struct sync_link_shown {
	pthread_mutex_t		 lock;
	char			 node[272];	/* host:port, "" while down */
	const char		*role;
};

static struct sync_link ln;
static struct sync_link_shown shown = { PTHREAD_MUTEX_INITIALIZER, "", "" };

static void	sync_link_connect(evutil_socket_t, short, void *);
static void	sync_link_on_found(const char *, int);
static void	sync_link_dial(void);
static void	sync_link_on_moved(const char *);
static void	sync_link_show(const char *);
static void	sync_link_setup(void);
static void	sync_link_retry(void);
static void	sync_link_lost(void);
static void	sync_link_on_connect(const redisAsyncContext *, int);
static void	sync_link_on_disconnect(const redisAsyncContext *, int);
static void	sync_link_give_up(const char *);
static void	sync_link_on_connect_timeout(evutil_socket_t, short, void *);
static void	sync_link_heard(void);
static void	sync_link_on_deadline(evutil_socket_t, short, void *);
static void	sync_link_on_setup(redisAsyncContext *, void *, void *);
static void	sync_link_on_info(redisAsyncContext *, void *, void *);

static const struct sync_sentinel_hooks sync_link_sentinel_hooks = {
	.found = sync_link_on_found,
	.moved = sync_link_on_moved,
};

/* Parse the source URL: redis:// names the node, sentinel:// the askers. */
int
sync_link_parse(const char *url, char *err, size_t errlen)
{
	if (redis_url_parse(url, &ln.url, err, errlen) != 0)
		return -1;
	memcpy(ln.host, ln.url.nodes[0].host, sizeof(ln.host));
	ln.port = ln.url.nodes[0].port;
	/* redis:// names the master; the Sentinels name it otherwise. */
	if (!ln.url.sentinel)
		code_bind_target(ln.host, ln.port, ln.url.db);
	return 0;
}

/* Is the node to follow named by Redis Sentinel (and so may change)? */
int
sync_link_via_sentinel(void)
{
	return ln.url.sentinel;
}

/* Ready the link's timers on base (nothing is dialled yet). */
void
sync_link_init(struct event_base *base, const struct sync_link_hooks *hooks)
{
	ln.base = base;
	ln.hooks = hooks;
	ln.retry = evtimer_new(base, sync_link_connect, NULL);
	ln.connect_timeout = evtimer_new(base, sync_link_on_connect_timeout,
	    NULL);
	ln.deadline = evtimer_new(base, sync_link_on_deadline, NULL);
	ln.backoff_ms = SYNC_BACKOFF_MIN_MS;
	if (ln.url.sentinel)
		sync_sentinel_init(base, &ln.url, &sync_link_sentinel_hooks);
}

/* Dial as soon as the loop runs (and watch the Sentinels, if any). */
void
sync_link_open(void)
{
	struct timeval now = { 0, 0 };

	if (ln.url.sentinel)
		sync_sentinel_open();
	evtimer_add(ln.retry, &now);
}

/* Close the link for good (the loop has ended): no retry, no hooks. */
void
sync_link_close(void)
{
	redisAsyncContext *ac = ln.ac;

	ln.stopping = 1;
	if (ln.url.sentinel)
		sync_sentinel_close();
	if (ac == NULL)
		return;
	ln.ac = NULL;	/* so the disconnect callback ignores it */
	redisAsyncFree(ac);
}

/* Free the timers (the thread has ended). */
void
sync_link_free(void)
{
	event_free(ln.retry);
	event_free(ln.connect_timeout);
	event_free(ln.deadline);
	if (ln.url.sentinel)
		sync_sentinel_free();
	sync_reply_drain();
}

/* Time to connect: to the URL's node, or the one the Sentinels name. */
static void
sync_link_connect(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	atomic_store(&sync_state.phase, SYNC_PHASE_CONNECTING);
	if (ln.url.sentinel)
		sync_sentinel_resolve();	/* answers in sync_link_on_found */
	else
		sync_link_dial();
}

/*
 * The Sentinels' answer. No node named: try again later, answering from
 * the index meanwhile.
 */
static void
sync_link_on_found(const char *host, int port)
{
	if (host == NULL || ln.stopping) {
		sync_link_retry();
		return;
	}
	snprintf(ln.host, sizeof(ln.host), "%s", host);
	ln.port = port;
	sync_link_dial();
}

/*
 * The Sentinels say the followed node is no longer the one: drop the
 * link. With no link up and a retry waiting out its backoff (a failover:
 * the old master refused us while none was promoted), dial now: the
 * next dial asks them, and they name the new node.
 */
static void
sync_link_on_moved(const char *why)
{
	struct timeval now = { 0, 0 };

	if (ln.ac != NULL) {
		ln.moving = 1;
		sync_link_drop(why);
	} else if (!ln.stopping && evtimer_pending(ln.retry, NULL)) {
		log_info("msg=\"%s; dialling at once\"", why);
		ln.backoff_ms = SYNC_BACKOFF_MIN_MS;
		evtimer_del(ln.retry);
		evtimer_add(ln.retry, &now);
	}
}

/* Connect, then AUTH, SELECT and INFO, queued until the link is up. */
static void
sync_link_dial(void)
{
	struct timeval tv = { SYNC_CONNECT_MS / 1000, 0 };

	ln.ac = redisAsyncConnect(ln.host, ln.port);
	if (ln.ac == NULL || ln.ac->err) {
		log_warnx("msg=\"cannot reach redis\" host=%s port=%d error=\"%s\"",
		    ln.host, ln.port, ln.ac ? ln.ac->errstr : "out of memory");
		if (ln.ac != NULL)
			redisAsyncFree(ln.ac);
		ln.ac = NULL;
		sync_link_retry();
		return;
	}
	ln.ac->c.reader->fn = sync_reply_functions();
	redisLibeventAttach(ln.ac, ln.base);
	redisAsyncSetConnectCallback(ln.ac, sync_link_on_connect);
	redisAsyncSetDisconnectCallback(ln.ac, sync_link_on_disconnect);
	evtimer_add(ln.connect_timeout, &tv);
	sync_link_setup();
}

/* Queue AUTH and SELECT (when configured), then INFO server. */
static void
sync_link_setup(void)
{
	char db[16];

	if (settings.redis_password != NULL && settings.redis_user != NULL)
		sync_link_cmd(sync_link_on_setup, NULL, 3, "AUTH",
		    settings.redis_user, settings.redis_password);
	else if (settings.redis_password != NULL)
		sync_link_cmd(sync_link_on_setup, NULL, 2, "AUTH",
		    settings.redis_password);
	snprintf(db, sizeof(db), "%d", ln.url.db);
	if (ln.url.db != 0)
		sync_link_cmd(sync_link_on_setup, NULL, 2, "SELECT", db);
	sync_link_cmd(sync_link_on_info, NULL, 4, "INFO", "server",
	    "replication", "persistence");
}

/*
 * Try again later, waiting twice as long each time (with jitter); at
 * once when the Sentinels will name another node than the one that
 * failed (sync_sentinel_shun).
 */
static void
sync_link_retry(void)
{
	uint32_t jitter = 0;
	struct timeval tv;
	int ms;

	if (ln.stopping)
		return;
	if (ln.url.sentinel && !ln.moving &&
	    sync_sentinel_shun(ln.host, ln.port))
		ln.backoff_ms = SYNC_BACKOFF_MIN_MS;
	ln.moving = 0;
	atomic_store(&sync_state.phase, SYNC_PHASE_DOWN);
	(void)!getrandom(&jitter, sizeof(jitter), 0);
	ms = ln.backoff_ms + (int)(jitter % (uint32_t)(ln.backoff_ms / 2 + 1));
	tv.tv_sec = ms / 1000;
	tv.tv_usec = ms % 1000 * 1000;
	evtimer_add(ln.retry, &tv);
	if (ln.backoff_ms < SYNC_BACKOFF_MAX_MS)
		ln.backoff_ms *= 2;
}

/* A link went: no reply is awaited now, and the owner forgets its work. */
static void
sync_link_lost(void)
{
	sync_link_show(NULL);
	evtimer_del(ln.deadline);
	ln.hooks->lost();
}

/* Give up this connection (the disconnect callback retries). */
void
sync_link_drop(const char *why)
{
	log_warnx("msg=\"dropping the redis link\" reason=\"%s\"", why);
	if (ln.ac != NULL)
		redisAsyncDisconnect(ln.ac);
}

/* The link is up (or failed to come up). */
static void
sync_link_on_connect(const redisAsyncContext *ac, int status)
{
	evtimer_del(ln.connect_timeout);
	if (ac != ln.ac)
		return;
	if (status != REDIS_OK) {
		log_warnx("msg=\"cannot reach redis\" host=%s port=%d error=\"%s\""
		    "%s", ln.host, ln.port, ac->errstr, live_index() == NULL ?
		    " state=\"not ready until the first full sync\"" : "");
		ln.ac = NULL;	/* hiredis frees it */
		sync_link_lost();
		sync_link_retry();
		return;
	}
	redisEnableKeepAlive(&ln.ac->c);
	sync_link_heard();
	log_info("msg=\"redis connected\" host=%s port=%d db=%d", ln.host,
	    ln.port, ln.url.db);
}

/* The link went down: keep answering, reconnect later. */
static void
sync_link_on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	if (ac != ln.ac)
		return;
	ln.ac = NULL;
	sync_link_lost();
	if (ln.stopping)
		return;
	log_warnx("msg=\"redis link lost; answering from the index\" error=\"%s\"",
	    ac->errstr[0] ? ac->errstr : "closed");
	sync_link_retry();
}

/*
 * Drop this link at once, without waiting for pending replies (a silent
 * link would never send them), and try again later.
 */
static void
sync_link_give_up(const char *why)
{
	redisAsyncContext *ac = ln.ac;

	if (ac == NULL)
		return;
	log_warnx("msg=\"%s; reconnecting\" host=%s port=%d", why, ln.host,
	    ln.port);
	ln.ac = NULL;
	redisAsyncFree(ac);
	sync_link_lost();
	sync_link_retry();
}

/* Connecting took too long. */
static void
sync_link_on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sync_link_give_up("redis connect timed out");
}

/*
 * A reply arrived: the link is alive. A link that goes silent (no FIN, no
 * RST) would otherwise leave a blocking XREAD waiting for ever.
 */
static void
sync_link_heard(void)
{
	struct timeval tv = { (SYNC_REPLY_MS + 1000) / 1000, 0 };

	evtimer_add(ln.deadline, &tv);
}

/*
 * Stop the reply deadline until the next reply arrives (the owner does
 * so whenever it starts a full sync afresh).
 */
void
sync_link_deadline_stop(void)
{
	evtimer_del(ln.deadline);
}

/* The reply if it answers the live link (proof the link lives), else NULL. */
const redisReply *
sync_link_reply(redisAsyncContext *ac, void *reply)
{
	if (ac != ln.ac || reply == NULL)
		return NULL;
	sync_link_heard();
	return reply;
}

/*
 * The reply if it answers the live link and is no error; an error reply
 * drops the link (it says why) and gives NULL too.
 */
const redisReply *
sync_link_answer(redisAsyncContext *ac, void *reply)
{
	const redisReply *r = sync_link_reply(ac, reply);

	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		sync_link_drop(r->str);
		return NULL;
	}
	return r;
}

/* No reply within the deadline: give up this link and reconnect. */
static void
sync_link_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sync_link_give_up("redis stopped answering");
}

/* AUTH and SELECT must succeed. */
static void
sync_link_on_setup(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r;

	(void)priv;
	if ((r = sync_link_reply(ac, reply)) == NULL)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		log_error("msg=\"redis refused the connection setup\" "
		    "error=\"%s\"", r->str);
		sync_link_drop("setup refused");
	}
}

/*
 * INFO server and replication: the run_id tells the owner whether this
 * is the Redis it knew; a node the Sentinels named as master must still
 * be one (a failover may have passed between their answer and ours), and
 * a replica must be in step with its master.
 */
static void
sync_link_on_info(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r;
	const char *p;
	char run_id[41];

	(void)priv;
	if ((r = sync_link_reply(ac, reply)) == NULL)
		return;
	if (r->type != REDIS_REPLY_STRING ||
	    (p = strstr(r->str, "run_id:")) == NULL) {
		sync_link_drop(r->type == REDIS_REPLY_ERROR ? r->str :
		    "INFO gave no run_id");
		return;
	}
	if (ln.url.sentinel && ln.url.want_master &&
	    strstr(r->str, "role:master") == NULL) {
		sync_link_drop("the node the Sentinels named is not a master");
		return;
	}
	if (sync_link_out_of_step(r)) {
		sync_link_drop("the node is a replica not in step with its "
		    "master");
		return;
	}
	snprintf(run_id, sizeof(run_id), "%.40s", p + 7);
	memcpy(ln.run_id, run_id, sizeof(ln.run_id));
	sync_link_show(strstr(r->str, "role:master") != NULL ? "master" :
	    "replica");
	ln.backoff_ms = SYNC_BACKOFF_MIN_MS;
	ln.hooks->ready(run_id);
}

/*
 * Does this INFO replication say a replica not in step with its master
 * (just restarted and still empty, or cut off), or (with the persistence
 * section) a node still loading its data? Such a node must not be read:
 * a full sync from it would swap in whatever it holds, and a follow
 * round on it confirms nothing.
 */
int
sync_link_out_of_step(const redisReply *info)
{
	return info->type == REDIS_REPLY_STRING &&
	    ((strstr(info->str, "role:slave") != NULL &&
	    strstr(info->str, "master_link_status:up") == NULL) ||
	    strstr(info->str, "\nloading:1") != NULL);
}

/*
 * Is this INFO server, replication and persistence still the node the
 * link was set up with, in step? A full sync asks before it swaps its
 * index in: a replica that began a full resync from its master (or a
 * node restarted behind the same address) while we scanned it may have
 * given us part of its data.
 */
int
sync_link_still_in_step(const redisReply *info)
{
	const char *p;

	return info->type == REDIS_REPLY_STRING && !sync_link_out_of_step(info)
	    && (p = strstr(info->str, "run_id:")) != NULL &&
	    strncmp(p + 7, ln.run_id, 40) == 0;
}

/* Show the node set up now, with its role (NULL: none, the link is down). */
static void
sync_link_show(const char *role)
{
	pthread_mutex_lock(&shown.lock);
	if (role == NULL)
		shown.node[0] = '\0';
	else
		snprintf(shown.node, sizeof(shown.node), "%s:%d", ln.host,
		    ln.port);
	shown.role = role != NULL ? role : "";
	pthread_mutex_unlock(&shown.lock);
}

/*
 * The node followed now and its role, for /metrics and INFO; a host that
 * is not a plain name or address is not shown as it is (it would need
 * escaping in the Prometheus label).
 */
void
sync_link_node(char *buf, size_t len, const char **role)
{
	pthread_mutex_lock(&shown.lock);
	snprintf(buf, len, "%s", shown.node);
	*role = shown.role;
	pthread_mutex_unlock(&shown.lock);
	for (char *p = buf; *p != '\0'; p++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789.:-_[]", *p) == NULL)
			*p = '?';
}

/* Send a command of NUL-terminated words (argc of them). */
int
sync_link_cmd(redisCallbackFn *fn, void *priv, int argc, ...)
{
	const char *argv[32];
	size_t lens[32];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc && i < 32; i++) {
		argv[i] = va_arg(ap, const char *);
		lens[i] = strlen(argv[i]);
	}
	va_end(ap);
	return sync_link_argv(fn, priv, argc, argv, lens);
}

/* Send a command of counted words. */
int
sync_link_argv(redisCallbackFn *fn, void *priv, int argc, const char **argv,
    const size_t *lens)
{
	if (ln.ac == NULL)
		return -1;
	return redisAsyncCommandArgv(ln.ac, fn, priv, argc, argv, lens) ==
	    REDIS_OK ? 0 : -1;
}

/* True for an error reply (starting with prefix, when given). */
int
sync_link_is_error(const redisReply *r, const char *prefix)
{
	return r != NULL && r->type == REDIS_REPLY_ERROR && (prefix == NULL ||
	    strncmp(r->str, prefix, strlen(prefix)) == 0);
}
