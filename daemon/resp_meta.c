/* SPDX-License-Identifier: MIT */
/*
 * What client libraries ask a Redis server about itself and about their
 * connection (PROTOCOL.md §6): HELLO, CLIENT, COMMAND, CONFIG GET, ECHO
 * and SELECT. Their answers follow Redis 7's shapes, so that redis-py,
 * redis-cli, redis-benchmark and cluster-aware clients take cardd for
 * what it is: one read-only database whose keys are card identifiers.
 */
#include <arpa/inet.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "auth.h"
#include "clock.h"
#include "config.h"
#include "live.h"
#include "net_tcp.h"
#include "resp_priv.h"
#include "worker.h"

static void	resp_meta_words(struct resp_ctx *, const char *);
static void	resp_meta_int(struct resp_ctx *, long long);
static void	resp_meta_str(struct resp_ctx *, const char *);
static void	resp_meta_describe(struct resp_ctx *,
		    const struct resp_command *);
static void	resp_meta_keyspec(struct resp_ctx *, int key);
static int	resp_meta_name_ok(const struct resp_arg *);
static void	resp_meta_client_info(struct resp_ctx *);
static void	resp_meta_addr(const struct sockaddr_storage *, char *,
		    size_t);

/* ECHO message, as Redis answers it. */
void
resp_meta_echo(struct resp_ctx *x)
{
	resp_cmd_bulk(x, x->argv[1].p, x->argv[1].len);
}

/* SELECT 0: cardd has one database of answers, and clients ask for it. */
void
resp_meta_select(struct resp_ctx *x)
{
	if (x->argv[1].len == 1 && x->argv[1].p[0] == '0')
		RESP_CMD_LIT(x, "+OK\r\n");
	else
		resp_cmd_error(x, ERR_BAD_REQUEST, "DB index is out of range");
}

/* A client name or library tag: 0-64 printable characters, no spaces. */
static int
resp_meta_name_ok(const struct resp_arg *a)
{
	for (size_t i = 0; i < a->len; i++)
		if (a->p[i] <= ' ' || a->p[i] > '~')
			return 0;
	return a->len <= RESP_NAME_MAX;
}

/* Keep a checked name in a connection's field. */
static void
resp_meta_keep(char *field, const struct resp_arg *a)
{
	memcpy(field, a->p, a->len);
	field[a->len] = '\0';
}

/*
 * CLIENT SETNAME, GETNAME, ID, INFO and SETINFO: what client libraries
 * send on connect (redis-py's client_name=, the LIB-NAME of newer ones)
 * and what an operator asks of their own connection.
 */
void
resp_meta_client(struct resp_ctx *x)
{
	struct resp_conn *rc = x->c->state;
	const struct resp_arg *sub = &x->argv[1], *val = &x->argv[x->argc - 1];
	int lib_name;

	if (x->argc == 3 && resp_arg_is(sub, "setname")) {
		if (!resp_meta_name_ok(val)) {
			resp_cmd_error(x, ERR_BAD_REQUEST, "Client names are "
			    "at most 64 characters, without spaces, newlines "
			    "or special characters");
			return;
		}
		resp_meta_keep(rc->name, val);
		RESP_CMD_LIT(x, "+OK\r\n");
	} else if (x->argc == 2 && resp_arg_is(sub, "getname")) {
		if (rc->name[0] == '\0')
			resp_cmd_null(x);
		else
			resp_meta_str(x, rc->name);
	} else if (x->argc == 2 && resp_arg_is(sub, "id"))
		resp_meta_int(x, (long long)resp_cmd_id(rc));
	else if (x->argc == 2 && resp_arg_is(sub, "info"))
		resp_meta_client_info(x);
	else if (x->argc == 4 && resp_arg_is(sub, "setinfo") &&
	    ((lib_name = resp_arg_is(&x->argv[2], "lib-name")) ||
	    resp_arg_is(&x->argv[2], "lib-ver"))) {
		if (!resp_meta_name_ok(val)) {
			resp_cmd_error(x, ERR_BAD_REQUEST, "lib-name and "
			    "lib-ver are at most 64 characters, without spaces");
			return;
		}
		resp_meta_keep(lib_name ? rc->lib_name : rc->lib_ver, val);
		RESP_CMD_LIT(x, "+OK\r\n");
	} else
		resp_cmd_error(x, ERR_BAD_REQUEST, "CLIENT takes SETNAME name, "
		    "GETNAME, ID, INFO or SETINFO LIB-NAME|LIB-VER value");
}

