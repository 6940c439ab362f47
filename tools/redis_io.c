/* SPDX-License-Identifier: MIT */
/*
 * cardctl import and publish: the writer's side of PROTOCOL.md §7. import
 * loads a CSV into Redis as one hash per card, pipelined, and ends with a
 * `resync 1` entry so every daemon re-reads; publish changes or removes
 * one card and announces it in the same transaction (MULTI, HSET or DEL,
 * XADD, EXEC). The password comes from $REDISCLI_AUTH, as for redis-cli,
 * never from the command line.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "cardctl.h"
#include "csv.h"
#include "mapfile.h"
#include "record.h"
#include "redis_url.h"

#define IO_PIPELINE	1000
#define IO_MAX_FIELDS	64
#define IO_MAX_LINE	65536

/* What a new connection is set up with: the target's user, the URL's db. */
struct redis_io_setup_args {
	const struct redis_target	*t;
	int				 db;
};

static int	redis_io_setup(redisContext *, const void *);
static int	io_check(redisReply *, const char *);
static int	io_drain(redisContext *, size_t *);
static void	io_progress(size_t, size_t, int);
static int	io_auth(redisContext *, const char *, const char *);
static int	io_import_rows(redisContext *, const struct redis_target *,
		    const char *, size_t);
static int	io_publish_args(const struct redis_target *, char *);
static int	io_publish_hset(const struct redis_target *, const char *,
		    const char **, size_t *);
static int	io_publish_replies(redisContext *, int);
static int	io_publish(redisContext *, const struct redis_target *,
		    const char *);

#define IO_OPT(name, value, field) \
	{ name, value, offsetof(struct redis_target, field), NULL }

/* The options shared by import, publish and export. */
static const struct cardctl_opt io_opts[] = {
	IO_OPT("--redis", 1, url),
	IO_OPT("--prefix", 1, prefix),
	IO_OPT("--stream", 1, stream),
	IO_OPT("--user", 1, user),
	IO_OPT("-o", 1, out),
	IO_OPT("--snapshot", 1, snapshot),
	IO_OPT("--remove", 0, remove),
	IO_OPT("--replace", 0, replace),
	IO_OPT("--resync", 0, resync),
};

/*
 * The arguments shared by import, publish and export: --redis URL,
 * --prefix, --stream, --user, -o FILE, --snapshot FILE, and flags; the
 * rest are positional. One of --redis and --snapshot is required.
 */
int
redis_target_args(int argc, char **argv, struct redis_target *t)
{
	int rc;

	memset(t, 0, sizeof(*t));
	t->prefix = "card:";
	t->stream = "cards:changes";
	if ((rc = cardctl_parse(argc, argv, io_opts, CARDCTL_NOPTS(io_opts), t,
	    t->rest, (int)CARDCTL_NOPTS(t->rest), &t->nrest)) != 0)
		return rc;
	if (t->url == NULL && t->snapshot == NULL)
		return CARDCTL_BADARGS;
	return 0;
}

/*
 * Connect to the node a redis:// URL names, or to the master behind a
 * sentinel:// one; AUTH and SELECT.
 */
