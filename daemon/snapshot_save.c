/* SPDX-License-Identifier: MIT */
/*
 * Saving the live index's snapshot (snapshot.c writes the file) every
 * snapshot_interval when it changed, after a full sync, and at shutdown.
 * Only the sync thread changes the live index, so it may read it
 * without the lock; but writing a few hundred MB would stop the changes
 * for as long, so (as Redis's BGSAVE does) a child process writes its
 * copy-on-write view of the index while the thread goes on. The child
 * only writes the file and leaves with _exit(). A timer reaps it, and
 * kills one that has not finished after SNAPSHOT_SAVE_CHILD_MS: a hung
 * child would hold up every later snapshot. At shutdown the thread
 * waits for a child still writing, a bounded time, then saves in the
 * thread itself if the index changed since.
 *
 * The owner (sync_redis.c) says when the index changed, and fills the
 * snapshot's header (meta, -1: nothing to save yet). Everything here
 * runs in the owner's thread, on its event loop.
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "config.h"
#include "index.h"
#include "live.h"
#include "log.h"
#include "snapshot.h"
#include "snapshot_save.h"

#define SNAPSHOT_SAVE_JOIN_MS	5000	/* at shutdown (systemd allows 20 s) */
#define SNAPSHOT_SAVE_CHILD_MS	600000	/* and at any time (1M cards: 0.6 s) */
#define SNAPSHOT_SAVE_NICE	10	/* the child's nice increment */

struct snapshot_save {
	struct event	*timer;		/* every snapshot_interval */
	struct event	*wait;		/* polls the child */
	int		(*meta)(struct snapshot_meta *);
	pid_t		 child;		/* writing a snapshot, or 0 */
	int64_t		 t0;
	int		 dirty;		/* changed since the snapshot */
};

/*
 * How long the last fork() held this thread, in µs. The child's page
 * tables are copied while the parent waits: the one pause a snapshot
 * costs the follow (Redis reports it as latest_fork_usec). Atomic: the
 * workers read it for /metrics.
 */
static _Atomic int64_t snapshot_save_fork_us;

static struct snapshot_save ss;

static void	snapshot_save_on_timer(evutil_socket_t, short, void *);
static void	snapshot_save_begin(int);
static pid_t	snapshot_save_fork(void);
static void	snapshot_save_write(const struct index *,
		    const struct snapshot_meta *, int);
static int	snapshot_save_reap(int64_t, int *);
static void	snapshot_save_on_wait(evutil_socket_t, short, void *);
static void	snapshot_save_join(void);

/* Ready the timers on base; meta fills the header of each snapshot. */
void
snapshot_save_init(struct event_base *base,
    int (*meta)(struct snapshot_meta *))
{
	ss.meta = meta;
	ss.timer = event_new(base, -1, EV_PERSIST, snapshot_save_on_timer,
	    NULL);
	ss.wait = event_new(base, -1, EV_PERSIST, snapshot_save_on_wait,
	    NULL);
}

/* Start the interval timer, when a snapshot is configured. */
void
snapshot_save_arm(void)
{
	struct timeval snap = { settings.snapshot_interval, 0 };

	if (settings.snapshot != NULL)
		event_add(ss.timer, &snap);
}

/* The live index changed: save it at the next occasion. */
void
snapshot_save_changed(void)
{
	ss.dirty = 1;
}

/* Save now, in a child (unless one is still writing). */
void
snapshot_save_now(void)
{
	snapshot_save_begin(0);
}

/* At shutdown: wait for a child still writing; save here if changed. */
void
snapshot_save_final(void)
{
	snapshot_save_join();
	if (ss.dirty)
		snapshot_save_begin(1);
}

/* Free the timers (the loop has ended). */
void
snapshot_save_free(void)
{
	event_free(ss.timer);
	event_free(ss.wait);
}

/* Every snapshot_interval: save when something changed. */
static void
snapshot_save_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (ss.dirty)
		snapshot_save_begin(0);
}

