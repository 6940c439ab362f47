/* SPDX-License-Identifier: MIT */
/* A worker's view of the time: now, today in the configured zone. */
#ifndef CARDD_CLOCK_H
#define CARDD_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CLOCK_HTTP_DATE_LEN 29	/* Sun, 06 Nov 1994 08:49:37 GMT */

struct clock {
	int64_t	ms;		/* now, ms since the epoch */
	int64_t	sec;		/* the second the fields below are for */
	int32_t	today;		/* day number in the configured zone */
	char	http_date[CLOCK_HTTP_DATE_LEN + 1];
};

int	clock_set_zone(const char *zone);
void	clock_update(struct clock *);
int64_t	clock_now_ms(void);
uint64_t clock_elapsed_us(const struct timespec *);
uint64_t clock_monotonic_usec(void);

#endif
