/* SPDX-License-Identifier: MIT */
/*
 * The OpenAPI 3.1 document of the HTTP API (protocol/openapi.json), built
 * into the binary by the assembler's .incbin, so that GET
 * /v1/openapi.json always describes the daemon that serves it, byte for
 * byte as the tree holds it (the Makefile rebuilds this file when the
 * document changes).
 */
#include <pthread.h>

#include "openapi.h"
#include "sign.h"

#ifndef OPENAPI_FILE
#define OPENAPI_FILE "protocol/openapi.json"
#endif

__asm__(".section .rodata\n"
    ".balign 16\n"
    "openapi_bytes:\n"
    ".incbin \"" OPENAPI_FILE "\"\n"
    "openapi_bytes_end:\n"
    ".byte 0\n"
    ".previous\n");

extern const char openapi_bytes[], openapi_bytes_end[];

static pthread_once_t	openapi_once = PTHREAD_ONCE_INIT;
static char		openapi_tag[SIGN_ETAG_MAX];
static size_t		openapi_tag_len;

/* The document's bytes. */
const char *
openapi_doc(size_t *len)
{
	*len = (size_t)(openapi_bytes_end - openapi_bytes);
	return openapi_bytes;
}

/* Hash the document once, for its ETag. */
static void
openapi_hash(void)
{
	size_t len;
	const char *doc = openapi_doc(&len);

	openapi_tag_len = sign_etag_of(doc, len, openapi_tag);
}

/* The document's ETag (quoted base64url SHA-256); length 0 if none. */
const char *
openapi_etag(size_t *len)
{
	pthread_once(&openapi_once, openapi_hash);
	*len = openapi_tag_len;
	return openapi_tag;
}
