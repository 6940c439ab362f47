/* SPDX-License-Identifier: MIT */
/* The settings: one struct, filled from defaults and the config file. */
#ifndef CARDD_CONFIG_H
#define CARDD_CONFIG_H

#include <stddef.h>

enum sign_mode { SIGN_PER_ANSWER, SIGN_BATCH };
enum sign_alg_key { SIGN_ALG_ED25519, SIGN_ALG_SM2 };	/* sign_alg */
enum tls_verify { TLS_VERIFY_NONE, TLS_VERIFY_OPTIONAL, TLS_VERIFY_REQUIRED };
enum auth_mode { AUTH_REQUIRED, AUTH_NONE };

/* A key that may be given on many lines (client, code_issuer). */
struct cfg_list {
	char	**v;
	size_t	  n;
};

/*
 * Numbers are _Atomic: SIGHUP changes the reloadable ones while workers
 * read them (a relaxed load is a plain load on x86). Strings that other
 * threads read are restart-only (config.c, config_keys[]).
 */
struct settings {
	char		*http_listen;		/* NULL: off */
	char		*resp_listen;		/* NULL: off */
	char		*source;
	char		*signing_key;
	char		*key_id;		/* NULL: RFC 7638 thumbprint */
	char		*publish_keys;		/* FILE[=KID] ..., or NULL */
	char		*timezone;
	_Atomic int	 threads;		/* 0: auto (main.c) */
	_Atomic int	 signers;		/* 0: auto (main.c) */
	_Atomic int	 max_staleness;		/* seconds */
	char		*snapshot;		/* NULL: none */
	_Atomic int	 snapshot_interval;	/* seconds */
	_Atomic int	 require_birth;
	_Atomic int	 sign_mode;
	_Atomic int	 sign_alg;		/* enum sign_alg_key */
	_Atomic int	 log_level;
	_Atomic int	 max_connections;
	_Atomic int	 idle_timeout;		/* seconds */
	_Atomic long	 http_max_header;	/* bytes */
	_Atomic long	 http_max_body;		/* bytes */
	_Atomic int	 max_batch;
	_Atomic long	 client_max_output;	/* bytes */
	_Atomic int	 resp_max_args;
	_Atomic long	 resp_max_arg_len;	/* bytes */
	char		*key_prefix;
	char		*stream;
	char		*redis_user;
	char		*redis_password;
	char		*sentinel_password;	/* AUTH with the Sentinels */
	_Atomic int	 http_tls;
	_Atomic int	 resp_tls;
	char		*tls_cert;
	char		*tls_key;
	char		*tls_client_ca;
	_Atomic int	 tls_verify_client;	/* enum tls_verify */
	_Atomic int	 auth;			/* enum auth_mode */
	struct cfg_list	 clients;
	_Atomic int	 max_connections_per_ip;
	_Atomic int	 request_timeout;	/* seconds */
	struct cfg_list	 code_issuers;		/* "NAME FILE" */
	_Atomic int	 code_max_lifetime;	/* seconds */
	_Atomic int	 code_clock_skew;	/* seconds */
	_Atomic int	 code_bind_timeout;	/* ms */
	char		*cors_origins;		/* NULL: none (cors.c) */
};

extern struct settings settings;

void	settings_init(struct settings *);
void	settings_free(struct settings *);
int	config_parse(const char *text, size_t len, const char *name,
	    struct settings *, char *err, size_t errlen);
int	config_load(const char *path, struct settings *, char *err,
	    size_t errlen);
int	config_source_file(const struct settings *, const char **path);
void	config_apply(struct settings *live, struct settings *next);

#endif
