/* SPDX-License-Identifier: MIT */
/*
 * Where the index comes from. With `source file:PATH` the file is loaded
 * at start and watched once a second: a changed file is reloaded into a
 * new index that replaces the old one whole, once the file has stopped
 * changing for a second (so a file being written is never half-read).
 * Each check that finds the file in place confirms the index is in step
 * with its source (synced_at); a file that vanishes or no longer loads
 * keeps the old index, which then ages towards max_staleness.
 *
 * With `source redis://…` or `sentinel://…` the index is followed by
 * sync_redis.c; a snapshot, when configured and sound, is served from the
 * start so that answers begin before Redis is reached.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "index.h"
#include "live.h"
#include "log.h"
#include "source.h"
#include "snapshot.h"
#include "snapshot_save.h"
#include "source_csv.h"
#include "sync_redis.h"

struct source_state {
	const char	*kind;
	const char	*path;
	struct stat	 loaded;	/* the file the index came from */
	struct stat	 seen;		/* the file at the last check */
	struct stat	 failed;	/* a file that would not load */
	struct event	*timer;
	int64_t		 started_ms;
	_Atomic uint64_t invalid;
};

static struct source_state src = { .kind = "none" };

static uint64_t	source_seed(void);
static int	source_file_load(char *, size_t);
static void	source_file_tick(evutil_socket_t, short, void *);
static int	source_same(const struct stat *, const struct stat *);
static int	source_snapshot(struct snapshot_meta *);

/* A fresh random hash seed for each index built. */
static uint64_t
source_seed(void)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)clock_now_ms() * 0x9e3779b97f4a7c15ull;
	return seed;
}

/* Same file, same contents as far as stat(2) can tell. */
static int
source_same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Load the file and make it the live index. */
static int
source_file_load(char *err, size_t errlen)
{
	struct csv_report rep;
	struct index *idx, *old;
	struct stat st;
	int64_t t0 = clock_now_ms();

	if (stat(src.path, &st) != 0) {
		snprintf(err, errlen, "%s: cannot stat", src.path);
		return -1;
	}
	if ((idx = source_csv_load(src.path, source_seed(), &rep, err,
	    errlen)) == NULL)
		return -1;
	src.loaded = src.seen = st;
	old = live_set_index(idx);
	live_set_count(index_count(idx));
	live_synced(clock_now_ms());
	atomic_store(&src.invalid, rep.invalid);
	index_free(old);
	log_info("msg=\"index loaded\" source=file path=\"%s\" cards=%zu "
	    "invalid=%llu skipped=%llu bytes=%zu ms=%lld", src.path,
	    index_count(idx), (unsigned long long)rep.invalid,
	    (unsigned long long)rep.skipped, index_bytes(idx),
	    (long long)(clock_now_ms() - t0));
	return 0;
}

/* Once a second: confirm the file, or reload it once it settled. */
static void
source_file_tick(evutil_socket_t fd, short what, void *arg)
{
	char err[512];
	struct stat st;

	(void)fd;
	(void)what;
	(void)arg;
	if (stat(src.path, &st) != 0)
		return;		/* gone: the index ages */
	if (source_same(&st, &src.loaded)) {
		live_synced(clock_now_ms());
		return;
	}
	if (source_same(&st, &src.failed))
		return;		/* still the broken file: the index ages */
	if (!source_same(&st, &src.seen)) {
		src.seen = st;	/* still changing: wait for it to settle */
		return;
	}
	if (source_file_load(err, sizeof(err)) != 0) {
		log_error("msg=\"reload failed; keeping the old index until the "
		    "file changes\" error=\"%s\"", err);
		src.failed = st;
	}
}

/* Serve the snapshot, if there is a sound one; fills m. */
static int
source_snapshot(struct snapshot_meta *m)
{
	struct index *idx;
	char err[512];
	int64_t t0 = clock_now_ms();

	if (settings.snapshot == NULL)
		return 0;
	if (access(settings.snapshot, F_OK) != 0) {
		log_info("msg=\"no snapshot yet\" path=\"%s\"",
		    settings.snapshot);
		return 0;
	}
	if ((idx = snapshot_load(settings.snapshot, source_seed(), m, err,
	    sizeof(err))) == NULL) {
		log_error("msg=\"snapshot refused; waiting for a full sync\" "
		    "error=\"%s\"", err);
		return 0;
	}
	live_set_index(idx);
	live_set_count(index_count(idx));
	live_synced(m->synced_at_ms);
	log_info("msg=\"serving from the snapshot\" path=\"%s\" cards=%zu "
	    "age_s=%.1f ms=%lld", settings.snapshot, index_count(idx),
	    (double)(clock_now_ms() - m->synced_at_ms) / 1000.0,
	    (long long)(clock_now_ms() - t0));
	return 1;
}

/* Load the configured source and keep following it on base. */
int
source_start(struct event_base *base, char *err, size_t errlen)
{
	struct timeval tick = { 1, 0 };
	struct snapshot_meta m;

	src.started_ms = clock_now_ms();
	if (config_source_file(&settings, &src.path) != 0) {
		memset(&m, 0, sizeof(m));
		src.kind = "redis";
		return sync_redis_start(settings.source, source_snapshot(&m) ?
		    &m : NULL, err, errlen);
	}
	src.kind = "file";
	if (source_file_load(err, errlen) != 0)
		return -1;
	src.timer = event_new(base, -1, EV_PERSIST, source_file_tick, NULL);
	if (src.timer == NULL || event_add(src.timer, &tick) != 0) {
		snprintf(err, errlen, "cannot start the file watch");
		return -1;
	}
	return 0;
}

/* Stop following the source and free the live index. */
void
source_stop(void)
{
	sync_redis_stop();
	if (src.timer != NULL)
		event_free(src.timer);
	src.timer = NULL;
	index_free(live_set_index(NULL));
}

/* The source's figures for /metrics and INFO. */
void
source_gauges(struct stats_gauges *g)
{
	int64_t now = clock_now_ms(), synced = live_synced_at();

	memset(g, 0, sizeof(*g));
	g->cards = live_count();
	g->records_invalid = atomic_load(&src.invalid);
	g->synced_age = synced ? (double)(now - synced) / 1000.0 : -1;
	g->uptime = (double)(now - src.started_ms) / 1000.0;
	g->source_kind = src.kind;
	g->timezone = settings.timezone;
	g->sync_state = src.kind;
	g->link_up = 1;
	g->last_full_sync_age = -1;
	g->source_role = "";
	g->max_staleness = (double)settings.max_staleness;
	g->snapshot_fork = snapshot_save_fork_seconds();
	if (strcmp(src.kind, "redis") == 0)
		sync_redis_gauges(g);
}

/* "file", "redis" or "none". */
const char *
source_kind(void)
{
	return src.kind;
}
