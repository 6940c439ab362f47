/* SPDX-License-Identifier: MIT */
/*
 * The config file: "key value" lines and # comments, as in redis.conf.
 * Every key is a row of config_keys[] with its type, bounds and default;
 * the defaults go through the same parser as the file, so they obey the
 * same rules. Any error stops the load with the file and line number;
 * a bad line is never skipped. Loading fills a fresh struct, so a bad
 * file on reload leaves the running settings untouched.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cardcode.h"
#include "config.h"
#include "cors.h"
#include "log.h"
#include "redis_url.h"

struct settings settings;

enum cfg_type { CFG_STRING, CFG_INT, CFG_SIZE, CFG_BOOL, CFG_ENUM, CFG_LIST };

struct cfg_key {
	const char		*name;
	enum cfg_type		 type;
	int			 live;		/* SIGHUP applies it */
	size_t			 off;
	long			 min, max;
	const char		*def;		/* NULL: unset */
	const char *const	*words;		/* CFG_ENUM, CFG_STRING "off" */
	const char		*(*check)(const char *);
};

static const char *const cfg_sign_modes[] = { "per-answer", "batch", NULL };
static const char *const cfg_sign_algs[] = { "ed25519", "sm2", NULL };
static const char *const cfg_log_levels[] =
    { "error", "warn", "info", "debug", NULL };
static const char *const cfg_off[] = { "off", NULL };
static const char *const cfg_auto[] = { "auto", NULL };	/* CFG_INT: 0 */
static const char *const cfg_verify[] = { "none", "optional", "required",
    NULL };
static const char *const cfg_auth[] = { "required", "none", NULL };

static const char	*cfg_check_listen(const char *);
static const char	*cfg_check_source(const char *);
static const char	*cfg_check_kid(const char *);
static const char	*cfg_check_timezone(const char *);
static const char	*cfg_check_prefix(const char *);

