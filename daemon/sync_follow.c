/* SPDX-License-Identifier: MIT */
/*
 * The stream follow (protocol/PROTOCOL.md §7): wait with a blocking
 * XREAD until something follows the cursor, read the stream's counters
 * and the entries in one transaction, check for a gap, HGETALL each card
 * the entries name, apply each to the live index under the write lock,
 * move the cursor on, repeat. Every completed round confirms the index
 * is in step (live_synced). A gap, or a `resync` entry, is not handled
 * here: gap is called, and the owner starts a full sync.
 */
#include <sys/random.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "config.h"
#include "index.h"
#include "live.h"
#include "log.h"
#include "record.h"
#include "snapshot_save.h"
#include "sync_fetch.h"
#include "sync_follow.h"
#include "sync_link.h"
#include "sync_priv.h"
#include "sync_stream.h"

#define SYNC_XREAD_COUNT	"1000"
#define SYNC_XREAD_MAX		1000	/* the same, as a number */

struct sync_follow {
	uint64_t		 read;		/* entries in this round */
	struct sync_stream_id	 next;		/* last entry read */
	struct sync_stream_id	 before;	/* cursor before XREAD */
	int			 resync;	/* a resync entry was read */
	int			 caught_up;	/* XREAD may block */
	int			 catching_up;	/* this round reads a backlog */
	void			(*gap)(void);
	uint64_t		 entry_ms[SYNC_XREAD_MAX];	/* their ids' ms */
};

static struct sync_follow fl;

static void	sync_follow_round(void);
static void	sync_follow_block_text(char *, size_t);
static void	sync_follow_on_wait(redisAsyncContext *, void *, void *);
static void	sync_follow_read(void);
static void	sync_follow_on_read(redisAsyncContext *, void *, void *);
static void	sync_follow_entries(const redisReply *);
static void	sync_follow_fields(const redisReply *);
static const char *sync_follow_gap(const redisReply *,
		    struct sync_stream_id *);
static void	sync_follow_on_card(const struct card *, const char *, size_t);
static void	sync_follow_apply(const struct card *, const char *, size_t);
static void	sync_follow_compact(void);
static void	sync_follow_delays(void);
static void	sync_follow_done(void);

/* Follow the stream from the cursor; gap is called when that cannot go on. */
void
sync_follow_begin(void (*gap)(void))
{
	fl.gap = gap;
	sync_follow_round();
}

/* Forget a follow round in progress: the next one reads at once. */
void
sync_follow_abandon(void)
{
	fl.resync = fl.caught_up = 0;
}

/*
 * Wait until something follows the cursor (or the block time passes),
 * then read it. The first round after a (re)connect or a full sync reads
 * at once.
 */
static void
sync_follow_round(void)
{
	char id[48], block[24];

	atomic_store(&sync_state.phase, SYNC_PHASE_FOLLOW);
	fl.catching_up = !fl.caught_up;
	if (!fl.caught_up) {
		fl.caught_up = 1;
		sync_follow_read();
		return;
	}
	sync_stream_text(&sync_state.cursor, id, sizeof(id));
	sync_follow_block_text(block, sizeof(block));
	sync_link_cmd(sync_follow_on_wait, NULL, 8, "XREAD", "COUNT", "1",
	    "BLOCK", block, "STREAMS", settings.stream, id);
}

/*
 * How long XREAD may block: a quarter of max_staleness, at most a
 * second, so that an idle stream still confirms the index well within
 * max_staleness.
 */
static void
sync_follow_block_text(char *ms, size_t len)
{
	long block = (long)settings.max_staleness * 250;

	snprintf(ms, len, "%ld", block < 1000 ? block : 1000);
}

/* The wait ended (an entry, or the block time): read atomically. */
static void
sync_follow_on_wait(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)priv;
	if (sync_link_answer(ac, reply) == NULL)
		return;
	sync_follow_read();
}

/*
 * Read the stream's counters and the entries after the cursor in one
 * transaction, so the gap check sees exactly the stream those entries
 * came from; and the node's INFO replication, since a replica that has
 * lost its master serves what it had, and a round on it confirms nothing
 * (INFO rather than ROLE: a reader's ACL already allows INFO).
 */
static void
sync_follow_read(void)
{
	char id[48];

	fl.before = fl.next = sync_state.cursor;
	fl.read = 0;
	fl.resync = 0;
	sync_stream_text(&sync_state.cursor, id, sizeof(id));
	sync_link_cmd(NULL, NULL, 1, "MULTI");
	sync_link_cmd(NULL, NULL, 3, "XINFO", "STREAM", settings.stream);
	sync_link_cmd(NULL, NULL, 6, "XREAD", "COUNT", SYNC_XREAD_COUNT,
	    "STREAMS", settings.stream, id);
	sync_link_cmd(NULL, NULL, 2, "INFO", "replication");
	sync_link_cmd(sync_follow_on_read, NULL, 1, "EXEC");
}

/* EXEC of the atomic read: gap check, then fetch the changed cards. */
static void
sync_follow_on_read(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r;
	struct sync_stream_id last = { 0, 0 };
	const char *gap;

	(void)priv;
	if ((r = sync_link_reply(ac, reply)) == NULL)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[1]->type == REDIS_REPLY_ERROR) {
		sync_link_drop(r->type == REDIS_REPLY_ERROR ? r->str :
		    "unexpected reply to the stream read");
		return;
	}
	if (sync_link_out_of_step(r->element[2])) {
		sync_link_drop("the followed replica is not in step with its "
		    "master");
		return;
	}
	sync_follow_entries(r->element[1]);
	gap = sync_follow_gap(r->element[0], &last);
	if (gap != NULL || fl.resync) {
		log_info("msg=\"full sync needed\" reason=\"%s\"",
		    gap ? gap : "resync entry");
		fl.gap();
		return;
	}
	atomic_store(&sync_state.lag_ms, (int64_t)(last.ms > fl.next.ms ?
	    last.ms - fl.next.ms : 0));
	if (sync_fetch_queued() == 0)
		sync_follow_done();
	else
		sync_fetch_send(sync_follow_on_card);
}

