/* SPDX-License-Identifier: MIT */
/*
 * The full sync: note where the stream ends (XINFO STREAM), SCAN the
 * card keys and HGETALL each into a new index, at most SYNC_INFLIGHT in
 * flight, then swap the new index in whole and set the cursor to the
 * noted end. A card changed during the scan is announced after that
 * point, so the follow re-reads it (re-reads are idempotent, see
 * protocol/PROTOCOL.md §7). When done it calls done; a full sync broken
 * off is freed by sync_full_abandon.
 */
#include <sys/random.h>

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "config.h"
#include "index.h"
#include "live.h"
#include "log.h"
#include "record.h"
#include "sync_fetch.h"
#include "sync_full.h"
#include "sync_link.h"
#include "sync_priv.h"
#include "sync_stream.h"

#define SYNC_SCAN_COUNT		"1000"

struct sync_full {
	struct index		*building;
	struct sync_stream_id	 noted;		/* stream end at start */
	uint64_t		 noted_count;	/* entries-added at that point */
	char			 scan_cursor[32];
	int			 scan_done;
	int			 scan_waiting;	/* for fetches to come back */
	int64_t			 t0;
	void			(*done)(void);
};

static struct sync_full fs;

static void	sync_full_on_xinfo(redisAsyncContext *, void *, void *);
static int	sync_full_note(const redisReply *);
static void	sync_full_scan_next(void);
static void	sync_full_on_scan(redisAsyncContext *, void *, void *);
static void	sync_full_on_card(const struct card *, const char *, size_t);
static void	sync_full_finish(void);
static void	sync_full_on_confirm(redisAsyncContext *, void *, void *);
static size_t	sync_full_swap(void);

/* Full sync, step 1: note where the stream ends now. */
void
sync_full_begin(void (*done)(void))
{
	fs.done = done;
	atomic_store(&sync_state.phase, SYNC_PHASE_FULL);
	fs.t0 = clock_now_ms();
	sync_link_cmd(sync_full_on_xinfo, NULL, 3, "XINFO", "STREAM",
	    settings.stream);
}

/* Forget a full sync in progress. */
void
sync_full_abandon(void)
{
	index_free(fs.building);
	fs.building = NULL;
	fs.scan_done = fs.scan_waiting = 0;
}

/* Full sync, step 2: a new index, then SCAN. */
static void
sync_full_on_xinfo(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r;
	uint64_t seed;

	(void)priv;
	if ((r = sync_link_reply(ac, reply)) == NULL || sync_full_note(r) != 0)
		return;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)clock_now_ms();
	fs.building = index_new(live_count() + 1024, seed);
	if (fs.building == NULL) {
		sync_link_drop("out of memory");
		return;
	}
	atomic_store(&sync_state.invalid, 0);
	strcpy(fs.scan_cursor, "0");
	sync_full_scan_next();
}

/* Note the stream's end from XINFO STREAM (none yet: 0-0); -1 drops. */
static int
sync_full_note(const redisReply *r)
{
	const redisReply *last, *added;

	memset(&fs.noted, 0, sizeof(fs.noted));
	if (sync_link_is_error(r, NULL) && strstr(r->str, "no such key") ==
	    NULL) {
		sync_link_drop(r->str);
		return -1;
	}
	fs.noted_count = 0;
	last = sync_stream_field(r, "last-generated-id");
	added = sync_stream_field(r, "entries-added");
	if (last != NULL && (last->type != REDIS_REPLY_STRING ||
	    sync_stream_parse(last->str, last->len, &fs.noted) != 0 ||
	    added == NULL || added->type != REDIS_REPLY_INTEGER)) {
		sync_link_drop("XINFO STREAM lacks last-generated-id or "
		    "entries-added (Redis 7 or later is needed)");
		return -1;
	}
	if (added != NULL)
		fs.noted_count = (uint64_t)added->integer;
	return 0;
}

/* Ask for the next batch of card keys. */
static void
sync_full_scan_next(void)
{
	char pattern[300];
	size_t n = 0;

	for (const char *p = settings.key_prefix; *p && n < 290; p++) {
		if (strchr("*?[]\\", *p) != NULL)
			pattern[n++] = '\\';
		pattern[n++] = *p;
	}
	pattern[n++] = '*';
	pattern[n] = '\0';
	sync_link_cmd(sync_full_on_scan, NULL, 6, "SCAN", fs.scan_cursor,
	    "MATCH", pattern, "COUNT", SYNC_SCAN_COUNT);
}