#define S(f)	offsetof(struct settings, f)
static const struct cfg_key config_keys[] = {
	{ "http_listen", CFG_STRING, 0, S(http_listen), 0, 0, "127.0.0.1:8080",
	    cfg_off, cfg_check_listen },
	{ "resp_listen", CFG_STRING, 0, S(resp_listen), 0, 0, "127.0.0.1:7070",
	    cfg_off, cfg_check_listen },
	{ "source", CFG_STRING, 0, S(source), 0, 0, "file:cards.csv", NULL,
	    cfg_check_source },
	{ "signing_key", CFG_STRING, 1, S(signing_key), 0, 0, "signing.pem",
	    NULL, NULL },
	{ "key_id", CFG_STRING, 1, S(key_id), 0, 0, NULL, NULL, cfg_check_kid },
	{ "publish_keys", CFG_STRING, 1, S(publish_keys), 0, 0, NULL, NULL,
	    NULL },
	{ "timezone", CFG_STRING, 0, S(timezone), 0, 0, "Asia/Shanghai", NULL,
	    cfg_check_timezone },
	{ "threads", CFG_INT, 0, S(threads), 1, 64, "auto", cfg_auto, NULL },
	{ "signers", CFG_INT, 0, S(signers), 1, 64, "auto", cfg_auto, NULL },
	{ "max_staleness", CFG_INT, 1, S(max_staleness), 1, 31536000, "300",
	    NULL, NULL },
	{ "snapshot", CFG_STRING, 0, S(snapshot), 0, 0, NULL, NULL, NULL },
	{ "snapshot_interval", CFG_INT, 0, S(snapshot_interval), 1, 86400, "60",
	    NULL, NULL },
	{ "require_birth", CFG_BOOL, 1, S(require_birth), 0, 1, "no", NULL,
	    NULL },
	{ "sign_mode", CFG_ENUM, 0, S(sign_mode), 0, 0, "per-answer",
	    cfg_sign_modes, NULL },
	{ "sign_alg", CFG_ENUM, 1, S(sign_alg), 0, 0, "ed25519",
	    cfg_sign_algs, NULL },
	{ "log_level", CFG_ENUM, 1, S(log_level), 0, 0, "info", cfg_log_levels,
	    NULL },
	{ "max_connections", CFG_INT, 1, S(max_connections), 1, 1000000,
	    "10000", NULL, NULL },
	{ "idle_timeout", CFG_INT, 1, S(idle_timeout), 1, 86400, "60", NULL,
	    NULL },
	{ "http_max_header", CFG_SIZE, 1, S(http_max_header), 1024, 1 << 20,
	    "8k", NULL, NULL },
	{ "http_max_body", CFG_SIZE, 1, S(http_max_body), 1024, 16 << 20, "64k",
	    NULL, NULL },
	{ "max_batch", CFG_INT, 1, S(max_batch), 1, 100, "100", NULL, NULL },
	{ "client_max_output", CFG_SIZE, 1, S(client_max_output), 65536,
	    1L << 30, "1m", NULL, NULL },
	{ "resp_max_args", CFG_INT, 1, S(resp_max_args), 16, 1024, "32", NULL,
	    NULL },
	{ "resp_max_arg_len", CFG_SIZE, 0, S(resp_max_arg_len), 256, 1 << 20,
	    "4k", NULL, NULL },
	{ "key_prefix", CFG_STRING, 0, S(key_prefix), 0, 0, "card:", NULL,
	    cfg_check_prefix },
	{ "stream", CFG_STRING, 0, S(stream), 0, 0, "cards:changes", NULL,
	    cfg_check_prefix },
	{ "redis_user", CFG_STRING, 0, S(redis_user), 0, 0, NULL, NULL, NULL },
	{ "redis_password", CFG_STRING, 0, S(redis_password), 0, 0, NULL, NULL,
	    NULL },
	{ "sentinel_password", CFG_STRING, 0, S(sentinel_password), 0, 0, NULL,
	    NULL, NULL },
	{ "http_tls", CFG_BOOL, 0, S(http_tls), 0, 1, "no", NULL, NULL },
	{ "resp_tls", CFG_BOOL, 0, S(resp_tls), 0, 1, "no", NULL, NULL },
	{ "tls_cert", CFG_STRING, 1, S(tls_cert), 0, 0, NULL, NULL, NULL },
	{ "tls_key", CFG_STRING, 1, S(tls_key), 0, 0, NULL, NULL, NULL },
	{ "tls_client_ca", CFG_STRING, 1, S(tls_client_ca), 0, 0, NULL, NULL,
	    NULL },
	{ "tls_verify_client", CFG_ENUM, 1, S(tls_verify_client), 0, 0, "none",
	    cfg_verify, NULL },
	{ "auth", CFG_ENUM, 1, S(auth), 0, 0, "required", cfg_auth, NULL },
	{ "client", CFG_LIST, 1, S(clients), 0, 0, NULL, NULL,
	    auth_check_client },
	{ "max_connections_per_ip", CFG_INT, 1, S(max_connections_per_ip), 1,
	    1000000, "1000", NULL, NULL },
	{ "request_timeout", CFG_INT, 1, S(request_timeout), 1, 3600, "10",
	    NULL, NULL },
	{ "code_issuer", CFG_LIST, 1, S(code_issuers), 0, 0, NULL, NULL,
	    NULL },
	{ "code_max_lifetime", CFG_INT, 1, S(code_max_lifetime), 1, 86400,
	    "120", NULL, NULL },
	{ "code_clock_skew", CFG_INT, 1, S(code_clock_skew), 0, 3600, "30",
	    NULL, NULL },
	{ "code_bind_timeout", CFG_INT, 1, S(code_bind_timeout), 1, 10000,
	    "200", NULL, NULL },
	{ "cors_origins", CFG_STRING, 0, S(cors_origins), 0, 0, NULL, NULL,
	    cors_check },
};
#undef S
#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))
#define CONFIG_MAX	(1 << 20)	/* bytes of config text */

static const struct cfg_key *cfg_find(const char *);
static const char *cfg_set(struct settings *, const struct cfg_key *,
		    const char *);
static const char *cfg_number(const char *, int, long *);
static int	cfg_line(char *, char **, char **);
static int	cfg_rebase(char **, size_t, const char *, size_t);
static int	cfg_rebase_list(char **, const char *, size_t);
static int	cfg_resolve(struct settings *, const char *, char *, size_t);
static const char *cfg_apply(struct settings *, unsigned char *, char *,
		    char *);
static int	cfg_loopback(const char *);
static int	cfg_overlap(const char *, const char *);
static int	cfg_validate(const struct settings *, const char *, char *,
		    size_t);
static int	cfg_same(const struct settings *, const struct settings *,
		    const struct cfg_key *);

