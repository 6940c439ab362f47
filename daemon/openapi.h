/* SPDX-License-Identifier: MIT */
/* The OpenAPI document of the HTTP API, as built into the daemon. */
#ifndef CARDD_OPENAPI_H
#define CARDD_OPENAPI_H

#include <stddef.h>

const char	*openapi_doc(size_t *len);
const char	*openapi_etag(size_t *len);

#endif
