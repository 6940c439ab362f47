/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 interface (protocol/PROTOCOL.md §5). */
#ifndef CARDD_HTTP_H
#define CARDD_HTTP_H

#include "net_tcp.h"

extern const struct conn_ops http_ops;

#endif
