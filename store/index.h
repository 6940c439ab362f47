/* SPDX-License-Identifier: MIT */
/* The card index: encoded records, found by card number and permit number. */
#ifndef CARDD_INDEX_H
#define CARDD_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct index;

enum index_found { INDEX_NONE, INDEX_ONE, INDEX_AMBIGUOUS };

struct index	*index_new(size_t expected, uint64_t seed);
void		 index_free(struct index *);
struct index	*index_copy(const struct index *, uint64_t seed);
int		 index_put(struct index *, const struct card *);
int		 index_put_record(struct index *, const uint8_t *, size_t);
int		 index_del(struct index *, const char *id, size_t len);
const uint8_t	*index_get(const struct index *, const char *id, size_t len);
enum index_found index_get_permit(const struct index *, const char *permit,
		    size_t len, const uint8_t **rec);
size_t		 index_count(const struct index *);
size_t		 index_bytes(const struct index *);
size_t		 index_garbage(const struct index *);
void		 index_trim(struct index *);
void		 index_foreach(const struct index *,
		    void (*)(const uint8_t *rec, void *), void *);

#endif