/* A listener is "off" (handled by the table), "host:port" or "[v6]:port". */
static const char *
cfg_check_listen(const char *v)
{
	const char *colon = strrchr(v, ':');
	char *end;
	long port;

	if (colon == NULL || colon == v)
		return "expected host:port, [ipv6]:port or off";
	if (v[0] == '[' && colon[-1] != ']')
		return "expected [ipv6]:port";
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || port < 1 ||
	    port > 65535)
		return "port must be 1..65535";
	return NULL;
}

/* The source is file:PATH, redis://HOST:PORT[/DB] or sentinel://…/MASTER. */
static const char *
cfg_check_source(const char *v)
{
	static char err[256];	/* the config is read by one thread */
	struct redis_url u;

	if (strncmp(v, "file:", 5) == 0)
		return v[5] == '\0' ? "file: needs a path" : NULL;
	if (strncmp(v, "redis://", 8) != 0 && strncmp(v, "sentinel://", 11) != 0)
		return "expected file:PATH, redis://HOST:PORT[/DB] or "
		    "sentinel://HOST:PORT[,HOST:PORT...]/MASTER[?role=replica|"
		    "master][&db=N]";
	return redis_url_parse(v, &u, err, sizeof(err)) == 0 ? NULL : err;
}

/* A kid travels unescaped in JSON: keep it to a safe alphabet. */
static const char *
cfg_check_kid(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > 64 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-") != n)
		return "key_id must be 1-64 characters of A-Z a-z 0-9 . _ -";
	return NULL;
}

/* The zone must exist: glibc would silently fall back to UTC. */
static const char *
cfg_check_timezone(const char *v)
{
	char path[PATH_MAX];
	const char *dir = getenv("TZDIR");
	struct stat st;

	if (strcmp(v, "UTC") == 0)
		return NULL;
	/* Statements carry the name (at_zone): no byte needing escapes. */
	if (v[0] == '/' || strstr(v, "..") != NULL || strlen(v) > 64 ||
	    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789/_+-") != strlen(v))
		return "timezone must be a zone name such as Asia/Shanghai";
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir ? dir :
	    "/usr/share/zoneinfo", v) >= sizeof(path))
		return "timezone name too long";
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return "unknown time zone (is tzdata installed?)";
	return NULL;
}

/* Redis key names: printable, no spaces. */
static const char *
cfg_check_prefix(const char *v)
{
	for (const char *p = v; *p; p++)
		if (!isgraph((unsigned char)*p))
			return "must be printable with no spaces";
	return *v ? NULL : "must not be empty";
}

/* The table row of a key, or NULL. */
static const struct cfg_key *
cfg_find(const char *name)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

/* Parse an integer, with k/m/g suffixes when sized. */
static const char *
cfg_number(const char *v, int sized, long *out)
{
	char *end;
	long n, mul = 1;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v)
		return "expected a number";
	if (sized && *end != '\0') {
		switch (tolower((unsigned char)*end++)) {
		case 'k': mul = 1L << 10; break;
		case 'm': mul = 1L << 20; break;
		case 'g': mul = 1L << 30; break;
		default: return "expected a size such as 512, 64k or 1m";
		}
		if (tolower((unsigned char)*end) == 'b')
			end++;
	}
	if (*end != '\0')
		return "expected a number";
	if (n > LONG_MAX / mul || n < 0)
		return "number out of range";
	*out = n * mul;
	return NULL;
}

