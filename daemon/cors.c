/* SPDX-License-Identifier: MIT */
/*
 * cors_origins (PROTOCOL.md §5.5): the web origins whose pages may read
 * cardd's answers, as a list of "scheme://host[:port]" separated by
 * spaces or commas, or "*". A request's Origin is matched exactly
 * (origins are ASCII and compared as the browser sends them, so the
 * list is written in lower case); the match is a small number, so that
 * an answer signed later still knows which origin to name.
 */
#include <string.h>

#include "cors.h"

#define CORS_SEP	" ,\t"

/* The next origin of the list from *p: its length, 0 at the end. */
static size_t
cors_next(const char **p, const char **start)
{
	size_t n;

	*p += strspn(*p, CORS_SEP);
	*start = *p;
	n = strcspn(*p, CORS_SEP);
	*p += n;
	return n;
}

/* Is this one origin well formed: http(s)://host[:port], lower case? */
static int
cors_valid(const char *o, size_t n)
{
	size_t s = n > 8 && memcmp(o, "https://", 8) == 0 ? 8 :
	    n > 7 && memcmp(o, "http://", 7) == 0 ? 7 : 0;

	if (s == 0)
		return 0;
	for (size_t i = s; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789.-:[]", o[i]) ==
		    NULL)
			return 0;
	return 1;
}

/* The config check: NULL when the list is good, else why not. */
const char *
cors_check(const char *list)
{
	const char *p = list, *o;
	size_t n, count = 0;

	while ((n = cors_next(&p, &o)) > 0) {
		if (n == 1 && o[0] == '*') {
			if (count > 0 || cors_next(&p, &o) > 0)
				return "cors_origins: * stands alone";
			return NULL;
		}
		if (!cors_valid(o, n))
			return "cors_origins: each origin is http(s)://host[:port] "
			    "in lower case, without a path (or * for any)";
		if (++count > CORS_MAX)
			return "cors_origins: at most 254 origins";
	}
	return count > 0 ? NULL : "cors_origins: name at least one origin";
}

/* 0 when origin is not let in, else its number (CORS_ANY for "*"). */
int
cors_match(const char *list, const char *origin, size_t len)
{
	const char *p = list, *o;
	size_t n;
	int i = 0;

	if (list == NULL)
		return 0;
	while ((n = cors_next(&p, &o)) > 0) {
		i++;
		if (n == 1 && o[0] == '*')
			return CORS_ANY;
		if (n == len && memcmp(o, origin, n) == 0)
			return i;
	}
	return 0;
}

/* The origin of number which (from cors_match) and its length. */
size_t
cors_origin(const char *list, int which, const char **origin)
{
	const char *p = list;
	size_t n = 0;

	if (which == CORS_ANY) {
		*origin = "*";
		return 1;
	}
	for (int i = 0; i < which; i++)
		n = cors_next(&p, origin);
	return n;
}
