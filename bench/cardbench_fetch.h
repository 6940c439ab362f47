/* SPDX-License-Identifier: MIT */
/* cardbench startup requests: fetch the server's JWKS. */
#ifndef CARDBENCH_FETCH_H
#define CARDBENCH_FETCH_H

#include <stddef.h>

char	*cardbench_fetch_jwks(size_t *len);
char	*cardbench_fetch_file(const char *path, size_t *len);

#endif
