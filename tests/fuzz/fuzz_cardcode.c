/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a card code as a client sends it (protocol/
 * cardcode.c, PROTOCOL.md §10). The input is copied into a heap block of
 * exactly its size, so a read past the end traps. Every input is either
 * a bad request with a reason, or a code whose fields keep the promises
 * the daemon relies on (bounded, NUL-terminated, safe in JSON); then its
 * times are judged and its signature checked against a fixed key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cardcode.h"
#include "fuzz.h"

static void	code_read(const struct cardcode *, const char *, size_t);

/* What a code that reads promises the daemon. */
static void
code_read(const struct cardcode *cc, const char *text, size_t len)
{
	static const uint8_t pub[JWS_PUB_LEN] = { 0xd7, 0x5a, 0x98, 0x01 };
	static EVP_PKEY *key;
	char hash[CARDCODE_HASH_LEN];

	FUZZ_ASSERT(cc->input == text && cc->input_len < len);
	FUZZ_ASSERT(cc->kid[0] != '\0' &&
	    memchr(cc->kid, '\0', sizeof(cc->kid)) != NULL);
	FUZZ_ASSERT(cardcode_name_valid(cc->iss, strlen(cc->iss)));
	FUZZ_ASSERT(memchr(cc->sub, '\0', sizeof(cc->sub)) != NULL);
	FUZZ_ASSERT(cc->iat >= 0 && cc->exp >= 0 && cc->nbf >= 0);
	(void)cardcode_times(cc, 1796198400, 120, 30);
	if (key == NULL)
		FUZZ_ASSERT((key = jws_pkey(pub)) != NULL);
	FUZZ_ASSERT(cardcode_verify(cc, key) != 1);
	cardcode_hash(text, len, hash);
}

/* The input is the code text. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1);
	const char *err = NULL;
	struct cardcode cc;

	FUZZ_ASSERT(text != NULL);
	memcpy(text, data, size);
	switch (cardcode_parse(text, size, &cc, &err)) {
	case CARDCODE_BAD:
		FUZZ_ASSERT(err != NULL && *err != '\0');
		break;
	case CARDCODE_INVALID:
		FUZZ_ASSERT(cc.why != NULL);
		FUZZ_ASSERT(cc.iss[0] == '\0' ||
		    cardcode_name_valid(cc.iss, strlen(cc.iss)));
		break;
	default:
		code_read(&cc, text, size);
	}
	free(text);
	return 0;
}
