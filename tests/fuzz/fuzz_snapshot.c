/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: snapshot_parse(), the loader of a snapshot file. A
 * random file almost never carries a matching XXH3-128 checksum, so the
 * target seals the input first: it forces the magic and version, sets
 * the payload length to what follows the header, and appends the right
 * checksum. What is left to the fuzzer is the header's counts and every
 * record, which the loader must check itself. An accepted snapshot must
 * hold as many cards as its header says. The loader copies records as
 * they are (a record cardd did not write may be in a form record_encode
 * would not give): each must still be as long as record_size and
 * record_decode read it, and mean the card its encoding means.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "index.h"
#include "log.h"
#include "record.h"
#include "snapshot.h"
#include "fuzz.h"

#define SNAP_HEADER	104
#define SNAP_SUM	16

int	LLVMFuzzerInitialize(int *, char ***);
static void	canonical(const uint8_t *, void *);

/* A record's length and meaning agree with its card's own encoding. */
static void
canonical(const uint8_t *rec, void *arg)
{
	uint8_t enc[RECORD_ENC_MAX], again[RECORD_ENC_MAX];
	struct card c, d;
	size_t n = record_size(rec), m;

	(void)arg;
	FUZZ_ASSERT(n <= RECORD_ENC_MAX);
	FUZZ_ASSERT(record_decode(rec, &c) == n);
	m = record_encode(&c, enc);
	FUZZ_ASSERT(record_size(enc) == m && record_decode(enc, &d) == m);
	FUZZ_ASSERT(record_encode(&d, again) == m);
	FUZZ_ASSERT(memcmp(enc, again, m) == 0);
}

/* Quiet logging. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(LOGL_ERROR);
	return 0;
}

/* Seal the input as a snapshot and load it. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	size_t n = len < SNAP_HEADER ? SNAP_HEADER : len;
	uint8_t *buf = calloc(1, n + SNAP_SUM);
	XXH128_canonical_t canon;
	struct snapshot_meta m;
	struct index *idx;
	uint64_t payload = n - SNAP_HEADER;
	char err[256];

	if (buf == NULL)
		return 0;
	memcpy(buf, data, len);
	memcpy(buf, "CARDSNAP", 8);
	buf[8] = 1;
	buf[9] = buf[10] = buf[11] = 0;
	for (int i = 0; i < 8; i++)
		buf[96 + i] = (uint8_t)(payload >> (8 * i));
	XXH128_canonicalFromHash(&canon, XXH3_128bits(buf, n));
	memcpy(buf + n, canon.digest, SNAP_SUM);
	idx = snapshot_parse(buf, n + SNAP_SUM, 1, &m, err, sizeof(err));
	if (idx != NULL) {
		FUZZ_ASSERT(index_count(idx) == m.count);
		FUZZ_ASSERT(m.invalid <= m.count);
		index_foreach(idx, canonical, NULL);
		index_free(idx);
	} else
		FUZZ_ASSERT(err[0] != '\0');
	free(buf);
	return 0;
}
