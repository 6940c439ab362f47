/* SPDX-License-Identifier: MIT */
/* Browser front ends: the origins cors_origins lets in (PROTOCOL.md §5.5). */
#ifndef CARDD_CORS_H
#define CARDD_CORS_H

#include <stddef.h>

#define CORS_MAX	254	/* origins in the list; CORS_ANY is "*" */
#define CORS_ANY	255

const char *cors_check(const char *list);
int	cors_match(const char *list, const char *origin, size_t len);
size_t	cors_origin(const char *list, int which, const char **origin);

#endif
