/* SPDX-License-Identifier: MIT */
/*
 * The live state: the index, the signing keys, the client table and the
 * TLS context that answers are made with. Readers are the worker threads; a writer is the source follower
 * (a new index, one changed card) or the main thread (new keys on
 * reload). Each worker has its own mutex, held while it answers one batch
 * of requests; a writer takes every one of them. Readers never share a
 * cache line, so answering costs one uncontended lock per batch, and a
 * writer waits at most for the batches in progress. Threads that are not
 * workers read through one extra slot (LIVE_OTHER).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "live.h"

struct live_reader {
	pthread_mutex_t	lock;
	char		pad[64 - sizeof(pthread_mutex_t) % 64];
};

static struct live_reader *live_readers;
static int live_nreaders;
static pthread_mutex_t live_writer = PTHREAD_MUTEX_INITIALIZER;
static struct index *live_idx;
static struct sign_keyring *live_kr;
static struct auth_table *live_at;
static struct tls_ctx *live_tc;
static struct issuer_table *live_it;
static _Atomic int64_t live_synced_ms;
static _Atomic uint64_t live_ncards;

/* Set up one reader slot per worker plus the shared other slot. */
int
live_init(int nworkers)
{
	live_nreaders = nworkers + 1;
	live_readers = calloc((size_t)live_nreaders, sizeof(*live_readers));
	if (live_readers == NULL)
		return -1;
	for (int i = 0; i < live_nreaders; i++)
		pthread_mutex_init(&live_readers[i].lock, NULL);
	return 0;
}

/* Begin reading the live state. */
void
live_enter(int reader)
{
	int slot = reader == LIVE_OTHER ? live_nreaders - 1 : reader;

	pthread_mutex_lock(&live_readers[slot].lock);
}

/* End reading the live state. */
void
live_leave(int reader)
{
	int slot = reader == LIVE_OTHER ? live_nreaders - 1 : reader;

	pthread_mutex_unlock(&live_readers[slot].lock);
}

/* Exclude every reader (and other writers). Always in slot order. */
void
live_write_begin(void)
{
	pthread_mutex_lock(&live_writer);
	for (int i = 0; i < live_nreaders; i++)
		pthread_mutex_lock(&live_readers[i].lock);
}

/* Let readers in again. */
void
live_write_end(void)
{
	for (int i = live_nreaders - 1; i >= 0; i--)
		pthread_mutex_unlock(&live_readers[i].lock);
	pthread_mutex_unlock(&live_writer);
}

/* The live index (between enter and leave, or while writing). */
struct index *
live_index(void)
{
	return live_idx;
}

/* The live keys (between enter and leave, or while writing). */
struct sign_keyring *
live_keys(void)
{
	return live_kr;
}

/* Swap in a new index; returns the old one for the caller to free. */
struct index *
live_set_index(struct index *idx)
{
	struct index *old;

	live_write_begin();
	old = live_idx;
	live_idx = idx;
	live_write_end();
	return old;
}

/* Swap in new keys; returns the old ones for the caller to free. */
struct sign_keyring *
live_set_keys(struct sign_keyring *kr)
{
	struct sign_keyring *old;

	live_write_begin();
	old = live_swap_keys(kr);
	live_write_end();
	return old;
}

/* Swap keys while already writing (live_write_begin). */
struct sign_keyring *
live_swap_keys(struct sign_keyring *kr)
{
	struct sign_keyring *old = live_kr;

	live_kr = kr;
	return old;
}

/* The live client table (between enter and leave, or while writing). */
struct auth_table *
live_auth(void)
{
	return live_at;
}

/* The live TLS context, NULL without TLS (same rules). */
struct tls_ctx *
live_tls(void)
{
	return live_tc;
}

/* Swap the client table while writing; returns the old one. */
struct auth_table *
live_swap_auth(struct auth_table *t)
{
	struct auth_table *old = live_at;

	live_at = t;
	return old;
}

/* The live issuers of card codes (same rules as live_auth). */
struct issuer_table *
live_issuers(void)
{
	return live_it;
}

/* Swap the issuer table while writing; returns the old one. */
struct issuer_table *
live_swap_issuers(struct issuer_table *t)
{
	struct issuer_table *old = live_it;

	live_it = t;
	return old;
}

/* Swap the TLS context while writing; returns the old one. */
struct tls_ctx *
live_swap_tls(struct tls_ctx *t)
{
	struct tls_ctx *old = live_tc;

	live_tc = t;
	return old;
}

/* Note that the index was confirmed in step with its source at ms. */
void
live_synced(int64_t ms)
{
	atomic_store(&live_synced_ms, ms);
}

/* When the index was last confirmed in step (0: never). */
int64_t
live_synced_at(void)
{
	return atomic_load_explicit(&live_synced_ms, memory_order_relaxed);
}

/* Publish the card count for metrics. */
void
live_set_count(uint64_t n)
{
	atomic_store(&live_ncards, n);
}

/* The published card count. */
uint64_t
live_count(void)
{
	return atomic_load_explicit(&live_ncards, memory_order_relaxed);
}
