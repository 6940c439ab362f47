/* SPDX-License-Identifier: MIT */
/*
 * Parsing the Redis source URLs (protocol/PROTOCOL.md §7). Pure: the
 * daemon's config check, its link and cardctl all read a URL here, so a
 * URL that one accepts the others accept too.
 */
#include <stdio.h>
#include <string.h>

#include "redis_url.h"

#define REDIS_URL_USAGE	"expected redis://HOST:PORT[/DB] or " \
	"sentinel://HOST:PORT[,HOST:PORT...]/MASTER[?role=replica|master][&db=N]"
#define REDIS_URL_DB_MAX	9999

static int	redis_url_number(const char *, size_t, int, int *);
static int	redis_url_redis(const char *, struct redis_url *, char *,
		    size_t);
static int	redis_url_sentinel(const char *, struct redis_url *, char *,
		    size_t);
static int	redis_url_nodes(const char *, size_t, struct redis_url *);
static int	redis_url_master(const char *, size_t, struct redis_url *);
static int	redis_url_param(const char *, size_t, struct redis_url *,
		    int *, int *, char *, size_t);
static int	redis_url_query(const char *, struct redis_url *, char *,
		    size_t);

/*
 * One parameter, n bytes of q: role=replica|master or db=N, each at most
 * once; the error names the parameter at fault.
 */
static int
redis_url_param(const char *q, size_t n, struct redis_url *u, int *seen_role,
    int *seen_db, char *err, size_t errlen)
{
	int w = (int)(n > 40 ? 40 : n);

	if (n >= 5 && strncmp(q, "role=", 5) == 0) {
		if ((*seen_role)++) {
			snprintf(err, errlen, "sentinel://: role is given twice");
			return -1;
		}
		if (n == 12 && strncmp(q, "role=replica", 12) == 0)
			u->want_master = 0;
		else if (n == 11 && strncmp(q, "role=master", 11) == 0)
			u->want_master = 1;
		else {
			snprintf(err, errlen, "sentinel://: \"%.*s\": role must "
			    "be replica or master", w, q);
			return -1;
		}
		return 0;
	}
	if (n >= 3 && strncmp(q, "db=", 3) == 0) {
		if ((*seen_db)++) {
			snprintf(err, errlen, "sentinel://: db is given twice");
			return -1;
		}
		if (redis_url_number(q + 3, n - 3, REDIS_URL_DB_MAX, &u->db) != 0) {
			snprintf(err, errlen, "sentinel://: \"%.*s\": db must "
			    "be 0..%d", w, q, REDIS_URL_DB_MAX);
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "sentinel://: unknown parameter \"%.*s\" "
	    "(expected role=replica, role=master or db=N)", w, q);
	return -1;
}

/* Parse url into u; on failure, say what is wrong in err. */
int
redis_url_parse(const char *url, struct redis_url *u, char *err,
    size_t errlen)
{
	memset(u, 0, sizeof(*u));
	if (strncmp(url, "redis://", 8) == 0)
		return redis_url_redis(url + 8, u, err, errlen);
	if (strncmp(url, "sentinel://", 11) == 0)
		return redis_url_sentinel(url + 11, u, err, errlen);
	snprintf(err, errlen, REDIS_URL_USAGE);
	return -1;
}

/* A decimal number of 1..5 digits, at most max. */
static int
redis_url_number(const char *s, size_t len, int max, int *out)
{
	int v = 0;

	if (len == 0 || len > 5 || strspn(s, "0123456789") < len)
		return -1;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (s[i] - '0');
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* HOST:PORT or [IPV6]:PORT, exactly len bytes of s. */
int
redis_node_parse(const char *s, size_t len, struct redis_node *n)
{
	const char *colon = NULL, *host = s;
	size_t hlen;

	for (size_t i = len; i > 0; i--)
		if (s[i - 1] == ':') {
			colon = s + i - 1;
			break;
		}
	if (colon == NULL || colon == s)
		return -1;
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hlen < 3 || colon[-1] != ']')
			return -1;
		host = s + 1;
		hlen -= 2;
	}
	if (hlen >= sizeof(n->host) || memchr(host, '[', hlen) != NULL ||
	    memchr(host, ']', hlen) != NULL || memchr(host, '/', hlen) != NULL ||
	    (s[0] != '[' && memchr(host, ':', hlen) != NULL))
		return -1;
	if (redis_url_number(colon + 1, len - hlen - 1 - (s[0] == '[' ? 2 : 0),
	    65535, &n->port) != 0 || n->port < 1)
		return -1;
	memcpy(n->host, host, hlen);
	n->host[hlen] = '\0';
	return 0;
}

