/* SPDX-License-Identifier: MIT */
/* The issuers of card codes and their public keys (code_issuer lines). */
#ifndef CARDD_ISSUER_H
#define CARDD_ISSUER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

struct issuer_table;

struct issuer_table *issuer_table_new(char *const *lines, size_t n,
		    char *err, size_t errlen);
void		 issuer_table_free(struct issuer_table *);
size_t		 issuer_table_size(const struct issuer_table *);
uint64_t	 issuer_table_gen(const struct issuer_table *);
EVP_PKEY	*issuer_key(const struct issuer_table *, const char *iss,
		    const char *kid, const char **why);

#endif
