/* SPDX-License-Identifier: MIT */
/*
 * Transactions (PROTOCOL.md §6): MULTI, commands answered +QUEUED, then
 * EXEC answers them all in one array, or DISCARD drops them. redis-py's
 * default pipeline() sends exactly this. cardd holds nothing that a
 * transaction could change, so EXEC only has to answer the queued
 * commands together and in order: it puts their bytes back in front of
 * the connection's input and lets the ordinary loop run them, which keeps
 * signing, code binding and back-pressure as for any command (and, in
 * sign_mode batch, lets the queued checks share one signature).
 */
#include <string.h>

#include "net_tcp.h"
#include "resp_priv.h"

/* Forget a transaction's queue. */
void
resp_multi_free(struct resp_conn *rc)
{
	buf_free(&rc->multi.queued);
	rc->multi.n = 0;
	rc->multi.open = rc->multi.dirty = 0;
}

/*
 * Inside MULTI: queue the command (1), or refuse it and spoil the
 * transaction (1), or let MULTI, EXEC and DISCARD run now (0).
 */
int
resp_multi_queue(struct resp_ctx *x, const struct resp_command *cmd)
{
	struct resp_conn *rc = x->c->state;

	if (cmd != NULL && (cmd->fn == resp_multi_multi ||
	    cmd->fn == resp_multi_exec || cmd->fn == resp_multi_discard))
		return 0;
	if (resp_cmd_refuse(x, cmd)) {
		rc->multi.dirty = 1;
		return 1;
	}
	if (rc->multi.n >= RESP_MULTI_MAX) {
		resp_cmd_error(x, ERR_BAD_REQUEST, "too many commands in one "
		    "transaction (at most 1000)");
		rc->multi.dirty = 1;
		return 1;
	}
	if (buf_append(&rc->multi.queued, x->raw, x->rawlen) != 0) {
		x->c->closing = 1;
		return 1;
	}
	rc->multi.n++;
	RESP_CMD_LIT(x, "+QUEUED\r\n");
	return 1;
}

/* MULTI: start queueing. */
void
resp_multi_multi(struct resp_ctx *x)
{
	struct resp_conn *rc = x->c->state;

	if (rc->multi.open) {
		resp_cmd_error(x, ERR_BAD_REQUEST, "MULTI calls can not be "
		    "nested");
		return;
	}
	rc->multi.open = 1;
	RESP_CMD_LIT(x, "+OK\r\n");
}

/* DISCARD: drop what was queued. */
void
resp_multi_discard(struct resp_ctx *x)
{
	struct resp_conn *rc = x->c->state;

	if (!rc->multi.open) {
		resp_cmd_error(x, ERR_BAD_REQUEST, "DISCARD without MULTI");
		return;
	}
	resp_multi_free(rc);
	RESP_CMD_LIT(x, "+OK\r\n");
}

/*
 * EXEC: the array's header now; the queued commands run next, each
 * writing its own element (resp_multi_splice puts them before the rest
 * of the input once EXEC itself is consumed).
 */
void
resp_multi_exec(struct resp_ctx *x)
{
	struct resp_conn *rc = x->c->state;

	if (!rc->multi.open) {
		resp_cmd_error(x, ERR_BAD_REQUEST, "EXEC without MULTI");
		return;
	}
	if (rc->multi.dirty) {
		resp_multi_free(rc);
		RESP_CMD_LIT(x, "-EXECABORT Transaction discarded because of "
		    "previous errors.\r\n");
		return;
	}
	resp_cmd_head(x, '*', rc->multi.n);
	rc->multi.open = 0;
	rc->multi.exec = rc->multi.n > 0;
}

/*
 * After EXEC's bytes left the input: put the queued commands in front of
 * what the client sent after it. -1: out of memory.
 */
int
resp_multi_splice(struct conn *c)
{
	struct resp_conn *rc = c->state;
	struct resp_multi *m = &rc->multi;
	struct buf in = { 0 };
	int fail;

	if (!m->exec)
		return 0;
	fail = buf_append(&in, buf_head(&m->queued), m->queued.len) |
	    buf_append(&in, buf_head(&c->in), c->in.len);
	buf_free(&c->in);
	c->in = in;
	m->run = m->n;
	m->exec = 0;
	resp_multi_free(rc);
	return fail ? -1 : 0;
}
