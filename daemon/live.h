/* SPDX-License-Identifier: MIT */
/* The live state worker threads read (index, keys) and how it changes. */
#ifndef CARDD_LIVE_H
#define CARDD_LIVE_H

#include <stdint.h>

struct auth_table;
struct index;
struct issuer_table;
struct sign_keyring;
struct tls_ctx;

#define LIVE_OTHER	(-1)	/* reader slot for threads that are not workers */

int	live_init(int nworkers);
void	live_enter(int reader);
void	live_leave(int reader);
void	live_write_begin(void);
void	live_write_end(void);
struct index *live_index(void);
struct sign_keyring *live_keys(void);
struct index *live_set_index(struct index *);
struct sign_keyring *live_set_keys(struct sign_keyring *);
struct sign_keyring *live_swap_keys(struct sign_keyring *);
struct auth_table *live_auth(void);
struct tls_ctx *live_tls(void);
struct auth_table *live_swap_auth(struct auth_table *);
struct tls_ctx *live_swap_tls(struct tls_ctx *);
struct issuer_table *live_issuers(void);
struct issuer_table *live_swap_issuers(struct issuer_table *);
void	live_synced(int64_t ms);
int64_t	live_synced_at(void);
void	live_set_count(uint64_t);
uint64_t live_count(void);

#endif