/* An address as Redis shows it: a.b.c.d:port, or [v6]:port. */
static void
resp_meta_addr(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		snprintf(out, cap, "%s:%d", ip, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		snprintf(out, cap, "[%s]:%d", ip, port);
	} else
		snprintf(out, cap, "?:0");
}

/* CLIENT INFO: this connection, in the fields of Redis's CLIENT LIST. */
static void
resp_meta_client_info(struct resp_ctx *x)
{
	struct resp_conn *rc = x->c->state;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	char addr[INET6_ADDRSTRLEN + 16], laddr[INET6_ADDRSTRLEN + 16];
	char line[640];
	const char *user = "default";
	struct auth_who who;
	int n;

	memset(&local, 0, sizeof(local));
	getsockname(x->c->fd, (struct sockaddr *)&local, &len);
	resp_meta_addr(&x->c->peer, addr, sizeof(addr));
	resp_meta_addr(&local, laddr, sizeof(laddr));
	if (x->c->id.kind != AUTH_ID_NONE && auth_allow(live_auth(), 1,
	    &x->c->id, 0, 0, 0, &who) == AUTH_OK)
		user = who.name;
	n = snprintf(line, sizeof(line), "id=%llu addr=%s laddr=%s fd=%d "
	    "name=%s age=%lld idle=0 flags=%s db=0 sub=0 psub=0 ssub=0 "
	    "multi=%d qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=%zu obl=%zu "
	    "oll=0 omem=%zu tot-mem=%zu events=r cmd=client|info user=%s "
	    "redir=-1 resp=%d lib-name=%s lib-ver=%s\n",
	    (unsigned long long)resp_cmd_id(rc), addr, laddr, x->c->fd,
	    rc->name, (long long)(x->w->clock.ms - x->c->opened_ms) / 1000,
	    rc->multi.open ? "x" : "N", rc->multi.open ? (int)rc->multi.n : -1,
	    x->c->in.len, x->c->in.cap - x->c->in.len, rc->multi.queued.cap,
	    x->c->out.len, x->c->out.cap, sizeof(*x->c) + x->c->in.cap +
	    x->c->out.cap + rc->multi.queued.cap, user, rc->proto == 3 ? 3 : 2,
	    rc->lib_name, rc->lib_ver);
	resp_cmd_text(x, line, (size_t)n < sizeof(line) ? (size_t)n :
	    sizeof(line) - 1);
}

/*
 * HELLO [protover [AUTH user token] [SETNAME name]]: choose RESP2 or
 * RESP3, log in and name the connection in one go; the reply describes
 * the server. Nothing changes unless all of it holds.
 */
