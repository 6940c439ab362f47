/* SPDX-License-Identifier: MIT */
/*
 * Calendar dates as day numbers: days since 1970-01-01 in the proleptic
 * Gregorian calendar, for years 0000..9999. Every date comparison in the
 * checks is an integer comparison on these numbers, so inclusive edges and
 * leap days are exact by construction. The civil conversion is the
 * era-based one (400-year cycles of 146097 days).
 */
#include "date.h"

static int	date_leap(int y);
static unsigned	date_month_days(int y, unsigned m);
static int	date_digits(const char *s, size_t n, unsigned *out);

/* Day number of a civil date; the caller has checked the date exists. */
int32_t
date_from_civil(int y, unsigned m, unsigned d)
{
	int era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (int)(m + (m > 2 ? -3 : 9)) + 2) / 5 + (int)d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy -
	    719468;
}

/* Civil date of a day number. */
void
date_to_civil(int32_t days, int *y, unsigned *m, unsigned *d)
{
	int z, era, doe, yoe, doy, mp;

	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Gregorian leap year rule. */
static int
date_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Length of a month. */
static unsigned
date_month_days(int y, unsigned m)
{
	static const unsigned char len[12] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && date_leap(y) ? 29 : len[m - 1];
}

/* Read exactly n decimal digits. */
static int
date_digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * Parse exactly "YYYY-MM-DD". Impossible dates (2026-02-30, month 13,
 * day 0) are errors, never silently normalised into a neighbour.
 */
int
date_parse(const char *s, size_t len, int32_t *days)
{
	unsigned y, m, d;

	if (len != DATE_LEN || s[4] != '-' || s[7] != '-')
		return -1;
	if (date_digits(s, 4, &y) || date_digits(s + 5, 2, &m) ||
	    date_digits(s + 8, 2, &d))
		return -1;
	if (m < 1 || m > 12 || d < 1 || d > date_month_days((int)y, m))
		return -1;
	*days = date_from_civil((int)y, m, d);
	return 0;
}

/* Write a day number as YYYY-MM-DD (no terminator). */
void
date_format(int32_t days, char out[DATE_LEN])
{
	int y;
	unsigned m, d;

	date_to_civil(days, &y, &m, &d);
	out[0] = (char)('0' + y / 1000 % 10);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
}

/* Write milliseconds since the epoch as RFC 3339 UTC with milliseconds. */
void
date_rfc3339_ms(int64_t ms, char out[DATE_RFC3339_LEN])
{
	int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	unsigned sod = (unsigned)(secs - days * 86400);
	unsigned msec = (unsigned)(ms - secs * 1000);

	date_format((int32_t)days, out);
	out[10] = 'T';
	out[11] = (char)('0' + sod / 36000);
	out[12] = (char)('0' + sod / 3600 % 10);
	out[13] = ':';
	out[14] = (char)('0' + sod % 3600 / 600);
	out[15] = (char)('0' + sod % 600 / 60);
	out[16] = ':';
	out[17] = (char)('0' + sod % 60 / 10);
	out[18] = (char)('0' + sod % 10);
	out[19] = '.';
	out[20] = (char)('0' + msec / 100);
	out[21] = (char)('0' + msec / 10 % 10);
	out[22] = (char)('0' + msec % 10);
	out[23] = 'Z';
}
