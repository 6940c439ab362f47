/* SPDX-License-Identifier: MIT */
/*
 * Following Redis (DESIGN §2, §6), in a thread of its own with its own
 * event loop, through hiredis's async API on the libevent adapter. The
 * workers never wait on Redis: they read the live index, which this
 * thread replaces whole after a full sync, or changes card by card under
 * the live write lock.
 *
 *   connect ─ AUTH, SELECT, INFO server (run_id)
 *      │ new Redis (run_id differs) or nothing synced yet
 *      ▼
 *   full sync: XINFO STREAM (note the last id) ─ SCAN card:* with
 *      pipelined HMGETs into a new index ─ swap it in ─ cursor = noted id
 *      ▼
 *   follow: XREAD BLOCK from the cursor ─ XINFO STREAM (gap check) ─
 *      HMGET each changed card ─ apply ─ cursor = last entry ─ repeat
 *
 * A gap (stream trimmed past the cursor, stream gone or reset, a
 * `resync` entry) starts a full sync. Every completed follow round
 * confirms the index is in step (live_synced). When the link drops, the
 * thread reconnects with exponential backoff while workers keep answering
 * from what they have, until max_staleness. HMGET replies come back in
 * the order asked, so the card numbers they belong to wait in a FIFO.
 */
#include <sys/random.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "config.h"
#include "index.h"
#include "live.h"
#include "log.h"
#include "record.h"
#include "snapshot.h"
#include "snapshot_save.h"
#include "sync_link.h"
#include "sync_priv.h"
#include "sync_redis.h"
#include "sync_reject.h"
#include "sync_stream.h"

#define SYNC_SCAN_COUNT		"1000"
#define SYNC_INFLIGHT		16384	/* HMGETs outstanding in a full sync */
#define SYNC_XREAD_COUNT	"1000"

static const char *const sync_phases[] = {
	"disconnected", "connecting", "full_sync", "following", "stopped"
};

struct sync_fetch {
	char		id[STMT_ID_MAX];
	uint8_t		len;
};

struct sync_redis {
	struct event_base	*base;
	pthread_t		 thread;
	char			 run_id[41];	/* of the Redis we are in step with */
	char			 new_run_id[41];
	struct sync_stream_id	 cursor;	/* last change applied */
	uint64_t		 consumed;	/* entries up to the cursor */
	int			 have_cursor;
	struct sync_stream_id	 noted;		/* full sync: stream end at start */
	uint64_t		 noted_count;	/* entries-added at that point */
	uint64_t		 read;		/* follow: entries in this round */
	struct sync_stream_id	 next;		/* follow: last entry read */
	struct sync_stream_id	 before;	/* follow: cursor before XREAD */
	int			 resync;	/* a resync entry was read */
	int			 caught_up;	/* XREAD may block */
	struct sync_fetch	*fifo;
	size_t			 fifo_head;
	size_t			 fifo_len;
	size_t			 inflight;
	struct index		*building;
	char			 scan_cursor[32];
	int			 scan_done;
	int			 scan_waiting;
	int64_t			 full_t0;
	_Atomic uint64_t	 full_syncs;
	_Atomic uint64_t	 invalid;
	_Atomic int64_t		 lag_ms;
	_Atomic int64_t		 last_full_ms;
};

static struct sync_redis sy;
struct sync_state sync_state;

static void	*sync_main(void *);
static void	sync_abandon(void);
static void	sync_on_ready(const char *);
static void	sync_full_begin(void);
static void	sync_on_full_xinfo(redisAsyncContext *, void *, void *);
static void	sync_scan_next(void);
static void	sync_on_scan(redisAsyncContext *, void *, void *);
static void	sync_fetch(const char *, size_t);
static void	sync_on_fetch(redisAsyncContext *, void *, void *);
static int	sync_card(const redisReply *, const struct sync_fetch *,
		    struct card *);
static void	sync_full_finish(void);
static void	sync_follow(void);
static void	sync_cursor_text(char *, size_t);
static void	sync_block_text(char *, size_t);
static void	sync_on_wait(redisAsyncContext *, void *, void *);
static void	sync_read(void);
static void	sync_entries(const redisReply *);
static const char *sync_gap(const redisReply *, struct sync_stream_id *);
static void	sync_on_read(redisAsyncContext *, void *, void *);
static void	sync_apply(const struct card *, int gone, const char *,
		    size_t);
