/* SPDX-License-Identifier: MIT */
/* RESP, the Redis protocol: commands in (multibulk or inline), replies out. */
#ifndef CARDD_RESP_H
#define CARDD_RESP_H

#include <stddef.h>
#include <sys/types.h>

#define RESP_PARTIAL	(-2)
#define RESP_ERROR	(-1)
#define RESP_BULK_OVERHEAD 25	/* "$" + 20 digits + 2 CRLF */
#define RESP_REPLY_MAX_ELEM 8

struct resp_arg {
	const char	*p;
	size_t		 len;
};

struct resp_limits {
	size_t	max_args;	/* capacity of argv */
	size_t	max_arg_len;	/* longest bulk argument */
	size_t	max_inline;	/* longest inline line; scratch is this big */
};

enum resp_type {
	RESP_STATUS, RESP_ERRMSG, RESP_INTEGER, RESP_BULK, RESP_NULL,
	RESP_ARRAY
};

struct resp_reply {
	enum resp_type	 type;
	const char	*p;		/* status, error or bulk text */
	size_t		 len;
	long long	 integer;	/* integer value, or array length */
	size_t		 nelem;		/* bulk or status elements of an array */
	struct resp_arg	 elem[RESP_REPLY_MAX_ELEM];
};

ssize_t	resp_parse_command(const char *buf, size_t len,
	    const struct resp_limits *, struct resp_arg *argv, size_t *argc,
	    char *scratch, const char **err);
ssize_t	resp_parse_reply(const char *buf, size_t len, struct resp_reply *);
size_t	resp_put_bulk(char *out, const void *p, size_t len);
size_t	resp_put_array(char *out, size_t n);
size_t	resp_command(char *out, size_t cap, size_t argc,
	    const struct resp_arg *argv);
int	resp_arg_is(const struct resp_arg *, const char *word);

#endif
