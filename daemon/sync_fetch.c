/* SPDX-License-Identifier: MIT */
/*
 * Cards by HGETALL, pipelined, for the full sync and the follow alike.
 * Replies come back in the order asked, so the card numbers they
 * belong to wait in a FIFO; each reply becomes a card (or "gone") for
 * the phase that asked, through its callback. The follow queues the
 * numbers its entries name first and sends them once the gap check has
 * passed (sync_fetch_queue, sync_fetch_send).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "config.h"
#include "record.h"
#include "sync_fetch.h"
#include "sync_link.h"
#include "sync_reject.h"

#define SYNC_FIFO		(SYNC_INFLIGHT * 2)

struct sync_fetch_slot {
	char		id[STMT_ID_MAX];
	uint8_t		len;
};

struct sync_fetch {
	struct sync_fetch_slot	*fifo;
	size_t			 head;
	size_t			 len;
	size_t			 inflight;
	sync_fetch_got		 got;	/* the phase that asked */
};

static struct sync_fetch fe;

static void	sync_fetch_one(const char *, size_t);
static void	sync_fetch_hgetall(const char *);
static int	sync_fetch_field(const char *, size_t);
static void	sync_fetch_on_reply(redisAsyncContext *, void *, void *);
static int	sync_fetch_decode(const redisReply *,
		    const struct sync_fetch_slot *, struct card *);

/* Allocate the FIFO. */
int
sync_fetch_init(void)
{
	fe.fifo = calloc(SYNC_FIFO, sizeof(*fe.fifo));
	return fe.fifo != NULL ? 0 : -1;
}

/* Free the FIFO. */
void
sync_fetch_free(void)
{
	free(fe.fifo);
	fe.fifo = NULL;
}

/* Forget the fetches in flight (their replies, if any, are ignored). */
void
sync_fetch_abandon(void)
{
	fe.head = fe.len = fe.inflight = 0;
}

/* Fetch one card now; got receives it. */
void
sync_fetch_card(const char *id, size_t len, sync_fetch_got got)
{
	fe.got = got;
	sync_fetch_one(id, len);
}

/* Queue a card number without asking yet (dropped when the FIFO is full). */
void
sync_fetch_queue(const char *id, size_t len)
{
	struct sync_fetch_slot *q;

	if (fe.len >= SYNC_FIFO)
		return;
	q = &fe.fifo[(fe.head + fe.len++) % SYNC_FIFO];
	memcpy(q->id, id, len);
	q->len = (uint8_t)len;
}

/* Fetch each queued card, in place in the FIFO; got receives them. */
void
sync_fetch_send(sync_fetch_got got)
{
	size_t n = fe.len;

	fe.got = got;
	fe.len = 0;
	for (size_t i = 0; i < n; i++) {
		struct sync_fetch_slot q = fe.fifo[(fe.head + i) % SYNC_FIFO];

		sync_fetch_one(q.id, q.len);
	}
}

/* Card numbers queued or in flight. */
size_t
sync_fetch_queued(void)
{
	return fe.len;
}

/* Fetches sent whose replies have not come back. */
size_t
sync_fetch_inflight(void)
{
	return fe.inflight;
}

/*
 * Fetch one card, its number queued in the FIFO. A number that is not in
 * normal form (6-32 of 0-9A-Z) cannot be a card key: logged, counted.
 */
static void
sync_fetch_one(const char *id, size_t len)
{
	struct sync_fetch_slot *f;
	char key[512];

	if (fe.len == SYNC_FIFO) {
		sync_link_drop("too many fetches in flight");
		return;
	}
	if (record_id_normalize(id, len, key) < 0 ||
	    memcmp(key, id, len) != 0) {
		sync_reject_key(id, len);
		return;
	}
	f = &fe.fifo[(fe.head + fe.len++) % SYNC_FIFO];
	memcpy(f->id, id, len);
	f->len = (uint8_t)len;
	snprintf(key, sizeof(key), "%s%.*s", settings.key_prefix, (int)len, id);
	fe.inflight++;
	sync_fetch_hgetall(key);
}

/*
 * Send HGETALL key. It costs Redis a quarter less than HMGET with every
 * field name (no names to parse and look up; bench/RESULTS.md, issue 11),
 * and the full sync is bound by Redis's one core.
 */
static void
sync_fetch_hgetall(const char *key)
{
	const char *argv[2] = { "HGETALL", key };
	size_t lens[2] = { 7, strlen(key) };

	sync_link_argv(sync_fetch_on_reply, NULL, 2, argv, lens);
}

/* A reply: the card at the head of the FIFO, for the phase. */
static void
sync_fetch_on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r;
	struct sync_fetch_slot *f;
	struct card c;
	int have;

	(void)priv;
	if (fe.len == 0 || (r = sync_link_reply(ac, reply)) == NULL)
		return;
	f = &fe.fifo[fe.head];
	fe.head = (fe.head + 1) % SYNC_FIFO;
	fe.len--;
	fe.inflight--;
	have = sync_fetch_decode(r, f, &c);
	fe.got(have ? &c : NULL, f->id, f->len);
}

/* The record field a hash field name is, or -1 (other fields are ignored). */
static int
sync_fetch_field(const char *name, size_t len)
{
	for (int i = 0; i < RECORD_NFIELDS; i++) {
		const char *f = record_field_name(i);

		/* Most names differ in the first byte: no call for those. */
		if (f[0] == name[0] && strncmp(f, name, len) == 0 &&
		    f[len] == '\0')
			return i;
	}
	return -1;
}

/*
 * A card from its HGETALL reply. Returns 1 for a card, 0 when the key is
 * gone (no fields). A key that is not a hash answers record_invalid
 * rather than vanish.
 */
static int
sync_fetch_decode(const redisReply *r, const struct sync_fetch_slot *f,
    struct card *c)
{
	struct record_value v[RECORD_NFIELDS];
	int i, any = 0;

	memset(v, 0, sizeof(v));
	if (r->type == REDIS_REPLY_ARRAY && r->elements % 2 == 0) {
		for (size_t k = 0; k < r->elements; k += 2) {
			const redisReply *n = r->element[k], *e =
			    r->element[k + 1];

			if (n->type != REDIS_REPLY_STRING ||
			    e->type != REDIS_REPLY_STRING ||
			    (i = sync_fetch_field(n->str, n->len)) < 0)
				continue;
			v[i].p = e->str;
			v[i].len = e->len;
			any = 1;
		}
		if (!any)
			return 0;	/* gone, or none of a card's fields */
		record_build(c, f->id, f->len, v);
	} else {
		memset(c, 0, sizeof(*c) - sizeof(c->xregion));
		record_invalid(c, f->id, f->len, "key is not a hash");
	}
	if (c->flags & CARD_INVALID)
		sync_reject_record(c);
	return 1;
}
