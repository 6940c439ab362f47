/* SPDX-License-Identifier: MIT */
/*
 * Growable byte buffers. Consuming from the front only moves an offset;
 * the live bytes move to the front when room is needed at the tail, so
 * a pipelined stream costs no copy per request. Out of memory is an
 * error the caller turns into closing one connection, never an abort.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Make room for n more bytes at the tail. */
int
buf_reserve(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->cap - b->off - b->len >= n)
		return 0;
	if (b->off > 0 && b->cap - b->len >= n) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		return 0;
	}
	for (cap = b->cap ? b->cap : 4096; cap - b->len < n; cap *= 2)
		;
	if ((p = malloc(cap)) == NULL)
		return -1;
	if (b->len > 0)
		memcpy(p, b->data + b->off, b->len);
	free(b->data);
	b->data = p;
	b->off = 0;
	b->cap = cap;
	return 0;
}

/* Append bytes. */
int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;	/* p may be NULL (an empty buffer's head) */
	if (buf_reserve(b, n) != 0)
		return -1;
	memcpy(buf_tail(b), p, n);
	b->len += n;
	return 0;
}

/* Drop n bytes from the front; an emptied buffer shrinks if it grew. */
void
buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (b->len == 0) {
		b->off = 0;
		if (b->cap > 65536) {
			free(b->data);
			b->data = NULL;
			b->cap = 0;
		}
	}
}

/* Free the storage. */
void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
