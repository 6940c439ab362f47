/* SPDX-License-Identifier: MIT */
/* CSV records (RFC 4180): the card data format of PROTOCOL.md §7. */
#ifndef CARDD_CSV_H
#define CARDD_CSV_H

#include <stddef.h>
#include <sys/types.h>

#define CSV_PARTIAL	(-2)
#define CSV_ERROR	(-1)

struct csv_field {
	const char	*p;
	size_t		 len;
};

ssize_t	csv_parse_record(const char *buf, size_t len, int eof,
	    struct csv_field *fields, size_t max_fields, size_t *nfields,
	    char *scratch, const char **err);
ssize_t	csv_skip_line(const char *buf, size_t len);
size_t	csv_put_field(char *out, const char *p, size_t len);

#endif
