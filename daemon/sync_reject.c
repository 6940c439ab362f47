/* SPDX-License-Identifier: MIT */
/*
 * Rejected records and keys from Redis, logged and counted
 * (records_rejected). A record that breaks a rule of protocol/PROTOCOL.md
 * §7 is kept and answers record_invalid; it is logged once per (card,
 * revision), since a full sync or a change entry re-reads it again and
 * again. The table of those seen holds hashes, open addressing, and stops
 * remembering at half full (later ones are then logged each time). A key
 * that is no card number in normal form is skipped, logged every time.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <xxhash.h>

#include "log.h"
#include "record.h"
#include "sync_priv.h"
#include "sync_reject.h"

#define SYNC_SEEN_MAX		(1u << 20)	/* rejections remembered */

struct sync_reject {
	uint64_t	*seen;		/* (card, rev) rejections logged */
	size_t		 nseen;
};

static struct sync_reject rj;

/* Allocate the table of rejections seen. */
int
sync_reject_init(void)
{
	rj.seen = calloc(SYNC_SEEN_MAX, sizeof(*rj.seen));
	return rj.seen != NULL ? 0 : -1;
}

/* Free the table. */
void
sync_reject_free(void)
{
	free(rj.seen);
	rj.seen = NULL;
	rj.nseen = 0;
}

/* A key that is not a card number in normal form: skipped. */
void
sync_reject_key(const char *id, size_t len)
{
	char tag[17];

	log_warnx("msg=\"key is not a card number in normal form; "
	    "skipped\" card=%s", log_id_tag(id, len, tag));
	atomic_fetch_add(&sync_state.rejected, 1);
}

/* Log and count a rejected record once per (card, revision). */
void
sync_reject_record(const struct card *c)
{
	uint64_t h = XXH3_64bits(c->id, c->id_len) ^
	    (c->rev * 0x9e3779b97f4a7c15ull), *slot;
	char tag[17];
	size_t i;

	h |= 1;		/* 0 marks an empty slot */
	for (i = h % SYNC_SEEN_MAX; rj.seen[i] != 0 && rj.seen[i] != h;
	    i = (i + 1) % SYNC_SEEN_MAX)
		;
	slot = &rj.seen[i];
	if (*slot == h)
		return;
	if (rj.nseen < SYNC_SEEN_MAX / 2) {
		*slot = h;
		rj.nseen++;
	}
	atomic_fetch_add(&sync_state.rejected, 1);
	log_warnx("msg=\"record rejected; the card answers record_invalid\" "
	    "card=%s rev=%llu problem=\"%s\"", log_id_tag(c->id, c->id_len,
	    tag), (unsigned long long)c->rev, c->why ? c->why : "invalid");
}
