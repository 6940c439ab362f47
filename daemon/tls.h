/* SPDX-License-Identifier: MIT */
/* TLS on the listeners, through OpenSSL: contexts and connection I/O. */
#ifndef CARDD_TLS_H
#define CARDD_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct settings;
struct ssl_st;
struct tls_ctx;

#define TLS_WANT	(-2)	/* would block: wait for the socket */

struct tls_ctx	*tls_ctx_new(const struct settings *, char *err, size_t errlen);
void		 tls_ctx_free(struct tls_ctx *);
struct ssl_st	*tls_conn_new(struct tls_ctx *, int fd);
void		 tls_conn_free(struct ssl_st *);
int		 tls_handshake(struct ssl_st *, int *want_write);
ssize_t		 tls_read(struct ssl_st *, void *, size_t);
ssize_t		 tls_write(struct ssl_st *, const void *, size_t);
int		 tls_pending(struct ssl_st *);
int		 tls_peer_name(struct ssl_st *, char *out, size_t cap);

#endif