redisContext *
redis_io_connect(const struct redis_target *t)
{
	struct timeval tv = { 5, 0 };
	struct redis_io_setup_args a = { t, 0 };
	struct redis_url u;
	char err[256];
	redisContext *c;

	if (redis_url_parse(t->url, &u, err, sizeof(err)) != 0) {
		fprintf(stderr, "cardctl: %s: %s\n", t->url, err);
		return NULL;
	}
	a.db = u.db;
	if (u.sentinel)
		return sentinel_connect(&u, redis_io_setup, &a);
	c = redisConnectWithTimeout(u.nodes[0].host, u.nodes[0].port, tv);
	if (c == NULL || c->err) {
		fprintf(stderr, "cardctl: %s: %s\n", t->url,
		    c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (redis_io_setup(c, &a) != 0) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* AUTH ($REDISCLI_AUTH) and SELECT on a new connection. */
static int
redis_io_setup(redisContext *c, const void *arg)
{
	const struct redis_io_setup_args *a = arg;
	const char *pass = getenv("REDISCLI_AUTH");
	char db[16];

	if (pass != NULL && io_auth(c, a->t->user, pass) != 0)
		return -1;
	snprintf(db, sizeof(db), "%d", a->db);
	if (a->db != 0 && io_check(redisCommand(c, "SELECT %s", db),
	    "SELECT") != 0)
		return -1;
	return 0;
}

/* AUTH [USER] PASSWORD. */
static int
io_auth(redisContext *c, const char *user, const char *pass)
{
	redisReply *r;

	if (user != NULL)
		r = redisCommand(c, "AUTH %s %s", user, pass);
	else
		r = redisCommand(c, "AUTH %s", pass);
	return io_check(r, "AUTH");
}

/* Complain about an error reply; frees it. */
static int
io_check(redisReply *r, const char *what)
{
	int rc = r == NULL || r->type == REDIS_REPLY_ERROR ? -1 : 0;

	if (rc != 0)
		fprintf(stderr, "cardctl: %s: %s\n", what, r ? r->str :
		    "no reply from redis");
	freeReplyObject(r);
	return rc;
}

/* Read the replies of every pipelined command. */
static int
io_drain(redisContext *c, size_t *pending)
{
	void *r;
	int rc = 0;

	for (; *pending > 0; (*pending)--) {
		if (redisGetReply(c, &r) != REDIS_OK) {
			fprintf(stderr, "cardctl: redis: %s\n", c->errstr);
			return -1;
		}
		if (io_check(r, "import") != 0)
			rc = -1;
	}
	return rc;
}

/* A progress bar on a terminal. */
static void
io_progress(size_t done, size_t total, int last)
{
	static int shown = -1;
	int pct = total ? (int)(done * 100 / total) : 100;

	if (!isatty(STDERR_FILENO) || (pct == shown && !last))
		return;
	shown = pct;
	fprintf(stderr, "\rimport [%-50.*s] %3d%%%s", pct / 2,
	    "##################################################", pct,
	    last ? "\n" : "");
}

/* One DEL and HSET per CSV line, pipelined. */
static int
io_import_rows(redisContext *c, const struct redis_target *t,
    const char *data, size_t len)
{
	struct csv_field head[IO_MAX_FIELDS], f[IO_MAX_FIELDS];
	const char *argv[2 + 2 * IO_MAX_FIELDS], *err;
	size_t lens[2 + 2 * IO_MAX_FIELDS], nh, n, at, pending = 0, cards = 0;
	char *hs = malloc(IO_MAX_LINE), *scratch = malloc(IO_MAX_LINE);
	char key[300];
	ssize_t r;
	int col = -1, rc = 0, line = 1;

	r = hs && scratch ? csv_parse_record(data, len, 1, head,
	    IO_MAX_FIELDS, &nh, hs, &err) : -1;
	for (size_t i = 0; r > 0 && i < nh; i++)
		if (head[i].len == 4 && memcmp(head[i].p, "card", 4) == 0)
			col = (int)i;
	if (r <= 0 || col < 0) {
		fprintf(stderr, "cardctl import: the header names no card "
		    "column\n");
		free(hs);
		free(scratch);
		return -1;
	}
	for (at = (size_t)r; at < len && rc == 0; at += (size_t)r) {
		size_t argc = 2, klen = strlen(t->prefix);

		line++;
		r = csv_parse_record(data + at, len - at, 1, f, IO_MAX_FIELDS,
		    &n, scratch, &err);
		if (r < 0 || (size_t)col >= n || record_id_normalize(f[col].p,
		    f[col].len, key + klen) < 0) {
			if (!(r > 0 && n == 1 && f[0].len == 0))
				fprintf(stderr, "cardctl import: line %d "
				    "skipped: %s\n", line, r < 0 ? err :
				    "no usable card number");
			if (r < 0)
				r = csv_skip_line(data + at, len - at);
			continue;
		}
		memcpy(key, t->prefix, klen);
		argv[0] = "HSET";
		argv[1] = key;
		lens[0] = 4;
		lens[1] = klen + f[col].len;
		for (size_t i = 0; i < n && i < nh; i++) {
			if ((int)i == col || f[i].len == 0)
				continue;
			argv[argc] = head[i].p;
			lens[argc++] = head[i].len;
			argv[argc] = f[i].p;
			lens[argc++] = f[i].len;
		}
		redisAppendCommand(c, "DEL %b", key, lens[1]);
		pending++;
		if (argc > 2) {
			redisAppendCommandArgv(c, (int)argc, argv, lens);
			pending++;
		}
		cards++;
		if (pending >= IO_PIPELINE) {
			rc = io_drain(c, &pending);
			io_progress(at, len, 0);
		}
	}
	if (rc == 0)
		rc = io_drain(c, &pending);
	io_progress(len, len, 1);
	free(hs);
	free(scratch);
	if (rc == 0)
		fprintf(stderr, "cardctl import: %zu cards\n", cards);
	return rc;
}

/* cardctl import FILE.csv --redis URL [--prefix P] [--stream S] */
int
redis_io_import_main(int argc, char **argv)
{
	struct redis_target t;
	struct mapfile m;
	redisContext *c = NULL;
	char err[512];
	int rc;

	if (redis_target_args(argc, argv, &t) != 0 || t.nrest != 1 ||
	    t.url == NULL)
		return CARDCTL_BADARGS;
	if (mapfile_open(t.rest[0], &m, err, sizeof(err)) != 0 || m.len == 0) {
		fprintf(stderr, "cardctl import: cannot read %s\n", t.rest[0]);
		return CARDCTL_USAGE;
	}
	if ((c = redis_io_connect(&t)) == NULL)
		rc = -1;
	else
		rc = io_import_rows(c, &t, m.data, m.len);
	if (rc == 0)
		rc = io_check(redisCommand(c, "XADD %s * resync 1", t.stream),
		    "XADD resync");
	mapfile_close(&m);
	redisFree(c);
	return rc == 0 ? CARDCTL_OK : CARDCTL_USAGE;
}

/*
 * publish's positional arguments: CARD FIELD=VALUE..., CARD alone with
 * --remove, none with --resync. The card number's normal form into id.
 */
static int
io_publish_args(const struct redis_target *t, char *id)
{
	int n;

	if (t->resync)
		return t->nrest == 0 ? 0 : -1;
	if (t->nrest < (t->remove ? 1 : 2) || (t->remove && t->nrest != 1))
		return -1;
	if ((n = record_id_normalize(t->rest[0], strlen(t->rest[0]), id)) < 0)
		return -1;
	id[n] = '\0';
	return 0;
}

/* The HSET of publish's FIELD=VALUE arguments; its argument count. */
static int
io_publish_hset(const struct redis_target *t, const char *key,
    const char **av, size_t *lens)
{
	int ac = 2;

	av[0] = "HSET";
	av[1] = key;
	lens[0] = 4;
	lens[1] = strlen(key);
	for (int i = 1; i < t->nrest; i++) {
		const char *eq = strchr(t->rest[i], '=');

		if (eq == NULL || eq == t->rest[i]) {
			fprintf(stderr, "cardctl publish: expected FIELD=VALUE, "
			    "got '%s'\n", t->rest[i]);
			return -1;
		}
		av[ac] = t->rest[i];
		lens[ac++] = (size_t)(eq - t->rest[i]);
		av[ac] = eq + 1;
		lens[ac++] = strlen(eq + 1);
	}
	return ac;
}

/* Read n pipelined replies, the last EXEC's; complain about errors. */
static int
io_publish_replies(redisContext *c, int n)
{
	redisReply *r;
	int rc = 0;

	for (int i = 0; i < n; i++) {
		if (redisGetReply(c, (void **)&r) != REDIS_OK) {
			fprintf(stderr, "cardctl publish: %s\n", c->errstr);
			return -1;
		}
		for (size_t k = 0; i == n - 1 && r->type == REDIS_REPLY_ARRAY &&
		    k < r->elements; k++)
			if (r->element[k]->type == REDIS_REPLY_ERROR) {
				fprintf(stderr, "cardctl publish: %s\n",
				    r->element[k]->str);
				rc = -1;
			}
		rc |= io_check(r, "publish");
	}
	return rc;
}

/* Change or remove card id and announce it, in one transaction. */
static int
io_publish(redisContext *c, const struct redis_target *t, const char *id)
{
	const char *av[2 + 2 * IO_MAX_FIELDS];
	size_t lens[2 + 2 * IO_MAX_FIELDS];
	char key[300];
	int ac, n = 3;

	snprintf(key, sizeof(key), "%s%s", t->prefix, id);
	if ((ac = io_publish_hset(t, key, av, lens)) < 0)
		return -1;
	redisAppendCommand(c, "MULTI");
	if (t->remove || t->replace) {
		redisAppendCommand(c, "DEL %s", key);
		n++;
	}
	if (!t->remove) {
		redisAppendCommandArgv(c, ac, av, lens);
		n++;
	}
	redisAppendCommand(c, "XADD %s * card %s", t->stream, id);
	redisAppendCommand(c, "EXEC");
	return io_publish_replies(c, n);
}

/*
 * cardctl publish --redis URL CARD field=value ... [--replace]
 * cardctl publish --redis URL --remove CARD
 * cardctl publish --redis URL --resync
 */
int
redis_io_publish_main(int argc, char **argv)
{
	struct redis_target t;
	char id[STMT_ID_MAX + 1];
	redisContext *c;
	int rc;

	if (redis_target_args(argc, argv, &t) != 0 || t.url == NULL ||
	    io_publish_args(&t, id) != 0)
		return CARDCTL_BADARGS;
	if ((c = redis_io_connect(&t)) == NULL)
		return CARDCTL_USAGE;
	if (t.resync)
		rc = io_check(redisCommand(c, "XADD %s * resync 1", t.stream),
		    "XADD");
	else
		rc = io_publish(c, &t, id);
	redisFree(c);
	return rc == 0 ? CARDCTL_OK : CARDCTL_USAGE;
}
