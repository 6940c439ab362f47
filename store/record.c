/* SPDX-License-Identifier: MIT */
/*
 * One card record. record_build() turns the text fields of PROTOCOL.md §7 (from
 * a CSV line or a Redis hash) into a struct card, marking it invalid with
 * the first problem found instead of dropping it. record_encode() packs a
 * card into the few dozen bytes the index keeps per card:
 *
 *   flags, id_len, id, permit_len, permit,
 *   then for an invalid record: rev (varint), [birth]
 *   else: status | class << 2, enrolled mask, rev (varint), region (u24),
 *         birth, permit_from, permit_until, (from, until) per enrolled
 *         scheme, [count (varint), count x region (u24)]
 *
 * Dates are u16 days since 1900-01-01 unless one of the record's dates
 * falls outside 1900..2079, when the record uses i32 day numbers for all
 * (the RECORD_WIDE flag). The id comes first so the index compares keys
 * without decoding.
 */
#include <stdio.h>
#include <string.h>

#include "date.h"
#include "record.h"

#define RECORD_HAS_XREGION	0x20
#define RECORD_WIDE		0x40
#define RECORD_FLAGS_KEPT	(CARD_INVALID | CARD_HAS_BIRTH | \
				    CARD_XREGION_ALL)
#define DATE_BASE		(-25567)	/* 1900-01-01 */

static const char *const record_fields[RECORD_NFIELDS] = {
	"status", "permit", "class", "permit_from", "permit_until", "birth",
	"region", "xregion", "medical", "pension", "unemployment", "injury",
	"maternity", "rev"
};

static const char *const record_statuses[] =
    { "active", "suspended", "lost", "revoked" };

static int	record_u64(const struct record_value *, uint64_t *);
static int	record_xregion(struct card *, const struct record_value *);
static int	record_range(const struct record_value *, struct card_cover *);
static const char *record_check(struct card *, const struct record_value *);
static int	record_wide(const struct card *);
static uint8_t	*record_put_date(uint8_t *, int32_t, int);
static const uint8_t *record_get_date(const uint8_t *, int32_t *, int);
static uint8_t	*record_put_varint(uint8_t *, uint64_t);
static const uint8_t *record_get_varint(const uint8_t *, uint64_t *);
static int	record_id_ok(const uint8_t *, size_t);
static int	record_put_text(char *, size_t, size_t *, struct record_value *,
		    const char *, size_t);

/* Name of a field. */
const char *
record_field_name(enum record_field f)
{
	return record_fields[f];
}

/* enum record_field of a name, or -1. */
int
record_field_lookup(const char *name, size_t len)
{
	for (int i = 0; i < RECORD_NFIELDS; i++)
		if (strlen(record_fields[i]) == len &&
		    memcmp(record_fields[i], name, len) == 0)
			return i;
	return -1;
}

/*
 * Card and permit numbers: 6-32 of 0-9A-Z, lowercase folded to upper
 * (PROTOCOL.md §1). Writes the normal form to out; returns its length,
 * or -1.
 */
int
record_id_normalize(const char *in, size_t len, char *out)
{
	if (len < 6 || len > STMT_ID_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')))
			return -1;
		out[i] = c;
	}
	return (int)len;
}

