/* SPDX-License-Identifier: MIT */
/*
 * sign_mode batch (protocol/PROTOCOL.md §4.3). An answer is
 * not signed when it is made: its statement is kept, with the place in
 * its connection's output where the reply belongs. While answers wait,
 * the worker's loop turns without sleeping (worker.c) and keeps taking
 * the requests that arrive; it flushes when a turn finds nothing new,
 * when SIGN_BATCH_PENDING answers wait, or when the oldest has waited
 * SIGN_BATCH_WAIT_US. The flush builds Merkle trees over the statements
 * (at most SIGN_BATCH_TREE leaves each, so proofs stay short), signs each
 * root once, and writes every waiting reply into its place with its
 * proof. A tree of one leaf is signed as a plain detached JWS.
 *
 * While a connection has replies waiting (c->held), net_tcp neither
 * writes nor closes it; a connection that goes away first is forgotten
 * here (its protocol calls sign_batch_forget). The worker keeps the live
 * state entered until the flush, so the key that named itself in the
 * statements is the key that signs them. This file knows connections
 * only as an output buffer and a place on the end-of-pass list.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "live.h"
#include "log.h"
#include "merkle.h"
#include "net_tcp.h"
#include "sign.h"
#include "sign_batch.h"

#define SIGN_BATCH_TREE	128
#define SIGN_BATCH_PENDING 1024	/* answers that make a flush due */
#define SIGN_BATCH_WAIT_US 250	/* the longest an answer waits to be signed */
#define SIGN_BATCH_NONE	UINT32_MAX

struct sign_batch_leaf {
	struct conn		*c;		/* NULL: the connection went away */
	struct sign_batch_hold	*hold;		/* c's */
	sign_batch_render	 render;
	unsigned		 flags;
	size_t			 out_off;	/* where in c->out the reply goes */
	size_t			 stmt_off;	/* in the arena */
	size_t			 stmt_len;
	uint32_t		 next;		/* next leaf of the same conn */
	uint32_t		 tree;
	struct timespec		 t0;
	enum stats_iface	 iface;
};

struct sign_batch_tree {
	size_t		 first;		/* first leaf */
	size_t		 n;
	size_t		 nodes;		/* offset of its nodes in b->nodes */
	char		 jws[JWS_DETACHED_MAX];	/* H..S over the root */
	size_t		 jws_len;
};

struct sign_batch {
	struct sign_batch_leaf	*leaves;
	size_t			 n;
	size_t			 cap;
	struct buf		 arena;		/* statements */
	uint8_t			(*nodes)[MERKLE_HASH];
	size_t			 nodes_cap;
	struct sign_batch_tree	*trees;
	size_t			 trees_cap;
	struct merkle_hasher	*hasher;
	struct sign_ctx		*sign;		/* the worker's */
	struct stats		*stats;		/* the worker's */
	int			 failed;	/* signing failed this pass */
};

static int	sign_batch_reserve(struct sign_batch *, size_t);
static int	sign_batch_trees(struct sign_batch *, size_t *);
static int	sign_batch_root(struct sign_batch *, struct sign_batch_tree *);
static size_t	sign_batch_proof(struct sign_batch *, size_t, char *);
static void	sign_batch_render_conn(struct sign_batch *, struct conn *,
		    struct sign_batch_hold *);

/* A worker's batch state, signing with its context, counting in its stats. */
struct sign_batch *
sign_batch_new(struct sign_ctx *sign, struct stats *stats)
{
	struct sign_batch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	if ((b->hasher = merkle_hasher_new()) == NULL) {
		free(b);
		return NULL;
	}
	b->sign = sign;
	b->stats = stats;
	return b;
}

/* Free a worker's batch state. */
void
sign_batch_free(struct sign_batch *b)
{
	if (b == NULL)
		return;
	merkle_hasher_free(b->hasher);
	free(b->leaves);
	buf_free(&b->arena);
	free(b->nodes);
	free(b->trees);
	free(b);
}

