/* SPDX-License-Identifier: MIT */
/*
 * The card codes this daemon has seen (PROTOCOL.md §10). A code whose
 * signature verified is kept until it expires (exp + code_clock_skew),
 * so a visit's several checks verify it once; with it is kept the client
 * it is bound to, the first that asked with it. Keyed by the SHA-256 of
 * the code text, in 64 shards of one lock each, so the workers seldom
 * meet. Each shard drops its expired codes oldest first as new ones
 * come in; a shard full of live codes refuses new ones (never evicts a
 * binding: that would let a copied code be used again).
 * With a Redis source the fleet's binding, kept on the master
 * (code_bind.c), is written here once known, so later checks of the
 * same code on this daemon need no round trip.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "b64url.h"
#include "cardcode.h"
#include "check.h"
#include "code_store.h"
#include "config.h"
#include "issuer.h"
#include "live.h"
#include "log.h"
#include "record.h"

#define CODE_STORE_SHARDS	64
#define CODE_STORE_BUCKETS	16384	/* per shard, a power of two */
#define CODE_STORE_CAP		16384	/* codes per shard: 1,048,576 in all */

/* Who knows a code's binding: nobody yet, this daemon, or the fleet. */
enum { CODE_BOUND_NONE, CODE_BOUND_LOCAL, CODE_BOUND_FLEET };

struct code_entry {
	uint8_t			 digest[32];
	struct code_entry	*next;		/* in its bucket */
	struct code_entry	*younger;	/* in the shard's age order */
	int64_t			 expire;	/* s: exp + skew */
	int64_t			 iat, exp, nbf;
	uint64_t		 gen;		/* issuer table it verified with */
	char			 sub[STMT_ID_MAX];
	uint8_t			 sub_len;
	uint8_t			 bound;		/* CODE_BOUND_* */
	char			 iss[CARDCODE_NAME_MAX + 1];
	XXH128_hash_t		 client;	/* hash of the bound client */
};

struct code_shard {
	pthread_mutex_t		 lock;
	struct code_entry	**bucket;
	struct code_entry	*oldest;
	struct code_entry	*youngest;
	size_t			 count;
};

static struct code_shard *code_shards;

static struct code_shard *code_store_shard(const uint8_t *);
static struct code_entry **code_store_slot(struct code_shard *,
		    const uint8_t *);
static void	code_store_sweep(struct code_shard *, int64_t);
static enum code_store_result code_store_verify(struct check_req *,
		    int64_t, const char **);
static int	code_store_keep(const struct check_req *,
		    const struct cardcode *, uint64_t, int64_t);
static void	code_store_refuse(struct check_req *, const char *);
static XXH128_hash_t code_store_client(const char *, size_t);

/* Allocate the shards (their buckets are touched only when used). */
int
code_store_init(void)
{
	if ((code_shards = calloc(CODE_STORE_SHARDS, sizeof(*code_shards))) ==
	    NULL)
		return -1;
	for (int i = 0; i < CODE_STORE_SHARDS; i++) {
		pthread_mutex_init(&code_shards[i].lock, NULL);
		if ((code_shards[i].bucket = calloc(CODE_STORE_BUCKETS,
		    sizeof(*code_shards[i].bucket))) == NULL)
			return -1;
	}
	return 0;
}

/* Free every code (the workers have stopped). */
void
code_store_free(void)
{
	struct code_entry *e, *next;

	for (int i = 0; code_shards != NULL && i < CODE_STORE_SHARDS; i++) {
		for (e = code_shards[i].oldest; e != NULL; e = next) {
			next = e->younger;
			free(e);
		}
		free(code_shards[i].bucket);
		pthread_mutex_destroy(&code_shards[i].lock);
	}
	free(code_shards);
	code_shards = NULL;
}

/* The shard of a digest (SHA-256 is uniform: its first byte will do). */
static struct code_shard *
code_store_shard(const uint8_t *d)
{
	return &code_shards[d[0] % CODE_STORE_SHARDS];
}

/* Where the entry of a digest is, or would be linked (shard locked). */
static struct code_entry **
code_store_slot(struct code_shard *s, const uint8_t *d)
{
	uint32_t h;
	struct code_entry **p;

	memcpy(&h, d + 1, sizeof(h));
	for (p = &s->bucket[h & (CODE_STORE_BUCKETS - 1)]; *p != NULL;
	    p = &(*p)->next)
		if (memcmp((*p)->digest, d, 32) == 0)
			break;
	return p;
}