void
resp_meta_hello(struct resp_ctx *x)
{
	struct resp_conn *rc = x->c->state;
	const struct resp_arg *tok = NULL, *name = NULL;
	int proto = rc->proto == 3 ? 3 : 2;
	size_t i = 1;

	if (x->argc > 1) {
		if (x->argv[1].len != 1 || (x->argv[1].p[0] != '2' &&
		    x->argv[1].p[0] != '3')) {
			RESP_CMD_LIT(x, "-NOPROTO unsupported protocol "
			    "version (cardd speaks RESP2 and RESP3)\r\n");
			return;
		}
		proto = x->argv[1].p[0] - '0';
		i = 2;
	}
	for (; i < x->argc; i++)
		if (resp_arg_is(&x->argv[i], "auth") && i + 2 < x->argc) {
			tok = &x->argv[i + 2];
			i += 2;
		} else if (resp_arg_is(&x->argv[i], "setname") &&
		    i + 1 < x->argc && resp_meta_name_ok(&x->argv[i + 1]))
			name = &x->argv[++i];
		else {
			resp_cmd_error(x, ERR_BAD_REQUEST, "syntax error in "
			    "HELLO: options are AUTH user token and SETNAME "
			    "name");
			return;
		}
	if (tok != NULL && resp_cmd_login(x, tok) != 0)
		return;
	if (name != NULL)
		resp_meta_keep(rc->name, name);
	rc->proto = proto;
	resp_cmd_map(x, 7);
	resp_meta_str(x, "server");
	resp_meta_str(x, "cardd");
	resp_meta_str(x, "version");
	resp_meta_str(x, CARDD_VERSION);
	resp_meta_str(x, "proto");
	resp_meta_int(x, proto);
	resp_meta_str(x, "id");
	resp_meta_int(x, (long long)resp_cmd_id(rc));
	resp_meta_str(x, "mode");
	resp_meta_str(x, "standalone");
	resp_meta_str(x, "role");
	resp_meta_str(x, "master");
	resp_meta_str(x, "modules");
	RESP_CMD_LIT(x, "*0\r\n");
}

/* A C string as a bulk string. */
static void
resp_meta_str(struct resp_ctx *x, const char *s)
{
	resp_cmd_bulk(x, s, strlen(s));
}

/* An integer reply. */
static void
resp_meta_int(struct resp_ctx *x, long long v)
{
	char line[32];

	resp_cmd_raw(x, line, (size_t)snprintf(line, sizeof(line),
	    ":%lld\r\n", v));
}

/* Space-separated words as a set of status replies (RESP2: an array). */
static void
resp_meta_words(struct resp_ctx *x, const char *words)
{
	struct resp_conn *rc = x->c->state;
	const char *p;
	size_t n = 0, len;

	for (p = words; *p; p += len + (p[len] == ' ')) {
		len = strcspn(p, " ");
		n++;
	}
	resp_cmd_head(x, rc->proto == 3 ? '~' : '*', n);
	for (p = words; *p; p += len + (p[len] == ' ')) {
		len = strcspn(p, " ");
		RESP_CMD_LIT(x, "+");
		resp_cmd_raw(x, p, len);
		RESP_CMD_LIT(x, "\r\n");
	}
}

/*
 * A check's key specification: its identifier, the word at key, is the
 * one key it reads (Redis 7: begin_search index, find_keys range 0).
 */
static void
resp_meta_keyspec(struct resp_ctx *x, int key)
{
	resp_cmd_head(x, '*', 1);
	resp_cmd_map(x, 3);
	resp_meta_str(x, "flags");
	resp_meta_words(x, "RO access");
	resp_meta_str(x, "begin_search");
	resp_cmd_map(x, 2);
	resp_meta_str(x, "type");
	resp_meta_str(x, "index");
	resp_meta_str(x, "spec");
	resp_cmd_map(x, 1);
	resp_meta_str(x, "index");
	resp_meta_int(x, key);
	resp_meta_str(x, "find_keys");
	resp_cmd_map(x, 2);
	resp_meta_str(x, "type");
	resp_meta_str(x, "range");
	resp_meta_str(x, "spec");
	resp_cmd_map(x, 3);
	resp_meta_str(x, "lastkey");
	resp_meta_int(x, 0);
	resp_meta_str(x, "keystep");
	resp_meta_int(x, 1);
	resp_meta_str(x, "limit");
	resp_meta_int(x, 0);
}

/* One command as COMMAND INFO describes it: Redis 7's ten fields. */
static void
resp_meta_describe(struct resp_ctx *x, const struct resp_command *cmd)
{
	RESP_CMD_LIT(x, "*10\r\n");
	resp_meta_str(x, cmd->name);
	resp_meta_int(x, cmd->arity);
	resp_meta_words(x, cmd->flags);
	resp_meta_int(x, cmd->key);	/* first key, last key, step */
	resp_meta_int(x, cmd->key);
	resp_meta_int(x, cmd->key ? 1 : 0);
	resp_meta_words(x, cmd->acl);
	RESP_CMD_LIT(x, "*0\r\n");	/* tips */
	if (cmd->key)
		resp_meta_keyspec(x, cmd->key);
	else
		RESP_CMD_LIT(x, "*0\r\n");
	RESP_CMD_LIT(x, "*0\r\n");	/* subcommands */
}

