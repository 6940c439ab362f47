/* SPDX-License-Identifier: MIT */
/*
 * Logging: one line per event on stderr, "level=info msg=... key=value",
 * written with a single write(2) so lines from several threads never
 * interleave. Under systemd (JOURNAL_STREAM set) each line starts with a
 * <N> syslog priority prefix, which journald turns into the entry's
 * priority. Card and permit numbers never reach a log: log_id_tag()
 * gives a keyed hash in their place (the key is random per process).
 */
#include <sys/random.h>

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "log.h"

static const char *const log_names[] = { "error", "warn", "info", "debug" };
static const char log_prio[] = { '3', '4', '6', '7' };

static _Atomic int log_threshold = LOGL_INFO;
static int log_journal;
static XXH64_hash_t log_key;

static void	log_vwrite(int level, int err, const char *fmt, va_list ap)
		    __attribute__((format(printf, 3, 0)));

/* Set the threshold, note journald, draw the hash key. */
void
log_init(int level)
{
	log_set_level(level);
	log_journal = getenv("JOURNAL_STREAM") != NULL;
	if (getrandom(&log_key, sizeof(log_key), 0) != sizeof(log_key))
		log_key = (XXH64_hash_t)(uintptr_t)&log_key ^ (XXH64_hash_t)
		    getpid();
}

/* Change the threshold (config reload). */
void
log_set_level(int level)
{
	atomic_store(&log_threshold, level);
}

/* enum log_level of a name, or -1. */
int
log_level_lookup(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, log_names[i]) == 0)
			return i;
	return -1;
}

/* Format one line (err: an errno to name at its end, or 0); write it whole. */
static void
log_vwrite(int level, int err, const char *fmt, va_list ap)
{
	char line[1024];
	int n = 0, m;

	if (log_journal)
		n = snprintf(line, sizeof(line), "<%c>", log_prio[level]);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "level=%s ",
	    log_names[level]);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if (err != 0 && (size_t)n < sizeof(line) - 2)
		n += snprintf(line + n, sizeof(line) - (size_t)n - 1,
		    " error=\"%s\"", strerror(err));
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

/* Log one event if its level passes the threshold. */
void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > atomic_load_explicit(&log_threshold, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	log_vwrite(level, 0, fmt, ap);
	va_end(ap);
}

/* log_msg with the error errno names now appended as error="…". */
void
log_msg_errno(int level, const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	if (level > atomic_load_explicit(&log_threshold, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	log_vwrite(level, err, fmt, ap);
	va_end(ap);
}

/* Log and exit; only start-up may call this. */
void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOGL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

/* A keyed hash of a card or permit number, to name it in logs. */
const char *
log_id_tag(const char *id, size_t len, char out[17])
{
	snprintf(out, 17, "%016llx",
	    (unsigned long long)XXH64(id, len, log_key));
	return out;
}
