/* SPDX-License-Identifier: MIT */
/* Answering a check: look up, decide, write the statement. */
#ifndef CARDD_ANSWER_H
#define CARDD_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "stats.h"

struct auth_who;
struct worker;

enum answer_state { ANSWER_READY, ANSWER_NOT_READY, ANSWER_STALE };

enum answer_state answer_state(const struct worker *);
enum answer_state answer_state_at(int64_t);
size_t	answer_statement(struct worker *, const struct check_req *,
	    enum stats_iface, const struct auth_who *, char *out,
	    enum stmt_reason *reason);

#endif
