/* SPDX-License-Identifier: MIT */
/*
 * cardctl: make demo data and keys, ask a running cardd, verify what it
 * said. Each subcommand lives in its own file; this one dispatches from
 * a table (name, handler, usage, help) and parses each subcommand's
 * arguments from its option table. A handler that returns
 * CARDCTL_BADARGS gets its usage printed here, and exit status 2.
 */
#include <stdio.h>
#include <string.h>

#include "cardctl.h"

struct cardctl_cmd {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;		/* on bad arguments */
	const char	*help;		/* in cardctl --help */
};

static const struct cardctl_cmd cardctl_cmds[] = {
	{ "gen", gen_main,
	    "usage: cardctl gen N [--seed S] [--today YYYY-MM-DD] [-o FILE]\n",
	    "gen N [--seed S] [--today YYYY-MM-DD] [-o FILE]\n"
	    "      N synthetic cards as CSV; card numbers %012d from 0" },
	{ "keygen", keys_keygen_main,
	    "usage: cardctl keygen [--sm2] FILE\n",
	    "keygen [--sm2] FILE\n"
	    "      a new Ed25519 (or SM2) signing key (mode 0600) and FILE.pub;\n"
	    "      prints its JWKS" },
	{ "token", keys_token_main,
	    "usage: cardctl token NAME (1-64 of A-Z a-z 0-9 . _ -)\n",
	    "token NAME\n"
	    "      a new bearer token for a client, and its config line "
	    "(a hash)" },
	{ "code", code_main,
	    "usage: cardctl code CARD --key ISSUER.pem --iss NAME [--ttl S] "
	    "[--kid KID]\n"
	    "                    [--iat T] [--jti J] [--qr]\n",
	    "code CARD --key ISSUER.pem --iss NAME [options]\n"
	    "      an electronic card code: a JWT signed with the issuer's "
	    "Ed25519 key\n"
	    "      options: --ttl S (60) --kid KID --iat T --jti J --qr "
	    "(a QR code first)" },
	{ "check", client_check_main,
	    "usage: cardctl check [--http H:P | --resp H:P] validity CARD "
	    "[--at D] [--birth D] [--nonce N] [--permit | --code] [--verify]\n"
	    "       cardctl check [--http H:P | --resp H:P] coverage CARD "
	    "SCHEME [--region R] [...]\n"
	    "  TLS: --tls [--cacert CA] [--cert C --key K]; token: "
	    "$CARDD_TOKEN or --token T\n",
	    "check [--http H:P | --resp H:P] validity CARD [options]\n"
	    "  check [--http H:P | --resp H:P] coverage CARD SCHEME [options]\n"
	    "      ask cardd; prints the statement and its JWS, one per line\n"
	    "      options: --at D --birth D --nonce N --region R --permit "
	    "--verify\n"
	    "      --code (CARD is an electronic card code)\n"
	    "      --tls [--cacert CA] [--cert C --key K], --token T "
	    "(or $CARDD_TOKEN)" },
	{ "import", redis_io_import_main,
	    "usage: cardctl import FILE.csv --redis URL [--prefix card:] "
	    "[--stream cards:changes] [--user U]\n",
	    "import FILE.csv --redis URL [--prefix card:] "
	    "[--stream cards:changes]\n"
	    "      load cards into Redis (pipelined), then ask for a resync" },
	{ "publish", redis_io_publish_main,
	    "usage: cardctl publish --redis URL CARD FIELD=VALUE... "
	    "[--replace]\n"
	    "       cardctl publish --redis URL --remove CARD\n"
	    "       cardctl publish --redis URL --resync\n",
	    "publish --redis URL CARD FIELD=VALUE... [--replace] | "
	    "--remove CARD | --resync\n"
	    "      change or remove one card as a writer must (MULTI, HSET/DEL, "
	    "XADD, EXEC)" },
	{ "export", export_main,
	    "usage: cardctl export (--redis URL | --snapshot FILE) [-o FILE] "
	    "[--prefix card:]\n",
	    "export (--redis URL | --snapshot FILE) [-o FILE]\n"
	    "      cards as CSV, normalized as the daemon reads them, sorted" },
	{ "verify", keys_verify_main,
	    "usage: cardctl verify --jwks FILE [--statement FILE] "
	    "[--jws JWS] [--code CODE]\n",
	    "verify --jwks FILE [--statement FILE] [--jws JWS] [--code CODE]\n"
	    "      check a signed answer (default: the two lines of check on "
	    "stdin);\n      --code: and that it answers this card code; "
	    "exit 0 valid, 1 not valid, 2 error" },
};

