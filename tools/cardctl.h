/* SPDX-License-Identifier: MIT */
/* cardctl: the operator's command line (man/cardctl.1). */
#ifndef CARDCTL_H
#define CARDCTL_H

#include <stddef.h>

#define CARDCTL_OK	0
#define CARDCTL_FAIL	1	/* the answer is no (verify: not valid) */
#define CARDCTL_USAGE	2	/* bad arguments or an error on the way */
#define CARDCTL_BADARGS	(-1)	/* from a handler: print its usage, exit 2 */

/*
 * One option of a subcommand: a flag (sets an int to 1) or one taking
 * the next argument (sets a const char *), at offset off of the
 * command's settings. An entry without a name stands for the positional
 * arguments. check, when set, sees each value first and returns 0,
 * CARDCTL_BADARGS or CARDCTL_USAGE (it has said why).
 */
struct cardctl_opt {
	const char	*name;
	int		 value;
	size_t		 off;
	int		(*check)(const char *);
};

#define CARDCTL_NOPTS(t)	(sizeof(t) / sizeof((t)[0]))

struct redis_target {
	const char	*url;
	const char	*prefix;
	const char	*stream;
	const char	*user;
	const char	*out;
	const char	*snapshot;
	const char	*rest[64];
	int		 nrest;
	int		 remove;
	int		 replace;
	int		 resync;
};

struct redisContext;
struct redis_url;

int	cardctl_parse(int, char **, const struct cardctl_opt *, size_t,
	    void *, const char **pos, int maxpos, int *npos);
int	gen_main(int, char **);
int	redis_target_args(int, char **, struct redis_target *);
struct redisContext *redis_io_connect(const struct redis_target *);
struct redisContext *sentinel_connect(const struct redis_url *,
	    int (*setup)(struct redisContext *, const void *), const void *);
int	redis_io_import_main(int, char **);
int	redis_io_publish_main(int, char **);
int	export_main(int, char **);
int	keys_keygen_main(int, char **);
int	keys_token_main(int, char **);
int	keys_verify_main(int, char **);
int	keys_verify_text(const char *jwks, size_t, const char *msg, size_t,
	    const char *jws, size_t, char *why, size_t);
int	client_check_main(int, char **);
int	client_fetch_jwks(const char *http, const char *resp, char **out,
	    size_t *len);
int	code_main(int, char **);

#endif
