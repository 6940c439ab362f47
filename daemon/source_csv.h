/* SPDX-License-Identifier: MIT */
/* Build an index from a CSV file of cards (PROTOCOL.md §7). */
#ifndef CARDD_SOURCE_CSV_H
#define CARDD_SOURCE_CSV_H

#include <stddef.h>
#include <stdint.h>

struct index;

struct csv_report {
	uint64_t	rows;		/* card lines read */
	uint64_t	invalid;	/* cards that answer record_invalid */
	uint64_t	skipped;	/* lines with no usable card number */
};

struct index *source_csv_parse(const char *data, size_t len,
	    const char *name, uint64_t seed, struct csv_report *, char *err,
	    size_t errlen);
struct index *source_csv_load(const char *path, uint64_t seed,
	    struct csv_report *, char *err, size_t errlen);

#endif
