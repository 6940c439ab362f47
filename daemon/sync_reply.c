/* SPDX-License-Identifier: MIT */
/*
 * Reply objects for the Redis link without a malloc and a free each.
 * hiredis builds every reply from separately allocated objects: an
 * HGETALL of a card is an array and a string object per field name and
 * value, each with its own buffer, some 35 allocations per card. In a
 * full sync of a million cards that was two fifths of cardd's time
 * (perf: _int_malloc, _int_free, calloc), with Redis waiting for it.
 *
 * hiredis lets a reader take its own object functions (read.h,
 * redisReplyObjectFunctions). These make the same redisReply objects,
 * the link's code reads them as before, but a short string lives in its
 * object and an object or a short element vector, once freed, waits on
 * a free list for the next reply. hiredis frees each reply after its
 * callback, so the lists hold what one reply needs, not the sync's
 * worth. Only the link's thread uses them. Under AddressSanitizer what
 * waits on a list is poisoned, so a use after free is still caught.
 */
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "sync_reply.h"

#define SYNC_REPLY_INLINE	48	/* string bytes kept in the object */
#define SYNC_REPLY_VEC		64	/* elements of a pooled vector */

#define SYNC_REPLY_KEEP		1024	/* of each kind, at most */
/*
 * hiredis 0.14 allocates an array's vector as its header announces: a
 * node that sent "*1300000000" would have cardd ask for 10 GB. No reply
 * the link asks for comes near this; a longer one fails the reader
 * ("Out of memory"), and the link drops and reconnects: see
 * SYNC_REPLY_MAX_ELEMENTS in sync_reply.h.
 */

#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define SYNC_REPLY_POISON(p, n)		ASAN_POISON_MEMORY_REGION(p, n)
#define SYNC_REPLY_UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define SYNC_REPLY_POISON(p, n)		((void)(p), (void)(n))
#define SYNC_REPLY_UNPOISON(p, n)	((void)(p), (void)(n))
#endif

struct sync_reply_obj {
	redisReply		 r;		/* first: what callers see */
	struct sync_reply_obj	*next;		/* on the free list */
	char			 text[SYNC_REPLY_INLINE + 1];
};

struct sync_reply_vec {
	redisReply		*slot[SYNC_REPLY_VEC];	/* first */
	struct sync_reply_vec	*next;
};

struct sync_reply_pool {
	struct sync_reply_obj	*objs;
	struct sync_reply_vec	*vecs;
	size_t			 nobjs;
	size_t			 nvecs;
};

static struct sync_reply_pool pool;	/* the link's thread only */

static void	*sync_reply_string(const redisReadTask *, char *, size_t);
static void	*sync_reply_array(const redisReadTask *, int);
static void	*sync_reply_integer(const redisReadTask *, long long);
static void	*sync_reply_nil(const redisReadTask *);
static void	 sync_reply_free(void *);

static redisReplyObjectFunctions sync_reply_fns = {
	sync_reply_string, sync_reply_array, sync_reply_integer,
	sync_reply_nil, sync_reply_free,
};

/* The functions, for a reader's fn (the link's: sync_link_dial). */
redisReplyObjectFunctions *
sync_reply_functions(void)
{
	return &sync_reply_fns;
}

/* Free what the lists keep (the link's thread is ending). */
void
sync_reply_drain(void)
{
	while (pool.objs != NULL) {
		struct sync_reply_obj *o = pool.objs;

		pool.objs = o->next;
		free(o);
	}
	while (pool.vecs != NULL) {
		struct sync_reply_vec *v = pool.vecs;

		pool.vecs = v->next;
		free(v);
	}
	pool.nobjs = pool.nvecs = 0;
}

/* An object of type, from the list or new, linked into its parent. */
static struct sync_reply_obj *
sync_reply_obj(const redisReadTask *task, int type)
{
	struct sync_reply_obj *o = pool.objs;

	if (o != NULL) {
		pool.objs = o->next;
		pool.nobjs--;
		SYNC_REPLY_UNPOISON(&o->r, sizeof(o->r));
		SYNC_REPLY_UNPOISON(o->text, sizeof(o->text));
	} else if ((o = malloc(sizeof(*o))) == NULL)
		return NULL;
	memset(&o->r, 0, sizeof(o->r));
	o->r.type = type;
	if (task->parent != NULL) {
		redisReply *parent = task->parent->obj;

		parent->element[task->idx] = &o->r;
	}
	return o;
}

