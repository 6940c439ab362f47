/* SPDX-License-Identifier: MIT */
/* The local snapshot of the index (README.md, Sources): atomic, checksummed. */
#ifndef CARDD_SNAPSHOT_H
#define CARDD_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

struct index;

struct snapshot_meta {
	int64_t		synced_at_ms;	/* last confirmed in step */
	uint64_t	cursor_ms;	/* stream position the index reflects */
	uint64_t	cursor_seq;
	uint64_t	cursor_count;	/* stream entries up to the cursor */
	char		run_id[41];	/* the Redis it came from ("" if none) */
	uint64_t	count;
	uint64_t	invalid;	/* cards answering record_invalid */
};

int	snapshot_save(const char *path, const struct index *,
	    const struct snapshot_meta *, char *err, size_t errlen);
struct index *snapshot_load(const char *path, uint64_t seed,
	    struct snapshot_meta *, char *err, size_t errlen);
struct index *snapshot_parse(const uint8_t *data, size_t len, uint64_t seed,
	    struct snapshot_meta *, char *err, size_t errlen);

#endif