static void	sync_compact(void);
static void	sync_follow_done(void);
static int	sync_snapshot_meta(struct snapshot_meta *);

static const struct sync_link_hooks sync_link_hooks = {
	.ready = sync_on_ready,
	.lost = sync_abandon,
};

/* Parse redis://HOST:PORT[/DB] and start the follower thread. */
int
sync_redis_start(const char *url, const struct snapshot_meta *from,
    char *err, size_t errlen)
{
	if (sync_link_parse(url, err, errlen) != 0)
		return -1;
	if (from != NULL && from->run_id[0] != '\0') {
		memcpy(sy.run_id, from->run_id, sizeof(sy.run_id));
		sy.cursor.ms = from->cursor_ms;
		sy.cursor.seq = from->cursor_seq;
		sy.consumed = from->cursor_count;
		sy.have_cursor = 1;
	}
	if (from != NULL)
		atomic_store(&sy.invalid, from->invalid);
	sy.fifo = calloc(SYNC_INFLIGHT * 2, sizeof(*sy.fifo));
	if (sy.fifo == NULL || sync_reject_init() != 0 ||
	    (sy.base = event_base_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sync_link_init(sy.base, &sync_link_hooks);
	snapshot_save_init(sy.base, sync_snapshot_meta);
	if (pthread_create(&sy.thread, NULL, sync_main, NULL) != 0) {
		snprintf(err, errlen, "cannot start the Redis thread");
		return -1;
	}
	return 0;
}

/* The follower thread. */
static void *
sync_main(void *arg)
{
	(void)arg;
	sync_link_open();
	snapshot_save_arm();
	event_base_dispatch(sy.base);
	sync_link_close();
	sync_abandon();
	snapshot_save_final();
	atomic_store(&sync_state.phase, SYNC_PHASE_STOPPED);
	return NULL;
}

/* Stop the thread, saving a last snapshot when the index changed. */
void
sync_redis_stop(void)
{
	if (sy.base == NULL)
		return;
	event_base_loopbreak(sy.base);
	pthread_join(sy.thread, NULL);
	sync_link_free();
	snapshot_save_free();
	event_base_free(sy.base);
	free(sy.fifo);
	sync_reject_free();
	sy.base = NULL;
}

/* Forget a full sync or follow round in progress. */
static void
sync_abandon(void)
{
	sync_link_deadline_stop();
	index_free(sy.building);
	sy.building = NULL;
	sy.fifo_head = sy.fifo_len = sy.inflight = 0;
	sy.scan_done = sy.scan_waiting = sy.resync = sy.caught_up = 0;
}

/* The link is set up: follow on if this is the Redis we knew, else sync. */
static void
sync_on_ready(const char *run_id)
{
	snprintf(sy.new_run_id, sizeof(sy.new_run_id), "%s", run_id);
	if (!sy.have_cursor || strcmp(sy.new_run_id, sy.run_id) != 0) {
		if (sy.have_cursor)
			log_info("msg=\"redis restarted or replaced; full sync\"");
		sync_full_begin();
	} else
		sync_follow();
}

/* Full sync, step 1: note where the stream ends now. */
static void
sync_full_begin(void)
{
	sync_abandon();
	atomic_store(&sync_state.phase, SYNC_PHASE_FULL);
	sy.full_t0 = clock_now_ms();
	sync_link_cmd(sync_on_full_xinfo, NULL, 3, "XINFO", "STREAM",
	    settings.stream);
}

/* Full sync, step 2: a new index, then SCAN. */
static void
sync_on_full_xinfo(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r, *last, *added;
	uint64_t seed;

	(void)priv;
	if ((r = sync_link_reply(ac, reply)) == NULL)
		return;
	memset(&sy.noted, 0, sizeof(sy.noted));
	if (sync_link_is_error(r, NULL) &&
	    strstr(r->str, "no such key") == NULL) {
		sync_link_drop(r->str);
		return;
	}
	sy.noted_count = 0;
	last = sync_stream_field(r, "last-generated-id");
	added = sync_stream_field(r, "entries-added");
	if (last != NULL && (last->type != REDIS_REPLY_STRING ||
	    sync_stream_parse(last->str, last->len, &sy.noted) != 0 ||
	    added == NULL || added->type != REDIS_REPLY_INTEGER)) {
		sync_link_drop("XINFO STREAM lacks last-generated-id or "
		    "entries-added (Redis 7 or later is needed)");
		return;
	}
	if (added != NULL)
		sy.noted_count = (uint64_t)added->integer;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)clock_now_ms();
	sy.building = index_new(live_count() + 1024, seed);
	if (sy.building == NULL) {
		sync_link_drop("out of memory");
		return;
	}
	atomic_store(&sy.invalid, 0);
	strcpy(sy.scan_cursor, "0");
	sync_scan_next();
}

/* Ask for the next batch of card keys. */
static void
sync_scan_next(void)
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
	sync_link_cmd(sync_on_scan, NULL, 6, "SCAN", sy.scan_cursor, "MATCH",
	    pattern, "COUNT", SYNC_SCAN_COUNT);
}