/* A status, error or bulk string: short ones in the object itself. */
static void *
sync_reply_string(const redisReadTask *task, char *str, size_t len)
{
	struct sync_reply_obj *o;
	char *buf;

	if (len <= SYNC_REPLY_INLINE)
		buf = NULL;
	else if ((buf = malloc(len + 1)) == NULL)
		return NULL;
	if ((o = sync_reply_obj(task, task->type)) == NULL) {
		free(buf);
		return NULL;
	}
	o->r.str = buf != NULL ? buf : o->text;
	memcpy(o->r.str, str, len);
	o->r.str[len] = '\0';
	o->r.len = len;
	return &o->r;
}

/* An array of n elements; short vectors from the list. */
static void *
sync_reply_array(const redisReadTask *task, int n)
{
	struct sync_reply_obj *o;
	redisReply **slot = NULL;

	if (n > SYNC_REPLY_MAX_ELEMENTS)
		return NULL;
	if (n > 0 && n <= SYNC_REPLY_VEC && pool.vecs != NULL) {
		slot = pool.vecs->slot;
		pool.vecs = pool.vecs->next;
		pool.nvecs--;
		SYNC_REPLY_UNPOISON(slot, SYNC_REPLY_VEC * sizeof(*slot));
	} else if (n > 0 && n <= SYNC_REPLY_VEC)
		slot = malloc(sizeof(struct sync_reply_vec));
	else if (n > 0)
		slot = malloc((size_t)n * sizeof(*slot));
	if (n > 0 && slot == NULL)
		return NULL;
	if ((o = sync_reply_obj(task, REDIS_REPLY_ARRAY)) == NULL) {
		free(slot);
		return NULL;
	}
	/* Elements are set as they are read; a reply cut short has NULLs. */
	if (n > 0)
		memset(slot, 0, (size_t)n * sizeof(*slot));
	o->r.element = slot;
	o->r.elements = n > 0 ? (size_t)n : 0;
	return &o->r;
}

/* An integer. */
static void *
sync_reply_integer(const redisReadTask *task, long long v)
{
	struct sync_reply_obj *o = sync_reply_obj(task, REDIS_REPLY_INTEGER);

	if (o != NULL)
		o->r.integer = v;
	return o != NULL ? &o->r : NULL;
}

/* A nil. */
static void *
sync_reply_nil(const redisReadTask *task)
{
	struct sync_reply_obj *o = sync_reply_obj(task, REDIS_REPLY_NIL);

	return o != NULL ? &o->r : NULL;
}

/* Free a reply and all in it, keeping objects and vectors for reuse. */
static void
sync_reply_free(void *p)
{
	struct sync_reply_obj *o = p;

	if (o == NULL)
		return;
	if (o->r.type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < o->r.elements; i++)
			sync_reply_free(o->r.element[i]);
		if (o->r.elements <= SYNC_REPLY_VEC && o->r.element != NULL &&
		    pool.nvecs < SYNC_REPLY_KEEP) {
			struct sync_reply_vec *v =
			    (struct sync_reply_vec *)(void *)o->r.element;

			v->next = pool.vecs;
			pool.vecs = v;
			pool.nvecs++;
			SYNC_REPLY_POISON(v->slot, sizeof(v->slot));
		} else
			free(o->r.element);
	} else if (o->r.str != NULL && o->r.str != o->text)
		free(o->r.str);
	if (pool.nobjs < SYNC_REPLY_KEEP) {
		o->next = pool.objs;
		pool.objs = o;
		pool.nobjs++;
		SYNC_REPLY_POISON(&o->r, sizeof(o->r));
		SYNC_REPLY_POISON(o->text, sizeof(o->text));
	} else
		free(o);
}
