/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 message heads (RFC 9112) and query strings, without allocation. */
#ifndef CARDD_HTTP1_H
#define CARDD_HTTP1_H

#include <stddef.h>
#include <sys/types.h>

#define HTTP1_PARTIAL		(-2)
#define HTTP1_ERROR		(-1)
#define HTTP1_MAX_HEADERS	32

struct http1_header {
	const char	*name;
	size_t		 name_len;
	const char	*value;
	size_t		 value_len;
};

struct http1_request {
	const char		*method;
	size_t			 method_len;
	const char		*target;
	size_t			 target_len;
	int			 minor;		/* HTTP/1.<minor> */
	size_t			 num_headers;
	struct http1_header	 headers[HTTP1_MAX_HEADERS];
};

struct http1_response {
	int			 minor;
	int			 status;
	size_t			 num_headers;
	struct http1_header	 headers[HTTP1_MAX_HEADERS];
};

struct http1_param {
	const char	*name;		/* still percent-encoded */
	size_t		 name_len;
	const char	*value;
	size_t		 value_len;
};

ssize_t	http1_parse_request(const char *buf, size_t len,
	    struct http1_request *, const char **err);
ssize_t	http1_parse_response(const char *buf, size_t len,
	    struct http1_response *);
const struct http1_header *http1_find(const struct http1_header *, size_t,
	    const char *name);
int	http1_token_is(const char *s, size_t len, const char *lower);
int	http1_parse_length(const char *s, size_t len, size_t *out);
int	http1_query_next(const char **cur, const char *end,
	    struct http1_param *);
ssize_t	http1_pct_decode(const char *in, size_t len, char *out);

#endif