/* A SCAN batch: fetch each card; go on while few are in flight. */
static void
sync_on_scan(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r, *keys;
	size_t plen = strlen(settings.key_prefix);

	(void)priv;
	if (sy.building == NULL || (r = sync_link_reply(ac, reply)) == NULL)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_ARRAY ||
	    r->element[0]->len >= sizeof(sy.scan_cursor)) {
		sync_link_drop("unexpected SCAN reply");
		return;
	}
	keys = r->element[1];
	for (size_t i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];

		if (k->type == REDIS_REPLY_STRING && k->len > plen)
			sync_fetch(k->str + plen, k->len - plen);
	}
	memcpy(sy.scan_cursor, r->element[0]->str, r->element[0]->len + 1);
	sy.scan_done = strcmp(sy.scan_cursor, "0") == 0;
	if (sy.scan_done && sy.inflight == 0)
		sync_full_finish();
	else if (!sy.scan_done && sy.inflight < SYNC_INFLIGHT)
		sync_scan_next();
	else if (!sy.scan_done)
		sy.scan_waiting = 1;
}

/*
 * HMGET one card, its number queued in the FIFO. A number that is not in
 * normal form (6-32 of 0-9A-Z) cannot be a card key: logged, counted.
 */
static void
sync_fetch(const char *id, size_t len)
{
	static const char *argv[2 + RECORD_NFIELDS];
	static size_t lens[2 + RECORD_NFIELDS];
	struct sync_fetch *f;
	char key[512];
	int n;

	if (sy.fifo_len == SYNC_INFLIGHT * 2) {
		sync_link_drop("too many fetches in flight");
		return;
	}
	if ((n = record_id_normalize(id, len, key)) < 0 ||
	    memcmp(key, id, len) != 0) {
		sync_reject_key(id, len);
		return;
	}
	f = &sy.fifo[(sy.fifo_head + sy.fifo_len++) % (SYNC_INFLIGHT * 2)];
	memcpy(f->id, id, len);
	f->len = (uint8_t)len;
	snprintf(key, sizeof(key), "%s%.*s", settings.key_prefix, (int)len, id);
	argv[0] = "HMGET";
	argv[1] = key;
	lens[0] = 5;
	lens[1] = strlen(key);
	for (int i = 0; i < RECORD_NFIELDS; i++) {
		argv[2 + i] = record_field_name(i);
		lens[2 + i] = strlen(argv[2 + i]);
	}
	sy.inflight++;
	sync_link_argv(sync_on_fetch, NULL, 2 + RECORD_NFIELDS, argv, lens);
}

/*
 * A card from its HMGET reply. Returns 1 for a card, 0 when the key is
 * gone (every field nil). A key that is not a hash answers
 * record_invalid rather than vanish.
 */
static int
sync_card(const redisReply *r, const struct sync_fetch *f, struct card *c)
{
	struct record_value v[RECORD_NFIELDS];
	int any = 0;

	memset(v, 0, sizeof(v));
	if (r->type == REDIS_REPLY_ARRAY && r->elements == RECORD_NFIELDS) {
		for (int i = 0; i < RECORD_NFIELDS; i++) {
			const redisReply *e = r->element[i];

			if (e->type != REDIS_REPLY_STRING)
				continue;
			v[i].p = e->str;
			v[i].len = e->len;
			any = 1;
		}
		if (!any)
			return 0;
		record_build(c, f->id, f->len, v);
	} else {
		memset(c, 0, sizeof(*c) - sizeof(c->xregion));
		record_invalid(c, f->id, f->len, "key is not a hash");
	}
	if (c->flags & CARD_INVALID)
		sync_reject_record(c);
	return 1;
}

