/* SPDX-License-Identifier: MIT */
/* A request body parsed as JSON, with a clear detail when it is not. */
#ifndef CARDD_BODY_JSON_H
#define CARDD_BODY_JSON_H

#include <stddef.h>

#include <jansson.h>

json_t	*body_json_load(const char *body, size_t len, char *detail,
	    size_t cap);

#endif