/* A SCAN batch: fetch each card; go on while few are in flight. */
static void
sync_full_on_scan(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r, *keys;
	size_t plen = strlen(settings.key_prefix);

	(void)priv;
	if (fs.building == NULL || (r = sync_link_reply(ac, reply)) == NULL)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_ARRAY ||
	    r->element[0]->len >= sizeof(fs.scan_cursor)) {
		sync_link_drop("unexpected SCAN reply");
		return;
	}
	keys = r->element[1];
	memcpy(fs.scan_cursor, r->element[0]->str, r->element[0]->len + 1);
	fs.scan_done = strcmp(fs.scan_cursor, "0") == 0;
	/*
	 * The next SCAN goes ahead of this batch's fetches: its reply comes
	 * back while Redis works through them, so the next batch is asked
	 * for before Redis runs dry (behind them, every batch left Redis
	 * idle while cardd read the last replies and asked again).
	 */
	if (!fs.scan_done && sync_fetch_inflight() < SYNC_INFLIGHT)
		sync_full_scan_next();
	else if (!fs.scan_done)
		fs.scan_waiting = 1;
	for (size_t i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];

		if (k->type == REDIS_REPLY_STRING && k->len > plen)
			sync_fetch_card(k->str + plen, k->len - plen,
			    sync_full_on_card);
	}
	if (fs.scan_done && sync_fetch_inflight() == 0)
		sync_full_finish();
}

/* A card fetched into the new index (c NULL: the key went meanwhile). */
static void
sync_full_on_card(const struct card *c, const char *id, size_t len)
{
	(void)id;
	(void)len;
	if (c != NULL && index_put(fs.building, c) != 0) {
		sync_link_drop("out of memory");
		return;
	}
	if (c != NULL && (c->flags & CARD_INVALID))
		atomic_fetch_add(&sync_state.invalid, 1);
	if (fs.scan_waiting && sync_fetch_inflight() < SYNC_INFLIGHT / 2) {
		fs.scan_waiting = 0;
		sync_full_scan_next();
	} else if (fs.scan_done && sync_fetch_inflight() == 0)
		sync_full_finish();
}

/* Full sync, last step but one: is the node still the one we scanned? */
static void
sync_full_finish(void)
{
	sync_link_cmd(sync_full_on_confirm, NULL, 4, "INFO", "server",
	    "replication", "persistence");
}

/* Full sync, last step: swap the new index in; the cursor is the noted end. */
static void
sync_full_on_confirm(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r;
	size_t n;

	(void)priv;
	if (fs.building == NULL || (r = sync_link_reply(ac, reply)) == NULL)
		return;
	if (!sync_link_still_in_step(r)) {
		log_warn("msg=\"full sync discarded: the node was replaced, "
		    "fell out of step with its master or began loading "
		    "during the scan\" action=\"reconnect and sync again\"");
		sync_link_drop("the node changed during the full sync");
		return;
	}
	n = sync_full_swap();

	sync_state.cursor = fs.noted;
	sync_state.consumed = fs.noted_count;
	sync_state.have_cursor = 1;
	atomic_fetch_add(&sync_state.full_syncs, 1);
	atomic_store(&sync_state.last_full_ms, clock_now_ms());
	log_info("msg=\"full sync done\" cards=%zu invalid=%llu ms=%lld "
	    "stream_id=%llu-%llu", n, (unsigned long long)atomic_load(
	    &sync_state.invalid), (long long)(clock_now_ms() - fs.t0),
	    (unsigned long long)sync_state.cursor.ms,
	    (unsigned long long)sync_state.cursor.seq);
	fs.done();
}

/* Put the new index live (in step now); returns its card count. */
static size_t
sync_full_swap(void)
{
	struct index *idx = fs.building, *old;
	size_t n;

	fs.building = NULL;
	index_trim(idx);
	n = index_count(idx);
	old = live_set_index(idx);
	live_set_count(n);
	live_synced(clock_now_ms());
	index_free(old);
	return n;
}
