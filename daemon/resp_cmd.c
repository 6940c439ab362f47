/* SPDX-License-Identifier: MIT */
/*
 * The RESP interface (PROTOCOL.md §6): any Redis client, redis-cli and
 * redis-benchmark can ask cardd. Commands are parsed in place
 * (protocol/resp.c), every complete command in the input is answered
 * before the worker writes (pipelining), and a check's reply is an array
 * of two bulk strings: the statement and its detached JWS. A command
 * error answers -ERR and the connection goes on; broken framing answers
 * -ERR Protocol error and closes, as Redis does.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "answer.h"
#include "auth.h"
#include "clock.h"
#include "code_bind.h"
#include "code_store.h"
#include "config.h"
#include "date.h"
#include "live.h"
#include "net_tcp.h"
#include "resp.h"
#include "resp_cmd.h"
#include "resp_priv.h"
#include "sign.h"
#include "sign_queue.h"
#include "source.h"
#include "worker.h"

#define RESP_ARGS_MAX	1024

static _Atomic uint64_t resp_cmd_ids;	/* the last CLIENT ID given */

static void	resp_cmd_validity(struct resp_ctx *);
static void	resp_cmd_coverage(struct resp_ctx *);
static void	resp_cmd_ping(struct resp_ctx *);
static void	resp_cmd_auth(struct resp_ctx *);
static void	resp_cmd_jwks(struct resp_ctx *);
static void	resp_cmd_info(struct resp_ctx *);
static void	resp_cmd_quit(struct resp_ctx *);

/*
 * Every command. Arity, flags, ACL categories and the key's place are
 * what COMMAND reports, in Redis's conventions: a check's identifier is
 * its key, so a client that routes by key (a cluster client) can.
 */
const struct resp_command resp_cmd_table[] = {
	{ "validity", resp_cmd_validity, -2, "readonly fast", "@read @fast",
	    1 },
	{ "coverage", resp_cmd_coverage, -3, "readonly fast", "@read @fast",
	    1 },
	{ "ping", resp_cmd_ping, -1, "fast stale", "@fast @connection", 0 },
	{ "auth", resp_cmd_auth, -2, "noscript loading stale fast no_auth",
	    "@fast @connection", 0 },
	{ "hello", resp_meta_hello, -1, "noscript loading stale fast no_auth",
	    "@fast @connection", 0 },
	{ "jwks", resp_cmd_jwks, -1, "readonly fast loading stale",
	    "@read @fast", 0 },
	{ "info", resp_cmd_info, -1, "loading stale", "@slow @dangerous", 0 },
	{ "quit", resp_cmd_quit, -1, "loading stale fast no_auth",
	    "@fast @connection", 0 },
	{ "command", resp_meta_command, -1, "loading stale",
	    "@slow @connection", 0 },
	{ "config", resp_meta_config, -2, "loading stale",
	    "@admin @slow @dangerous", 0 },
	{ "echo", resp_meta_echo, 2, "fast loading stale", "@fast @connection",
	    0 },
	{ "select", resp_meta_select, 2, "loading stale fast",
	    "@fast @connection", 0 },
	{ "client", resp_meta_client, -2, "loading stale", "@slow @connection",
	    0 },
	{ "multi", resp_multi_multi, 1, "noscript loading stale fast",
	    "@fast @transaction", 0 },
	{ "exec", resp_multi_exec, 1, "noscript loading stale",
	    "@slow @transaction", 0 },
	{ "discard", resp_multi_discard, 1, "noscript loading stale fast",
	    "@fast @transaction", 0 },
};
const size_t resp_cmd_count = sizeof(resp_cmd_table) /
    sizeof(resp_cmd_table[0]);

static void	resp_cmd_dispatch(struct resp_ctx *);
static void	resp_cmd_check(struct resp_ctx *, enum stmt_check);
static int	resp_cmd_resolve(struct resp_ctx *, struct check_req *);
static void	resp_cmd_render_signed(struct conn *, struct buf *, unsigned,
		    const char *, size_t, const char *, size_t);
