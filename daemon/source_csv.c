/* SPDX-License-Identifier: MIT */
/*
 * Build an index from a CSV file (PROTOCOL.md §7): a header naming `card` and
 * the record fields, then one card per line. A bad line is not dropped:
 * when its card number can be read, the card answers record_invalid and
 * the loader logs the line; only a line without a usable card number is
 * skipped (and logged).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "index.h"
#include "log.h"
#include "mapfile.h"
#include "record.h"
#include "source_csv.h"

#define CSV_MAX_FIELDS	64
#define CSV_MAX_LINE	65536
#define CSV_LOG_LINES	20	/* lines logged one by one, then a count */

struct csv_load {
	const char	*path;
	const char	*data;
	size_t		 len;
	size_t		 at;
	unsigned long	 line;
	int		 col_card;
	int		 map[CSV_MAX_FIELDS];	/* column -> field, -1 ignored */
	size_t		 ncols;
	char		*scratch;
	struct index	*idx;
	struct csv_report *rep;
	uint64_t	 logged;
};

static int	csv_load_column(struct csv_load *, size_t,
		    const struct csv_field *);
static int	csv_load_header(struct csv_load *, char *, size_t);
static void	csv_load_row(struct csv_load *);
static void	csv_load_card(struct csv_load *, const struct csv_field *,
		    size_t, const char *);
static void	csv_load_note(struct csv_load *, unsigned long, const char *,
		    size_t, const char *);
static unsigned long csv_lines(const char *, size_t);