/* redis://HOST:PORT[/DB], after the scheme. */
static int
redis_url_redis(const char *s, struct redis_url *u, char *err, size_t errlen)
{
	const char *slash = strchr(s, '/');
	size_t len = slash != NULL ? (size_t)(slash - s) : strlen(s);

	u->nnodes = 1;
	if (redis_node_parse(s, len, &u->nodes[0]) != 0) {
		snprintf(err, errlen, "redis://: expected HOST:PORT (port "
		    "1..65535, IPv6 in [])");
		return -1;
	}
	if (slash != NULL && redis_url_number(slash + 1, strlen(slash + 1),
	    REDIS_URL_DB_MAX, &u->db) != 0) {
		snprintf(err, errlen, "redis://: the database after / must be "
		    "0..%d", REDIS_URL_DB_MAX);
		return -1;
	}
	return 0;
}

/* sentinel://NODES/MASTER[?QUERY], after the scheme. */
static int
redis_url_sentinel(const char *s, struct redis_url *u, char *err,
    size_t errlen)
{
	const char *slash = strchr(s, '/'), *q;

	u->sentinel = 1;
	if (slash == NULL || redis_url_nodes(s, (size_t)(slash - s), u) != 0) {
		snprintf(err, errlen, "sentinel://: expected HOST:PORT[,HOST:"
		    "PORT...] (at most %d, port 1..65535, IPv6 in []) then "
		    "/MASTER", REDIS_URL_NODES);
		return -1;
	}
	q = strchr(slash + 1, '?');
	if (redis_url_master(slash + 1, q != NULL ? (size_t)(q - slash - 1) :
	    strlen(slash + 1), u) != 0) {
		snprintf(err, errlen, "sentinel://: the master name after / "
		    "must be 1-%d characters of A-Z a-z 0-9 . _ -",
		    REDIS_URL_NAME_MAX);
		return -1;
	}
	return q != NULL ? redis_url_query(q + 1, u, err, errlen) : 0;
}

/* The comma-separated Sentinels. */
static int
redis_url_nodes(const char *s, size_t len, struct redis_url *u)
{
	while (len > 0) {
		const char *comma = memchr(s, ',', len);
		size_t n = comma != NULL ? (size_t)(comma - s) : len;

		if (u->nnodes == REDIS_URL_NODES ||
		    redis_node_parse(s, n, &u->nodes[u->nnodes]) != 0)
			return -1;
		u->nnodes++;
		if (comma == NULL)
			return 0;
		s += n + 1;
		len -= n + 1;
		if (len == 0)
			return -1;	/* a trailing comma */
	}
	return -1;
}

/* The master name: it travels in Sentinel commands and log lines. */
static int
redis_url_master(const char *s, size_t len, struct redis_url *u)
{
	if (len == 0 || len > REDIS_URL_NAME_MAX || strspn(s,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") < len)
		return -1;
	memcpy(u->master, s, len);
	u->master[len] = '\0';
	return 0;
}

/* role=replica|master and db=N, joined by &; each at most once. */
static int
redis_url_query(const char *q, struct redis_url *u, char *err, size_t errlen)
{
	int seen_role = 0, seen_db = 0;

	if (*q == '\0') {
		snprintf(err, errlen, "sentinel://: nothing after ?");
		return -1;
	}
	while (*q != '\0') {
		size_t n = strcspn(q, "&");

		if (redis_url_param(q, n, u, &seen_role, &seen_db, err,
		    errlen) != 0)
			return -1;
		q += n;
		if (*q == '&' && *++q == '\0') {
			snprintf(err, errlen, "sentinel://: a trailing &");
			return -1;
		}
	}
	return 0;
}
