/* SPDX-License-Identifier: MIT */
/* The link with Redis: the node to dial, setup, reply deadline, backoff. */
#ifndef CARDD_SYNC_LINK_H
#define CARDD_SYNC_LINK_H

#include <stddef.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

struct event_base;

/* What the link tells its owner; it calls nothing else by name. */
struct sync_link_hooks {
	void	(*ready)(const char *run_id);	/* set up, INFO answered */
	void	(*lost)(void);		/* the link went: forget work */
};

int	sync_link_parse(const char *url, char *err, size_t errlen);
int	sync_link_via_sentinel(void);
int	sync_link_out_of_step(const redisReply *info);
int	sync_link_still_in_step(const redisReply *info);
void	sync_link_node(char *, size_t, const char **role);
void	sync_link_init(struct event_base *, const struct sync_link_hooks *);
void	sync_link_open(void);
void	sync_link_close(void);
void	sync_link_free(void);
int	sync_link_cmd(redisCallbackFn *, void *, int argc, ...);
int	sync_link_argv(redisCallbackFn *, void *, int argc, const char **,
	    const size_t *);
const redisReply *sync_link_reply(redisAsyncContext *, void *reply);
const redisReply *sync_link_answer(redisAsyncContext *, void *reply);
int	sync_link_is_error(const redisReply *, const char *prefix);
void	sync_link_drop(const char *why);
void	sync_link_deadline_stop(void);

#endif