/* Newlines in a span, to keep line numbers right across quoted breaks. */
static unsigned long
csv_lines(const char *p, size_t len)
{
	unsigned long n = 0;
	const char *end = p + len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* Log a problem with one line (the card by its keyed hash only). */
static void
csv_load_note(struct csv_load *l, unsigned long line, const char *id,
    size_t id_len, const char *why)
{
	char tag[17];

	if (l->logged++ >= CSV_LOG_LINES)
		return;
	log_warnx("msg=\"bad card line\" file=\"%s\" line=%lu card=%s "
	    "problem=\"%s\"", l->path, line,
	    id != NULL ? log_id_tag(id, id_len, tag) : "-", why);
}

/* Map one header column; -1 when its name was seen before. */
static int
csv_load_column(struct csv_load *l, size_t i, const struct csv_field *f)
{
	int k;

	l->map[i] = -1;
	if (f->len == 4 && memcmp(f->p, "card", 4) == 0) {
		if (l->col_card >= 0)
			return -1;
		l->col_card = (int)i;
		return 0;
	}
	if ((k = record_field_lookup(f->p, f->len)) < 0) {
		log_warnx("msg=\"unknown column ignored\" file=\"%s\" "
		    "column=%zu", l->path, i + 1);
		return 0;
	}
	for (size_t j = 0; j < i; j++)
		if (l->map[j] == k)
			return -1;
	l->map[i] = k;
	return 0;
}

/* Read the header: which column is the card, which are fields. */
static int
csv_load_header(struct csv_load *l, char *err, size_t errlen)
{
	struct csv_field f[CSV_MAX_FIELDS];
	const char *why;
	ssize_t r;

	r = csv_parse_record(l->data, l->len < CSV_MAX_LINE ? l->len :
	    CSV_MAX_LINE, l->len <= CSV_MAX_LINE, f, CSV_MAX_FIELDS, &l->ncols,
	    l->scratch, &why);
	if (r < 0) {
		snprintf(err, errlen, "%s:1: bad header: %s", l->path,
		    r == CSV_PARTIAL ? "line too long" : why);
		return -1;
	}
	l->col_card = -1;
	for (size_t i = 0; i < l->ncols; i++)
		if (csv_load_column(l, i, &f[i]) != 0) {
			snprintf(err, errlen, "%s:1: column %zu repeats a name",
			    l->path, i + 1);
			return -1;
		}
	if (l->col_card < 0) {
		snprintf(err, errlen, "%s:1: the header names no card column",
		    l->path);
		return -1;
	}
	l->at = (size_t)r;
	l->line = 2;
	return 0;
}

/* Put one card from a parsed line; why != NULL marks it invalid. */
static void
csv_load_card(struct csv_load *l, const struct csv_field *f, size_t n,
    const char *why)
{
	struct record_value v[RECORD_NFIELDS];
	char id[STMT_ID_MAX];
	struct card c;
	int len;

	if ((size_t)l->col_card >= n || (len = record_id_normalize(
	    f[l->col_card].p, f[l->col_card].len, id)) < 0) {
		csv_load_note(l, l->line, NULL, 0, why ? why :
		    "no usable card number; line skipped");
		l->rep->skipped++;
		return;
	}
	memset(v, 0, sizeof(v));
	for (size_t i = 0; i < n && i < l->ncols; i++)
		if (l->map[i] >= 0) {
			v[l->map[i]].p = f[i].p;
			v[l->map[i]].len = f[i].len;
		}
	record_build(&c, id, (size_t)len, v);
	if (why == NULL && index_get(l->idx, id, (size_t)len) != NULL)
		why = "card number repeats an earlier line";
	if (why != NULL)
		record_invalid(&c, id, (size_t)len, why);
	if (c.flags & CARD_INVALID) {
		csv_load_note(l, l->line, id, (size_t)len, c.why);
		l->rep->invalid++;
	}
	if (index_put(l->idx, &c) != 0) {
		csv_load_note(l, l->line, id, (size_t)len, "out of memory");
		l->rep->skipped++;
	}
	l->rep->rows++;
}

/* Read one line (a quoted field may span several). */
static void
csv_load_row(struct csv_load *l)
{
	struct csv_field f[CSV_MAX_FIELDS];
	const char *p = l->data + l->at, *why = NULL;
	size_t left = l->len - l->at, n;
	size_t win = left < CSV_MAX_LINE ? left : CSV_MAX_LINE;
	ssize_t r = csv_parse_record(p, win, left <= CSV_MAX_LINE, f,
	    CSV_MAX_FIELDS, &n, l->scratch, &why);
	unsigned long line = l->line;

	if (r == CSV_PARTIAL) {
		why = "line longer than 64 KiB";
		n = 0;
	}
	if (r < 0) {
		r = csv_skip_line(p, left);
	} else if (n == 1 && f[0].len == 0) {
		l->at += (size_t)r;
		l->line += csv_lines(p, (size_t)r);
		return;		/* a blank line */
	} else if (n != l->ncols)
		why = "number of fields differs from the header";
	csv_load_card(l, f, n, why);
	l->at += (size_t)r;
	l->line = line + csv_lines(p, (size_t)r);
}

/* Parse CSV text (name is for messages) into a new index. */
struct index *
source_csv_parse(const char *data, size_t len, const char *name,
    uint64_t seed, struct csv_report *rep, char *err, size_t errlen)
{
	struct csv_load l = { .path = name, .rep = rep, .data = data,
	    .len = len };

	memset(rep, 0, sizeof(*rep));
	if (len == 0) {
		snprintf(err, errlen, "%s: empty file (a header line is needed)",
		    name);
		return NULL;
	}
	l.scratch = malloc(CSV_MAX_LINE);
	l.idx = index_new(len / 100, seed);
	if (l.scratch == NULL || l.idx == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	if (csv_load_header(&l, err, errlen) != 0)
		goto fail;
	while (l.at < l.len)
		csv_load_row(&l);
	if (l.logged > CSV_LOG_LINES)
		log_warnx("msg=\"more bad card lines\" file=\"%s\" count=%llu",
		    name, (unsigned long long)(l.logged - CSV_LOG_LINES));
	index_trim(l.idx);
	free(l.scratch);
	return l.idx;
fail:
	index_free(l.idx);
	free(l.scratch);
	return NULL;
}

/* Load a CSV file into a new index; the file is mapped, not copied. */
struct index *
source_csv_load(const char *path, uint64_t seed, struct csv_report *rep,
    char *err, size_t errlen)
{
	struct mapfile m;
	struct index *idx;

	memset(rep, 0, sizeof(*rep));
	if (mapfile_open(path, &m, err, errlen) != 0)
		return NULL;
	idx = source_csv_parse(m.data ? m.data : "", m.len, path, seed, rep,
	    err, errlen);
	mapfile_close(&m);
	return idx;
}
