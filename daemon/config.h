/* SPDX-License-Identifier: MIT */
/* The settings: one struct, filled from defaults and the config file. */
#ifndef CARDD_CONFIG_H
#define CARDD_CONFIG_H

#include <stddef.h>

enum sign_mode { SIGN_PER_ANSWER, SIGN_BATCH };

struct settings {
	char	*http_listen;		/* NULL: off */
	char	*resp_listen;		/* NULL: off */
	char	*source;
	char	*signing_key;
	char	*key_id;		/* NULL: the key's RFC 7638 thumbprint */
	char	*timezone;
	int	 threads;
	int	 max_staleness;		/* seconds */
	char	*snapshot;		/* NULL: none */
	int	 snapshot_interval;	/* seconds */
	int	 require_birth;
	int	 sign_mode;
	int	 log_level;
	int	 max_connections;
	int	 idle_timeout;		/* seconds */
	long	 http_max_header;	/* bytes */
	long	 http_max_body;		/* bytes */
	int	 max_batch;
	long	 client_max_output;	/* bytes */
	int	 resp_max_args;
	long	 resp_max_arg_len;	/* bytes */
	char	*key_prefix;
	char	*stream;
	char	*redis_user;
	char	*redis_password;
};

extern struct settings settings;

void	settings_init(struct settings *);
void	settings_free(struct settings *);
int	config_parse(const char *text, size_t len, const char *name,
	    struct settings *, char *err, size_t errlen);
int	config_load(const char *path, struct settings *, char *err,
	    size_t errlen);
int	config_source_file(const struct settings *, const char **path);

#endif