/* Store one value into the settings; returns an error or NULL. */
static const char *
cfg_set(struct settings *s, const struct cfg_key *k, const char *v)
{
	char *field = (char *)s + k->off;
	const char *why;
	long n;

	switch (k->type) {
	case CFG_STRING:
		if (k->words != NULL && strcmp(v, k->words[0]) == 0) {
			free(*(char **)field);
			*(char **)field = NULL;
			return NULL;
		}
		if (k->check != NULL && (why = k->check(v)) != NULL)
			return why;
		free(*(char **)field);
		if ((*(char **)field = strdup(v)) == NULL)
			return "out of memory";
		return NULL;
	case CFG_LIST: {
		struct cfg_list *l = (struct cfg_list *)(void *)field;
		char **p;

		if (k->check != NULL && (why = k->check(v)) != NULL)
			return why;
		if ((p = realloc(l->v, (l->n + 1) * sizeof(*p))) == NULL ||
		    (p[l->n] = strdup(v)) == NULL) {
			if (p != NULL)
				l->v = p;
			return "out of memory";
		}
		l->v = p;
		l->n++;
		return NULL;
	}
	case CFG_BOOL:
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return "expected yes or no";
		atomic_store((_Atomic int *)field, strcmp(v, "yes") == 0);
		return NULL;
	case CFG_ENUM:
		for (int i = 0; k->words[i] != NULL; i++)
			if (strcmp(v, k->words[i]) == 0) {
				atomic_store((_Atomic int *)field, i);
				return NULL;
			}
		return "not one of the allowed words (see conf/cardd.conf)";
	case CFG_INT:
	case CFG_SIZE:
		if (k->words != NULL && strcmp(v, k->words[0]) == 0) {
			atomic_store((_Atomic int *)field, 0);
			return NULL;
		}
		if ((why = cfg_number(v, k->type == CFG_SIZE, &n)) != NULL)
			return why;
		if (n < k->min || n > k->max)
			return "value out of range";
		if (k->type == CFG_INT)
			atomic_store((_Atomic int *)field, (int)n);
		else
			atomic_store((_Atomic long *)field, n);
		return NULL;
	}
	return "bad key type";
}

/* Fill the defaults. */
void
settings_init(struct settings *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		if (config_keys[i].def != NULL &&
		    cfg_set(s, &config_keys[i], config_keys[i].def) != NULL)
			fatalx("msg=\"bad built-in default\" key=%s",
			    config_keys[i].name);
}

/* Free the strings of a settings struct. */
void
settings_free(struct settings *s)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		char *field = (char *)s + config_keys[i].off;

		if (config_keys[i].type == CFG_STRING)
			free(*(char **)field);
		if (config_keys[i].type == CFG_LIST) {
			struct cfg_list *l = (struct cfg_list *)(void *)field;

			for (size_t k = 0; k < l->n; k++)
				free(l->v[k]);
			free(l->v);
		}
	}
	memset(s, 0, sizeof(*s));
}

/*
 * Split a line into key and value in place. Returns 0 for a blank or
 * comment line, 1 for key/value, -1 for a value with a broken quote.
 * A value may be "double quoted" to hold spaces or a leading #.
 */
static int
cfg_line(char *line, char **key, char **value)
{
	char *p = line, *end;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	*key = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	if (*p)
		*p++ = '\0';
	while (isspace((unsigned char)*p))
		p++;
	end = p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (*p == '"') {
		if (end - p < 2 || end[-1] != '"')
			return -1;
		*--end = '\0';
		p++;
	}
	*value = p;
	return 1;
}

/* Make the path at *v + skip relative to dir (dlen bytes, with its /). */
static int
cfg_rebase(char **v, size_t skip, const char *dir, size_t dlen)
{
	char *p;
	size_t n;

	if (*v == NULL || (*v)[skip] == '/' || dlen == 0)
		return 0;
	n = strlen(*v);
	if ((p = malloc(n + dlen + 1)) == NULL)
		return -1;
	memcpy(p, *v, skip);
	memcpy(p + skip, dir, dlen);
	memcpy(p + skip + dlen, *v + skip, n - skip + 1);
	free(*v);
	*v = p;
	return 0;
}

/* cfg_rebase for each word of a space-separated list of files. */
static int
cfg_rebase_list(char **v, const char *dir, size_t dlen)
{
	char *out, *w, *save = NULL, *copy;
	size_t words = 0, at = 0, n;

	if (*v == NULL || dlen == 0)
		return 0;
	if ((copy = strdup(*v)) == NULL)
		return -1;
	for (w = strtok_r(copy, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save))
		words++;
	free(copy);
	if ((out = malloc(strlen(*v) + words * (dlen + 1) + 1)) == NULL ||
	    (copy = strdup(*v)) == NULL) {
		free(out);
		return -1;
	}
	for (w = strtok_r(copy, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save)) {
		if (at > 0)
			out[at++] = ' ';
		if (w[0] != '/') {
			memcpy(out + at, dir, dlen);
			at += dlen;
		}
		n = strlen(w);
		memcpy(out + at, w, n);
		at += n;
	}
	out[at] = '\0';
	free(copy);
	free(*v);
	*v = out;
	return 0;
}