static int	resp_cmd_options(struct resp_ctx *, size_t, struct check_req *,
		    const char **);
static void	resp_cmd_answer(struct resp_ctx *, const struct check_req *,
		    const struct auth_who *);
static void	resp_cmd_on_bound(struct conn *, const struct check_req *,
		    size_t, const struct auth_who *);
static void	resp_cmd_input(struct conn *);
static void	resp_cmd_close(struct conn *);

static const char resp_cmd_refusal[] = "-ERR max number of clients "
    "reached\r\n";

const struct conn_ops resp_cmd_ops = {
	.name = "resp",
	.iface = IFACE_RESP,
	.state_size = sizeof(struct resp_conn),
	.refusal = resp_cmd_refusal,
	.refusal_len = sizeof(resp_cmd_refusal) - 1,
	.input = resp_cmd_input,
	.close = resp_cmd_close,
};

/* Append bytes to the output, closing the connection if memory fails. */
void
resp_cmd_raw(struct resp_ctx *x, const char *p, size_t len)
{
	if (buf_append(&x->c->out, p, len) != 0)
		x->c->closing = 1;
}

/* Append -ERR and count it. Messages are ours, one line each. */
void
resp_cmd_error(struct resp_ctx *x, enum stats_err kind, const char *msg)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "-ERR %s\r\n", msg);

	STAT_ADD(x->w->stats.errors[IFACE_RESP][kind], 1);
	resp_cmd_raw(x, line, (size_t)n < sizeof(line) ? (size_t)n :
	    sizeof(line) - 1);
}

/* Append a bulk string. */
void
resp_cmd_bulk(struct resp_ctx *x, const char *p, size_t len)
{
	if (buf_reserve(&x->c->out, len + RESP_BULK_OVERHEAD) != 0) {
		x->c->closing = 1;
		return;
	}
	x->c->out.len += resp_put_bulk(buf_tail(&x->c->out), p, len);
}

/* A bulk string, or in RESP3 a verbatim text one (INFO, CLIENT INFO). */
void
resp_cmd_text(struct resp_ctx *x, const char *p, size_t len)
{
	struct resp_conn *rc = x->c->state;

	if (rc->proto != 3) {
		resp_cmd_bulk(x, p, len);
		return;
	}
	resp_cmd_head(x, '=', len + 4);
	RESP_CMD_LIT(x, "txt:");
	resp_cmd_raw(x, p, len);
	RESP_CMD_LIT(x, "\r\n");
}

/* An aggregate's or a number's first line: type byte, n, CRLF. */
void
resp_cmd_head(struct resp_ctx *x, char type, uint64_t n)
{
	char line[32];

	resp_cmd_raw(x, line, (size_t)snprintf(line, sizeof(line),
	    "%c%llu\r\n", type, (unsigned long long)n));
}

/* A map of so many pairs: RESP3's %, or RESP2's flat array. */
void
resp_cmd_map(struct resp_ctx *x, uint64_t pairs)
{
	struct resp_conn *rc = x->c->state;

	if (rc->proto == 3)
		resp_cmd_head(x, '%', pairs);
	else
		resp_cmd_head(x, '*', pairs * 2);
}

/* Nothing: RESP3's null, RESP2's null bulk string. */
void
resp_cmd_null(struct resp_ctx *x)
{
	struct resp_conn *rc = x->c->state;

	if (rc->proto == 3)
		RESP_CMD_LIT(x, "_\r\n");
	else
		RESP_CMD_LIT(x, "$-1\r\n");
}

/* The connection's CLIENT ID, given the first time it is asked. */
uint64_t
resp_cmd_id(struct resp_conn *rc)
{
	if (rc->id == 0)
		rc->id = atomic_fetch_add(&resp_cmd_ids, 1) + 1;
	return rc->id;
}