/* An HMGET reply, for a full sync or a follow round. */
static void
sync_on_fetch(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r;
	struct sync_fetch *f;
	struct card c;
	int have;

	(void)priv;
	if (sy.fifo_len == 0 || (r = sync_link_reply(ac, reply)) == NULL)
		return;
	f = &sy.fifo[sy.fifo_head];
	sy.fifo_head = (sy.fifo_head + 1) % (SYNC_INFLIGHT * 2);
	sy.fifo_len--;
	sy.inflight--;
	have = sync_card(r, f, &c);
	if (sy.building != NULL) {
		if (have && index_put(sy.building, &c) != 0) {
			sync_link_drop("out of memory");
			return;
		}
		if (have && (c.flags & CARD_INVALID))
			atomic_fetch_add(&sy.invalid, 1);
		if (sy.scan_waiting && sy.inflight < SYNC_INFLIGHT / 2) {
			sy.scan_waiting = 0;
			sync_scan_next();
		} else if (sy.scan_done && sy.inflight == 0)
			sync_full_finish();
		return;
	}
	sync_apply(&c, !have, f->id, f->len);
	if (sy.inflight == 0)
		sync_follow_done();
}

/* Full sync, last step: swap the new index in and follow the stream. */
static void
sync_full_finish(void)
{
	struct index *idx = sy.building, *old;
	size_t n;

	sy.building = NULL;
	index_trim(idx);
	n = index_count(idx);
	old = live_set_index(idx);
	live_set_count(n);
	live_synced(clock_now_ms());
	index_free(old);
	sy.cursor = sy.noted;
	sy.consumed = sy.noted_count;
	sy.have_cursor = 1;
	memcpy(sy.run_id, sy.new_run_id, sizeof(sy.run_id));
	atomic_fetch_add(&sy.full_syncs, 1);
	atomic_store(&sy.last_full_ms, clock_now_ms());
	log_info("msg=\"full sync done\" cards=%zu invalid=%llu ms=%lld "
	    "stream_id=%llu-%llu", n, (unsigned long long)atomic_load(
	    &sy.invalid), (long long)(clock_now_ms() - sy.full_t0),
	    (unsigned long long)sy.cursor.ms, (unsigned long long)sy.cursor.seq);
	snapshot_save_changed();
	snapshot_save_now();
	sync_follow();
}

/* The stream cursor as "ms-seq". */
static void
sync_cursor_text(char *id, size_t len)
{
	snprintf(id, len, "%llu-%llu", (unsigned long long)sy.cursor.ms,
	    (unsigned long long)sy.cursor.seq);
}

/*
 * How long XREAD may block: a quarter of max_staleness, at most a
 * second, so that an idle stream still confirms the index well within
 * max_staleness.
 */
static void
sync_block_text(char *ms, size_t len)
{
	long block = (long)settings.max_staleness * 250;

	snprintf(ms, len, "%ld", block < 1000 ? block : 1000);
}

/*
 * Follow: wait until something follows the cursor (or the block time
 * passes), then read it. The first round after a (re)connect or a full
 * sync reads at once.
 */
static void
sync_follow(void)
{
	char id[48], block[24];

	atomic_store(&sync_state.phase, SYNC_PHASE_FOLLOW);
	if (!sy.caught_up) {
		sy.caught_up = 1;
		sync_read();
		return;
	}
	sync_cursor_text(id, sizeof(id));
	sync_block_text(block, sizeof(block));
	sync_link_cmd(sync_on_wait, NULL, 8, "XREAD", "COUNT", "1", "BLOCK",
	    block, "STREAMS", settings.stream, id);
}

/* The wait ended (an entry, or the block time): read atomically. */
static void
sync_on_wait(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r;

	(void)priv;
	if ((r = sync_link_reply(ac, reply)) == NULL)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		sync_link_drop(r->str);
		return;
	}
	sync_read();
}

/*
 * Read the stream's counters and the entries after the cursor in one
 * transaction, so the gap check sees exactly the stream those entries
 * came from.
 */