/*
 * Relative file names in a config file are taken from the file's own
 * folder, so a config and its data can move together.
 */
static int
cfg_resolve(struct settings *s, const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
	int rc = 0;

	if (strncmp(s->source, "file:", 5) == 0)
		rc |= cfg_rebase(&s->source, 5, path, dlen);
	rc |= cfg_rebase(&s->signing_key, 0, path, dlen);
	rc |= cfg_rebase_list(&s->publish_keys, path, dlen);
	rc |= cfg_rebase(&s->tls_cert, 0, path, dlen);
	rc |= cfg_rebase(&s->tls_key, 0, path, dlen);
	rc |= cfg_rebase(&s->tls_client_ca, 0, path, dlen);
	rc |= cfg_rebase(&s->snapshot, 0, path, dlen);
	for (size_t i = 0; i < s->code_issuers.n; i++) {
		char *line = s->code_issuers.v[i];
		size_t at = strcspn(line, " \t");

		at += strspn(line + at, " \t");	/* NAME FILE: the FILE */
		if (line[at] != '\0')
			rc |= cfg_rebase(&s->code_issuers.v[i], at, path, dlen);
	}
	if (rc != 0)
		snprintf(err, errlen, "%s: out of memory", path);
	return rc;
}

/* Check one split line and store it; returns an error or NULL. */
static const char *
cfg_apply(struct settings *s, unsigned char *seen, char *key, char *value)
{
	const struct cfg_key *k = cfg_find(key);

	if (k == NULL)
		return "unknown key";
	if (seen[k - config_keys]++ && k->type != CFG_LIST)
		return "key given twice";
	if (*value == '\0')
		return "missing value";
	return cfg_set(s, k, value);
}

/*
 * Parse config text into s (defaults first); name is the file, for
 * messages and for relative paths. On error, err holds "FILE:LINE:
 * message" and s holds a partial result for the caller to discard.
 */
int
config_parse(const char *text, size_t len, const char *name,
    struct settings *s, char *err, size_t errlen)
{
	unsigned char seen[CONFIG_NKEYS] = { 0 };
	char line[4096], *key, *value;
	const char *p = text, *end = text + len, *nl, *why;
	int lineno = 0, r;

	settings_init(s);
	for (; p < end; p = nl + 1) {
		size_t n;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		lineno++;
		r = 0;
		if (n >= sizeof(line))
			why = "line too long";
		else if (memchr(p, '\0', n) != NULL)
			why = "NUL byte in line";
		else {
			memcpy(line, p, n);
			line[n] = '\0';
			if ((r = cfg_line(line, &key, &value)) == 0)
				continue;
			why = r < 0 ? "unbalanced quote" :
			    cfg_apply(s, seen, key, value);
		}
		if (why != NULL) {
			snprintf(err, errlen, "%s:%d: %s%s%s", name, lineno,
			    r > 0 ? key : "", r > 0 ? ": " : "", why);
			return -1;
		}
	}
	if (cfg_resolve(s, name, err, errlen) != 0)
		return -1;
	return cfg_validate(s, name, err, errlen);
}

/* Load a config file into s (see config_parse). */
int
config_load(const char *path, struct settings *s, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	FILE *fp;
	int rc = -1;

	settings_init(s);
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (len < CONFIG_MAX) {
		size_t k;

		if (cap - len < 4096) {
			char *p = realloc(text, cap * 2 + 4096);

			if (p == NULL)
				break;
			text = p;
			cap = cap * 2 + 4096;
		}
		if ((k = fread(text + len, 1, cap - len, fp)) == 0)
			break;
		len += k;
	}
	if (ferror(fp) || !feof(fp))
		snprintf(err, errlen, "%s: cannot read (or larger than 1 MiB)",
		    path);
	else {
		settings_free(s);
		rc = config_parse(text ? text : "", len, path, s, err, errlen);
	}
	fclose(fp);
	free(text);
	return rc;
}

/* A listen address on the loopback network (127.0.0.0/8 or ::1). */
static int
cfg_loopback(const char *spec)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	struct in6_addr a6;
	struct in_addr a4;
	size_t n;

	if (spec == NULL)
		return 1;	/* off */
	colon = strrchr(spec, ':');
	n = colon ? (size_t)(colon - spec) : 0;
	if (n >= sizeof(host))
		return 0;
	memcpy(host, spec, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
		host[n - 1] = '\0';
		return inet_pton(AF_INET6, host + 1, &a6) == 1 &&
		    IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return 0;
}

