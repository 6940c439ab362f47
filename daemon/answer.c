/* SPDX-License-Identifier: MIT */
/*
 * Answering one check, whatever protocol asked: find the card in the live
 * index, decide the reason (check.c), write the statement (protocol/
 * stmt.c); sign_queue.c has it signed. The caller holds the live state
 * (live_enter) and has refreshed its worker's clock.
 */
#include <string.h>

#include "answer.h"
#include "auth.h"
#include "code_store.h"
#include "config.h"
#include "index.h"
#include "live.h"
#include "sign.h"
#include "worker.h"

static enum stmt_reason answer_lookup(const struct check_req *,
		    int32_t at, uint64_t *rev, struct card *);
static enum stmt_reason answer_code(const struct check_req *,
		    const struct auth_who *, struct stmt *);
static void	answer_disclose(const struct check_req *,
		    const struct auth_who *, const struct card *,
		    struct stmt *);

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
 * The reason and revision for a request; *card is the record when one
 * was found (card->id_len 0 when not). A permit claimed by two cards
 * is a data error: it answers record_invalid (or, with require_birth,
 * unknown_card) until the records are fixed. An unknown_card answer
 * never carries a revision, so require_birth leaks nothing.
 */
static enum stmt_reason
answer_lookup(const struct check_req *r, int32_t at, uint64_t *rev,
    struct card *card)
{
	const struct index *idx = live_index();
	const uint8_t *rec;
	enum stmt_reason reason;

	*rev = 0;
	card->id_len = 0;
	if (!r->by_permit)
		rec = index_get(idx, r->id, r->id_len);
	else if (index_get_permit(idx, r->id, r->id_len, &rec) ==
	    INDEX_AMBIGUOUS)
		return settings.require_birth ? REASON_UNKNOWN_CARD :
		    REASON_RECORD_INVALID;
	if (rec == NULL)
		return check_eval(r, NULL, at, settings.require_birth);
	record_decode(rec, card);
	reason = check_eval(r, card, at, settings.require_birth);
	if (reason != REASON_UNKNOWN_CARD)
		*rev = card->rev;
	else
		card->id_len = 0;	/* as if not found: nothing to show */
	return reason;
}

/*
 * A code's part of the answer (PROTOCOL.md §10): its hash and issuer,
 * its reason before all others, its binding to who, and the numbers
 * who may see. Returns the reason so far (REASON_OK: go on to the card).
 */
static enum stmt_reason
answer_code(const struct check_req *r, const struct auth_who *who,
    struct stmt *s)
{
	enum stmt_reason reason = r->code_reason;
	int fleet = 0;

	s->code = r->code_hash;
	if (r->iss[0] != '\0') {
		s->iss = r->iss;
		s->iss_len = strlen(r->iss);
	}
	s->id = NULL;
	if (reason == REASON_OK) {
		reason = code_store_bind(r, who->name, &fleet);
		s->replay_local = reason != REASON_CODE_EXPIRED && !fleet;
	}
	if (reason == REASON_OK && (who->disclose & AUTH_DISCLOSE_CARD))
		s->id = r->id;
	return reason;
}

/* What a positive or found answer may add for who: permit, until. */
static void
answer_disclose(const struct check_req *r, const struct auth_who *who,
    const struct card *card, struct stmt *s)
{
	if (r->by_code && card->id_len > 0 && card->permit_len > 0 &&
	    (who->disclose & AUTH_DISCLOSE_PERMIT)) {
		s->permit = card->permit;
		s->permit_len = card->permit_len;
	}
	if (s->check == STMT_COVERAGE && s->reason == REASON_OK &&
	    (who->disclose & AUTH_DISCLOSE_UNTIL)) {
		s->has_until = 1;
		s->until = card->cover[s->scheme].until;
	}
}

/*
 * Write the statement for one request, asked by who, into out (STMT_MAX
 * bytes) and count it. A request by code was resolved first
 * (code_store_resolve). Returns its length, 0 if it could not be written;
 * *reason (when not NULL) is the statement's reason.
 */
size_t
answer_statement(struct worker *w, const struct check_req *r,
    enum stats_iface iface, const struct auth_who *who, char *out,
    enum stmt_reason *reason)
{
	struct stmt s;
	struct card card;

	memset(&s, 0, sizeof(s));
	card.id_len = 0;
	s.check = r->check;
	s.by_permit = r->by_permit;
	s.id = r->id;
	s.id_len = r->id_len;
	s.scheme = r->check == STMT_COVERAGE ? r->scheme : -1;
	s.region = r->check == STMT_COVERAGE ? r->region : -1;
	s.at = r->has_at ? r->at : w->clock.today;
	/* A statement says when at was the server's today, and where. */
	if (!r->has_at) {
		s.zone = settings.timezone;
		s.zone_len = strlen(settings.timezone);
	}
	s.reason = r->by_code ? answer_code(r, who, &s) : REASON_OK;
	if (s.reason == REASON_OK)
		s.reason = answer_lookup(r, s.at, &s.rev, &card);
	answer_disclose(r, who, &card, &s);
	s.synced_at_ms = live_synced_at();
	s.issued_at_ms = w->clock.ms;
	s.kid = sign_kid(live_keys(), &s.kid_len);
	if (r->has_nonce) {
		s.nonce = r->nonce;
		s.nonce_len = r->nonce_len;
	}
	STAT_ADD(w->stats.answers[iface][s.check][s.reason], 1);
	if (reason != NULL)
		*reason = s.reason;
	return stmt_write(&s, out, STMT_MAX);
}
