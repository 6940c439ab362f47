/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 interface (DESIGN §5). */
#ifndef CARDD_HTTP_H
#define CARDD_HTTP_H

struct conn;

void	http_input(struct conn *);

#endif
