/* SPDX-License-Identifier: MIT */
/*
 * cardctl: make demo data and keys, ask a running cardd, verify what it
 * said. Each subcommand lives in its own file; this one dispatches.
 */
#include <stdio.h>
#include <string.h>

#include "cardctl.h"

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*help;
} cardctl_cmds[] = {
	{ "gen", gen_main, "gen N [--seed S] [--today YYYY-MM-DD] [-o FILE]\n"
	    "      N synthetic cards as CSV; card numbers %012d from 0" },
	{ "keygen", keys_keygen_main, "keygen FILE\n"
	    "      a new Ed25519 signing key (mode 0600); prints its JWKS" },
	{ "token", keys_token_main, "token NAME\n"
	    "      a new bearer token for a client, and its config line "
	    "(a hash)" },
	{ "check", client_check_main, "check [--http H:P | --resp H:P] "
	    "validity CARD [options]\n"
	    "  check [--http H:P | --resp H:P] coverage CARD SCHEME [options]\n"
	    "      ask cardd; prints the statement and its JWS, one per line\n"
	    "      options: --at D --birth D --nonce N --region R --permit "
	    "--verify\n"
	    "      --tls [--cacert CA] [--cert C --key K], --token T "
	    "(or $CARDD_TOKEN)" },
	{ "import", redis_io_import_main, "import FILE.csv --redis URL "
	    "[--prefix card:] [--stream cards:changes]\n"
	    "      load cards into Redis (pipelined), then ask for a resync" },
	{ "publish", redis_io_publish_main, "publish --redis URL CARD "
	    "FIELD=VALUE... [--replace] | --remove CARD | --resync\n"
	    "      change or remove one card as a writer must (MULTI, HSET/DEL, "
	    "XADD, EXEC)" },
	{ "export", export_main, "export (--redis URL | --snapshot FILE) "
	    "[-o FILE]\n"
	    "      cards as CSV, normalized as the daemon reads them, sorted" },
	{ "verify", keys_verify_main, "verify --jwks FILE [--statement FILE] "
	    "[--jws JWS]\n"
	    "      check a signed answer (default: the two lines of check on "
	    "stdin);\n      exit 0 valid, 1 not valid, 2 error" },
};
#define CARDCTL_NCMDS (sizeof(cardctl_cmds) / sizeof(cardctl_cmds[0]))

/* Print every subcommand's synopsis. */
static void
cardctl_usage(FILE *fp)
{
	fprintf(fp, "usage: cardctl COMMAND [ARGS]\n");
	for (size_t i = 0; i < CARDCTL_NCMDS; i++)
		fprintf(fp, "  %s\n", cardctl_cmds[i].help);
}

int
main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		cardctl_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CARDCTL_USAGE : CARDCTL_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("cardctl %s\n", CARDD_VERSION);
		return CARDCTL_OK;
	}
	for (size_t i = 0; i < CARDCTL_NCMDS; i++)
		if (strcmp(argv[1], cardctl_cmds[i].name) == 0)
			return cardctl_cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "cardctl: unknown command '%s'\n", argv[1]);
	cardctl_usage(stderr);
	return CARDCTL_USAGE;
}