/* Drop the shard's codes that have expired, oldest first. */
static void
code_store_sweep(struct code_shard *s, int64_t now)
{
	struct code_entry *e, **p;

	while ((e = s->oldest) != NULL && e->expire < now) {
		p = code_store_slot(s, e->digest);
		*p = e->next;
		if ((s->oldest = e->younger) == NULL)
			s->youngest = NULL;
		s->count--;
		free(e);
	}
}

/* Answer code_invalid; why goes to the debug log with the code's hash. */
static void
code_store_refuse(struct check_req *r, const char *why)
{
	r->code_reason = REASON_CODE_INVALID;
	r->id_len = 0;
	log_debug("msg=\"code not accepted\" code=%.*s why=\"%s\"",
	    STMT_CODE_LEN, r->code_hash, why);
}

/*
 * Keep a verified code (or refresh one verified with an older issuer
 * table: its binding stays). -1 when its shard is full of live codes.
 */
static int
code_store_keep(const struct check_req *r, const struct cardcode *cc,
    uint64_t gen, int64_t now)
{
	struct code_shard *s = code_store_shard(r->code_digest);
	struct code_entry **p, *e;
	int64_t expire = cc->exp + settings.code_clock_skew;

	pthread_mutex_lock(&s->lock);
	code_store_sweep(s, now);
	p = code_store_slot(s, r->code_digest);
	if ((e = *p) == NULL) {
		if (s->count >= CODE_STORE_CAP ||
		    (e = calloc(1, sizeof(*e))) == NULL) {
			pthread_mutex_unlock(&s->lock);
			return -1;
		}
		memcpy(e->digest, r->code_digest, 32);
		*p = e;
		if (s->youngest != NULL)
			s->youngest->younger = e;
		else
			s->oldest = e;
		s->youngest = e;
		s->count++;
	}
	e->expire = expire;
	e->iat = cc->iat;
	e->exp = cc->exp;
	e->nbf = cc->nbf;
	e->gen = gen;
	memcpy(e->sub, r->id, r->id_len);
	e->sub_len = (uint8_t)r->id_len;
	strcpy(e->iss, cc->iss);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Not kept (or kept from an older issuer table): read and verify it. */
static enum code_store_result
code_store_verify(struct check_req *r, int64_t now, const char **err)
{
	struct issuer_table *it = live_issuers();
	struct cardcode cc;
	EVP_PKEY *pub;
	const char *why = NULL;
	int n;

	switch (cardcode_parse(r->code, r->code_len, &cc, err)) {
	case CARDCODE_BAD:
		return CODE_STORE_BAD;
	case CARDCODE_OK:
		break;
	default:
		strcpy(r->iss, cc.iss);
		code_store_refuse(r, cc.why);
		return CODE_STORE_OK;
	}
	strcpy(r->iss, cc.iss);
	if ((pub = issuer_key(it, cc.iss, cc.kid, &why)) == NULL ||
	    cardcode_verify(&cc, pub) != 1) {
		code_store_refuse(r, why != NULL ? why : "bad signature");
		return CODE_STORE_OK;
	}
	if ((n = record_id_normalize(cc.sub, strlen(cc.sub), r->id)) < 0) {
		code_store_refuse(r, "sub is not a card number");
		return CODE_STORE_OK;
	}
	r->id_len = (size_t)n;
	switch (cardcode_times(&cc, now, settings.code_max_lifetime,
	    settings.code_clock_skew)) {
	case CARDCODE_INVALID:
		code_store_refuse(r, "lifetime too long, or issued later "
		    "than now");
		return CODE_STORE_OK;
	case CARDCODE_EXPIRED:
		r->code_reason = REASON_CODE_EXPIRED;
		return CODE_STORE_OK;
	default:
		break;
	}
	if (code_store_keep(r, &cc, issuer_table_gen(it), now) != 0)
		return CODE_STORE_FULL;
	r->code_reason = REASON_OK;
	return CODE_STORE_OK;
}

/*
 * Judge the code of r at now_ms: fills its hash, issuer, card and
 * code_reason. CODE_STORE_BAD: not a code at all (*err for the client);
 * CODE_STORE_FULL: too many codes in flight. The caller holds the live
 * state (live_enter).
 */
enum code_store_result
code_store_resolve(struct check_req *r, int64_t now_ms, const char **err)
{
	struct code_shard *s;
	struct code_entry *e;
	struct cardcode cc;
	int64_t now = now_ms / 1000;

	cardcode_digest(r->code, r->code_len, r->code_digest);
	b64url_encode(r->code_digest, 32, r->code_hash);
	s = code_store_shard(r->code_digest);
	pthread_mutex_lock(&s->lock);
	e = *code_store_slot(s, r->code_digest);
	if (e == NULL || e->gen != issuer_table_gen(live_issuers())) {
		pthread_mutex_unlock(&s->lock);
		return code_store_verify(r, now, err);
	}
	memcpy(r->id, e->sub, e->sub_len);
	r->id_len = e->sub_len;
	strcpy(r->iss, e->iss);
	memset(&cc, 0, sizeof(cc));
	cc.iat = e->iat;
	cc.exp = e->exp;
	cc.nbf = e->nbf;
	pthread_mutex_unlock(&s->lock);
	switch (cardcode_times(&cc, now, settings.code_max_lifetime,
	    settings.code_clock_skew)) {
	case CARDCODE_OK:
		r->code_reason = REASON_OK;
		break;
	case CARDCODE_EXPIRED:
		r->code_reason = REASON_CODE_EXPIRED;
		break;
	default:
		code_store_refuse(r, "lifetime too long, or issued later "
		    "than now");
	}
	return CODE_STORE_OK;
}

/* The hash a client is known by in a binding (NULL: the anonymous one). */
static XXH128_hash_t
code_store_client(const char *client, size_t len)
{
	return XXH3_128bits(client != NULL ? client : "",
	    client != NULL ? len : 0);
}

/*
 * Bind r's code (resolved, code_reason OK) to client (NULL: the one
 * anonymous client of auth none): REASON_OK when it is bound to this
 * client now or was already, REASON_CODE_REPLAYED when to another.
 * *fleet says whether the binding is the fleet's (code_store_fleet_set)
 * rather than this daemon's alone.
 */
enum stmt_reason
code_store_bind(const struct check_req *r, const char *client, int *fleet)
{
	struct code_shard *s = code_store_shard(r->code_digest);
	XXH128_hash_t h = code_store_client(client, client != NULL ?
	    strlen(client) : 0);
	struct code_entry *e;
	enum stmt_reason reason = REASON_OK;

	*fleet = 0;
	pthread_mutex_lock(&s->lock);
	if ((e = *code_store_slot(s, r->code_digest)) == NULL)
		reason = REASON_CODE_EXPIRED;	/* swept since: expired */
	else if (e->bound == CODE_BOUND_NONE) {
		e->bound = CODE_BOUND_LOCAL;
		e->client = h;
	} else if (!XXH128_isEqual(e->client, h))
		reason = REASON_CODE_REPLAYED;
	if (e != NULL)
		*fleet = e->bound == CODE_BOUND_FLEET;
	pthread_mutex_unlock(&s->lock);
	return reason;
}

/*
 * Should r's code (resolved, code_reason OK) be bound in the fleet's
 * store for client before it is answered? Yes unless the fleet's binding
 * is known here already, or this daemon has bound it to another client
 * (code_replayed whatever the store says). *ttl is how long the store
 * should keep it, in seconds from now_s.
 */
int
code_store_fleet_needed(const struct check_req *r, const char *client,
    int64_t now_s, int64_t *ttl)
{
	struct code_shard *s = code_store_shard(r->code_digest);
	XXH128_hash_t h = code_store_client(client, client != NULL ?
	    strlen(client) : 0);
	struct code_entry *e;
	int need = 0;

	pthread_mutex_lock(&s->lock);
	if ((e = *code_store_slot(s, r->code_digest)) != NULL &&
	    (e->bound == CODE_BOUND_NONE || (e->bound == CODE_BOUND_LOCAL &&
	    XXH128_isEqual(e->client, h)))) {
		need = 1;
		*ttl = e->expire - now_s > 0 ? e->expire - now_s : 1;
	}
	pthread_mutex_unlock(&s->lock);
	return need;
}

/*
 * The fleet's store says the code of digest is bound to owner (len
 * bytes; len 0: the anonymous client): so it is here too, whatever this
 * daemon had bound it to while the store was away.
 */
void
code_store_fleet_set(const uint8_t *digest, const char *owner, size_t len)
{
	struct code_shard *s = code_store_shard(digest);
	struct code_entry *e;

	pthread_mutex_lock(&s->lock);
	if ((e = *code_store_slot(s, digest)) != NULL) {
		e->bound = CODE_BOUND_FLEET;
		e->client = code_store_client(len > 0 ? owner : NULL, len);
	}
	pthread_mutex_unlock(&s->lock);
}