static void
sync_read(void)
{
	char id[48];

	sy.before = sy.next = sy.cursor;
	sy.read = 0;
	sy.resync = 0;
	sync_cursor_text(id, sizeof(id));
	sync_link_cmd(NULL, NULL, 1, "MULTI");
	sync_link_cmd(NULL, NULL, 3, "XINFO", "STREAM", settings.stream);
	sync_link_cmd(NULL, NULL, 6, "XREAD", "COUNT", SYNC_XREAD_COUNT,
	    "STREAMS", settings.stream, id);
	sync_link_cmd(sync_on_read, NULL, 1, "EXEC");
}

/* Queue the card each entry names; note resync entries. */
static void
sync_entries(const redisReply *r)
{
	const redisReply *entries;
	char id[STMT_ID_MAX];

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY ||
	    r->element[0]->elements != 2)
		return;
	entries = r->element[0]->element[1];
	for (size_t i = 0; i < entries->elements; i++) {
		const redisReply *e = entries->element[i], *kv;

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    sync_stream_parse(e->element[0]->str, e->element[0]->len,
		    &sy.next) != 0)
			continue;
		sy.read++;
		kv = e->element[1];
		for (size_t k = 0; kv->type == REDIS_REPLY_ARRAY &&
		    k + 1 < kv->elements; k += 2) {
			const redisReply *f = kv->element[k],
			    *v = kv->element[k + 1];

			if (f->type != REDIS_REPLY_STRING ||
			    v->type != REDIS_REPLY_STRING)
				continue;
			if (strcmp(f->str, "resync") == 0)
				sy.resync = 1;
			else if (strcmp(f->str, "card") != 0)
				continue;
			else if (record_id_normalize(v->str, v->len, id) < 0)
				log_warn("msg=\"change entry with a bad card "
				    "number ignored\"");
			else if (sy.fifo_len < SYNC_INFLIGHT * 2) {
				struct sync_fetch *q = &sy.fifo[(sy.fifo_head +
				    sy.fifo_len++) % (SYNC_INFLIGHT * 2)];

				memcpy(q->id, id, v->len);
				q->len = (uint8_t)v->len;
			}
		}
	}
}

/*
 * Did entries we never read leave the stream? Redis 7 counts the entries
 * ever added (entries-added) and the stream holds the last `length` of
 * them: if the first it holds comes after the last we had consumed,
 * entries after our cursor were trimmed before we read them. A deletion
 * after the cursor (max-deleted-entry-id), a stream that is gone, or one
 * younger than the cursor (Redis emptied, stream recreated) are gaps too.
 * r is XINFO STREAM from the same transaction as the entries.
 */
static const char *
sync_gap(const redisReply *r, struct sync_stream_id *last)
{
	const redisReply *l = sync_stream_field(r, "last-generated-id"),
	    *del = sync_stream_field(r, "max-deleted-entry-id"),
	    *added = sync_stream_field(r, "entries-added"),
	    *len = sync_stream_field(r, "length");
	static const struct sync_stream_id zero = { 0, 0 };
	struct sync_stream_id d = { 0, 0 };

	if (sync_link_is_error(r, NULL))
		return sync_stream_cmp(&sy.before, &zero) != 0 || sy.consumed ?
		    "the stream is gone" : NULL;
	if (l == NULL || l->type != REDIS_REPLY_STRING ||
	    sync_stream_parse(l->str, l->len, last) != 0 || added == NULL ||
	    added->type != REDIS_REPLY_INTEGER || len == NULL ||
	    len->type != REDIS_REPLY_INTEGER)
		return "XINFO STREAM lacks the Redis 7 fields";
	if (sync_stream_cmp(last, &sy.before) < 0 ||
	    (uint64_t)added->integer < sy.consumed)
		return "the stream is younger than our cursor";
	if ((uint64_t)(added->integer - len->integer) > sy.consumed)
		return "entries after our cursor were trimmed before they were "
		    "read";
	if (del != NULL && del->type == REDIS_REPLY_STRING &&
	    sync_stream_parse(del->str, del->len, &d) == 0 &&
	    sync_stream_cmp(&d, &sy.before) > 0)
		return "entries after our cursor were deleted";
	return NULL;
}

