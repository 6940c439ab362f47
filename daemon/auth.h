/* SPDX-License-Identifier: MIT */
/* Who may ask what, and how often: named clients, tokens, certificates. */
#ifndef CARDD_AUTH_H
#define CARDD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "stmt.h"

#define AUTH_ALLOW_VALIDITY	0x1
#define AUTH_ALLOW_COVERAGE	0x2
#define AUTH_ALLOW_METRICS	0x4
#define AUTH_HASH		32	/* SHA-256 */
#define AUTH_DISCLOSE_CARD	0x1	/* disclose=: what a code answer shows */
#define AUTH_DISCLOSE_PERMIT	0x2
#define AUTH_DISCLOSE_UNTIL	0x4

struct auth_table;
struct sockaddr;

/* A connection's claim: a bearer token's hash or a certificate's name. */
struct auth_id {
	uint8_t		kind;		/* AUTH_ID_NONE, _TOKEN, _CERT */
	uint8_t		hash[AUTH_HASH];
};

enum auth_id_kind { AUTH_ID_NONE, AUTH_ID_TOKEN, AUTH_ID_CERT };

#define AUTH_NAME_MAX	64	/* bytes of a client's name */

/* The client a request comes from (name NULL: auth none). */
struct auth_who {
	const char	*name;		/* in the live table */
	unsigned	 disclose;	/* AUTH_DISCLOSE_* */
	unsigned	 burst;		/* its bucket's size */
};

enum auth_result {
	AUTH_OK, AUTH_MISSING, AUTH_UNKNOWN, AUTH_FORBIDDEN, AUTH_RATE_LIMITED,
	AUTH_OVER_BURST
};

const char	*auth_check_client(const char *line);
struct auth_table *auth_table_new(char *const *lines, size_t n, char *err,
		    size_t errlen);
void		 auth_table_free(struct auth_table *);
size_t		 auth_table_size(const struct auth_table *);
void		 auth_id_token(struct auth_id *, const char *token, size_t len);
void		 auth_id_cert(struct auth_id *, const char *name, size_t len);
enum auth_result auth_allow(struct auth_table *, int required,
		    const struct auth_id *, unsigned need, unsigned cost,
		    int64_t now_us, struct auth_who *);
int		 auth_addr_acquire(const struct sockaddr *, int max);
void		 auth_addr_release(const struct sockaddr *);

#endif
