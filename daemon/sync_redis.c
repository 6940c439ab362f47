/* SPDX-License-Identifier: MIT */
/*
 * Following Redis (protocol/PROTOCOL.md §7), in a thread of its own with
 * its own event loop, through hiredis's async API on the libevent
 * adapter. The workers never wait on Redis: they read the live index,
 * which this thread replaces whole after a full sync, or changes card by
 * card under the live write lock.
 *
 *   connect ─ AUTH, SELECT, INFO server (run_id)              sync_link.c
 *      │ new Redis (run_id differs) or nothing synced yet
 *      ▼
 *   full sync: XINFO STREAM (note the last id) ─ SCAN card:* with
 *      pipelined HGETALLs into a new index ─ swap it in ─      sync_full.c
 *      cursor = noted id ─ save a snapshot              snapshot_save.c
 *      ▼
 *   follow: XREAD BLOCK from the cursor ─ XINFO STREAM (gap check) ─
 *      HGETALL each changed card ─ apply ─ cursor = last entry ─ repeat
 *                                                          sync_follow.c
 *
 * A gap (stream trimmed past the cursor, stream gone or reset, a
 * `resync` entry) starts a full sync. With a sentinel:// source a new
 * run_id is no gap by itself: after a failover the node the Sentinels
 * name is another Redis with the same replicated stream, so when its
 * stream holds the very entry at our cursor, everything we applied is
 * there too and the follow carries on; when it does not (writes lost in
 * the failover, or another stream), a full sync. Every completed follow round
 * confirms the index is in step (live_synced). When the link drops, the
 * thread reconnects with exponential backoff while workers keep answering
 * from what they have, until max_staleness. Both phases fetch cards
 * through sync_fetch.c (HMGET replies come back in the order asked, so
 * the card numbers they belong to wait in a FIFO); records that break a
 * rule are logged and counted by sync_reject.c; sync_stream.c reads
 * stream ids and XINFO fields.
 *
 * This file owns the thread and the phase diagram above: the other files
 * call no phase but their own by name. The link says it is ready or lost,
 * a full sync that it is done, the follow that it found a gap, each
 * through a callback set here, and this file decides what comes next.
 * What they share (cursor, phase, figures) is in sync_priv.h.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "config.h"
#include "live.h"
#include "log.h"
#include "snapshot.h"
#include "snapshot_save.h"
#include "sync_fetch.h"
#include "sync_follow.h"
#include "sync_full.h"
#include "sync_link.h"
#include "sync_priv.h"
#include "sync_redis.h"
#include "sync_reject.h"

struct sync_redis {
	struct event_base	*base;
	pthread_t		 thread;
	char			 run_id[41];	/* of the Redis we are in step with */
	char			 new_run_id[41];	/* of the one on the link */
	struct event		*cursor_wait;	/* for a replica behind us */
	int			 cursor_tries;
};

#define SYNC_CURSOR_TRIES	10	/* ... 200 ms apart */

static struct sync_redis sr;
struct sync_state sync_state;

static const char *const sync_redis_phases[] = {
	"disconnected", "connecting", "full_sync", "following", "stopped"
};

static void	sync_redis_resume(const struct snapshot_meta *);
static void	*sync_redis_main(void *);
static void	sync_redis_on_ready(const char *);
static void	sync_redis_cursor_ask(evutil_socket_t, short, void *);
static void	sync_redis_on_cursor(redisAsyncContext *, void *, void *);
static const redisReply *sync_redis_first_entry(const redisReply *);
static void	sync_redis_full(void);
static void	sync_redis_on_full_done(void);
static void	sync_redis_abandon(void);
static int	sync_redis_meta(struct snapshot_meta *);

static const struct sync_link_hooks sync_redis_link = {
	.ready = sync_redis_on_ready,
	.lost = sync_redis_abandon,
};