static void	cardctl_usage(FILE *);
static const struct cardctl_cmd *cardctl_cmd_find(const char *);
static const struct cardctl_opt *cardctl_opt_find(const struct cardctl_opt *,
		    size_t, const char *);
static int	cardctl_opt_set(const struct cardctl_opt *, void *,
		    const char *);

/* Print every subcommand's synopsis. */
static void
cardctl_usage(FILE *fp)
{
	fprintf(fp, "usage: cardctl COMMAND [ARGS]\n");
	for (size_t i = 0; i < CARDCTL_NOPTS(cardctl_cmds); i++)
		fprintf(fp, "  %s\n", cardctl_cmds[i].help);
}

/* The subcommand of this name, or NULL. */
static const struct cardctl_cmd *
cardctl_cmd_find(const char *name)
{
	for (size_t i = 0; i < CARDCTL_NOPTS(cardctl_cmds); i++)
		if (strcmp(name, cardctl_cmds[i].name) == 0)
			return &cardctl_cmds[i];
	return NULL;
}

/* The option of this name (NULL name: the positional entry), or NULL. */
static const struct cardctl_opt *
cardctl_opt_find(const struct cardctl_opt *opts, size_t nopts,
    const char *name)
{
	for (size_t i = 0; i < nopts; i++)
		if ((opts[i].name == NULL) == (name == NULL) &&
		    (name == NULL || strcmp(name, opts[i].name) == 0))
			return &opts[i];
	return NULL;
}

/* Check an option's value, then set its field. */
static int
cardctl_opt_set(const struct cardctl_opt *o, void *into, const char *arg)
{
	char *field = (char *)into + o->off;
	int rc;

	if (o->check != NULL && (rc = o->check(arg)) != 0)
		return rc;
	if (o->value)
		*(const char **)(void *)field = arg;
	else
		*(int *)(void *)field = 1;
	return 0;
}

/*
 * Parse a subcommand's arguments (argv[0] is its name) with its option
 * table into the settings at into, in order, stopping at the first bad
 * one. An option's value is the next argument, whatever it is; other
 * arguments starting with '-' are refused; the rest, at most maxpos, go
 * to pos. Returns 0, CARDCTL_BADARGS or what a check returned.
 */
int
cardctl_parse(int argc, char **argv, const struct cardctl_opt *opts,
    size_t nopts, void *into, const char **pos, int maxpos, int *npos)
{
	const struct cardctl_opt *o, *rest = cardctl_opt_find(opts, nopts,
	    NULL);
	int rc = 0;

	*npos = 0;
	for (int i = 1; i < argc && rc == 0; i++) {
		if ((o = cardctl_opt_find(opts, nopts, argv[i])) == NULL) {
			if (argv[i][0] == '-' || *npos == maxpos)
				return CARDCTL_BADARGS;
			if (rest != NULL && rest->check != NULL &&
			    (rc = rest->check(argv[i])) != 0)
				return rc;
			pos[(*npos)++] = argv[i];
		} else if (!o->value)
			rc = cardctl_opt_set(o, into, NULL);
		else if (i + 1 == argc)
			return CARDCTL_BADARGS;
		else
			rc = cardctl_opt_set(o, into, argv[++i]);
	}
	return rc;
}

/* cardctl COMMAND [ARGS] */
int
main(int argc, char **argv)
{
	const struct cardctl_cmd *cmd;
	int rc;

	if (argc < 2) {
		cardctl_usage(stderr);
		return CARDCTL_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		cardctl_usage(stdout);
		return CARDCTL_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("cardctl %s\n", CARDD_VERSION);
		return CARDCTL_OK;
	}
	if ((cmd = cardctl_cmd_find(argv[1])) == NULL) {
		fprintf(stderr, "cardctl: unknown command '%s'\n", argv[1]);
		cardctl_usage(stderr);
		return CARDCTL_USAGE;
	}
	if ((rc = cmd->fn(argc - 1, argv + 1)) == CARDCTL_BADARGS) {
		fputs(cmd->usage, stderr);
		rc = CARDCTL_USAGE;
	}
	return rc;
}
