/* SPDX-License-Identifier: MIT */
/* Growable byte buffers for connection input and output. */
#ifndef CARDD_BUF_H
#define CARDD_BUF_H

#include <stddef.h>

struct buf {
	char	*data;
	size_t	 off;		/* first live byte */
	size_t	 len;		/* live bytes */
	size_t	 cap;
};

int	buf_reserve(struct buf *, size_t);
int	buf_append(struct buf *, const void *, size_t);
void	buf_consume(struct buf *, size_t);
void	buf_free(struct buf *);

/* The live bytes. */
static inline char *
buf_head(const struct buf *b)
{
	return b->data + b->off;
}

/* The free space after the live bytes (see buf_reserve). */
static inline char *
buf_tail(const struct buf *b)
{
	return b->data + b->off + b->len;
}

#endif