/* Room for one more leaf, and the tree scratch that goes with it. */
static int
sign_batch_reserve(struct sign_batch *b, size_t need)
{
	size_t cap = b->cap ? b->cap * 2 : 256;
	void *p;

	if (need <= b->cap)
		return 0;
	if ((p = realloc(b->leaves, cap * sizeof(*b->leaves))) == NULL)
		return -1;
	b->leaves = p;
	if ((p = realloc(b->trees, cap * sizeof(*b->trees))) == NULL)
		return -1;
	b->trees = p;
	b->nodes_cap = MERKLE_TREE_SLOTS(cap) + cap / SIGN_BATCH_TREE *
	    MERKLE_MAX_PATH + MERKLE_MAX_PATH;
	if ((p = realloc(b->nodes, b->nodes_cap * MERKLE_HASH)) == NULL)
		return -1;
	b->nodes = p;
	b->cap = cap;
	return 0;
}

/*
 * Keep a statement until the end of the pass; its reply goes where the
 * connection's output ends now. Returns -1 when memory runs out.
 */
int
sign_batch_add(struct sign_batch *b, struct conn *c,
    struct sign_batch_hold *h, sign_batch_render render, unsigned flags,
    const char *stmt, size_t len, const struct timespec *t0,
    enum stats_iface iface)
{
	struct sign_batch_leaf *l;

	if (sign_batch_reserve(b, b->n + 1) != 0 ||
	    buf_append(&b->arena, stmt, len) != 0)
		return -1;
	l = &b->leaves[b->n];
	*l = (struct sign_batch_leaf){ .c = c, .hold = h, .render = render,
	    .flags = flags, .out_off = c->out.len,
	    .stmt_off = b->arena.len - len, .stmt_len = len,
	    .next = SIGN_BATCH_NONE, .t0 = *t0, .iface = iface };
	if (h->n++ == 0)
		h->first = (uint32_t)b->n;
	else
		b->leaves[h->last].next = (uint32_t)b->n;
	h->last = (uint32_t)b->n;
	c->held++;
	b->n++;
	return 0;
}

/* True while answers wait for their signature. */
int
sign_batch_waiting(const struct sign_batch *b)
{
	return b != NULL && b->n > 0;
}

/* Should the waiting answers be signed now? idle: no new request came. */
int
sign_batch_due(const struct sign_batch *b, int idle)
{
	return b->n > 0 && (idle || b->n >= SIGN_BATCH_PENDING ||
	    clock_elapsed_us(&b->leaves[0].t0) >= SIGN_BATCH_WAIT_US);
}

/* A connection closes with replies waiting: drop them. */
void
sign_batch_forget(struct sign_batch *b, struct sign_batch_hold *h)
{
	for (uint32_t i = h->first; h->n > 0 && i != SIGN_BATCH_NONE;
	    i = b->leaves[i].next)
		b->leaves[i].c = NULL;
	h->n = 0;
}

/* Sign the root of one tree: the detached JWS H..S into t->jws. */
static int
sign_batch_root(struct sign_batch *b, struct sign_batch_tree *t)
{
	const struct sign_keyring *kr = live_keys();
	char input[MERKLE_INPUT_MAX];
	uint8_t sig[JWS_SIG_LEN];
	size_t hlen, root, n;
	const char *hdr = sign_header(kr, &hlen);

	root = merkle_build_h(b->hasher, b->nodes + t->nodes, t->n);
	n = merkle_signing_input(hdr, hlen, b->nodes[t->nodes + root], t->n,
	    input);
	if (sign_raw(b->sign, kr, input, n, sig) != 0)
		return -1;
	t->jws_len = jws_detached(hdr, hlen, sig, t->jws);
	STAT_ADD(b->stats->signatures, 1);
	return 0;
}

/*
 * Split the leaves into trees of near-equal size, hash them and sign the
 * roots. *ntrees gets the count.
 */