/* Answer every complete command in the connection's input. */
static void
resp_cmd_input(struct conn *c)
{
	struct resp_limits lim = { (size_t)settings.resp_max_args,
	    (size_t)settings.resp_max_arg_len,
	    (size_t)settings.resp_max_arg_len * 4 };
	struct resp_arg argv[RESP_ARGS_MAX];
	struct resp_ctx x = { .c = c, .w = worker_of(c), .argv = argv };
	const char *err = NULL;
	ssize_t r;

	clock_update(&x.w->clock);
	while (!c->closing && c->in.len > 0 &&
	    net_tcp_room(c, settings.client_max_output)) {
		r = resp_parse_command(buf_head(&c->in), c->in.len, &lim, argv,
		    &x.argc, x.w->scratch, &err);
		if (r == RESP_PARTIAL)
			break;
		if (r < 0) {
			resp_cmd_error(&x, ERR_PROTOCOL, err);
			c->closing = 1;
			break;
		}
		if (x.argc > 0) {
			x.raw = buf_head(&c->in);
			x.rawlen = (size_t)r;
			clock_gettime(CLOCK_MONOTONIC, &x.t0);
			resp_cmd_dispatch(&x);
		}
		buf_consume(&c->in, (size_t)r);
		if (resp_multi_splice(c) != 0)
			c->closing = 1;
	}
}

/* The command named by a word, or NULL. */
const struct resp_command *
resp_cmd_find(const struct resp_arg *word)
{
	for (size_t i = 0; i < resp_cmd_count; i++)
		if (resp_arg_is(word, resp_cmd_table[i].name))
			return &resp_cmd_table[i];
	return NULL;
}

/* Refuse an unknown command or a wrong number of words: 1 if refused. */
int
resp_cmd_refuse(struct resp_ctx *x, const struct resp_command *cmd)
{
	char msg[96];
	size_t n;

	if (cmd != NULL && (cmd->arity >= 0 ? x->argc == (size_t)cmd->arity :
	    x->argc >= (size_t)-cmd->arity))
		return 0;
	if (cmd != NULL) {
		resp_cmd_wrong_args(x, cmd->name);
		return 1;
	}
	n = x->argv[0].len < 32 ? x->argv[0].len : 32;
	snprintf(msg, sizeof(msg), "unknown command '%.*s'", (int)n,
	    x->argv[0].p);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	resp_cmd_error(x, ERR_BAD_REQUEST, msg);
	return 1;
}

/* Redis's error for a command given too few or too many words. */
void
resp_cmd_wrong_args(struct resp_ctx *x, const char *name)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "wrong number of arguments for '%s' "
	    "command", name);
	resp_cmd_error(x, ERR_BAD_REQUEST, msg);
}

/* Run one command, or queue it inside MULTI. */
static void
resp_cmd_dispatch(struct resp_ctx *x)
{
	const struct resp_command *cmd = resp_cmd_find(&x->argv[0]);
	struct resp_conn *rc = x->c->state;

	rc->last_ms = x->w->clock.ms;
	if (rc->multi.run > 0)
		rc->multi.run--;	/* EXEC runs what it queued */
	else if (rc->multi.open && resp_multi_queue(x, cmd))
		return;
	if (resp_cmd_refuse(x, cmd))
		return;
	rc->last_cmd = cmd->name;
	cmd->fn(x);
}

/*
 * Options after the fixed arguments: AT d, BIRTH d, NONCE n, REGION r
 * (coverage) and BYPERMIT, in any order, each at most once.
 */
