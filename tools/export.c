/* SPDX-License-Identifier: MIT */
/*
 * cardctl export: cards to CSV, from Redis (--redis) or from a daemon's
 * snapshot of its index (--snapshot). Both go through the record rules
 * the daemon applies (store/record.c), so a card Redis holds and the same
 * card in the index give the same line, and the two exports can be
 * compared with diff: that is how the tests prove the index equals
 * Redis, card for card. Lines are sorted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cardctl.h"
#include "csv.h"
#include "index.h"
#include "record.h"
#include "snapshot.h"

struct export_lines {
	char	**v;
	size_t	  n;
	size_t	  cap;
};

static int	export_line(struct export_lines *, const struct card *);
static int	export_cmp(const void *, const void *);
static void	export_record(const uint8_t *, void *);
static int	export_redis(const struct redis_target *, struct export_lines *);
static int	export_hmget(redisContext *, const struct redis_target *,
		    const redisReply *, struct export_lines *);

/* One CSV line for a card, in the header's order. */
static int
export_line(struct export_lines *l, const struct card *c)
{
	struct record_value v[RECORD_NFIELDS];
	char text[2048], line[8192];
	size_t n = 0;
	char **p;

	if (record_to_fields(c, text, sizeof(text), v) != 0)
		return -1;
	memcpy(line, c->id, c->id_len);
	n = c->id_len;
	for (int i = 0; i < RECORD_NFIELDS; i++) {
		line[n++] = ',';
		n += csv_put_field(line + n, v[i].p ? v[i].p : "", v[i].len);
	}
	line[n] = '\0';
	if (l->n == l->cap) {
		l->cap = l->cap * 2 + 1024;
		if ((p = realloc(l->v, l->cap * sizeof(*p))) == NULL)
			return -1;
		l->v = p;
	}
	return (l->v[l->n++] = strdup(line)) == NULL ? -1 : 0;
}

/* qsort on lines. */
static int
export_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* index_foreach callback. */
static void
export_record(const uint8_t *rec, void *arg)
{
	struct card c;

	record_decode(rec, &c);
	export_line(arg, &c);
}

/* HMGET the keys of one SCAN batch, pipelined, into lines. */
static int
export_hmget(redisContext *c, const struct redis_target *t,
    const redisReply *keys, struct export_lines *l)
{
	const char *argv[2 + RECORD_NFIELDS];
	size_t lens[2 + RECORD_NFIELDS], plen = strlen(t->prefix);
	struct record_value v[RECORD_NFIELDS];
	struct card card;
	redisReply *r;
	char id[STMT_ID_MAX];

	argv[0] = "HMGET";
	lens[0] = 5;
	for (int i = 0; i < RECORD_NFIELDS; i++) {
		argv[2 + i] = record_field_name(i);
		lens[2 + i] = strlen(argv[2 + i]);
	}
	for (size_t i = 0; i < keys->elements; i++) {
		argv[1] = keys->element[i]->str;
		lens[1] = keys->element[i]->len;
		redisAppendCommandArgv(c, 2 + RECORD_NFIELDS, argv, lens);
	}
	for (size_t i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];
		int any = 0;

		if (redisGetReply(c, (void **)&r) != REDIS_OK)
			return -1;
		if (k->len <= plen || record_id_normalize(k->str + plen,
		    k->len - plen, id) < 0 || memcmp(id, k->str + plen,
		    k->len - plen) != 0) {
			freeReplyObject(r);
			continue;	/* the daemon skips such keys too */
		}
		memset(v, 0, sizeof(v));
		for (size_t f = 0; r->type == REDIS_REPLY_ARRAY &&
		    f < r->elements && f < RECORD_NFIELDS; f++)
			if (r->element[f]->type == REDIS_REPLY_STRING) {
				v[f].p = r->element[f]->str;
				v[f].len = r->element[f]->len;
				any = 1;
			}
		if (r->type == REDIS_REPLY_ARRAY && any)
			record_build(&card, id, k->len - plen, v);
		else if (r->type != REDIS_REPLY_ARRAY) {
			memset(&card, 0, sizeof(card) - sizeof(card.xregion));
			record_invalid(&card, id, k->len - plen, "not a hash");
		}
		if ((r->type != REDIS_REPLY_ARRAY || any) &&
		    export_line(l, &card) != 0) {
			freeReplyObject(r);
			return -1;
		}
		freeReplyObject(r);
	}
	return 0;
}

/* Every card of Redis. */
static int
export_redis(const struct redis_target *t, struct export_lines *l)
{
	redisContext *c = redis_io_connect(t);
	char cursor[32] = "0", pattern[300];
	redisReply *r;
	int rc = 0;

	if (c == NULL)
		return -1;
	snprintf(pattern, sizeof(pattern), "%s*", t->prefix);
	do {
		r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor,
		    pattern);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
		    r->elements != 2) {
			fprintf(stderr, "cardctl export: SCAN failed\n");
			rc = -1;
		} else {
			snprintf(cursor, sizeof(cursor), "%s",
			    r->element[0]->str);
			rc = export_hmget(c, t, r->element[1], l);
		}
		freeReplyObject(r);
	} while (rc == 0 && strcmp(cursor, "0") != 0);
	redisFree(c);
	return rc;
}

/* cardctl export (--redis URL | --snapshot FILE) [-o FILE] */
int
export_main(int argc, char **argv)
{
	struct redis_target t;
	struct export_lines l = { 0 };
	struct snapshot_meta m;
	struct index *idx;
	char err[512];
	FILE *out;
	int rc = 0;

	if (redis_target_args(argc, argv, &t) != 0 || t.nrest != 0 ||
	    (t.url != NULL) == (t.snapshot != NULL))
		return CARDCTL_BADARGS;
	if (t.snapshot != NULL) {
		if ((idx = snapshot_load(t.snapshot, 1, &m, err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "cardctl export: %s\n", err);
			return CARDCTL_USAGE;
		}
		index_foreach(idx, export_record, &l);
		index_free(idx);
	} else if (export_redis(&t, &l) != 0)
		rc = -1;
	qsort(l.v, l.n, sizeof(*l.v), export_cmp);
	out = t.out ? fopen(t.out, "w") : stdout;
	if (out == NULL)
		rc = -1;
	else {
		fputs("card", out);
		for (int i = 0; i < RECORD_NFIELDS; i++)
			fprintf(out, ",%s", record_field_name(i));
		fputc('\n', out);
	}
	for (size_t i = 0; i < l.n; i++) {
		if (out != NULL)
			fprintf(out, "%s\n", l.v[i]);
		free(l.v[i]);
	}
	free(l.v);
	if (out != NULL && fclose(out) != 0)
		rc = -1;
	return rc == 0 ? CARDCTL_OK : CARDCTL_USAGE;
}