/* Save the live index: fork a child to write it, or (here) write it now. */
static void
snapshot_save_begin(int here)
{
	struct timeval tv = { 0, 20000 };
	struct snapshot_meta m;
	struct index *idx = live_index();
	pid_t pid;

	if (settings.snapshot == NULL || idx == NULL || ss.child > 0 ||
	    ss.meta(&m) != 0)
		return;
	ss.t0 = clock_now_ms();
	pid = here ? 0 : snapshot_save_fork();
	if (pid == 0) {
		snapshot_save_write(idx, &m, here);
		return;
	}
	if (pid < 0) {
		log_warn("msg=\"cannot fork to save the snapshot\" "
		    "action=\"retry at the next interval\"");
		return;
	}
	ss.child = pid;
	ss.dirty = 0;	/* changes from now on make it dirty again */
	event_add(ss.wait, &tv);
}

/* fork(), timing the pause it costs this thread. */
static pid_t
snapshot_save_fork(void)
{
	uint64_t t0 = clock_monotonic_usec();
	pid_t pid = fork();
	int64_t us;

	if (pid > 0) {
		us = (int64_t)(clock_monotonic_usec() - t0);
		atomic_store(&snapshot_save_fork_us, us);
	}
	return pid;
}

/* The last fork's pause, in seconds (0 before the first). */
double
snapshot_save_fork_seconds(void)
{
	return (double)atomic_load(&snapshot_save_fork_us) / 1e6;
}

/* Write the file: in the child, which then leaves; or here, at shutdown. */
static void
snapshot_save_write(const struct index *idx, const struct snapshot_meta *m,
    int here)
{
	char err[512];
	int rc;

	/*
	 * The child yields the cores to the threads that answer: on a busy
	 * two-core box a writer at equal priority delays changes and
	 * answers by whole time slices. A failure only costs that favour.
	 */
	if (!here && nice(SNAPSHOT_SAVE_NICE) == -1)
		errno = 0;
	rc = snapshot_save(settings.snapshot, idx, m, err, sizeof(err));
	if (rc != 0)
		log_error("msg=\"cannot save the snapshot\" error=\"%s\"", err);
	if (!here)
		_exit(rc == 0 ? 0 : 1);
	if (rc == 0) {
		ss.dirty = 0;
		log_info("msg=\"snapshot saved\" path=\"%s\" cards=%zu ms=%lld "
		    "fork_ms=0",
		    settings.snapshot, index_count(idx),
		    (long long)(clock_now_ms() - ss.t0));
	}
}

/*
 * Reap the child if it has finished, or kill it once it has run limit_ms
 * since the fork. Returns 0 while it runs, 1 once it is gone (*ok: it
 * saved the file).
 */
static int
snapshot_save_reap(int64_t limit_ms, int *ok)
{
	int64_t ran = clock_now_ms() - ss.t0;
	int status = 0;
	pid_t r = waitpid(ss.child, &status, WNOHANG);

	if (r == 0) {
		if (ran < limit_ms)
			return 0;
		log_warnx("msg=\"snapshot child did not finish; killed\" pid=%d "
		    "ms=%lld", (int)ss.child, (long long)ran);
		kill(ss.child, SIGKILL);
		r = waitpid(ss.child, &status, 0);
	}
	*ok = r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	ss.child = 0;
	return 1;
}

/* Has the child finished? */
static void
snapshot_save_on_wait(evutil_socket_t fd, short what, void *arg)
{
	int ok;

	(void)fd;
	(void)what;
	(void)arg;
	if (ss.child <= 0 || !snapshot_save_reap(SNAPSHOT_SAVE_CHILD_MS, &ok))
		return;
	event_del(ss.wait);
	if (ok)
		log_info("msg=\"snapshot saved\" path=\"%s\" cards=%llu ms=%lld "
		    "fork_ms=%lld", settings.snapshot,
		    (unsigned long long)live_count(),
		    (long long)(clock_now_ms() - ss.t0),
		    (long long)(atomic_load(&snapshot_save_fork_us) + 500) / 1000);
	else
		ss.dirty = 1;	/* try again at the next interval */
}

/* Wait for a child still writing (at shutdown), a bounded time. */
static void
snapshot_save_join(void)
{
	struct timespec nap = { 0, 10 * 1000000 };
	int64_t limit;
	int ok;

	if (ss.child <= 0)
		return;
	limit = clock_now_ms() - ss.t0 + SNAPSHOT_SAVE_JOIN_MS;
	while (!snapshot_save_reap(limit, &ok))
		nanosleep(&nap, NULL);
	if (!ok)
		ss.dirty = 1;	/* the old snapshot stands; save again */
}