static int
resp_cmd_options(struct resp_ctx *x, size_t at, struct check_req *r,
    const char **err)
{
	static const struct { const char *word; enum check_param p; } opts[] = {
		{ "at", P_AT }, { "birth", P_BIRTH }, { "nonce", P_NONCE },
		{ "region", P_REGION },
	};
	enum check_param by = P_CARD;
	size_t k;

	for (; at < x->argc; at++) {
		if (by == P_CARD && resp_arg_is(&x->argv[at], "bypermit")) {
			by = P_PERMIT;
			continue;
		}
		if (by == P_CARD && resp_arg_is(&x->argv[at], "bycode")) {
			by = P_CODE;
			continue;
		}
		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (resp_arg_is(&x->argv[at], opts[k].word))
				break;
		if (k == sizeof(opts) / sizeof(opts[0]) || at + 1 == x->argc ||
		    (opts[k].p == P_REGION && r->check != STMT_COVERAGE)) {
			*err = "syntax error (options: AT d, BIRTH d, NONCE n, "
			    "REGION r for coverage, BYPERMIT or BYCODE)";
			return -1;
		}
		at++;
		if (check_set(r, opts[k].p, x->argv[at].p, x->argv[at].len,
		    err) != 0)
			return -1;
	}
	return check_set(r, by, x->argv[1].p, x->argv[1].len, err);
}

/* Judge a request's code, when it has one; answers the error if bad. */
static int
resp_cmd_resolve(struct resp_ctx *x, struct check_req *r)
{
	const char *err;

	if (!r->by_code)
		return 1;
	switch (code_store_resolve(r, x->w->clock.ms, &err)) {
	case CODE_STORE_OK:
		return 1;
	case CODE_STORE_BAD:
		resp_cmd_error(x, ERR_BAD_REQUEST, err);
		return 0;
	default:
		resp_cmd_error(x, ERR_BUSY, "busy: too many codes in flight");
		return 0;
	}
}

/* VALIDITY and COVERAGE. */
static void
resp_cmd_check(struct resp_ctx *x, enum stmt_check check)
{
	size_t fixed = check == STMT_COVERAGE ? 3 : 2;
	struct resp_conn *rc = x->c->state;
	struct check_req r;
	struct auth_who who;
	const char *err;

	if (!resp_cmd_allowed(x, check == STMT_VALIDITY ? AUTH_ALLOW_VALIDITY :
	    AUTH_ALLOW_COVERAGE, &who))
		return;
	check_init(&r, check);
	if ((check == STMT_COVERAGE && check_set(&r, P_SCHEME, x->argv[2].p,
	    x->argv[2].len, &err) != 0) ||
	    resp_cmd_options(x, fixed, &r, &err) != 0 ||
	    check_finish(&r, &err) != 0) {
		resp_cmd_error(x, ERR_BAD_REQUEST, err);
		return;
	}
	switch (answer_state(x->w)) {
	case ANSWER_NOT_READY:
		resp_cmd_error(x, ERR_NOT_READY, "not ready: no index loaded");
		return;
	case ANSWER_STALE:
		resp_cmd_error(x, ERR_STALE, "stale");
		return;
	default:
		break;
	}
	if (!resp_cmd_resolve(x, &r))
		return;
	/* A code not yet bound by the fleet waits for its binding. */
	if (r.by_code && (rc->wait = code_bind_start(x->w->bind, x->c, &r, 1,
	    &who, resp_cmd_on_bound)) != NULL) {
		rc->wait_t0 = x->t0;
		return;
	}
	resp_cmd_answer(x, &r, &who);
}

/* Write a resolved check's statement and queue it for signing. */
static void
resp_cmd_answer(struct resp_ctx *x, const struct check_req *r,
    const struct auth_who *who)
{
	struct resp_conn *rc = x->c->state;
	char stmt[STMT_MAX];
	size_t len = answer_statement(x->w, r, IFACE_RESP, who, stmt,
	    NULL);

	if (len == 0 || sign_queue_add(x->w->queue, x->c, &rc->hold,
	    resp_cmd_render_signed, 0, stmt, len, &x->t0, IFACE_RESP) != 0)
		resp_cmd_error(x, ERR_INTERNAL, "internal error");
}

/* code_bind callback: the binding is known (or timed out): answer. */
static void
resp_cmd_on_bound(struct conn *c, const struct check_req *r, size_t n,
    const struct auth_who *who)
{
	struct resp_conn *rc = c->state;
	struct resp_ctx x = { .c = c, .w = worker_of(c), .t0 = rc->wait_t0 };

	(void)n;
	rc->wait = NULL;
	clock_update(&x.w->clock);
	resp_cmd_answer(&x, r, who);
}

