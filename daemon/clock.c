/* SPDX-License-Identifier: MIT */
/*
 * Time for answers. "today" is the civil date in the configured zone
 * (PROTOCOL.md §1). glibc's localtime_r() takes a process-wide lock, so each
 * worker recomputes the date and the HTTP Date header once per second
 * and reads the cached values in between.
 */
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "date.h"

/* Select the zone of "today"; call before threads start. */
int
clock_set_zone(const char *zone)
{
	if (setenv("TZ", zone, 1) != 0)
		return -1;
	tzset();
	return 0;
}

/* Milliseconds since the epoch. */
int64_t
clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read the clock; refresh the per-second fields when the second moved. */
void
clock_update(struct clock *c)
{
	struct tm tm;
	time_t t;

	c->ms = clock_now_ms();
	if (c->ms / 1000 == c->sec)
		return;
	c->sec = c->ms / 1000;
	t = (time_t)c->sec;
	localtime_r(&t, &tm);
	c->today = date_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
	    (unsigned)tm.tm_mday);
	gmtime_r(&t, &tm);
	strftime(c->http_date, sizeof(c->http_date),
	    "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Microseconds since t0, a CLOCK_MONOTONIC reading. */
uint64_t
clock_elapsed_us(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (uint64_t)((t1.tv_sec - t0->tv_sec) * 1000000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000);
}

/* Microseconds on CLOCK_MONOTONIC (systemd's MONOTONIC_USEC). */
uint64_t
clock_monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
