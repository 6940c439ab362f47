/* SPDX-License-Identifier: MIT */
/* Calendar dates as day numbers, and the two text forms cardd speaks. */
#ifndef CARDD_DATE_H
#define CARDD_DATE_H

#include <stddef.h>
#include <stdint.h>

#define DATE_LEN	10	/* YYYY-MM-DD */
#define DATE_RFC3339_LEN 24	/* YYYY-MM-DDTHH:MM:SS.mmmZ */

int32_t	date_from_civil(int y, unsigned m, unsigned d);
void	date_to_civil(int32_t days, int *y, unsigned *m, unsigned *d);
int	date_parse(const char *s, size_t len, int32_t *days);
void	date_format(int32_t days, char out[DATE_LEN]);
void	date_rfc3339_ms(int64_t ms, char out[DATE_RFC3339_LEN]);

#endif