/* The reply to a check: the statement and its signature string. */
static void
resp_cmd_render_signed(struct conn *c, struct buf *out, unsigned flags,
    const char *stmt, size_t len, const char *sig, size_t siglen)
{
	(void)flags;
	if (buf_reserve(out, len + siglen + 3 * RESP_BULK_OVERHEAD) != 0) {
		c->closing = 1;
		return;
	}
	out->len += resp_put_array(buf_tail(out), 2);
	out->len += resp_put_bulk(buf_tail(out), stmt, len);
	out->len += resp_put_bulk(buf_tail(out), sig, siglen);
}

/* VALIDITY <card> [AT d] [BIRTH d] [NONCE n] [BYPERMIT] */
static void
resp_cmd_validity(struct resp_ctx *x)
{
	resp_cmd_check(x, STMT_VALIDITY);
}

/* COVERAGE <card> <scheme> [REGION r] [AT d] [BIRTH d] [NONCE n] [BYPERMIT] */
static void
resp_cmd_coverage(struct resp_ctx *x)
{
	resp_cmd_check(x, STMT_COVERAGE);
}

/* PING [message] */
static void
resp_cmd_ping(struct resp_ctx *x)
{
	if (x->argc == 1)
		RESP_CMD_LIT(x, "+PONG\r\n");
	else if (x->argc == 2)
		resp_cmd_bulk(x, x->argv[1].p, x->argv[1].len);
	else
		resp_cmd_wrong_args(x, "ping");
}

/*
 * Log in with a token that names a client of the config (AUTH, HELLO
 * AUTH). 0: done; -1: refused, and the error answered.
 */
int
resp_cmd_login(struct resp_ctx *x, const struct resp_arg *tok)
{
	struct auth_id id;
	struct auth_who who;

	if (settings.auth == AUTH_NONE) {
		resp_cmd_error(x, ERR_BAD_REQUEST, "AUTH called without any "
		    "credentials configured");
		return -1;
	}
	auth_id_token(&id, tok->p, tok->len);
	if (auth_allow(live_auth(), 1, &id, 0, 0, 0, &who) != AUTH_OK) {
		x->c->id.kind = AUTH_ID_NONE;
		STAT_ADD(x->w->stats.errors[IFACE_RESP][ERR_UNAUTHORIZED], 1);
		RESP_CMD_LIT(x, "-WRONGPASS invalid username-password pair or "
		    "user is disabled.\r\n");
		return -1;
	}
	x->c->id = id;
	return 0;
}

/*
 * AUTH [user] token (the user name, which redis-cli --user sends, is not
 * needed and not checked).
 */
static void
resp_cmd_auth(struct resp_ctx *x)
{
	if (x->argc > 3)
		resp_cmd_wrong_args(x, "auth");
	else if (resp_cmd_login(x, &x->argv[x->argc - 1]) == 0)
		RESP_CMD_LIT(x, "+OK\r\n");
}

/* May this connection ask for need now? Answers the error when not. */
int
resp_cmd_allowed(struct resp_ctx *x, unsigned need, struct auth_who *who)
{
	switch (auth_allow(live_auth(), settings.auth == AUTH_REQUIRED,
	    &x->c->id, need, 1, (int64_t)clock_monotonic_usec(), who)) {
	case AUTH_OK:
		return 1;
	case AUTH_MISSING:
	case AUTH_UNKNOWN:
		STAT_ADD(x->w->stats.errors[IFACE_RESP][ERR_UNAUTHORIZED], 1);
		RESP_CMD_LIT(x, "-NOAUTH Authentication required.\r\n");
		return 0;
	case AUTH_FORBIDDEN:
		STAT_ADD(x->w->stats.errors[IFACE_RESP][ERR_FORBIDDEN], 1);
		RESP_CMD_LIT(x, "-NOPERM this client may not ask this\r\n");
		return 0;
	default:
		resp_cmd_error(x, ERR_RATE_LIMITED, "rate limited");
		return 0;
	}
}

