/* SPDX-License-Identifier: MIT */
/* cardbench replies: one RESP or HTTP answer out of a read buffer. */
#ifndef CARDBENCH_REPLY_H
#define CARDBENCH_REPLY_H

#include <stddef.h>
#include <sys/types.h>

#define CARDBENCH_REPLY_PARTIAL	(-2)
#define CARDBENCH_REPLY_ERROR	(-1)
#define CARDBENCH_ERRKIND_MAX	48

struct cardbench_reply {
	int		 ok;		/* signed (any reply if template) */
	int		 close;		/* HTTP: the server will close */
	const char	*stmt;		/* statement bytes */
	size_t		 stmt_len;
	const char	*sig;		/* detached JWS or batch proof */
	size_t		 sig_len;
	int		 reason;	/* enum stmt_reason; REASON_COUNT: other */
	char		 kind[CARDBENCH_ERRKIND_MAX];	/* when !ok */
};

ssize_t	cardbench_reply_parse(int proto, int tmpl, const char *buf,
	    size_t len, struct cardbench_reply *);
int	cardbench_reply_reason(const char *stmt, size_t len);

#endif