/* Queue the card each entry names; note resync entries. */
static void
sync_follow_entries(const redisReply *r)
{
	const redisReply *entries = sync_stream_entries(r);

	if (entries == NULL)
		return;
	for (size_t i = 0; i < entries->elements; i++) {
		const redisReply *e = entries->element[i];

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    sync_stream_parse(e->element[0]->str, e->element[0]->len,
		    &fl.next) != 0)
			continue;
		if (fl.read < SYNC_XREAD_MAX)
			fl.entry_ms[fl.read] = fl.next.ms;
		fl.read++;
		sync_follow_fields(e->element[1]);
	}
}

/* One entry's field pairs: `card X` queues X, `resync …` asks for all. */
static void
sync_follow_fields(const redisReply *kv)
{
	char id[STMT_ID_MAX];

	for (size_t k = 0; kv->type == REDIS_REPLY_ARRAY &&
	    k + 1 < kv->elements; k += 2) {
		const redisReply *f = kv->element[k], *v = kv->element[k + 1];

		if (f->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(f->str, "resync") == 0)
			fl.resync = 1;
		else if (strcmp(f->str, "card") != 0)
			continue;
		else if (record_id_normalize(v->str, v->len, id) < 0)
			log_warnx("msg=\"change entry with a bad card number "
			    "ignored\"");
		else
			sync_fetch_queue(id, v->len);
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
sync_follow_gap(const redisReply *r, struct sync_stream_id *last)
{
	const redisReply *l = sync_stream_field(r, "last-generated-id"),
	    *del = sync_stream_field(r, "max-deleted-entry-id"),
	    *added = sync_stream_field(r, "entries-added"),
	    *len = sync_stream_field(r, "length");
	static const struct sync_stream_id zero = { 0, 0 };
	struct sync_stream_id d = { 0, 0 };

	if (sync_link_is_error(r, NULL))
		return sync_stream_cmp(&fl.before, &zero) != 0 ||
		    sync_state.consumed ? "the stream is gone" : NULL;
	if (l == NULL || l->type != REDIS_REPLY_STRING ||
	    sync_stream_parse(l->str, l->len, last) != 0 || added == NULL ||
	    added->type != REDIS_REPLY_INTEGER || len == NULL ||
	    len->type != REDIS_REPLY_INTEGER)
		return "XINFO STREAM lacks the Redis 7 fields";
	if (sync_stream_cmp(last, &fl.before) < 0 ||
	    (uint64_t)added->integer < sync_state.consumed)
		return "the stream is younger than our cursor";
	if ((uint64_t)(added->integer - len->integer) > sync_state.consumed)
		return "entries after our cursor were trimmed before they were "
		    "read";
	if (del != NULL && del->type == REDIS_REPLY_STRING &&
	    sync_stream_parse(del->str, del->len, &d) == 0 &&
	    sync_stream_cmp(&d, &fl.before) > 0)
		return "entries after our cursor were deleted";
	return NULL;
}

/* A changed card fetched: apply it; the round ends with the last one. */
static void
sync_follow_on_card(const struct card *c, const char *id, size_t len)
{
	sync_follow_apply(c, id, len);
	if (sync_fetch_inflight() == 0)
		sync_follow_done();
}

/* Apply one changed card to the live index (c NULL: the card is gone). */
static void
sync_follow_apply(const struct card *c, const char *id, size_t len)
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
			atomic_fetch_sub(&sync_state.invalid, 1);
	}
	live_write_begin();
	rc = c == NULL ? (old != NULL ? index_del(idx, id, len) : 0) :
	    index_put(idx, c);
	live_write_end();
	if (rc != 0)
		log_error("msg=\"cannot apply a change (out of memory)\"");
	if (c != NULL && (c->flags & CARD_INVALID))
		atomic_fetch_add(&sync_state.invalid, 1);
	live_set_count(index_count(idx));
	snapshot_save_changed();
}

/*
 * When replaced records make up most of the arena, copy the live cards
 * into a fresh index and swap it in. Only this thread changes the live
 * index, so it may read it without the lock.
 */
static void
sync_follow_compact(void)
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

/*
 * Count how long each change of the round took from its stream entry
 * (the master's clock when it was added) to the index. On one host, or
 * hosts kept in step by NTP, that is the propagation delay an operator
 * alerts on; an id says milliseconds, so each figure is up to 1 ms high.
 * The backlog read at once after a (re)connect or a full sync is not
 * counted: its age is the outage's, or the time since a snapshot.
 */
static void
sync_follow_delays(void)
{
	struct timespec ts;
	uint64_t now_us, d;

	if (fl.catching_up)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	now_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
	for (uint64_t i = 0; i < fl.read && i < SYNC_XREAD_MAX; i++) {
		d = now_us > fl.entry_ms[i] * 1000 ? now_us -
		    fl.entry_ms[i] * 1000 : 0;
		atomic_fetch_add(&sync_state.delay[stats_bucket(d)], 1);
		atomic_fetch_add(&sync_state.delay_sum_us, d);
	}
}

/* A follow round is complete: the index is in step at the new cursor. */
static void
sync_follow_done(void)
{
	sync_follow_delays();
	sync_state.cursor = fl.next;
	sync_state.consumed += fl.read;
	live_synced(clock_now_ms());
	sync_follow_compact();
	sync_follow_round();
}