/*
 * COMMAND [COUNT | LIST | INFO name… | DOCS [name…] | GETKEYS cmd args…]:
 * what cardd understands, with real key specifications, so that a client
 * that routes by key finds the card identifier.
 */
void
resp_meta_command(struct resp_ctx *x)
{
	const struct resp_arg *sub = &x->argv[1];
	const struct resp_command *cmd;
	size_t i;

	if (x->argc == 1 || (x->argc == 2 && resp_arg_is(sub, "list"))) {
		resp_cmd_head(x, '*', resp_cmd_count);
		for (i = 0; i < resp_cmd_count; i++)
			if (x->argc == 1)
				resp_meta_describe(x, &resp_cmd_table[i]);
			else
				resp_meta_str(x, resp_cmd_table[i].name);
	} else if (x->argc == 2 && resp_arg_is(sub, "count"))
		resp_meta_int(x, (long long)resp_cmd_count);
	else if (resp_arg_is(sub, "info")) {
		resp_cmd_head(x, '*', x->argc - 2);
		for (i = 2; i < x->argc; i++)
			if ((cmd = resp_cmd_find(&x->argv[i])) != NULL)
				resp_meta_describe(x, cmd);
			else
				resp_cmd_null(x);
	} else if (resp_arg_is(sub, "docs"))
		resp_cmd_map(x, 0);	/* no documentation to give */
	else if (resp_arg_is(sub, "getkeys") && x->argc >= 3) {
		cmd = resp_cmd_find(&x->argv[2]);
		if (cmd == NULL || cmd->key == 0 || x->argc < 3 +
		    (size_t)cmd->key)
			resp_cmd_error(x, ERR_BAD_REQUEST, "The command has no "
			    "key arguments");
		else {
			resp_cmd_head(x, '*', 1);
			resp_cmd_bulk(x, x->argv[2 + cmd->key].p,
			    x->argv[2 + cmd->key].len);
		}
	} else
		resp_cmd_error(x, ERR_BAD_REQUEST, "COMMAND takes COUNT, LIST, "
		    "INFO name..., DOCS or GETKEYS command args...");
}

/*
 * CONFIG GET pattern…: the few Redis parameters that clients read to learn
 * what kind of server they face (redis-benchmark asks save and appendonly).
 * cardd's own settings live in its file; CONFIG SET is refused.
 */
void
resp_meta_config(struct resp_ctx *x)
{
	char maxclients[16], pat[128];
	const char *params[][2] = { { "save", "" }, { "appendonly", "no" },
	    { "databases", "1" }, { "maxclients", maxclients } };
	size_t np = sizeof(params) / sizeof(params[0]), i, k, n = 0;
	unsigned hit = 0;

	if (!resp_arg_is(&x->argv[1], "get")) {
		resp_cmd_error(x, ERR_BAD_REQUEST, "only CONFIG GET is "
		    "supported: cardd reads its configuration file (edit it "
		    "and reload with SIGHUP)");
		return;
	}
	if (x->argc < 3) {
		resp_cmd_wrong_args(x, "config|get");
		return;
	}
	snprintf(maxclients, sizeof(maxclients), "%d",
	    settings.max_connections);
	for (k = 2; k < x->argc; k++) {
		if (x->argv[k].len >= sizeof(pat))
			continue;
		memcpy(pat, x->argv[k].p, x->argv[k].len);
		pat[x->argv[k].len] = '\0';
		for (i = 0; i < np; i++)
			if (!(hit & 1u << i) && fnmatch(pat, params[i][0],
			    FNM_CASEFOLD) == 0) {
				hit |= 1u << i;
				n++;
			}
	}
	resp_cmd_map(x, n);
	for (i = 0; i < np; i++)
		if (hit & 1u << i) {
			resp_meta_str(x, params[i][0]);
			resp_meta_str(x, params[i][1]);
		}
}
