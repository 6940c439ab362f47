/* SPDX-License-Identifier: MIT */
/*
 * The statement writer. A statement is compact JSON with a fixed field
 * order (protocol/PROTOCOL.md), so the same answer always has the same
 * bytes. Every value is either a number, a fixed word, or a string whose
 * alphabet needs no JSON escaping (ids: 0-9A-Z, nonce: base64url, kid:
 * checked by the config), so the writer copies bytes and never escapes.
 */
#include <string.h>

#include "date.h"
#include "stmt.h"

static const char *const stmt_checks[STMT_CHECK_COUNT] = {
	"validity", "coverage"
};

static const char *const stmt_schemes[SCHEME_COUNT] = {
	"medical", "pension", "unemployment", "injury", "maternity"
};

static const char *const stmt_reasons[REASON_COUNT] = {
	"ok", "code_invalid", "code_expired", "code_replayed", "unknown_card", "holder_mismatch", "record_invalid",
	"card_suspended", "card_lost", "card_revoked",
	"permit_not_yet_valid", "permit_expired", "not_enrolled",
	"coverage_not_started", "coverage_lapsed", "region_not_covered"
};

struct stmt_out {
	char	*p;
	char	*end;
	int	 overflow;
};

static int	stmt_lookup(const char *const *, int, const char *, size_t);
static void	stmt_put(struct stmt_out *, const char *, size_t);
static void	stmt_puts(struct stmt_out *, const char *);
static void	stmt_put_u64(struct stmt_out *, uint64_t);
static void	stmt_put_str(struct stmt_out *, const char *, const char *,
		    size_t);

/* Name of a check. */
const char *
stmt_check_name(enum stmt_check c)
{
	return stmt_checks[c];
}

/* Name of a scheme. */
const char *
stmt_scheme_name(enum stmt_scheme s)
{
	return stmt_schemes[s];
}

/* Name of a reason. */
const char *
stmt_reason_name(enum stmt_reason r)
{
	return stmt_reasons[r];
}

/* The result word: only reason "ok" is positive. */
const char *
stmt_result_name(enum stmt_check c, enum stmt_reason r)
{
	if (c == STMT_VALIDITY)
		return r == REASON_OK ? "valid" : "invalid";
	return r == REASON_OK ? "covered" : "not_covered";
}

/* Index of an exact word in a table, or -1. */
static int
stmt_lookup(const char *const *tab, int n, const char *s, size_t len)
{
	for (int i = 0; i < n; i++)
		if (strlen(tab[i]) == len && memcmp(tab[i], s, len) == 0)
			return i;
	return -1;
}

/* enum stmt_check of a name, or -1. */
int
stmt_check_lookup(const char *s, size_t len)
{
	return stmt_lookup(stmt_checks, STMT_CHECK_COUNT, s, len);
}

/* enum stmt_scheme of a name, or -1. */
int
stmt_scheme_lookup(const char *s, size_t len)
{
	return stmt_lookup(stmt_schemes, SCHEME_COUNT, s, len);
}

/* Append bytes, noting overflow instead of writing past the end. */
static void
stmt_put(struct stmt_out *o, const char *s, size_t len)
{
	if ((size_t)(o->end - o->p) < len) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p, s, len);
	o->p += len;
}

/* Append a C string. */
static void
stmt_puts(struct stmt_out *o, const char *s)
{
	stmt_put(o, s, strlen(s));
}

/* Append a decimal number. */
static void
stmt_put_u64(struct stmt_out *o, uint64_t v)
{
	char buf[20];
	size_t i = sizeof(buf);

	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	stmt_put(o, buf + i, sizeof(buf) - i);
}

/* Append ,"key":"value". */
static void
stmt_put_str(struct stmt_out *o, const char *key, const char *v, size_t len)
{
	stmt_puts(o, ",\"");
	stmt_puts(o, key);
	stmt_puts(o, "\":\"");
	stmt_put(o, v, len);
	stmt_put(o, "\"", 1);
}

/*
 * Write the statement. Returns its length, or 0 when cap is too small
 * (STMT_MAX is always enough for values within the documented bounds).
 */
size_t
stmt_write(const struct stmt *s, char *out, size_t cap)
{
	struct stmt_out o = { out, out + cap, 0 };
	char date[DATE_RFC3339_LEN], region[6];
	const char *check = stmt_checks[s->check];

	stmt_puts(&o, "{\"v\":1");
	stmt_put_str(&o, "check", check, strlen(check));
	if (s->code != NULL) {
		stmt_put_str(&o, "code", s->code, STMT_CODE_LEN);
		if (s->iss != NULL)
			stmt_put_str(&o, "iss", s->iss, s->iss_len);
		if (s->id != NULL)
			stmt_put_str(&o, "card", s->id, s->id_len);
		if (s->permit != NULL)
			stmt_put_str(&o, "permit", s->permit, s->permit_len);
	} else
		stmt_put_str(&o, s->by_permit ? "permit" : "card", s->id,
		    s->id_len);
	if (s->scheme >= 0)
		stmt_put_str(&o, "scheme", stmt_schemes[s->scheme],
		    strlen(stmt_schemes[s->scheme]));
	if (s->region >= 0) {
		for (int i = 5, r = s->region; i >= 0; i--, r /= 10)
			region[i] = (char)('0' + r % 10);
		stmt_put_str(&o, "region", region, sizeof(region));
	}
	date_format(s->at, date);
	stmt_put_str(&o, "at", date, DATE_LEN);
	stmt_put_str(&o, "result", stmt_result_name(s->check, s->reason),
	    strlen(stmt_result_name(s->check, s->reason)));
	stmt_put_str(&o, "reason", stmt_reasons[s->reason],
	    strlen(stmt_reasons[s->reason]));
	stmt_puts(&o, ",\"rev\":");
	stmt_put_u64(&o, s->rev);
	date_rfc3339_ms(s->synced_at_ms, date);
	stmt_put_str(&o, "synced_at", date, sizeof(date));
	date_rfc3339_ms(s->issued_at_ms, date);
	stmt_put_str(&o, "issued_at", date, sizeof(date));
	stmt_put_str(&o, "kid", s->kid, s->kid_len);
	if (s->nonce != NULL)
		stmt_put_str(&o, "nonce", s->nonce, s->nonce_len);
	if (s->has_until) {
		date_format(s->until, date);
		stmt_put_str(&o, "until", date, DATE_LEN);
	}
	if (s->replay_local)
		stmt_puts(&o, ",\"replay\":\"local\"");
	if (s->zone != NULL)
		stmt_put_str(&o, "at_zone", s->zone, s->zone_len);
	stmt_put(&o, "}", 1);
	return o.overflow ? 0 : (size_t)(o.p - out);
}