static int
sign_batch_trees(struct sign_batch *b, size_t *ntrees)
{
	size_t k = (b->n + SIGN_BATCH_TREE - 1) / SIGN_BATCH_TREE, at = 0,
	    nodes = 0;

	for (size_t t = 0; t < k; t++) {
		struct sign_batch_tree *tr = &b->trees[t];

		tr->first = at;
		tr->n = b->n / k + (t < b->n % k);
		tr->nodes = nodes;
		for (size_t i = 0; i < tr->n; i++) {
			struct sign_batch_leaf *l = &b->leaves[at + i];

			l->tree = (uint32_t)t;
			merkle_leaf_h(b->hasher, buf_head(&b->arena) +
			    l->stmt_off, l->stmt_len, b->nodes[nodes + i]);
		}
		if (tr->n > 1 && sign_batch_root(b, tr) != 0)
			return -1;
		at += tr->n;
		nodes += MERKLE_TREE_SLOTS(tr->n);
	}
	*ntrees = k;
	return 0;
}

/* The signature string of leaf i; out needs MERKLE_PROOF_MAX bytes. */
static size_t
sign_batch_proof(struct sign_batch *b, size_t i, char *out)
{
	struct sign_batch_leaf *l = &b->leaves[i];
	struct sign_batch_tree *t = &b->trees[l->tree];
	uint8_t path[MERKLE_MAX_PATH][MERKLE_HASH];
	size_t np, len;

	if (b->failed)
		return 0;
	if (t->n == 1) {
		STAT_ADD(b->stats->signatures, 1);
		return sign_jws(b->sign, live_keys(), buf_head(&b->arena) +
		    l->stmt_off, l->stmt_len, out, &len) == 0 ? len : 0;
	}
	np = merkle_path((const uint8_t (*)[MERKLE_HASH])b->nodes + t->nodes,
	    t->n, i - t->first, path);
	memcpy(out, t->jws, t->jws_len);
	return t->jws_len + merkle_proof_tail(t->n, i - t->first,
	    (const uint8_t (*)[MERKLE_HASH])path, np, out + t->jws_len);
}

/* Rebuild one connection's output with its replies in their places. */
static void
sign_batch_render_conn(struct sign_batch *b, struct conn *c,
    struct sign_batch_hold *h)
{
	struct buf nb = { 0 };
	char proof[MERKLE_PROOF_MAX];
	size_t prev = 0, plen;
	int fail = 0;

	for (uint32_t i = h->first; i != SIGN_BATCH_NONE;
	    i = b->leaves[i].next) {
		struct sign_batch_leaf *l = &b->leaves[i];

		fail |= buf_append(&nb, buf_head(&c->out) + prev,
		    l->out_off - prev);
		prev = l->out_off;
		if ((plen = sign_batch_proof(b, i, proof)) == 0) {
			fail = 1;
			continue;
		}
		l->render(c, &nb, l->flags, buf_head(&b->arena) + l->stmt_off,
		    l->stmt_len, proof, plen);
		stats_latency(b->stats, l->iface, clock_elapsed_us(&l->t0));
	}
	fail |= buf_append(&nb, buf_head(&c->out) + prev, c->out.len - prev);
	buf_free(&c->out);
	c->out = nb;
	c->held -= h->n;
	h->n = 0;
	if (fail) {
		log_error("msg=\"cannot sign or place batched answers\" "
		    "action=close");
		c->closing = 1;
		buf_free(&c->out);
	}
}

/*
 * Sign what waits and put every reply in place; the connections are
 * written when the loop pass ends (net_tcp_flush_deferred), and the
 * worker leaves the live state then.
 */
void
sign_batch_flush(struct sign_batch *b)
{
	size_t ntrees;

	b->failed = b->n > 0 && sign_batch_trees(b, &ntrees) != 0;
	if (b->failed)
		log_error("msg=\"batch signing failed\"");
	for (size_t i = 0; i < b->n; i++) {
		struct sign_batch_leaf *l = &b->leaves[i];

		if (l->c == NULL || l->hold->n == 0)
			continue;
		sign_batch_render_conn(b, l->c, l->hold);
		net_tcp_conn_defer(l->c);
	}
	b->n = 0;
	buf_consume(&b->arena, b->arena.len);
}
