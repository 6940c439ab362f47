/* SPDX-License-Identifier: MIT */
/*
 * CSV records as RFC 4180 has them: fields separated by commas, records
 * by CRLF (a bare LF is accepted too), a field in double quotes may hold
 * commas, line breaks and "" for a quote. The `xregion` field is a comma
 * list, so quoting is the normal case, not an edge case.
 */
#include <string.h>

#include "csv.h"

static ssize_t	csv_quoted(const char *buf, size_t len, size_t at, int eof,
		    char **out, const char **err);

/*
 * Copy a quoted field that starts at buf[at] (the opening quote) into
 * *out. Returns the offset just after the closing quote.
 */
static ssize_t
csv_quoted(const char *buf, size_t len, size_t at, int eof, char **out,
    const char **err)
{
	for (at++; at < len; at++) {
		if (buf[at] != '"') {
			*(*out)++ = buf[at];
			continue;
		}
		if (at + 1 == len)
			return eof ? (ssize_t)(at + 1) : CSV_PARTIAL;
		if (buf[at + 1] != '"')
			return (ssize_t)(at + 1);
		*(*out)++ = '"';
		at++;
	}
	if (!eof)
		return CSV_PARTIAL;
	*err = "unterminated quoted field";
	return CSV_ERROR;
}

/*
 * Parse one record. Returns the bytes consumed (line end included),
 * CSV_PARTIAL when the record may continue past len (and !eof), or
 * CSV_ERROR with *err set; *nfields then counts the fields read before
 * the error, so a loader can still name the card of a broken line.
 * scratch needs len bytes; fields point into it.
 */
ssize_t
csv_parse_record(const char *buf, size_t len, int eof,
    struct csv_field *fields, size_t max_fields, size_t *nfields,
    char *scratch, const char **err)
{
	size_t at = 0;
	char *out = scratch;

	*nfields = 0;
	for (;;) {
		char *start = out;
		ssize_t r;

		/* Decided before the field is read: more input cannot help. */
		if (*nfields == max_fields) {
			*err = "too many fields";
			return CSV_ERROR;
		}
		if (at < len && buf[at] == '"') {
			if ((r = csv_quoted(buf, len, at, eof, &out, err)) < 0)
				return r;
			at = (size_t)r;
		} else {
			while (at < len && buf[at] != ',' && buf[at] != '\n' &&
			    buf[at] != '\r' && buf[at] != '"')
				*out++ = buf[at++];
		}
		fields[*nfields].p = start;
		fields[(*nfields)++].len = (size_t)(out - start);
		if (at == len)
			return eof ? (ssize_t)at : CSV_PARTIAL;
		if (buf[at] == ',') {
			at++;
			continue;
		}
		if (buf[at] == '\n')
			return (ssize_t)(at + 1);
		if (buf[at] == '\r' && at + 1 < len && buf[at + 1] == '\n')
			return (ssize_t)(at + 2);
		if (buf[at] == '\r' && at + 1 == len && !eof)
			return CSV_PARTIAL;
		(*nfields)--;
		*err = buf[at] == '"' ? "quote inside an unquoted field" :
		    "text after a closing quote";
		return CSV_ERROR;
	}
}

/* Bytes up to and including the next line end, to step over a bad line. */
ssize_t
csv_skip_line(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);

	return nl == NULL ? (ssize_t)len : nl - buf + 1;
}

/* Write one field, quoted when it must be; out needs 2 * len + 2 bytes. */
size_t
csv_put_field(char *out, const char *p, size_t len)
{
	size_t n = 0;

	if (len > 0 && memchr(p, ',', len) == NULL &&
	    memchr(p, '"', len) == NULL && memchr(p, '\n', len) == NULL &&
	    memchr(p, '\r', len) == NULL) {
		memcpy(out, p, len);
		return len;
	}
	if (len == 0)
		return 0;
	out[n++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"')
			out[n++] = '"';
		out[n++] = p[i];
	}
	out[n++] = '"';
	return n;
}