/* EXEC of the atomic read: gap check, then fetch the changed cards. */
static void
sync_on_read(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r;
	struct sync_stream_id last = { 0, 0 };
	const char *gap;
	size_t n;

	(void)priv;
	if ((r = sync_link_reply(ac, reply)) == NULL)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[1]->type == REDIS_REPLY_ERROR) {
		sync_link_drop(r->type == REDIS_REPLY_ERROR ? r->str :
		    "unexpected reply to the stream read");
		return;
	}
	sync_entries(r->element[1]);
	gap = sync_gap(r->element[0], &last);
	if (gap != NULL || sy.resync) {
		log_info("msg=\"full sync needed\" reason=\"%s\"",
		    gap ? gap : "resync entry");
		sync_full_begin();
		return;
	}
	atomic_store(&sy.lag_ms, (int64_t)(last.ms > sy.next.ms ?
	    last.ms - sy.next.ms : 0));
	if (sy.fifo_len == 0) {
		sync_follow_done();
		return;
	}
	n = sy.fifo_len;
	sy.fifo_len = 0;
	for (size_t i = 0; i < n; i++) {
		struct sync_fetch q = sy.fifo[(sy.fifo_head + i) %
		    (SYNC_INFLIGHT * 2)];

		sync_fetch(q.id, q.len);
	}
}

/* Apply one changed card to the live index. */
static void
sync_apply(const struct card *c, int gone, const char *id, size_t len)
{
	struct index *idx = live_index();
	const uint8_t *old;
	struct card prev;
	int rc;

	if (idx == NULL)
		return;
	old = index_get(idx, id, len);
	if (old != NULL) {
		record_decode(old, &prev);
		if (prev.flags & CARD_INVALID)
			atomic_fetch_sub(&sy.invalid, 1);
	}
	live_write_begin();
	rc = gone ? (old != NULL ? index_del(idx, id, len) : 0) :
	    index_put(idx, c);
	live_write_end();
	if (rc != 0)
		log_error("msg=\"cannot apply a change (out of memory)\"");
	if (!gone && (c->flags & CARD_INVALID))
		atomic_fetch_add(&sy.invalid, 1);
	live_set_count(index_count(idx));
	snapshot_save_changed();
}

/*
 * When replaced records make up most of the arena, copy the live cards
 * into a fresh index and swap it in. Only this thread changes the live
 * index, so it may read it without the lock.
 */
static void
sync_compact(void)
{
	struct index *idx = live_index(), *fresh;
	uint64_t seed;

	if (idx == NULL || index_garbage(idx) < (32u << 20) ||
	    index_garbage(idx) < index_bytes(idx) / 2)
		return;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)clock_now_ms();
	if ((fresh = index_copy(idx, seed)) == NULL)
		return;
	index_free(live_set_index(fresh));
	log_info("msg=\"index compacted\" cards=%zu", index_count(fresh));
}

/* A follow round is complete: the index is in step at the new cursor. */
static void
sync_follow_done(void)
{
	sy.cursor = sy.next;
	sy.consumed += sy.read;
	live_synced(clock_now_ms());
	sync_compact();
	sync_follow();
}

/* The snapshot's header fields for the live index (-1: not in step yet). */
static int
sync_snapshot_meta(struct snapshot_meta *m)
{
	if (!sy.have_cursor)
		return -1;
	memset(m, 0, sizeof(*m));
	m->synced_at_ms = live_synced_at();
	m->cursor_ms = sy.cursor.ms;
	m->cursor_seq = sy.cursor.seq;
	m->cursor_count = sy.consumed;
	memcpy(m->run_id, sy.run_id, sizeof(m->run_id));
	return 0;
}

/* The follower's figures for /metrics and INFO. */
void
sync_redis_gauges(struct stats_gauges *g)
{
	int64_t last = atomic_load(&sy.last_full_ms);

	g->sync_state = sync_phases[atomic_load(&sync_state.phase)];
	g->link_up = atomic_load(&sync_state.phase) == SYNC_PHASE_FOLLOW ||
	    atomic_load(&sync_state.phase) == SYNC_PHASE_FULL;
	g->full_syncs = atomic_load(&sy.full_syncs);
	g->records_rejected = atomic_load(&sync_state.rejected);
	g->records_invalid = atomic_load(&sy.invalid);
	g->sync_lag = (double)atomic_load(&sy.lag_ms) / 1000.0;
	g->last_full_sync_age = last ? (double)(clock_now_ms() - last) /
	    1000.0 : -1;
}
