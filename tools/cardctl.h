/* SPDX-License-Identifier: MIT */
/* cardctl: the operator's command line (DESIGN §1). */
#ifndef CARDCTL_H
#define CARDCTL_H

#include <stddef.h>

#define CARDCTL_OK	0
#define CARDCTL_FAIL	1	/* the answer is no (verify: not valid) */
#define CARDCTL_USAGE	2	/* bad arguments or an error on the way */

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

int	gen_main(int, char **);
int	redis_target_args(int, char **, struct redis_target *);
struct redisContext *redis_io_connect(const struct redis_target *);
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

#endif
