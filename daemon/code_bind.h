/* SPDX-License-Identifier: MIT */
/* Binding card codes fleet-wide, in Redis on the master (PROTOCOL.md §10). */
#ifndef CARDD_CODE_BIND_H
#define CARDD_CODE_BIND_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

struct auth_who;
struct check_req;
struct conn;
struct code_bind;
struct code_bind_wait;
struct event_base;

/*
 * The wait is over: answer reqs for who on c (the bindings are in
 * code_store; c's live state is entered, its output is written after).
 */
typedef void (*code_bind_done)(struct conn *c, const struct check_req *reqs,
    size_t n, const struct auth_who *who);

void	code_bind_target(const char *host, int port, int db);
struct code_bind *code_bind_new(struct event_base *, struct stats *);
void	code_bind_free(struct code_bind *);
struct code_bind_wait *code_bind_start(struct code_bind *, struct conn *,
	    const struct check_req *reqs, size_t n, const struct auth_who *,
	    code_bind_done);
void	code_bind_cancel(struct code_bind_wait *);

#endif
