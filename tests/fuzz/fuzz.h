/* SPDX-License-Identifier: MIT */
/*
 * What the libFuzzer targets share: an assertion that aborts (so the
 * fuzzer keeps the input), and the walk over prefixes that the streaming
 * parsers are held to: a prefix is parsed from a copy of exactly its own
 * length, so ASan sees any read past it.
 */
#ifndef CARDD_FUZZ_H
#define CARDD_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: assertion failed: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

/*
 * For a target that parses JSON (it includes jansson.h): jansson's hash
 * seed fixed at start, so that runs repeat exactly.
 */
#define FUZZ_JSON_SEEDED						\
int	LLVMFuzzerInitialize(int *, char ***);				\
int									\
LLVMFuzzerInitialize(int *argc, char ***argv)				\
{									\
	(void)argc;							\
	(void)argv;							\
	json_object_seed(1);						\
	return 0;							\
}

#define FUZZ_ALL_PREFIXES 128	/* shorter inputs: try every prefix */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The stride over prefixes of a limit-byte input: every one when short. */
static inline size_t
fuzz_prefix_step(size_t limit)
{
	return limit <= FUZZ_ALL_PREFIXES ? 1 : limit / 64 + 1;
}

/* The next prefix length to try: by step, but every one of the last four. */
static inline size_t
fuzz_next_prefix(size_t k, size_t limit, size_t step)
{
	if (k + step + 3 <= limit)
		return k + step;
	return k + 3 >= limit ? k + 1 : limit - 3;
}

/* A heap copy of the first k bytes of buf, of exactly k bytes. */
static inline char *
fuzz_copy(const char *buf, size_t k)
{
	char *copy = malloc(k);

	FUZZ_ASSERT(k == 0 || copy != NULL);
	if (k > 0)
		memcpy(copy, buf, k);
	return copy;
}

#endif