/* JWKS: the published keys, as GET /v1/keys. */
static void
resp_cmd_jwks(struct resp_ctx *x)
{
	size_t len;
	const char *jwks = sign_jwks(live_keys(), &len);

	resp_cmd_bulk(x, jwks, len);
}

/* INFO: the figures of /metrics, in Redis's INFO layout. */
static void
resp_cmd_info(struct resp_ctx *x)
{
	struct stats_gauges g;
	struct stats sum;
	struct auth_who who;
	uint64_t answers = 0, errors = 0, refused;
	char text[2048];
	int n;

	if (!resp_cmd_allowed(x, AUTH_ALLOW_METRICS, &who))
		return;
	source_gauges(&g);
	memset(&sum, 0, sizeof(sum));
	worker_stats_sum(&sum);
	for (int i = 0; i < IFACE_COUNT; i++) {
		for (int c = 0; c < STMT_CHECK_COUNT; c++)
			for (int r = 0; r < REASON_COUNT; r++)
				answers += sum.answers[i][c][r];
		for (int e = 0; e < ERR_COUNT; e++)
			errors += sum.errors[i][e];
	}
	refused = sum.errors[IFACE_HTTP][ERR_RATE_LIMITED] +
	    sum.errors[IFACE_RESP][ERR_RATE_LIMITED];
	n = snprintf(text, sizeof(text), "# Server\r\ncardd_version:%s\r\n"
	    "uptime_in_seconds:%.0f\r\nthreads:%d\r\ntimezone:%s\r\n\r\n"
	    "# Clients\r\n"
	    "connected_clients:%llu\r\ntotal_connections_received:%llu\r\n"
	    "rejected_connections:%llu\r\n\r\n# Stats\r\nanswers:%llu\r\n"
	    "errors:%llu\r\nrate_limited:%llu\r\nsignatures:%llu\r\n\r\n"
	    "# Index\r\nsource:%s\r\nsync_state:%s\r\nsource_up:%d\r\n"
	    "cards:%llu\r\nrecords_invalid:%llu\r\nrecords_rejected:%llu\r\n"
	    "full_syncs:%llu\r\nsync_lag_seconds:%.3f\r\n"
	    "sync_age_seconds:%.3f\r\nsource_node:%s\r\nsource_role:%s\r\n"
	    "ready:%d\r\n", CARDD_VERSION,
	    g.uptime, settings.threads, g.timezone,
	    (unsigned long long)sum.conns_open,
	    (unsigned long long)sum.conns_accepted,
	    (unsigned long long)sum.conns_refused, (unsigned long long)answers,
	    (unsigned long long)errors, (unsigned long long)refused,
	    (unsigned long long)sum.signatures, g.source_kind, g.sync_state,
	    g.link_up, (unsigned long long)g.cards,
	    (unsigned long long)g.records_invalid,
	    (unsigned long long)g.records_rejected,
	    (unsigned long long)g.full_syncs, g.sync_lag, g.synced_age,
	    g.source_node, g.source_role, answer_state(x->w) == ANSWER_READY);
	resp_cmd_text(x, text, (size_t)n < sizeof(text) ? (size_t)n :
	    sizeof(text) - 1);
}

/* QUIT: +OK, then close. */
static void
resp_cmd_quit(struct resp_ctx *x)
{
	RESP_CMD_LIT(x, "+OK\r\n");
	x->c->closing = 1;
}

/* The connection closes: drop the replies it awaits. */
static void
resp_cmd_close(struct conn *c)
{
	struct resp_conn *rc = c->state;

	sign_queue_forget(worker_of(c)->queue, &rc->hold);
	code_bind_cancel(rc->wait);
	resp_multi_free(rc);
}
