/* SPDX-License-Identifier: MIT */
/*
 * Answering one check, whatever protocol asked: find the card in the live
 * index, decide the reason (check.c), write the statement (protocol/
 * stmt.c); sign_queue.c has it signed. The caller holds the live state
 * (live_enter) and has refreshed its worker's clock.
 */
#include <string.h>

#include "answer.h"
#include "config.h"
#include "index.h"
#include "live.h"
#include "sign.h"
#include "worker.h"

static enum stmt_reason answer_lookup(const struct check_req *,
		    int32_t at, uint64_t *rev);

/* Whether answers may be given now: an index exists and is fresh. */
enum answer_state
answer_state(const struct worker *w)
{
	return answer_state_at(w->clock.ms);
}

/* The same at a given time, for threads without a worker's clock. */
enum answer_state
answer_state_at(int64_t now_ms)
{
	int64_t synced = live_synced_at();

	if (live_index() == NULL || synced == 0)
		return ANSWER_NOT_READY;
	if (now_ms - synced > (int64_t)settings.max_staleness * 1000)
		return ANSWER_STALE;
	return ANSWER_READY;
}

/*
 * The reason and revision for a request. A permit claimed by two cards
 * is a data error: it answers record_invalid (or, with require_birth,
 * unknown_card) until the records are fixed. An unknown_card answer
 * never carries a revision, so require_birth leaks nothing.
 */
static enum stmt_reason
answer_lookup(const struct check_req *r, int32_t at, uint64_t *rev)
{
	const struct index *idx = live_index();
	const uint8_t *rec;
	struct card card;
	enum stmt_reason reason;

	*rev = 0;
	if (!r->by_permit)
		rec = index_get(idx, r->id, r->id_len);
	else if (index_get_permit(idx, r->id, r->id_len, &rec) ==
	    INDEX_AMBIGUOUS)
		return settings.require_birth ? REASON_UNKNOWN_CARD :
		    REASON_RECORD_INVALID;
	if (rec == NULL)
		return check_eval(r, NULL, at, settings.require_birth);
	record_decode(rec, &card);
	reason = check_eval(r, &card, at, settings.require_birth);
	if (reason != REASON_UNKNOWN_CARD)
		*rev = card.rev;
	return reason;
}

/*
 * Write the statement for one request into out (STMT_MAX bytes) and count
 * it. Returns its length, 0 if it could not be written.
 */
size_t
answer_statement(struct worker *w, const struct check_req *r,
    enum stats_iface iface, char *out)
{
	struct stmt s;

	memset(&s, 0, sizeof(s));
	s.check = r->check;
	s.by_permit = r->by_permit;
	s.id = r->id;
	s.id_len = r->id_len;
	s.scheme = r->check == STMT_COVERAGE ? r->scheme : -1;
	s.region = r->check == STMT_COVERAGE ? r->region : -1;
	s.at = r->has_at ? r->at : w->clock.today;
	s.reason = answer_lookup(r, s.at, &s.rev);
	s.synced_at_ms = live_synced_at();
	s.issued_at_ms = w->clock.ms;
	s.kid = sign_kid(live_keys(), &s.kid_len);
	if (r->has_nonce) {
		s.nonce = r->nonce;
		s.nonce_len = r->nonce_len;
	}
	STAT_ADD(w->stats.answers[iface][s.check][s.reason], 1);
	return stmt_write(&s, out, STMT_MAX);
}