/* Is one of two prefixes the start of the other (SCAN would mix them)? */
static int
cfg_overlap(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	return strncmp(a, b, la < lb ? la : lb) == 0;
}

/* Rules between keys; errors name the file (no single line is wrong). */
static int
cfg_validate(const struct settings *s, const char *name, char *err,
    size_t errlen)
{
	const char *why = NULL;
	int tls = s->http_tls || s->resp_tls;

	if (s->auth == AUTH_NONE && (!cfg_loopback(s->http_listen) ||
	    !cfg_loopback(s->resp_listen)))
		why = "auth none is only allowed when every listener is on "
		    "loopback (127.0.0.0/8 or [::1])";
	else if (s->auth == AUTH_REQUIRED && s->clients.n == 0)
		why = "auth required, but no client is configured: add client "
		    "lines, or set auth none (loopback listeners only)";
	else if (tls && (s->tls_cert == NULL || s->tls_key == NULL))
		why = "http_tls/resp_tls need tls_cert and tls_key";
	else if (s->tls_verify_client != TLS_VERIFY_NONE &&
	    (s->tls_client_ca == NULL || !tls))
		why = "tls_verify_client needs tls_client_ca and a TLS listener";
	else if (cfg_overlap(s->key_prefix, CARDCODE_BIND_PREFIX))
		why = "key_prefix must not overlap \"" CARDCODE_BIND_PREFIX "\", "
		    "the prefix of the card codes' bindings in Redis";
	if (why == NULL)
		return 0;
	snprintf(err, errlen, "%s: %s", name, why);
	return -1;
}

/* The path of a file: source, or -1 when the source is not a file. */
int
config_source_file(const struct settings *s, const char **path)
{
	if (strncmp(s->source, "file:", 5) != 0)
		return -1;
	*path = s->source + 5;
	return 0;
}

/* True when a key has the same value in both. */
static int
cfg_same(const struct settings *a, const struct settings *b,
    const struct cfg_key *k)
{
	const char *pa = (const char *)a + k->off, *pb = (const char *)b + k->off;

	if (k->type == CFG_STRING) {
		const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;

		return sa == sb || (sa && sb && strcmp(sa, sb) == 0);
	}
	if (k->type == CFG_LIST) {
		const struct cfg_list *la = (const void *)pa, *lb = (const void *)pb;

		if (la->n != lb->n)
			return 0;
		for (size_t i = 0; i < la->n; i++)
			if (strcmp(la->v[i], lb->v[i]) != 0)
				return 0;
		return 1;
	}
	if (k->type == CFG_SIZE)
		return atomic_load((const _Atomic long *)pa) ==
		    atomic_load((const _Atomic long *)pb);
	return atomic_load((const _Atomic int *)pa) ==
	    atomic_load((const _Atomic int *)pb);
}

/*
 * SIGHUP: move the reloadable values of next into the running settings
 * and say which changed keys wait for a restart. Strings are swapped, so
 * next ends up with the old ones for the caller to free. The caller
 * excludes the workers (live_write_begin) while this runs.
 */
void
config_apply(struct settings *live, struct settings *next)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		const struct cfg_key *k = &config_keys[i];
		char *a = (char *)live + k->off, *b = (char *)next + k->off;

		if (cfg_same(live, next, k))
			continue;
		if (!k->live) {
			log_warnx("msg=\"changed key takes effect after a restart\" "
			    "key=%s", k->name);
			continue;
		}
		if (k->type == CFG_STRING) {
			char *t = *(char **)a;

			*(char **)a = *(char **)b;
			*(char **)b = t;
		} else if (k->type == CFG_LIST) {
			struct cfg_list t = *(struct cfg_list *)(void *)a;

			*(struct cfg_list *)(void *)a = *(struct cfg_list *)(void *)b;
			*(struct cfg_list *)(void *)b = t;
		} else if (k->type == CFG_SIZE)
			atomic_store((_Atomic long *)a,
			    atomic_load((_Atomic long *)b));
		else
			atomic_store((_Atomic int *)a,
			    atomic_load((_Atomic int *)b));
		log_info("msg=\"reloaded key\" key=%s", k->name);
	}
}