/* Unsigned decimal without sign, spaces or overflow. */
static int
record_u64(const struct record_value *v, uint64_t *out)
{
	uint64_t n = 0;

	if (v->p == NULL || v->len == 0 || v->len > 19)
		return -1;
	for (size_t i = 0; i < v->len; i++) {
		if (v->p[i] < '0' || v->p[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(v->p[i] - '0');
	}
	*out = n;
	return 0;
}

/* A region code: exactly six digits (PROTOCOL.md §1). Returns 0 or -1. */
int
record_region_parse(const char *s, size_t len, int32_t *out)
{
	int32_t n = 0;

	if (len != 6)
		return -1;
	for (size_t i = 0; i < 6; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	*out = n;
	return 0;
}

/* xregion: absent or empty (none), "*" (all), or a comma list of codes. */
static int
record_xregion(struct card *c, const struct record_value *v)
{
	const char *p, *end;

	if (v->p == NULL || v->len == 0)
		return 0;
	if (v->len == 1 && v->p[0] == '*') {
		c->flags |= CARD_XREGION_ALL;
		return 0;
	}
	for (p = v->p, end = v->p + v->len; p <= end; p++) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *stop = comma ? comma : end, *a = p, *b = stop;

		while (a < b && *a == ' ')
			a++;
		while (b > a && b[-1] == ' ')
			b--;
		if (c->nxregion == RECORD_MAX_XREGION ||
		    record_region_parse(a, (size_t)(b - a),
		    &c->xregion[c->nxregion]) != 0)
			return -1;
		c->nxregion++;
		p = stop;
	}
	return 0;
}

/* A coverage range "FROM..UNTIL"; absent or empty means not enrolled. */
static int
record_range(const struct record_value *v, struct card_cover *r)
{
	if (v->len != 2 * DATE_LEN + 2 || memcmp(v->p + DATE_LEN, "..", 2))
		return -1;
	if (date_parse(v->p, DATE_LEN, &r->from) != 0 ||
	    date_parse(v->p + DATE_LEN + 2, DATE_LEN, &r->until) != 0)
		return -1;
	return r->from <= r->until ? 0 : -1;
}

/*
 * Check and convert the fields after rev, permit and birth; returns the
 * first problem, or NULL.
 */
static const char *
record_check(struct card *c, const struct record_value *v)
{
	const struct record_value *st = &v[F_STATUS], *cl = &v[F_CLASS];
	int i;

	if (c->permit_len == 0)
		return "permit: 6-32 of 0-9A-Z required";
	if (!(c->flags & CARD_HAS_BIRTH))
		return "birth: YYYY-MM-DD required";
	for (i = 0; i < 4; i++)
		if (st->p != NULL && strlen(record_statuses[i]) == st->len &&
		    memcmp(st->p, record_statuses[i], st->len) == 0)
			break;
	if (i == 4)
		return "status: active, suspended, lost or revoked required";
	c->status = (uint8_t)i;
	if (cl->p == NULL || cl->len != 1 || cl->p[0] < 'A' || cl->p[0] > 'C')
		return "class: A, B or C required";
	c->class = (uint8_t)cl->p[0];
	if (v[F_PERMIT_FROM].p == NULL || date_parse(v[F_PERMIT_FROM].p,
	    v[F_PERMIT_FROM].len, &c->permit_from) != 0)
		return "permit_from: YYYY-MM-DD required";
	if (v[F_PERMIT_UNTIL].p == NULL || date_parse(v[F_PERMIT_UNTIL].p,
	    v[F_PERMIT_UNTIL].len, &c->permit_until) != 0)
		return "permit_until: YYYY-MM-DD required";
	if (c->permit_from > c->permit_until)
		return "permit_from is after permit_until";
	if (v[F_REGION].p == NULL ||
	    record_region_parse(v[F_REGION].p, v[F_REGION].len,
	    &c->region) != 0)
		return "region: six digits required";
	if (record_xregion(c, &v[F_XREGION]) != 0)
		return "xregion: *, or a comma list of six-digit codes";
	for (i = 0; i < SCHEME_COUNT; i++) {
		const struct record_value *r = &v[F_MEDICAL + i];

		if (r->p == NULL || r->len == 0)
			continue;
		if (record_range(r, &c->cover[i]) != 0)
			return "coverage: FROM..UNTIL dates, FROM <= UNTIL";
		c->enrolled |= (uint8_t)(1u << i);
	}
	return NULL;
}

/*
 * Build a card from its fields; vals is indexed by enum record_field and
 * id is already normalized. A card that fails validation keeps what can
 * still be used safely (rev for the answer, permit for lookup, birth for
 * the holder check) and is marked CARD_INVALID with the reason in why.
 */
void
record_build(struct card *c, const char *id, size_t id_len,
    const struct record_value *v)
{
	int n;

	memset(c, 0, offsetof(struct card, xregion));
	memcpy(c->id, id, id_len);
	c->id_len = (uint8_t)id_len;
	if (v[F_PERMIT].p != NULL && (n = record_id_normalize(v[F_PERMIT].p,
	    v[F_PERMIT].len, c->permit)) > 0)
		c->permit_len = (uint8_t)n;
	if (v[F_BIRTH].p != NULL &&
	    date_parse(v[F_BIRTH].p, v[F_BIRTH].len, &c->birth) == 0)
		c->flags |= CARD_HAS_BIRTH;
	if (record_u64(&v[F_REV], &c->rev) != 0)
		record_invalid(c, id, id_len, "rev: a non-negative integer "
		    "required");
	else if ((c->why = record_check(c, v)) != NULL)
		record_invalid(c, id, id_len, c->why);
}

/*
 * Mark a card invalid. When c does not hold this id yet it starts empty;
 * otherwise rev, permit and birth stay, so the card still answers with
 * its revision and is found by its permit.
 */
void
record_invalid(struct card *c, const char *id, size_t id_len, const char *why)
{
	if (c->id_len != id_len || memcmp(c->id, id, id_len) != 0) {
		memset(c, 0, offsetof(struct card, xregion));
		memcpy(c->id, id, id_len);
		c->id_len = (uint8_t)id_len;
	}
	c->flags = (uint8_t)((c->flags & CARD_HAS_BIRTH) | CARD_INVALID);
	c->nxregion = 0;
	c->why = why;
}

/* True when some date falls outside the compact u16 range. */
static int
record_wide(const struct card *c)
{
	int32_t d[3 + 2 * SCHEME_COUNT];
	int n = 0;

	d[n++] = c->birth;
	if (!(c->flags & CARD_INVALID)) {
		d[n++] = c->permit_from;
		d[n++] = c->permit_until;
		for (int i = 0; i < SCHEME_COUNT; i++)
			if (c->enrolled & (1u << i)) {
				d[n++] = c->cover[i].from;
				d[n++] = c->cover[i].until;
			}
	}
	for (int i = 0; i < n; i++)
		if (d[i] < DATE_BASE || d[i] > DATE_BASE + 0xffff)
			return 1;
	return 0;
}

/* Append a date in the record's width. */
static uint8_t *
record_put_date(uint8_t *p, int32_t d, int wide)
{
	uint32_t u = wide ? (uint32_t)d : (uint32_t)(d - DATE_BASE);

	*p++ = (uint8_t)u;
	*p++ = (uint8_t)(u >> 8);
	if (wide) {
		*p++ = (uint8_t)(u >> 16);
		*p++ = (uint8_t)(u >> 24);
	}
	return p;
}

/* Read a date in the record's width. */
static const uint8_t *
record_get_date(const uint8_t *p, int32_t *d, int wide)
{
	if (!wide) {
		*d = DATE_BASE + (int32_t)(p[0] | p[1] << 8);
		return p + 2;
	}
	*d = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
	return p + 4;
}

/* Append an unsigned LEB128 varint. */
static uint8_t *
record_put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Read an unsigned LEB128 varint. */
static const uint8_t *
record_get_varint(const uint8_t *p, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	do {
		*v |= (uint64_t)(*p & 0x7f) << shift;
		shift += 7;
	} while (*p++ & 0x80);
	return p;
}

/* Pack a card; out needs RECORD_ENC_MAX bytes. Returns the length. */
size_t
record_encode(const struct card *c, uint8_t *out)
{
	int wide = record_wide(c);
	uint8_t *p = out;

	*p++ = (uint8_t)((c->flags & RECORD_FLAGS_KEPT) |
	    (wide ? RECORD_WIDE : 0) | (c->nxregion ? RECORD_HAS_XREGION : 0));
	*p++ = c->id_len;
	memcpy(p, c->id, c->id_len);
	p += c->id_len;
	*p++ = c->permit_len;
	memcpy(p, c->permit, c->permit_len);
	p += c->permit_len;
	if (c->flags & CARD_INVALID) {
		p = record_put_varint(p, c->rev);
		if (c->flags & CARD_HAS_BIRTH)
			p = record_put_date(p, c->birth, wide);
		return (size_t)(p - out);
	}
	*p++ = (uint8_t)(c->status | (c->class - 'A') << 2);
	*p++ = c->enrolled;
	p = record_put_varint(p, c->rev);
	*p++ = (uint8_t)c->region;
	*p++ = (uint8_t)(c->region >> 8);
	*p++ = (uint8_t)(c->region >> 16);
	p = record_put_date(p, c->birth, wide);
	p = record_put_date(p, c->permit_from, wide);
	p = record_put_date(p, c->permit_until, wide);
	for (int i = 0; i < SCHEME_COUNT; i++)
		if (c->enrolled & (1u << i)) {
			p = record_put_date(p, c->cover[i].from, wide);
			p = record_put_date(p, c->cover[i].until, wide);
		}
	if (c->nxregion) {
		p = record_put_varint(p, c->nxregion);
		for (int i = 0; i < c->nxregion; i++) {
			*p++ = (uint8_t)c->xregion[i];
			*p++ = (uint8_t)(c->xregion[i] >> 8);
			*p++ = (uint8_t)(c->xregion[i] >> 16);
		}
	}
	return (size_t)(p - out);
}

/* Unpack a record into c. Returns the encoded length. */
size_t
record_decode(const uint8_t *in, struct card *c)
{
	const uint8_t *p = in;
	uint64_t n;
	int wide;

	memset(c, 0, offsetof(struct card, xregion));
	c->flags = *p & RECORD_FLAGS_KEPT;
	wide = (*p & RECORD_WIDE) != 0;
	n = *p++ & RECORD_HAS_XREGION;
	c->id_len = *p++;
	memcpy(c->id, p, c->id_len);
	p += c->id_len;
	c->permit_len = *p++;
	memcpy(c->permit, p, c->permit_len);
	p += c->permit_len;
	if (c->flags & CARD_INVALID) {
		p = record_get_varint(p, &c->rev);
		if (c->flags & CARD_HAS_BIRTH)
			p = record_get_date(p, &c->birth, wide);
		c->why = "invalid record";
		return (size_t)(p - in);
	}
	c->status = *p & 3;
	c->class = (uint8_t)('A' + (*p++ >> 2 & 3));
	c->enrolled = *p++;
	p = record_get_varint(p, &c->rev);
	c->region = (int32_t)(p[0] | p[1] << 8 | p[2] << 16);
	p += 3;
	p = record_get_date(p, &c->birth, wide);
	p = record_get_date(p, &c->permit_from, wide);
	p = record_get_date(p, &c->permit_until, wide);
	for (int i = 0; i < SCHEME_COUNT; i++)
		if (c->enrolled & (1u << i)) {
			p = record_get_date(p, &c->cover[i].from, wide);
			p = record_get_date(p, &c->cover[i].until, wide);
		}
	if (n) {
		p = record_get_varint(p, &n);
		c->nxregion = (uint16_t)n;
		for (int i = 0; i < c->nxregion; i++, p += 3)
			c->xregion[i] = (int32_t)(p[0] | p[1] << 8 |
			    p[2] << 16);
	}
	return (size_t)(p - in);
}

/* True for a card or permit number already in normal form. */
static int
record_id_ok(const uint8_t *p, size_t len)
{
	char tmp[STMT_ID_MAX];

	return record_id_normalize((const char *)p, len, tmp) == (int)len &&
	    memcmp(tmp, p, len) == 0;
}

/*
 * Length of a well-formed encoded record that fits in len bytes, or 0.
 * For records read from outside (a snapshot file): everything
 * record_decode() relies on is checked first.
 */
size_t
record_check_encoding(const uint8_t *in, size_t len)
{
	const uint8_t *p = in, *end = in + len;
	size_t dlen, need;
	uint64_t n;
	int i;

#define RECORD_NEED(k) do { if ((size_t)(end - p) < (size_t)(k)) return 0; } \
	while (0)
	RECORD_NEED(2);
	if (p[0] & 0x80 || p[1] > STMT_ID_MAX || !record_id_ok(p + 2, p[1]))
		return 0;
	dlen = p[0] & RECORD_WIDE ? 4 : 2;
	p += 2 + p[1];
	RECORD_NEED(1);
	RECORD_NEED(1 + p[0]);
	if (p[0] != 0 && (p[0] > STMT_ID_MAX || !record_id_ok(p + 1, p[0])))
		return 0;
	p += 1 + p[0];
	if (!(in[0] & CARD_INVALID))
		RECORD_NEED(2);
	if (!(in[0] & CARD_INVALID) && (p[0] >> 4 != 0 || (p[0] >> 2 & 3) == 3 ||
	    p[1] > 0x1f))
		return 0;
	n = in[0] & CARD_INVALID ? 0 : p[1];
	p += in[0] & CARD_INVALID ? 0 : 2;
	for (i = 0; i < 10; i++) {
		RECORD_NEED(1);
		if (!(*p++ & 0x80))
			break;
	}
	if (i == 10)
		return 0;
	if (in[0] & CARD_INVALID) {
		need = in[0] & CARD_HAS_BIRTH ? dlen : 0;
		RECORD_NEED(need);
		return in[0] & RECORD_HAS_XREGION ? 0 : (size_t)(p - in) + need;
	}
	need = 3 + 3 * dlen + 2 * dlen * (size_t)__builtin_popcountll(n);
	RECORD_NEED(need);
	if ((uint32_t)(p[0] | p[1] << 8 | p[2] << 16) > 999999)
		return 0;
	p += need;
	if (!(in[0] & RECORD_HAS_XREGION))
		return (size_t)(p - in);
	RECORD_NEED(2);
	n = p[0] & 0x7f;
	if (p[0] & 0x80)
		n |= (uint64_t)p[1] << 7;
	p += p[0] & 0x80 ? 2 : 1;
	if (n == 0 || n > RECORD_MAX_XREGION || (in[0] & CARD_XREGION_ALL))
		return 0;
	RECORD_NEED(3 * n);
	for (i = 0; i < (int)n; i++, p += 3)
		if ((uint32_t)(p[0] | p[1] << 8 | p[2] << 16) > 999999)
			return 0;
	return (size_t)(p - in);
#undef RECORD_NEED
}

/* Encoded length of a record, without decoding its values. */
size_t
record_size(const uint8_t *in)
{
	const uint8_t *p = in + 2 + in[1];
	size_t dlen = in[0] & RECORD_WIDE ? 4 : 2, n;
	unsigned enrolled = 0;

	p += 1 + p[0];
	if (!(in[0] & CARD_INVALID)) {
		enrolled = p[1];
		p += 2;
	}
	while (*p++ & 0x80)
		;
	if (in[0] & CARD_INVALID)
		return (size_t)(p - in) + (in[0] & CARD_HAS_BIRTH ? dlen : 0);
	p += 3 + 3 * dlen + 2 * dlen * (size_t)__builtin_popcount(enrolled);
	if (!(in[0] & RECORD_HAS_XREGION))
		return (size_t)(p - in);
	n = p[0] & 0x7f;
	if (p[0] & 0x80)
		n |= (size_t)p[1] << 7;
	p += p[0] & 0x80 ? 2 : 1;
	return (size_t)(p - in) + 3 * n;
}

/* The card number of an encoded record. */
const uint8_t *
record_id(const uint8_t *in, size_t *len)
{
	*len = in[1];
	return in + 2;
}

/* The permit number of an encoded record (length 0: none). */
const uint8_t *
record_permit(const uint8_t *in, size_t *len)
{
	const uint8_t *p = in + 2 + in[1];

	*len = p[0];
	return p + 1;
}

/* Append text to buf and point field f at it. */
static int
record_put_text(char *buf, size_t cap, size_t *at, struct record_value *v,
    const char *text, size_t len)
{
	if (cap - *at < len)
		return -1;
	memcpy(buf + *at, text, len);
	v->p = buf + *at;
	v->len = len;
	*at += len;
	return 0;
}

/*
 * Text fields of a card, for export; buf holds the text (1024 +
 * 7 * RECORD_MAX_XREGION bytes are enough). An invalid card only has what
 * it kept; the rest are absent.
 */
int
record_to_fields(const struct card *c, char *buf, size_t cap,
    struct record_value *v)
{
	static const char *const classes[] = { "A", "B", "C" };
	char t[2 * DATE_LEN + 2 + 8 * RECORD_MAX_XREGION];
	size_t at = 0, n;
	int rc = 0;

	memset(v, 0, RECORD_NFIELDS * sizeof(*v));
	n = (size_t)snprintf(t, sizeof(t), "%llu", (unsigned long long)c->rev);
	rc |= record_put_text(buf, cap, &at, &v[F_REV], t, n);
	if (c->permit_len)
		rc |= record_put_text(buf, cap, &at, &v[F_PERMIT], c->permit,
		    c->permit_len);
	date_format(c->birth, t);
	if (c->flags & CARD_HAS_BIRTH)
		rc |= record_put_text(buf, cap, &at, &v[F_BIRTH], t, DATE_LEN);
	if (c->flags & CARD_INVALID)
		return rc;
	rc |= record_put_text(buf, cap, &at, &v[F_STATUS],
	    record_statuses[c->status], strlen(record_statuses[c->status]));
	rc |= record_put_text(buf, cap, &at, &v[F_CLASS],
	    classes[c->class - 'A'], 1);
	date_format(c->permit_from, t);
	rc |= record_put_text(buf, cap, &at, &v[F_PERMIT_FROM], t, DATE_LEN);
	date_format(c->permit_until, t);
	rc |= record_put_text(buf, cap, &at, &v[F_PERMIT_UNTIL], t, DATE_LEN);
	n = (size_t)snprintf(t, sizeof(t), "%06d", (int)c->region);
	rc |= record_put_text(buf, cap, &at, &v[F_REGION], t, n);
	for (int i = 0; i < SCHEME_COUNT; i++) {
		if (!(c->enrolled & (1u << i)))
			continue;
		date_format(c->cover[i].from, t);
		memcpy(t + DATE_LEN, "..", 2);
		date_format(c->cover[i].until, t + DATE_LEN + 2);
		rc |= record_put_text(buf, cap, &at, &v[F_MEDICAL + i], t,
		    2 * DATE_LEN + 2);
	}
	n = 0;
	if (c->flags & CARD_XREGION_ALL)
		t[n++] = '*';
	for (int i = 0; i < c->nxregion; i++)
		n += (size_t)snprintf(t + n, sizeof(t) - n, "%s%06d",
		    i ? "," : "", (int)c->xregion[i]);
	if (n > 0)
		rc |= record_put_text(buf, cap, &at, &v[F_XREGION], t, n);
	return rc;
}