/* Parse the redis:// or sentinel:// URL and start the follower thread. */
int
sync_redis_start(const char *url, const struct snapshot_meta *from,
    char *err, size_t errlen)
{
	if (sync_link_parse(url, err, errlen) != 0)
		return -1;
	if (from != NULL)
		sync_redis_resume(from);
	if (sync_fetch_init() != 0 || sync_reject_init() != 0 ||
	    (sr.base = event_base_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sr.cursor_wait = evtimer_new(sr.base, sync_redis_cursor_ask, NULL);
	sync_link_init(sr.base, &sync_redis_link);
	snapshot_save_init(sr.base, sync_redis_meta);
	if (pthread_create(&sr.thread, NULL, sync_redis_main, NULL) != 0) {
		snprintf(err, errlen, "cannot start the Redis thread");
		return -1;
	}
	pthread_setname_np(sr.thread, "cardd-sync");	/* top -H, perf */
	return 0;
}

/* Carry on from the snapshot: its Redis, its cursor, its invalid count. */
static void
sync_redis_resume(const struct snapshot_meta *from)
{
	if (from->run_id[0] != '\0') {
		memcpy(sr.run_id, from->run_id, sizeof(sr.run_id));
		sync_state.cursor.ms = from->cursor_ms;
		sync_state.cursor.seq = from->cursor_seq;
		sync_state.consumed = from->cursor_count;
		sync_state.have_cursor = 1;
	}
	atomic_store(&sync_state.invalid, from->invalid);
}

/* The follower thread. */
static void *
sync_redis_main(void *arg)
{
	(void)arg;
	sync_link_open();
	snapshot_save_arm();
	event_base_dispatch(sr.base);
	sync_link_close();
	sync_redis_abandon();
	snapshot_save_final();
	atomic_store(&sync_state.phase, SYNC_PHASE_STOPPED);
	return NULL;
}

/* Stop the thread, saving a last snapshot when the index changed. */
void
sync_redis_stop(void)
{
	if (sr.base == NULL)
		return;
	event_base_loopbreak(sr.base);
	pthread_join(sr.thread, NULL);
	sync_link_free();
	event_free(sr.cursor_wait);
	snapshot_save_free();
	event_base_free(sr.base);
	sync_fetch_free();
	sync_reject_free();
	sr.base = NULL;
}

/*
 * The link is set up: follow on if this is the Redis we knew (or, with
 * Sentinels, one whose stream holds our cursor), else sync.
 */
static void
sync_redis_on_ready(const char *run_id)
{
	snprintf(sr.new_run_id, sizeof(sr.new_run_id), "%s", run_id);
	if (sync_state.have_cursor && strcmp(sr.new_run_id, sr.run_id) == 0)
		sync_follow_begin(sync_redis_full);
	else if (sync_state.have_cursor && sync_link_via_sentinel()) {
		sr.cursor_tries = 0;
		sync_redis_cursor_ask(-1, 0, NULL);
	} else {
		if (sync_state.have_cursor)
			log_info("msg=\"redis restarted or replaced; full sync\"");
		sync_redis_full();
	}
}

/*
 * The first entry at or after our cursor on the node now followed: XREAD
 * after the id just before it (XREAD, not XRANGE, so that a reader's ACL
 * needs nothing new).
 */
static void
sync_redis_cursor_ask(evutil_socket_t fd, short what, void *arg)
{
	struct sync_stream_id c = sync_state.cursor;
	char id[48];

	(void)fd;
	(void)what;
	(void)arg;
	if (c.seq > 0)
		c.seq--;
	else if (c.ms > 0) {
		c.ms--;
		c.seq = UINT64_MAX;
	}
	sync_stream_text(&c, id, sizeof(id));
	sync_link_cmd(sync_redis_on_cursor, NULL, 6, "XREAD", "COUNT", "1",
	    "STREAMS", settings.stream, id);
}

/* The one entry of an XREAD COUNT 1 reply on one stream, or NULL. */
static const redisReply *
sync_redis_first_entry(const redisReply *r)
{
	const redisReply *entries = sync_stream_entries(r);

	return entries != NULL && entries->elements > 0 ?
	    entries->element[0] : NULL;
}

/*
 * The entry at our cursor is there: follow on. One after it instead: the
 * stream went on without it. None: the node may be a replica a moment
 * behind us, so ask again a few times before a full sync.
 */
static void
sync_redis_on_cursor(redisAsyncContext *ac, void *reply, void *priv)
{
	struct timeval tv = { 0, 200 * 1000 };
	const redisReply *r, *e;
	struct sync_stream_id id;

	(void)priv;
	if ((r = sync_link_answer(ac, reply)) == NULL)
		return;
	e = sync_redis_first_entry(r);
	if (e == NULL && ++sr.cursor_tries < SYNC_CURSOR_TRIES) {
		evtimer_add(sr.cursor_wait, &tv);
		return;
	}
	if (e != NULL && e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
	    e->element[0]->type == REDIS_REPLY_STRING &&
	    sync_stream_parse(e->element[0]->str, e->element[0]->len,
	    &id) == 0 && sync_stream_cmp(&id, &sync_state.cursor) == 0) {
		log_info("msg=\"followed node changed; its stream holds our "
		    "cursor, following on\"");
		memcpy(sr.run_id, sr.new_run_id, sizeof(sr.run_id));
		sync_follow_begin(sync_redis_full);
		return;
	}
	log_info("msg=\"followed node changed; full sync\" reason=\"%s\"",
	    e != NULL ? "its stream went on without our cursor entry" :
	    "its stream does not reach our cursor");
	sync_redis_full();
}

/* Start a full sync afresh (also when the follow finds a gap). */
static void
sync_redis_full(void)
{
	sync_link_deadline_stop();
	sync_redis_abandon();
	sync_full_begin(sync_redis_on_full_done);
}

/* A full sync is done: in step with this Redis; save, then follow. */
static void
sync_redis_on_full_done(void)
{
	memcpy(sr.run_id, sr.new_run_id, sizeof(sr.run_id));
	snapshot_save_changed();
	snapshot_save_now();
	sync_follow_begin(sync_redis_full);
}

/* Forget a full sync or follow round in progress. */
static void
sync_redis_abandon(void)
{
	evtimer_del(sr.cursor_wait);
	sync_full_abandon();
	sync_fetch_abandon();
	sync_follow_abandon();
}

/* The snapshot's header fields for the live index (-1: not in step yet). */
static int
sync_redis_meta(struct snapshot_meta *m)
{
	if (!sync_state.have_cursor)
		return -1;
	memset(m, 0, sizeof(*m));
	m->synced_at_ms = live_synced_at();
	m->cursor_ms = sync_state.cursor.ms;
	m->cursor_seq = sync_state.cursor.seq;
	m->cursor_count = sync_state.consumed;
	memcpy(m->run_id, sr.run_id, sizeof(m->run_id));
	return 0;
}

/* The follower's figures for /metrics and INFO. */
void
sync_redis_gauges(struct stats_gauges *g)
{
	int64_t last = atomic_load(&sync_state.last_full_ms);
	int phase = atomic_load(&sync_state.phase);

	g->sync_state = sync_redis_phases[phase];
	g->link_up = phase == SYNC_PHASE_FOLLOW || phase == SYNC_PHASE_FULL;
	g->full_syncs = atomic_load(&sync_state.full_syncs);
	g->records_rejected = atomic_load(&sync_state.rejected);
	g->records_invalid = atomic_load(&sync_state.invalid);
	g->sync_lag = (double)atomic_load(&sync_state.lag_ms) / 1000.0;
	g->last_full_sync_age = last ? (double)(clock_now_ms() - last) /
	    1000.0 : -1;
	for (int k = 0; k < STATS_BUCKETS; k++)
		g->change_delay[k] = atomic_load(&sync_state.delay[k]);
	g->change_delay_sum_us = atomic_load(&sync_state.delay_sum_us);
	sync_link_node(g->source_node, sizeof(g->source_node),
	    &g->source_role);
}
