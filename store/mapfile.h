/* SPDX-License-Identifier: MIT */
/* A whole file mapped read-only, for the loaders (CSV, snapshot). */
#ifndef CARDD_MAPFILE_H
#define CARDD_MAPFILE_H

#include <stddef.h>

struct mapfile {
	const void	*data;		/* NULL for an empty file */
	size_t		 len;
};

int	mapfile_open(const char *path, struct mapfile *, char *err,
	    size_t errlen);
void	mapfile_close(struct mapfile *);

#endif
