/* SPDX-License-Identifier: MIT */
/*
 * What the RESP files share (and nothing outside them includes): a
 * connection's state, the command being run, the command table and the
 * reply writers. resp_cmd.c runs the checks, resp_meta.c answers what
 * client libraries ask about the server and the connection, resp_multi.c
 * the transactions.
 */
#ifndef CARDD_RESP_PRIV_H
#define CARDD_RESP_PRIV_H

#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "resp.h"
#include "sign_queue.h"
#include "stats.h"

#define RESP_NAME_MAX	64	/* CLIENT SETNAME, SETINFO */
#define RESP_MULTI_MAX	1000	/* commands one transaction may queue */

struct auth_who;
struct code_bind_wait;
struct conn;
struct worker;

/* A transaction: MULTI, the commands it queued, then EXEC or DISCARD. */
struct resp_multi {
	struct buf	 queued;	/* their bytes, as the client sent them */
	uint32_t	 n;		/* commands queued */
	uint32_t	 run;		/* after EXEC: queued ones still to run */
	unsigned	 open:1;	/* between MULTI and EXEC/DISCARD */
	unsigned	 dirty:1;	/* one was refused: EXEC aborts */
	unsigned	 exec:1;	/* EXEC read: run them before the input */
};

/* What RESP keeps of one connection between commands. */
struct resp_conn {
	struct sign_queue_hold	 hold;		/* replies awaiting a signature */
	struct code_bind_wait	*wait;		/* a reply awaits binding */
	struct timespec		 wait_t0;
	uint64_t		 id;		/* CLIENT ID; 0: not asked yet */
	int64_t			 last_ms;	/* the last command's time */
	const char		*last_cmd;	/* and its name */
	int			 proto;		/* 3 after HELLO 3, else 2 */
	char			 name[RESP_NAME_MAX + 1];	/* SETNAME */
	char			 lib_name[RESP_NAME_MAX + 1];	/* SETINFO */
	char			 lib_ver[RESP_NAME_MAX + 1];
	struct resp_multi	 multi;
};

/* The command being run. */
struct resp_ctx {
	struct conn		*c;
	struct worker		*w;		/* c's */
	const struct resp_arg	*argv;
	size_t			 argc;
	const char		*raw;		/* its bytes (MULTI queues them) */
	size_t			 rawlen;
	struct timespec		 t0;
};

/* A command, with what COMMAND tells of it (Redis's conventions). */
struct resp_command {
	const char	*name;
	void		(*fn)(struct resp_ctx *);
	int		 arity;		/* n: exactly n words; -n: at least n */
	const char	*flags;		/* space-separated */
	const char	*acl;		/* its ACL categories, space-separated */
	int		 key;		/* the word that is a key (1), or 0 */
};

extern const struct resp_command resp_cmd_table[];
extern const size_t resp_cmd_count;

const struct resp_command *resp_cmd_find(const struct resp_arg *);
int	resp_cmd_refuse(struct resp_ctx *, const struct resp_command *);
void	resp_cmd_wrong_args(struct resp_ctx *, const char *name);
void	resp_cmd_raw(struct resp_ctx *, const char *, size_t);
void	resp_cmd_bulk(struct resp_ctx *, const char *, size_t);
void	resp_cmd_text(struct resp_ctx *, const char *, size_t);
void	resp_cmd_error(struct resp_ctx *, enum stats_err, const char *);
void	resp_cmd_head(struct resp_ctx *, char type, uint64_t n);
void	resp_cmd_map(struct resp_ctx *, uint64_t pairs);
void	resp_cmd_null(struct resp_ctx *);
int	resp_cmd_login(struct resp_ctx *, const struct resp_arg *token);
int	resp_cmd_allowed(struct resp_ctx *, unsigned, struct auth_who *);
uint64_t resp_cmd_id(struct resp_conn *);

/* Append a string literal. */
#define RESP_CMD_LIT(x, lit)	resp_cmd_raw(x, lit, sizeof(lit) - 1)

void	resp_meta_echo(struct resp_ctx *);
void	resp_meta_select(struct resp_ctx *);
void	resp_meta_client(struct resp_ctx *);
void	resp_meta_hello(struct resp_ctx *);
void	resp_meta_command(struct resp_ctx *);
void	resp_meta_config(struct resp_ctx *);

int	resp_multi_queue(struct resp_ctx *, const struct resp_command *);
void	resp_multi_multi(struct resp_ctx *);
void	resp_multi_exec(struct resp_ctx *);
void	resp_multi_discard(struct resp_ctx *);
int	resp_multi_splice(struct conn *);
void	resp_multi_free(struct resp_conn *);

#endif
