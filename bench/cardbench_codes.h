/* SPDX-License-Identifier: MIT */
/* cardbench --codes: the pool of minted card codes, and which were asked. */
#ifndef CARDBENCH_CODES_H
#define CARDBENCH_CODES_H

#include <stddef.h>
#include <stdint.h>

#define CARDBENCH_CODES_MAX	1000000	/* codes in a pool */
#define CARDBENCH_CODE_MAX	2048	/* bytes of one code (PROTOCOL.md §10) */

int		 cardbench_codes_load(const char *path, char *err, size_t errlen);
uint64_t	 cardbench_codes_count(void);
const char	*cardbench_codes_get(uint64_t i, size_t *len);
uint64_t	 cardbench_codes_longest(void);
void		 cardbench_codes_free(void);
uint64_t	*cardbench_codes_seen_new(void);
void		 cardbench_codes_seen_mark(uint64_t *seen, uint64_t i);
void		 cardbench_codes_seen_merge(uint64_t *into, const uint64_t *);
uint64_t	 cardbench_codes_seen_count(const uint64_t *seen);

#endif
